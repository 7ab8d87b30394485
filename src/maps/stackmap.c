/* SPDX-License-Identifier: MIT */
/*
 * stackmap.c - BPF_MAP_TYPE_STACK_TRACE: bpf_get_stackid's store.
 *
 * Kernel semantics: key = stack id (u32), value = the stack's instruction
 * pointers (u64 each, value_size / 8 at most, zero-filled after the last on
 * lookup). There are pow2(max_entries) buckets and a stack's id is its
 * hash's low bits, so two stacks can want one id: the second gets -EEXIST
 * unless BPF_F_REUSE_STACKID replaces the first. BPF_F_FAST_STACK_CMP takes
 * an equal hash as an equal stack. Programs cannot look stacks up; the
 * syscall side looks up, deletes and walks ids; updates are -EINVAL.
 *
 * Data: n_buckets x { lock (owner tid), hash, nr, pad, ips[value_size / 8] }.
 * Writers and syscall readers take the bucket lock; a lock taken over from
 * a dead writer empties the bucket (it may be half-written).
 */
#include "maps_internal.h"

#define STACK_MAX_DEPTH 127u /* the kernel's default perf_event_max_stack */

struct stack_bucket {
	uint32_t lock;
	uint32_t hash;
	uint32_t nr; /* frames; 0 = empty */
	uint32_t pad;
	uint64_t ips[];
};
static_assert(sizeof(struct stack_bucket) == 16, "stack bucket layout");

static uint32_t n_buckets_of(uint32_t max_entries)
{
	uint32_t r = 1;

	while (r < max_entries)
		r <<= 1;
	return r;
}

static int stack_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID;

	if (o->map_flags & ~allowed)
		return -EINVAL;
	if (o->max_entries == 0 || o->key_size != 4 || o->value_size < 8 || o->value_size % 8)
		return -EINVAL;
	if (o->map_flags & BPF_F_STACK_BUILD_ID)
		return -EOPNOTSUPP; /* no build ids in userspace stacks (yet) */
	if (o->value_size / 8 > STACK_MAX_DEPTH)
		return -EINVAL;
	if (o->max_entries > (1u << 31))
		return -E2BIG;
	return 0;
}

static uint64_t bucket_size(uint32_t value_size)
{
	return sizeof(struct stack_bucket) + value_size;
}

static uint64_t stack_layout(struct bext_map_hdr *h)
{
	h->h.n_buckets = n_buckets_of(h->max_entries);
	h->h.seed = bext_random_seed();
	return (uint64_t)h->h.n_buckets * bucket_size(h->value_size);
}

static int stack_open(struct bext_map *m, int fd)
{
	(void)fd;
	if (!m->hdr->h.n_buckets || (m->hdr->h.n_buckets & (m->hdr->h.n_buckets - 1)) ||
	    (uint64_t)m->hdr->h.n_buckets * bucket_size(m->value_size) > m->hdr->data_size)
		return -EBADMSG;
	m->lookup_fn = NULL; /* programs cannot read stacks */
	return 0;
}

static struct stack_bucket *bucket(struct bext_map *m, uint32_t id)
{
	return (struct stack_bucket *)(m->data + (uint64_t)id * bucket_size(m->value_size));
}

static void bucket_lock(struct stack_bucket *b)
{
	if (bext_shm_lock(&b->lock))
		b->nr = 0; /* the dead writer may have left it half-written */
}

long bext_stackmap__get_id(struct bext_map *m, const uint64_t *ips, uint32_t nr, uint64_t flags)
{
	uint32_t hash, id;
	struct stack_bucket *b;
	long ret;

	if (m->type != BPF_MAP_TYPE_STACK_TRACE ||
	    (flags & ~(uint64_t)(BPF_F_REUSE_STACKID | BPF_F_FAST_STACK_CMP)))
		return -EINVAL;
	if (!nr)
		return -EFAULT;
	if (nr > m->value_size / 8)
		nr = m->value_size / 8;
	hash = bext_hash_bytes(ips, nr * 8, m->hdr->h.seed);
	id = hash & (m->hdr->h.n_buckets - 1);
	b = bucket(m, id);
	bucket_lock(b);
	if (b->nr) {
		bool same_hash = b->hash == hash;

		if (same_hash && (flags & BPF_F_FAST_STACK_CMP)) {
			ret = id;
			goto out;
		}
		if (same_hash && b->nr == nr && !memcmp(b->ips, ips, nr * 8ull)) {
			ret = id;
			goto out;
		}
		if (!(flags & BPF_F_REUSE_STACKID)) {
			ret = -EEXIST;
			goto out;
		}
	}
	b->nr = 0;
	memcpy(b->ips, ips, nr * 8ull);
	b->hash = hash;
	__atomic_store_n(&b->nr, nr, __ATOMIC_RELEASE);
	ret = id;
out:
	bext_shm_unlock(&b->lock);
	return ret;
}

static int stack_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	uint32_t id = *(const uint32_t *)key, nr;
	struct stack_bucket *b;

	if (id >= m->hdr->h.n_buckets)
		return -ENOENT;
	b = bucket(m, id);
	bucket_lock(b);
	nr = b->nr;
	if (nr) {
		memcpy(value, b->ips, nr * 8ull);
		memset((uint8_t *)value + nr * 8ull, 0, m->value_size - nr * 8ull);
	}
	bext_shm_unlock(&b->lock);
	return nr ? 0 : -ENOENT;
}

static long stack_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
			 bool all_cpus)
{
	(void)m, (void)key, (void)value, (void)flags, (void)all_cpus;
	return -EINVAL; /* as the kernel: stacks come from bpf_get_stackid only */
}

static long stack_delete(struct bext_map *m, const void *key)
{
	uint32_t id = *(const uint32_t *)key, had;
	struct stack_bucket *b;

	if (id >= m->hdr->h.n_buckets)
		return -E2BIG;
	b = bucket(m, id);
	bucket_lock(b);
	had = b->nr;
	__atomic_store_n(&b->nr, 0, __ATOMIC_RELEASE);
	bext_shm_unlock(&b->lock);
	return had ? 0 : -ENOENT;
}

/* The kernel's walk: an unknown or empty key restarts at id 0 (included). */
static int stack_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	uint32_t n = m->hdr->h.n_buckets, id = 0;

	if (key) {
		id = *(const uint32_t *)key;
		if (id >= n || !__atomic_load_n(&bucket(m, id)->nr, __ATOMIC_ACQUIRE))
			id = 0;
		else
			id++;
	}
	while (id < n && !__atomic_load_n(&bucket(m, id)->nr, __ATOMIC_ACQUIRE))
		id++;
	if (id >= n)
		return -ENOENT;
	memcpy(next_key, &id, 4);
	return 0;
}

static long stack_nr_entries(struct bext_map *m)
{
	uint32_t id;
	long n = 0;

	for (id = 0; id < m->hdr->h.n_buckets; id++)
		n += __atomic_load_n(&bucket(m, id)->nr, __ATOMIC_RELAXED) != 0;
	return n;
}

const struct bext_map_ops bext_stack_trace_ops = {
    .check_attr = stack_check_attr,
    .layout = stack_layout,
    .open = stack_open,
    .update = stack_update,
    .delete = stack_delete,
    .lookup_copy = stack_lookup_copy,
    .get_next_key = stack_get_next_key,
    .nr_entries = stack_nr_entries,
};

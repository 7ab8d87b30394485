/* SPDX-License-Identifier: MIT */
/*
 * map.c - map creation and opening in the store, and the generic entry points
 * that dispatch to each type's ops (arraymap.c, hashtab.c, queue_stack.c,
 * bloom.c, ringbuf.c).
 *
 * A map's segment payload is a struct bext_map_hdr followed (at data_off) by
 * the type's data. Creation runs inside the registry's create transaction, so
 * a process killed mid-way leaves no visible half-made map.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "maps_internal.h"

static const struct bext_map_ops *ops_for(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY:
		return &bext_array_ops;
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return &bext_percpu_array_ops;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return &bext_htab_ops;
	case BPF_MAP_TYPE_QUEUE:
		return &bext_queue_ops;
	case BPF_MAP_TYPE_STACK:
		return &bext_stack_ops;
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return &bext_bloom_ops;
	case BPF_MAP_TYPE_RINGBUF:
		return &bext_ringbuf_ops;
	case BPF_MAP_TYPE_PROG_ARRAY:
		return &bext_prog_array_ops;
	case BPF_MAP_TYPE_LPM_TRIE:
		return &bext_lpm_ops;
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
		return &bext_perf_array_ops;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return &bext_array_of_maps_ops;
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return &bext_hash_of_maps_ops;
	case BPF_MAP_TYPE_STACK_TRACE:
		return &bext_stack_trace_ops;
	default:
		return NULL;
	}
}

uint32_t bext_random_seed(void)
{
	uint32_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = (uint32_t)getpid() * 2654435761u;
	return s;
}

static uint32_t possible_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? (uint32_t)n : 1;
}

struct create_ctx {
	const struct bext_map_ops *ops;
	struct bext_map_hdr hdr;
	const void *btf;
};

static uint64_t btf_off(const struct bext_map_hdr *h)
{
	return h->data_off + ((h->data_size + 7) & ~7ULL);
}

/* The kernel's checks: the blob parses, the types' sizes are the map's. */
static int check_btf(const struct bext_map_create_opts *o)
{
	struct btf *btf;
	int err = 0;

	if (!o->btf || !o->btf_size || o->btf_size > (16u << 20))
		return -EINVAL;
	btf = btf__new(o->btf, o->btf_size);
	if (!btf)
		return -EINVAL;
	if (o->btf_key_type_id &&
	    btf__resolve_size(btf, o->btf_key_type_id) != (long long)o->key_size)
		err = -EINVAL;
	if (o->btf_value_type_id &&
	    btf__resolve_size(btf, o->btf_value_type_id) != (long long)o->value_size)
		err = -EINVAL;
	btf__free(btf);
	return err;
}

static int map_init(void *payload, uint64_t size, void *arg)
{
	struct create_ctx *c = arg;
	struct bext_map_hdr *h = payload;

	if (size < c->hdr.data_off + c->hdr.data_size)
		return -EFAULT;
	*h = c->hdr;
	if (c->ops->init)
		c->ops->init(h, (uint8_t *)payload + h->data_off);
	if (h->btf_size)
		memcpy((uint8_t *)payload + btf_off(h), c->btf, h->btf_size);
	return 0;
}

#define OPT_HAS(o, f) ((o)->sz >= offsetof(struct bext_map_create_opts, f) + sizeof((o)->f))

int bext_store__create_map(struct bext_store *s, const struct bext_map_create_opts *o)
{
	struct bext_obj_desc d = {0};
	struct create_ctx c = {0};
	int err;

	if (!s || !o || o->sz < offsetof(struct bext_map_create_opts, map_flags) + 4)
		return -EINVAL;
	c.ops = ops_for(o->map_type);
	if (!c.ops)
		return o->map_type > BPF_MAP_TYPE_USER_RINGBUF ? -EINVAL : -EOPNOTSUPP;
	/* map_extra is only meaningful for bloom filters (kernel: EINVAL otherwise). */
	if (o->sz >= offsetof(struct bext_map_create_opts, map_extra) + 8 && o->map_extra &&
	    o->map_type != BPF_MAP_TYPE_BLOOM_FILTER)
		return -EINVAL;
	err = c.ops->check_attr(o);
	if (err)
		return err;
	c.hdr.magic = BEXT_MAP_MAGIC;
	c.hdr.layout_version = BEXT_STORE_LAYOUT_VERSION;
	c.hdr.map_type = o->map_type;
	c.hdr.key_size = o->key_size;
	c.hdr.value_size = o->value_size;
	c.hdr.max_entries = o->max_entries;
	c.hdr.map_flags = o->map_flags;
	c.hdr.nr_cpus = possible_cpus();
	if (o->sz >= offsetof(struct bext_map_create_opts, map_extra) + 8)
		c.hdr.map_extra = o->map_extra;
	if (o->name)
		strncpy(c.hdr.name, o->name, sizeof(c.hdr.name) - 1);
	if (OPT_HAS(o, spin_lock_off) && o->has_spin_lock) {
		/* the kernel learns this from BTF; only these types take a lock */
		if (o->map_type != BPF_MAP_TYPE_HASH && o->map_type != BPF_MAP_TYPE_ARRAY)
			return -EOPNOTSUPP;
		if (o->spin_lock_off % 4 || (uint64_t)o->spin_lock_off + 4 > o->value_size)
			return -EINVAL;
		c.hdr.has_spin_lock = 1;
		c.hdr.spin_lock_off = o->spin_lock_off;
	}
	if (o->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS || o->map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		err = bext_mim_prepare(s, OPT_HAS(o, inner_map_id) ? o->inner_map_id : 0, &c.hdr);
		if (err)
			return err;
	}
	if (o->map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		uint32_t pages = OPT_HAS(o, perf_ring_pages) ? o->perf_ring_pages : 0;

		if (pages & (pages - 1))
			return -EINVAL;
		c.hdr.p.data_pages = pages ? pages : 8;
	}
	c.hdr.data_off = BEXT_MAP_HDR_SIZE;
	c.hdr.data_size = c.ops->layout(&c.hdr);
	if (c.hdr.data_size == 0 || c.hdr.data_size > (1ULL << 36))
		return -E2BIG;
	d.kind = BEXT_OBJ_MAP;
	d.type = o->map_type;
	d.key_size = o->key_size;
	d.value_size = o->value_size;
	d.max_entries = o->max_entries;
	d.flags = o->map_flags;
	d.name = o->name;
	d.payload_size = c.hdr.data_off + c.hdr.data_size;
	if (OPT_HAS(o, btf_value_type_id) && o->btf) {
		err = check_btf(o);
		if (err)
			return err;
		c.btf = o->btf;
		c.hdr.btf_size = o->btf_size;
		c.hdr.btf_key_type_id = o->btf_key_type_id;
		c.hdr.btf_value_type_id = o->btf_value_type_id;
		d.payload_size = btf_off(&c.hdr) + o->btf_size;
	}
	if (o->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		/* the slots are the outer map's references on its inner maps */
		d.nr_slot_refs = o->max_entries;
		d.slot_refs_off = c.hdr.data_off;
	} else if (o->map_type == BPF_MAP_TYPE_PROG_ARRAY) {
		/*
		 * the slots are the array's references on its programs, emptied when
		 * its last user reference goes (the kernel's cycle break: a program
		 * holds a reference on the prog array it tail-calls through)
		 */
		d.nr_slot_refs = o->max_entries;
		d.slot_refs_off = c.hdr.data_off;
		d.obj_flags = BEXT_OBJF_UREF_CLEARS_SLOTS;
	} else if (o->map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		/* one per hash element, after the elements */
		d.nr_slot_refs = c.hdr.h.nr_elems;
		d.slot_refs_off = c.hdr.data_off + bext_hom_refslots_off(&c.hdr.h);
	}
	d.init = map_init;
	d.ctx = &c;
	return bext_store_create_obj(s, &d);
}

struct bext_map *bext_store__map_by_id(struct bext_store *s, uint32_t id)
{
	struct bext_reg_entry e;
	struct bext_seg_hdr *sh;
	struct bext_map *m;
	struct stat st;
	int fd, err;

	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	fd = bext_store_open_obj_fd(s, id, BEXT_OBJ_MAP, &e);
	if (fd < 0) {
		err = fd;
		goto err_free;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != e.seg_size) {
		err = -EBADMSG;
		goto err_close;
	}
	m->seg_len = st.st_size;
	m->seg = mmap(NULL, m->seg_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->seg == MAP_FAILED) {
		m->seg = NULL;
		err = -errno;
		goto err_close;
	}
	sh = m->seg;
	if (sh->magic != BEXT_SEG_MAGIC || sh->payload_off + sh->payload_size > m->seg_len ||
	    sh->payload_size < BEXT_MAP_HDR_SIZE) {
		err = -EBADMSG;
		goto err_close;
	}
	m->hdr = (struct bext_map_hdr *)((uint8_t *)m->seg + sh->payload_off);
	if (m->hdr->magic != BEXT_MAP_MAGIC ||
	    m->hdr->layout_version != BEXT_STORE_LAYOUT_VERSION ||
	    m->hdr->data_off + m->hdr->data_size > sh->payload_size || m->hdr->nr_cpus == 0) {
		err = -EBADMSG;
		goto err_close;
	}
	m->ops = ops_for(m->hdr->map_type);
	if (!m->ops) {
		err = -EBADMSG;
		goto err_close;
	}
	m->data = (uint8_t *)m->hdr + m->hdr->data_off;
	m->id = id;
	m->type = m->hdr->map_type;
	m->key_size = m->hdr->key_size;
	m->value_size = m->hdr->value_size;
	m->value_stride = round_up8(m->value_size);
	m->max_entries = m->hdr->max_entries;
	m->flags = m->hdr->map_flags;
	m->nr_cpus = m->hdr->nr_cpus;
	memcpy(m->name, m->hdr->name, sizeof(m->name));
	m->name[sizeof(m->name) - 1] = 0;
	m->lookup_fn = m->ops->lookup;
	m->store = s;
	m->has_lock = m->hdr->has_spin_lock != 0;
	m->lock_off = m->hdr->spin_lock_off;
	if (m->has_lock && (uint64_t)m->lock_off + 4 > m->value_size) {
		err = -EBADMSG;
		goto err_close;
	}
	if (m->ops->open) {
		err = m->ops->open(m, fd);
		if (err)
			goto err_close;
	}
	close(fd);
	return m;
err_close:
	close(fd);
err_free:
	if (m->seg)
		munmap(m->seg, m->seg_len);
	free(m);
	errno = -err;
	return NULL;
}

struct bext_map *bext_store__map_by_name(struct bext_store *s, const char *name)
{
	uint32_t id;
	int err;

	if (!name) {
		errno = EINVAL;
		return NULL;
	}
	err = bext_store_find_by_name(s, BEXT_OBJ_MAP, name, &id);
	if (err) {
		errno = -err;
		return NULL;
	}
	return bext_store__map_by_id(s, id);
}

void bext_map__close(struct bext_map *m)
{
	if (!m)
		return;
	if (m->ops && m->ops->close)
		m->ops->close(m);
	if (m->seg)
		munmap(m->seg, m->seg_len);
	free(m);
}

uint32_t bext_map__id(const struct bext_map *m)
{
	return m->id;
}
uint32_t bext_map__type(const struct bext_map *m)
{
	return m->type;
}
uint32_t bext_map__key_size(const struct bext_map *m)
{
	return m->key_size;
}
uint32_t bext_map__value_size(const struct bext_map *m)
{
	return m->value_size;
}
uint32_t bext_map__max_entries(const struct bext_map *m)
{
	return m->max_entries;
}
uint32_t bext_map__flags(const struct bext_map *m)
{
	return m->flags;
}
const char *bext_map__name(const struct bext_map *m)
{
	return m->name;
}
uint32_t bext_map__nr_cpus(const struct bext_map *m)
{
	return m->nr_cpus;
}

static bool is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

size_t bext_map__syscall_value_size(const struct bext_map *m)
{
	return is_percpu(m->type) ? (size_t)m->value_stride * m->nr_cpus : m->value_size;
}

uint32_t bext_map__current_cpu(const struct bext_map *m)
{
	return bext_cur_cpu(m);
}

/* ---- syscall-like operations ---------------------------------------------------- */

static bool is_queue_like(uint32_t type)
{
	return type == BPF_MAP_TYPE_QUEUE || type == BPF_MAP_TYPE_STACK ||
	       type == BPF_MAP_TYPE_BLOOM_FILTER;
}

void bext_copy_value(struct bext_map *m, void *dst, const void *src)
{
	if (!m->has_lock) {
		memcpy(dst, src, m->value_size);
		return;
	}
	memcpy(dst, src, m->lock_off);
	memcpy((uint8_t *)dst + m->lock_off + 4, (const uint8_t *)src + m->lock_off + 4,
	       m->value_size - m->lock_off - 4);
}

void bext_copy_value_locked(struct bext_map *m, void *dst, const void *src, bool to_user)
{
	void *lock = (uint8_t *)(to_user ? (void *)src : dst) + m->lock_off;

	bext_spin_lock(lock);
	bext_copy_value(m, dst, src);
	bext_spin_unlock(lock);
}

void bext_spin_lock(void *lock)
{
	bext_shm_lock(lock); /* a lock taken over from a dead holder needs no repair */
}

void bext_spin_unlock(void *lock)
{
	bext_shm_unlock(lock);
}

int bext_map__spin_lock_off(const struct bext_map *m)
{
	return m->has_lock ? (int)m->lock_off : -ENOENT;
}

int bext_map__btf(const struct bext_map *m, const void **btf, uint32_t *size, uint32_t *key_type_id,
		  uint32_t *value_type_id)
{
	const struct bext_seg_hdr *sh = m->seg;
	uint64_t off = btf_off(m->hdr);

	if (!m->hdr->btf_size || off + m->hdr->btf_size > sh->payload_size)
		return -ENOENT;
	if (btf)
		*btf = (const uint8_t *)m->hdr + off;
	if (size)
		*size = m->hdr->btf_size;
	if (key_type_id)
		*key_type_id = m->hdr->btf_key_type_id;
	if (value_type_id)
		*value_type_id = m->hdr->btf_value_type_id;
	return 0;
}

uint32_t bext_map__inner_map_id(const struct bext_map *m)
{
	return m->hdr->inner_map_id;
}

int bext_map__lookup_elem_flags(struct bext_map *m, const void *key, void *value, uint64_t flags)
{
	void *p;
	int err;

	if (flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	if ((flags & BPF_F_LOCK) && !m->has_lock)
		return -EINVAL;
	if (!m->has_lock)
		return bext_map__lookup_elem(m, key, value);
	if (!key || !value)
		return -EINVAL;
	if (flags & BPF_F_LOCK) {
		p = m->ops->lookup ? m->ops->lookup(m, key) : NULL;
		if (!p)
			return -ENOENT;
		bext_copy_value_locked(m, value, p, true);
		err = 0;
	} else {
		err = bext_map__lookup_elem(m, key, value);
	}
	if (!err)
		memset((uint8_t *)value + m->lock_off, 0, 4); /* as the kernel: lock reads as 0 */
	return err;
}

int bext_map__lookup_elem(struct bext_map *m, const void *key, void *value)
{
	void *p;

	if (!value)
		return -EINVAL;
	/* key_size is 0 for these: the kernel ignores the key pointer */
	if (is_queue_like(m->type)) {
		/* bloom: a syscall lookup is a peek of the value given */
		return m->ops->peek ? (int)m->ops->peek(m, value) : -EOPNOTSUPP;
	}
	if (!key)
		return -EINVAL;
	if (m->ops->lookup_copy)
		return m->ops->lookup_copy(m, key, value);
	if (!m->ops->lookup)
		return -EOPNOTSUPP;
	p = m->ops->lookup(m, key);
	if (!p)
		return -ENOENT;
	bext_copy_value(m, value, p);
	if (m->has_lock)
		memset((uint8_t *)value + m->lock_off, 0, 4);
	return 0;
}

int bext_map__update_elem(struct bext_map *m, const void *key, const void *value, uint64_t flags)
{
	if (!value)
		return -EINVAL;
	if (__atomic_load_n(&m->hdr->frozen, __ATOMIC_ACQUIRE))
		return -EPERM;
	if (is_queue_like(m->type))
		return m->ops->push ? (int)m->ops->push(m, value, flags) : -EOPNOTSUPP;
	if (!key)
		return -EINVAL;
	/* the syscall rejects BPF_F_LOCK before the type sees the flags */
	if ((flags & BPF_F_LOCK) && !m->has_lock)
		return -EINVAL;
	if (!m->ops->update)
		return -EOPNOTSUPP;
	return (int)m->ops->update(m, key, value, flags, true);
}

int bext_map__delete_elem(struct bext_map *m, const void *key)
{
	if (__atomic_load_n(&m->hdr->frozen, __ATOMIC_ACQUIRE))
		return -EPERM;
	if (!m->ops->delete)
		return -EINVAL;
	if (!key)
		return -EINVAL;
	return (int)m->ops->delete (m, key);
}

int bext_map__get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	if (!next_key)
		return -EINVAL;
	if (!m->ops->get_next_key)
		return -EINVAL;
	return m->ops->get_next_key(m, key, next_key);
}

int bext_map__lookup_and_delete_elem(struct bext_map *m, const void *key, void *value)
{
	if (!value)
		return -EINVAL;
	if (__atomic_load_n(&m->hdr->frozen, __ATOMIC_ACQUIRE))
		return -EPERM;
	if (m->type == BPF_MAP_TYPE_QUEUE || m->type == BPF_MAP_TYPE_STACK)
		return (int)m->ops->pop(m, value);
	/* the kernel has this command for hash maps, queues and stacks only */
	if (!m->ops->lookup_and_delete || !key)
		return m->ops->lookup_and_delete ? -EINVAL : -BEXT_ENOTSUPP;
	return m->ops->lookup_and_delete(m, key, value);
}

int bext_map__freeze(struct bext_map *m)
{
	if (m->type == BPF_MAP_TYPE_RINGBUF)
		return -ENOTSUP;
	if (__atomic_exchange_n(&m->hdr->frozen, 1, __ATOMIC_ACQ_REL))
		return -EBUSY;
	return 0;
}

/* ---- helper-like operations ---------------------------------------------------- */

void *bext_map__helper_lookup(struct bext_map *m, const void *key)
{
	return m->lookup_fn ? m->lookup_fn(m, key) : NULL;
}

long bext_map__helper_update(struct bext_map *m, const void *key, const void *value, uint64_t flags)
{
	if (is_queue_like(m->type))
		return m->ops->push ? m->ops->push(m, value, flags) : -EINVAL;
	return m->ops->update ? m->ops->update(m, key, value, flags, false) : -EINVAL;
}

long bext_map__for_each_elem(struct bext_map *m, bext_map_elem_fn fn, void *ctx)
{
	if (!m->ops->for_each || !fn)
		return -EINVAL;
	return m->ops->for_each(m, fn, ctx);
}

long bext_map__helper_delete(struct bext_map *m, const void *key)
{
	return m->ops->delete ? m->ops->delete (m, key) : -EINVAL;
}

long bext_map__helper_push(struct bext_map *m, const void *value, uint64_t flags)
{
	return m->ops->push ? m->ops->push(m, value, flags) : -EINVAL;
}

long bext_map__helper_pop(struct bext_map *m, void *value)
{
	return m->ops->pop ? m->ops->pop(m, value) : -EINVAL;
}

long bext_map__helper_peek(struct bext_map *m, void *value)
{
	return m->ops->peek ? m->ops->peek(m, value) : -EINVAL;
}

void *bext_map__helper_lookup_percpu(struct bext_map *m, const void *key, uint32_t cpu)
{
	if (!m->ops->lookup_percpu || cpu >= m->nr_cpus)
		return NULL;
	return m->ops->lookup_percpu(m, key, cpu);
}

bext_map_lookup_fn bext_map__lookup_fn(const struct bext_map *m)
{
	return m->lookup_fn;
}

int bext_map__array_base(const struct bext_map *m, void **base, uint32_t *stride)
{
	if (m->type != BPF_MAP_TYPE_ARRAY)
		return -EINVAL;
	*base = m->data;
	*stride = m->value_stride;
	return 0;
}

int bext_map__check(struct bext_map *m)
{
	return m->ops->check ? m->ops->check(m) : 0;
}

/* ---- batch operations ---------------------------------------------------------------- */

long bext_map__nr_entries(struct bext_map *m)
{
	if (m->ops->nr_entries)
		return m->ops->nr_entries(m);
	switch (m->type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return m->max_entries;
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK: {
		uint32_t h = __atomic_load_n(&m->hdr->q.head, __ATOMIC_ACQUIRE);
		uint32_t t = __atomic_load_n(&m->hdr->q.tail, __ATOMIC_ACQUIRE);

		return (h + m->hdr->q.size - t) % m->hdr->q.size;
	}
	default:
		return -EOPNOTSUPP;
	}
}

static int batch_prep(struct bext_map *m, const struct bext_map_batch_opts *opts, uint32_t op,
		      uint32_t *count, uint64_t *elem_flags)
{
	uint64_t flags = 0;

	if (!count)
		return -EINVAL;
	*elem_flags = 0;
	if (opts && opts->sz >= offsetof(struct bext_map_batch_opts, elem_flags) + 8)
		*elem_flags = opts->elem_flags;
	if (opts && opts->sz >= offsetof(struct bext_map_batch_opts, flags) + 8)
		flags = opts->flags;
	/* kernel order: write permission (frozen), then "no such batch op", then flags */
	if (op != BATCH_LOOKUP && __atomic_load_n(&m->hdr->frozen, __ATOMIC_ACQUIRE))
		return -EPERM;
	if (!(m->ops->batch_ops & op))
		return -BEXT_ENOTSUPP;
	/* only the hash walk checks batch.flags in the kernel; the generic ones ignore it */
	if ((*elem_flags & ~(uint64_t)BPF_F_LOCK) ||
	    (flags && (op & (BATCH_LOOKUP | BATCH_LOOKUP_DEL)) && m->ops->lookup_batch))
		return -EINVAL;
	if ((*elem_flags & BPF_F_LOCK) && !m->has_lock)
		return -EINVAL;
	return 0;
}

/* The kernel's generic walk: get_next_key from the last key given back. */
static int generic_lookup_batch(struct bext_map *m, const void *in_batch, void *out_batch,
				void *keys, void *values, uint32_t *count, uint64_t elem_flags)
{
	size_t vsz = bext_map__syscall_value_size(m);
	uint32_t max = *count, cp = 0;
	uint8_t *prev = NULL, *buf_a, *buf_b, *buf_prev, *key, *tmp;
	int err = 0;

	if (!max)
		return 0;
	*count = 0;
	buf_a = buf_prev = malloc(m->key_size);
	buf_b = key = malloc(m->key_size);
	if (!buf_prev || !key) {
		err = -ENOMEM;
		goto out;
	}
	if (in_batch) {
		memcpy(buf_prev, in_batch, m->key_size);
		prev = buf_prev;
	}
	while (cp < max) {
		err = bext_map__get_next_key(m, prev, key);
		if (err)
			break;
		err = bext_map__lookup_elem_flags(m, key, (uint8_t *)values + (size_t)cp * vsz,
						  elem_flags);
		if (err && err != -ENOENT)
			goto out;
		/* an element gone (or an empty map-in-map slot) is skipped, as recent kernels */
		if (!err)
			memcpy((uint8_t *)keys + (size_t)cp * m->key_size, key, m->key_size);
		if (!prev)
			prev = buf_prev;
		tmp = prev;
		prev = key;
		key = tmp;
		if (!err)
			cp++;
	}
	*count = cp;
	if (cp)
		memcpy(out_batch, prev, m->key_size);
out:
	free(buf_a);
	free(buf_b);
	return err;
}

int bext_map__lookup_batch(struct bext_map *m, const void *in_batch, void *out_batch, void *keys,
			   void *values, uint32_t *count, const struct bext_map_batch_opts *opts)
{
	uint64_t ef;
	int err = batch_prep(m, opts, BATCH_LOOKUP, count, &ef);

	if (err)
		return err;
	if (*count && (!out_batch || !keys || !values))
		return -EFAULT;
	if (m->ops->lookup_batch)
		return m->ops->lookup_batch(m, in_batch, out_batch, keys, values, count, ef, false);
	return generic_lookup_batch(m, in_batch, out_batch, keys, values, count, ef);
}

int bext_map__lookup_and_delete_batch(struct bext_map *m, const void *in_batch, void *out_batch,
				      void *keys, void *values, uint32_t *count,
				      const struct bext_map_batch_opts *opts)
{
	uint64_t ef;
	int err = batch_prep(m, opts, BATCH_LOOKUP_DEL, count, &ef);

	if (err)
		return err;
	if (*count && (!out_batch || !keys || !values))
		return -EFAULT;
	return m->ops->lookup_batch(m, in_batch, out_batch, keys, values, count, ef, true);
}

int bext_map__update_batch(struct bext_map *m, const void *keys, const void *values,
			   uint32_t *count, const struct bext_map_batch_opts *opts)
{
	size_t vsz = bext_map__syscall_value_size(m);
	uint32_t max, cp;
	uint64_t ef;
	int err = batch_prep(m, opts, BATCH_UPDATE, count, &ef);

	if (err)
		return err;
	max = *count;
	if (!max)
		return 0;
	if (!keys || !values)
		return -EFAULT;
	for (cp = 0; cp < max; cp++) {
		err = bext_map__update_elem(m, (const uint8_t *)keys + (size_t)cp * m->key_size,
					    (const uint8_t *)values + (size_t)cp * vsz, ef);
		if (err)
			break;
	}
	*count = cp;
	return err;
}

int bext_map__delete_batch(struct bext_map *m, const void *keys, uint32_t *count,
			   const struct bext_map_batch_opts *opts)
{
	uint32_t max, cp;
	uint64_t ef;
	int err = batch_prep(m, opts, BATCH_DELETE, count, &ef);

	if (err)
		return err;
	max = *count;
	if (!max)
		return 0;
	if (!keys)
		return -EFAULT;
	for (cp = 0; cp < max; cp++) {
		err = bext_map__delete_elem(m, (const uint8_t *)keys + (size_t)cp * m->key_size);
		if (err)
			break;
	}
	*count = cp;
	return err;
}

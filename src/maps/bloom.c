/* SPDX-License-Identifier: MIT */
/*
 * bloom.c - BPF_MAP_TYPE_BLOOM_FILTER.
 *
 * A bit array of a power-of-two size (about max_entries * nr_hashes / ln 2
 * bits, as the kernel sizes it); push sets nr_hashes bits with atomic ORs,
 * peek tests them. Lock-free, nothing to repair after a crash.
 */
#include "maps_internal.h"

static int bloom_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BEXT_ACCESS_FLAGS;
	uint64_t extra =
	    o->sz >= offsetof(struct bext_map_create_opts, map_extra) + 8 ? o->map_extra : 0;

	if (o->key_size != 0 || o->value_size == 0 || o->max_entries == 0 ||
	    (o->map_flags & ~allowed) || extra > 15)
		return -EINVAL;
	if (o->value_size > BEXT_KMALLOC_MAX)
		return -E2BIG;
	return 0;
}

static uint64_t bloom_layout(struct bext_map_hdr *h)
{
	uint32_t k = h->map_extra & 0xf ? (uint32_t)(h->map_extra & 0xf) : 5;
	uint64_t bits = (uint64_t)h->max_entries * k * 10 / 7 + 1, n = 64;

	while (n < bits)
		n <<= 1;
	if (n > (1ULL << 35))
		return 0;
	h->b.nr_hashes = k;
	h->b.seed = (h->map_flags & BPF_F_ZERO_SEED) ? 0 : bext_random_seed();
	h->b.bit_mask = n - 1;
	return n / 8;
}

static inline uint64_t bloom_bit(struct bext_map *m, const void *value, uint32_t i)
{
	return bext_hash_bytes(value, m->value_size, m->hdr->b.seed + i * 0x9e3779b9u) &
	       m->hdr->b.bit_mask;
}

static long bloom_push(struct bext_map *m, const void *value, uint64_t flags)
{
	uint32_t i;

	if (flags != BPF_ANY)
		return -EINVAL;
	for (i = 0; i < m->hdr->b.nr_hashes; i++) {
		uint64_t bit = bloom_bit(m, value, i);

		__atomic_fetch_or(&m->data[bit / 8], (uint8_t)(1u << (bit % 8)), __ATOMIC_RELAXED);
	}
	return 0;
}

static long bloom_peek(struct bext_map *m, void *value)
{
	uint32_t i;

	for (i = 0; i < m->hdr->b.nr_hashes; i++) {
		uint64_t bit = bloom_bit(m, value, i);

		if (!(__atomic_load_n(&m->data[bit / 8], __ATOMIC_RELAXED) & (1u << (bit % 8))))
			return -ENOENT;
	}
	return 0;
}

static long bloom_pop(struct bext_map *m, void *value)
{
	(void)m;
	(void)value;
	return -EOPNOTSUPP;
}

static long bloom_delete(struct bext_map *m, const void *key)
{
	(void)m;
	(void)key;
	return -EINVAL;
}

static int bloom_get_next_key(struct bext_map *m, const void *key, void *next)
{
	(void)m;
	(void)key;
	(void)next;
	return -EOPNOTSUPP;
}

const struct bext_map_ops bext_bloom_ops = {
    .delete = bloom_delete,
    .get_next_key = bloom_get_next_key,
    .check_attr = bloom_check_attr,
    .layout = bloom_layout,
    .push = bloom_push,
    .peek = bloom_peek,
    .pop = bloom_pop,
};

/* SPDX-License-Identifier: MIT */
/*
 * arraymap.c - BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY.
 *
 * Data: max_entries values of round_up(value_size, 8) bytes; per-CPU arrays
 * keep nr_cpus such slots per index ([index][cpu]). Lookups take no lock and
 * return a pointer into the segment; updates memcpy in place (as the kernel,
 * a concurrent reader may see a value half-written unless both sides use
 * BPF_F_LOCK on a map created with a spin lock offset). Nothing here can be
 * left inconsistent by a crash.
 */
#include "maps_internal.h"

static int array_check_attr(const struct bext_map_create_opts *o)
{
	bool percpu = o->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
	uint32_t allowed = BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS | BPF_F_MMAPABLE | BPF_F_INNER_MAP |
			   BPF_F_PRESERVE_ELEMS;

	if (o->max_entries == 0 || o->key_size != 4 || o->value_size == 0 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	if (percpu && (o->map_flags & BPF_F_MMAPABLE))
		return -EINVAL;
	if (o->value_size > BEXT_KMALLOC_MAX)
		return -E2BIG;
	if (percpu && round_up8(o->value_size) > BEXT_PCPU_MIN_UNIT)
		return -E2BIG;
	return 0;
}

static uint64_t array_layout(struct bext_map_hdr *h)
{
	uint64_t per = round_up8(h->value_size);

	if (h->map_type == BPF_MAP_TYPE_PERCPU_ARRAY)
		per *= h->nr_cpus;
	return per * h->max_entries;
}

static void *array_lookup(struct bext_map *m, const void *key)
{
	uint32_t idx = *(const uint32_t *)key;

	if (__builtin_expect(idx >= m->max_entries, 0))
		return NULL;
	return m->data + (uint64_t)idx * m->value_stride;
}

static void *pcpu_array_slot(struct bext_map *m, uint32_t idx, uint32_t cpu)
{
	return m->data + ((uint64_t)idx * m->nr_cpus + cpu) * m->value_stride;
}

static void *pcpu_array_lookup_percpu(struct bext_map *m, const void *key, uint32_t cpu)
{
	uint32_t idx = *(const uint32_t *)key;

	if (idx >= m->max_entries)
		return NULL;
	return pcpu_array_slot(m, idx, cpu);
}

static void *pcpu_array_lookup(struct bext_map *m, const void *key)
{
	return pcpu_array_lookup_percpu(m, key, bext_cur_cpu(m));
}

static long array_check_update(struct bext_map *m, const void *key, uint64_t flags)
{
	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if (*(const uint32_t *)key >= m->max_entries)
		return -E2BIG;
	if (flags & BPF_NOEXIST)
		return -EEXIST;
	if ((flags & BPF_F_LOCK) && !m->has_lock)
		return -EINVAL;
	return 0;
}

static long array_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
			 bool all_cpus)
{
	long err = array_check_update(m, key, flags);

	(void)all_cpus;
	if (err)
		return err;
	if (flags & BPF_F_LOCK)
		bext_copy_value_locked(m, array_lookup(m, key), value, false);
	else
		bext_copy_value(m, array_lookup(m, key), value); /* never the lock word */
	return 0;
}

static long pcpu_array_update(struct bext_map *m, const void *key, const void *value,
			      uint64_t flags, bool all_cpus)
{
	uint32_t idx = *(const uint32_t *)key, cpu;
	long err = array_check_update(m, key, flags);

	if (err)
		return err;
	if (!all_cpus) {
		memcpy(pcpu_array_slot(m, idx, bext_cur_cpu(m)), value, m->value_size);
		return 0;
	}
	/* the kernel copies round_up(value_size, 8) bytes per CPU */
	for (cpu = 0; cpu < m->nr_cpus; cpu++)
		memcpy(pcpu_array_slot(m, idx, cpu), (const uint8_t *)value + cpu * m->value_stride,
		       m->value_stride);
	return 0;
}

static int pcpu_array_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	uint32_t idx = *(const uint32_t *)key, cpu;

	if (idx >= m->max_entries)
		return -ENOENT;
	/* Trailing bytes of each slot are zero (as the kernel copies round_up(8)). */
	for (cpu = 0; cpu < m->nr_cpus; cpu++)
		memcpy((uint8_t *)value + cpu * m->value_stride, pcpu_array_slot(m, idx, cpu),
		       m->value_stride);
	return 0;
}

static long array_delete(struct bext_map *m, const void *key)
{
	(void)m;
	(void)key;
	return -EINVAL;
}

static int array_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	uint32_t idx = key ? *(const uint32_t *)key : UINT32_MAX;

	if (idx >= m->max_entries) {
		*(uint32_t *)next_key = 0;
		return 0;
	}
	if (idx == m->max_entries - 1)
		return -ENOENT;
	*(uint32_t *)next_key = idx + 1;
	return 0;
}

/* The key handed to the callback is a u32 on this stack, as the kernel's. */
static long array_for_each(struct bext_map *m, bext_map_elem_fn fn, void *ctx)
{
	uint32_t i, cpu = m->type == BPF_MAP_TYPE_PERCPU_ARRAY ? bext_cur_cpu(m) : 0;

	for (i = 0; i < m->max_entries; i++) {
		uint32_t key = i;
		void *v = m->type == BPF_MAP_TYPE_PERCPU_ARRAY ? pcpu_array_slot(m, i, cpu)
							       : array_lookup(m, &key);

		if (fn(ctx, m, &key, v))
			return (long)i + 1;
	}
	return (long)m->max_entries;
}

const struct bext_map_ops bext_array_ops = {
    .for_each = array_for_each,
    .batch_ops = BATCH_LOOKUP | BATCH_UPDATE,
    .check_attr = array_check_attr,
    .layout = array_layout,
    .lookup = array_lookup,
    .update = array_update,
    .delete = array_delete,
    .get_next_key = array_get_next_key,
};

const struct bext_map_ops bext_percpu_array_ops = {
    .for_each = array_for_each,
    .batch_ops = BATCH_LOOKUP | BATCH_UPDATE,
    .check_attr = array_check_attr,
    .layout = array_layout,
    .lookup = pcpu_array_lookup,
    .update = pcpu_array_update,
    .delete = array_delete,
    .lookup_copy = pcpu_array_lookup_copy,
    .get_next_key = array_get_next_key,
    .lookup_percpu = pcpu_array_lookup_percpu,
};

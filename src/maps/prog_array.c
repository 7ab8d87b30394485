/* SPDX-License-Identifier: MIT */
/*
 * prog_array.c - BPF_MAP_TYPE_PROG_ARRAY.
 *
 * The kernel's program array holds program references, written as program
 * fds and read back (BPF_MAP_LOOKUP_ELEM) as program ids. bext stores the
 * program's store id (a u32, 0 = empty slot) in shared memory; each process
 * resolves an id to its own loaded struct bext_vm (src/helpers: the tail-call
 * resolver and bext_helpers__set_prog()). Slots are single aligned words
 * written and read atomically, so no lock is needed and a crash cannot leave
 * anything half-written.
 *
 * Kernel semantics kept: key_size = value_size = 4; updates only with
 * BPF_ANY (else -EINVAL); index >= max_entries: -E2BIG on update, -ENOENT on
 * lookup/delete; deleting an empty slot: -ENOENT; programs cannot look
 * elements up (the helper lookup returns NULL). The id must be a live
 * program of the store: 0 or an id that is not live gives -EBADF (the
 * kernel's answer for a bad fd), a live object that is no program -EINVAL
 * (the kernel's answer for an fd that is no program). Not kept: the kernel
 * also checks the program type against the array's owner (-EINVAL), and holds
 * a reference on each program (with "user references" breaking the cycle
 * program -> its prog array -> program); bext holds none, so a program
 * removed from the store leaves its id behind, which tail calls then miss
 * (the per-process registry no longer resolves it).
 */
#include "maps_internal.h"

static int prog_array_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS | BPF_F_PRESERVE_ELEMS;

	if (o->max_entries == 0 || o->key_size != 4 || o->value_size != 4 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static uint64_t prog_array_layout(struct bext_map_hdr *h)
{
	return (uint64_t)h->max_entries * sizeof(uint32_t);
}

static uint32_t *slot(struct bext_map *m, const void *key)
{
	uint32_t idx;

	memcpy(&idx, key, sizeof(idx));
	if (idx >= m->max_entries)
		return NULL;
	return (uint32_t *)m->data + idx;
}

/* Programs may not read a program array (the verifier forbids it): no pointer. */
static void *prog_array_lookup(struct bext_map *m, const void *key)
{
	(void)m;
	(void)key;
	return NULL;
}

static int prog_array_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	uint32_t *s = slot(m, key), id;

	if (!s)
		return -ENOENT;
	id = __atomic_load_n(s, __ATOMIC_ACQUIRE);
	if (!id)
		return -ENOENT;
	memcpy(value, &id, sizeof(id));
	return 0;
}

static long prog_array_update(struct bext_map *m, const void *key, const void *value,
			      uint64_t flags, bool all_cpus)
{
	uint32_t *s, id;

	(void)all_cpus;
	if (flags != BPF_ANY)
		return -EINVAL;
	s = slot(m, key);
	if (!s)
		return -E2BIG;
	memcpy(&id, value, sizeof(id));
	if (!id)
		return -EBADF; /* the kernel's answer for an fd that is no file */
	if (m->store) {
		struct bext_obj_info info;

		/* kernel: no such fd -> EBADF, an fd that is not a program -> EINVAL */
		if (bext_store__obj_info(m->store, id, &info))
			return -EBADF;
		if (info.kind != BEXT_OBJ_PROG)
			return -EINVAL;
	}
	__atomic_store_n(s, id, __ATOMIC_RELEASE);
	return 0;
}

static long prog_array_delete(struct bext_map *m, const void *key)
{
	uint32_t *s = slot(m, key);

	if (!s)
		return -ENOENT;
	return __atomic_exchange_n(s, 0, __ATOMIC_ACQ_REL) ? 0 : -ENOENT;
}

static int prog_array_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	uint32_t idx = 0, next;

	if (key)
		memcpy(&idx, key, sizeof(idx));
	if (!key || idx >= m->max_entries) {
		next = 0;
	} else {
		if (idx == m->max_entries - 1)
			return -ENOENT;
		next = idx + 1;
	}
	memcpy(next_key, &next, sizeof(next));
	return 0;
}

const struct bext_map_ops bext_prog_array_ops = {
    .check_attr = prog_array_check_attr,
    .layout = prog_array_layout,
    .lookup = prog_array_lookup,
    .lookup_copy = prog_array_lookup_copy,
    .update = prog_array_update,
    .delete = prog_array_delete,
    .get_next_key = prog_array_get_next_key,
};

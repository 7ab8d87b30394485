/* SPDX-License-Identifier: MIT */
/*
 * prog_array.c - BPF_MAP_TYPE_PROG_ARRAY.
 *
 * The kernel's program array holds program references, written as program
 * fds and read back (BPF_MAP_LOOKUP_ELEM) as program ids. bext stores the
 * program's store id (a u32, 0 = empty slot) in shared memory; each process
 * resolves an id to its own loaded struct bext_vm (src/helpers: the tail-call
 * resolver and bext_helpers__set_prog()). Readers load a slot with one
 * atomic load and take no lock.
 *
 * References, as the kernel's: the slots are the map segment's slot
 * references (src/store): a stored program is kept alive by the array.
 * Update takes a reference on the new program before the slot shows it and
 * drops the replaced one's, delete drops it, and removing the map drops all
 * (bext_store_set_slot_ref: each change is an intent in the registry, so a
 * process killed half-way is finished by the next one, nothing leaks and
 * nothing is dropped twice). A program that tail-calls through the array
 * holds a reference on it (its used maps), so the array and its programs can
 * form a cycle. The kernel breaks it with user references, and so does bext:
 * the registry counts the creator's reference and bext_store__obj_get()'s
 * as user references (not those objects hold on objects); when the last
 * one is put, the array is emptied (BEXT_OBJF_UREF_CLEARS_SLOTS), which
 * releases its programs and so the programs' references on it. While it has
 * no user reference, updates fail with -EPERM (the kernel needs an fd, i.e.
 * a user reference, to update; take one with bext_store__obj_get()).
 *
 * Kernel semantics kept: key_size = value_size = 4, max_entries > 0, flags
 * only NUMA_NODE, RDONLY, WRONLY (BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG and
 * BPF_F_PRESERVE_ELEMS, which is for perf event arrays, are -EINVAL);
 * updates only with BPF_ANY (else -EINVAL); index >= max_entries: -E2BIG on
 * update and delete, -ENOENT on lookup; deleting an empty slot: -ENOENT;
 * programs cannot look elements up (the helper lookup returns NULL). The id
 * must be a live program of the store: 0 or an id that is not live gives
 * -EBADF (the kernel's answer for a bad fd), a live object that is no
 * program -EINVAL (the kernel's answer for an fd that is no program). Not
 * kept: the kernel also checks the program type against the array's owner
 * (-EINVAL).
 */
#include "maps_internal.h"

static int prog_array_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;

	if (o->max_entries == 0 || o->key_size != 4 || o->value_size != 4 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static uint64_t prog_array_layout(struct bext_map_hdr *h)
{
	return (uint64_t)h->max_entries * sizeof(uint32_t);
}

/* The slot of @key's index, or NULL when it is out of range. */
static uint32_t *slot(struct bext_map *m, const void *key, uint32_t *idx)
{
	memcpy(idx, key, sizeof(*idx));
	if (*idx >= m->max_entries)
		return NULL;
	return (uint32_t *)m->data + *idx;
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
	uint32_t idx, *s = slot(m, key, &idx), id;

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
	struct bext_obj_info info;
	uint32_t *s, idx, id, old;

	(void)all_cpus;
	if (flags != BPF_ANY)
		return -EINVAL;
	s = slot(m, key, &idx);
	if (!s)
		return -E2BIG;
	memcpy(&id, value, sizeof(id));
	/* kernel: no such fd -> EBADF, an fd that is not a program -> EINVAL */
	if (!id || bext_store__obj_info(m->store, id, &info))
		return -EBADF;
	if (info.kind != BEXT_OBJ_PROG)
		return -EINVAL;
	/* reference on the new program first, then the slot, then the old one dropped */
	return bext_store_set_slot_ref(m->store, m->id, (uint32_t *)m->data, idx, id, BEXT_OBJ_PROG,
				       &old);
}

static long prog_array_delete(struct bext_map *m, const void *key)
{
	uint32_t idx, old, *s = slot(m, key, &idx);
	int err;

	if (!s)
		return -E2BIG; /* as the kernel's fd arrays */
	if (!__atomic_load_n(s, __ATOMIC_ACQUIRE))
		return -ENOENT;
	err = bext_store_set_slot_ref(m->store, m->id, (uint32_t *)m->data, idx, 0, BEXT_OBJ_PROG,
				      &old);
	if (err)
		return err;
	return old ? 0 : -ENOENT;
}

static long prog_array_nr_entries(struct bext_map *m)
{
	long n = 0;

	for (uint32_t i = 0; i < m->max_entries; i++)
		n += __atomic_load_n((uint32_t *)m->data + i, __ATOMIC_RELAXED) != 0;
	return n;
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
    .nr_entries = prog_array_nr_entries,
};

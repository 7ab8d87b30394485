/* SPDX-License-Identifier: MIT */
/*
 * map_in_map.c - BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS.
 *
 * Values are inner map ids (u32): the syscall-like calls take and return ids
 * (the kernel takes an fd on update and returns the id on lookup). A helper
 * lookup returns the inner map's struct bext_map *, opened once per outer
 * handle and cached (sorted by id, under a process-local mutex).
 *
 * The template (the kernel's inner_map_fd) is the live map
 * bext_map_create_opts.inner_map_id; its type, key/value sizes and flags are
 * copied into the outer header, and every inner map stored must match them
 * (and max_entries for array templates without BPF_F_INNER_MAP), else EINVAL.
 *
 * References: an ARRAY_OF_MAPS slot is a store "slot reference"
 * (bext_store_set_slot_ref, whose intent makes a change crash-safe): storing
 * an id takes a reference on that map, replacing or deleting drops the old
 * one, and removing the outer map drops them all, so an inner map lives at
 * least as long as it is stored, as in the kernel. HASH_OF_MAPS keeps one
 * slot reference per hash element (an array after the elements): a linked
 * element's slot always holds a reference on the id its value holds;
 * hashtab.c sets a slot only while it owns the element (popped, or
 * unlinked), never under a map lock (see "hash of maps" there).
 *
 * The template may not be a map-in-map (EINVAL) or a program array
 * (ENOTSUPP, 524), as the kernel.
 *
 * ARRAY_OF_MAPS data: max_entries ids (0 = empty). HASH_OF_MAPS: a hash map
 * (hashtab.c) whose 4-byte values are the ids.
 */
#include <stdlib.h>

#include "maps_internal.h"

static bool is_mim(uint32_t type)
{
	return type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

int bext_mim_prepare(struct bext_store *s, uint32_t inner_id, struct bext_map_hdr *h)
{
	struct bext_map *t;

	if (!inner_id)
		return -EBADF;
	t = bext_store__map_by_id(s, inner_id);
	if (!t)
		return errno == ENOENT ? -EBADF : -errno;
	if (is_mim(t->type)) {
		bext_map__close(t);
		return -EINVAL; /* one level only, as the kernel */
	}
	if (t->type == BPF_MAP_TYPE_PROG_ARRAY) {
		/* the kernel has no inner-map meta check for it (checked on kernel 6.18) */
		bext_map__close(t);
		return -BEXT_ENOTSUPP;
	}
	h->inner_map_id = inner_id;
	h->inner_type = t->type;
	h->inner_key_size = t->key_size;
	h->inner_value_size = t->value_size;
	h->inner_max_entries = t->max_entries;
	h->inner_flags = t->flags;
	bext_map__close(t);
	return 0;
}

/* Checks that live map @id may be stored: -EBADF if it is not a live map, -EINVAL on mismatch. */
static int check_inner(struct bext_map *m, uint32_t id)
{
	struct bext_obj_info info;
	struct bext_map_hdr *h = m->hdr;

	if (!id || bext_store__obj_info(m->store, id, &info) || info.kind != BEXT_OBJ_MAP)
		return -EBADF;
	if (info.type != h->inner_type || info.key_size != h->inner_key_size ||
	    info.value_size != h->inner_value_size || info.flags != h->inner_flags)
		return -EINVAL;
	if ((info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY) &&
	    !(h->inner_flags & BPF_F_INNER_MAP) && info.max_entries != h->inner_max_entries)
		return -EINVAL;
	return 0;
}

/* ---- per-process cache of inner handles --------------------------------------------- */

static struct mim_tab *tab_new(uint32_t cap)
{
	struct mim_tab *t = calloc(1, sizeof(*t) + cap * sizeof(struct mim_ent));

	if (t)
		t->mask = cap - 1;
	return t;
}

static inline uint32_t tab_pos(uint32_t id)
{
	return id * 0x9e3779b1u;
}

static int mim_open(struct bext_map *m, int fd)
{
	int err = 0;

	if (m->type == BPF_MAP_TYPE_HASH_OF_MAPS)
		err = bext_htab_ops.open(m, fd);
	if (err)
		return err; /* (htab open finds a hash of maps' element slots) */
	m->mim = calloc(1, sizeof(*m->mim));
	if (!m->mim)
		return -ENOMEM;
	m->mim->tab = tab_new(16);
	if (!m->mim->tab) {
		free(m->mim);
		m->mim = NULL;
		return -ENOMEM;
	}
	pthread_mutex_init(&m->mim->lock, NULL);
	return 0;
}

static void mim_close(struct bext_map *m)
{
	struct mim_tab *t, *next;
	uint32_t i;

	if (!m->mim)
		return;
	t = m->mim->tab;
	for (i = 0; i <= t->mask; i++)
		if (t->ents[i].id)
			bext_map__close(t->ents[i].m);
	for (; t; t = next) {
		next = t->retired;
		free(t);
	}
	pthread_mutex_destroy(&m->mim->lock);
	free(m->mim);
	m->mim = NULL;
}

static struct bext_map *tab_find(const struct mim_tab *t, uint32_t id)
{
	uint32_t i = tab_pos(id) & t->mask, n;

	for (n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		uint32_t e = __atomic_load_n(&t->ents[i].id, __ATOMIC_ACQUIRE);

		if (e == id)
			return t->ents[i].m;
		if (!e)
			return NULL;
	}
	return NULL;
}

static void tab_put(struct mim_tab *t, uint32_t id, struct bext_map *h)
{
	uint32_t i = tab_pos(id) & t->mask;

	while (t->ents[i].id)
		i = (i + 1) & t->mask;
	t->ents[i].m = h;
	__atomic_store_n(&t->ents[i].id, id, __ATOMIC_RELEASE);
	t->n++;
}

/* Slow path: open the inner map and publish its handle (mutex held). */
static struct bext_map *inner_open(struct bext_map *m, uint32_t id)
{
	struct mim_cache *c = m->mim;
	struct mim_tab *t;
	struct bext_map *r;

	pthread_mutex_lock(&c->lock);
	t = c->tab;
	r = tab_find(t, id);
	if (r)
		goto out;
	if ((t->n + 1) * 2 > t->mask + 1) {
		struct mim_tab *g = tab_new((t->mask + 1) * 2);
		uint32_t i;

		if (!g)
			goto out;
		for (i = 0; i <= t->mask; i++)
			if (t->ents[i].id)
				tab_put(g, t->ents[i].id, t->ents[i].m);
		g->retired = t;
		__atomic_store_n(&c->tab, g, __ATOMIC_RELEASE);
		t = g;
	}
	r = bext_store__map_by_id(m->store, id);
	if (r)
		tab_put(t, id, r);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * The program-side lookup: lock-free once this process has seen the inner
 * map. The outer map holds a reference on every inner map it stores, so a
 * cached handle stays a live map while it is stored; a handle
 * whose map was removed later is never returned again (ids are not reused).
 */
static inline struct bext_map *inner_handle(struct bext_map *m, uint32_t id)
{
	struct bext_map *r;

	if (!id || !m->mim)
		return NULL;
	r = tab_find(__atomic_load_n(&m->mim->tab, __ATOMIC_ACQUIRE), id);
	return r ? r : inner_open(m, id);
}

/* ---- array of maps ------------------------------------------------------------------- */

static int aom_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS;

	if (o->value_size != 4 || o->key_size != 4 || o->max_entries == 0 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static uint64_t aom_layout(struct bext_map_hdr *h)
{
	return (uint64_t)h->max_entries * 4;
}

static uint32_t *aom_slot(struct bext_map *m, const void *key)
{
	uint32_t idx = *(const uint32_t *)key;

	return idx < m->max_entries ? (uint32_t *)m->data + idx : NULL;
}

static void *aom_lookup(struct bext_map *m, const void *key)
{
	uint32_t *slot = aom_slot(m, key);

	return slot ? inner_handle(m, __atomic_load_n(slot, __ATOMIC_ACQUIRE)) : NULL;
}

static int aom_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	uint32_t *slot = aom_slot(m, key), id;

	id = slot ? __atomic_load_n(slot, __ATOMIC_ACQUIRE) : 0;
	if (!id)
		return -ENOENT;
	memcpy(value, &id, 4);
	return 0;
}

static long aom_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
		       bool all_cpus)
{
	uint32_t *slot, id;
	int err;

	(void)all_cpus;
	if (flags != BPF_ANY)
		return -EINVAL;
	slot = aom_slot(m, key);
	if (!slot)
		return -E2BIG;
	memcpy(&id, value, 4);
	err = check_inner(m, id);
	if (err)
		return err;
	/* the slot holds a store reference on the inner map; the replaced one is dropped */
	return bext_store_set_slot_ref(m->store, m->id, (uint32_t *)m->data,
				       (uint32_t)(slot - (uint32_t *)m->data), id, BEXT_OBJ_MAP,
				       &id);
}

static long aom_delete(struct bext_map *m, const void *key)
{
	uint32_t *slot = aom_slot(m, key), old;
	int err;

	if (!slot)
		return -E2BIG; /* as the kernel's fd arrays */
	if (!__atomic_load_n(slot, __ATOMIC_ACQUIRE))
		return -ENOENT;
	err =
	    bext_store_set_slot_ref(m->store, m->id, (uint32_t *)m->data,
				    (uint32_t)(slot - (uint32_t *)m->data), 0, BEXT_OBJ_MAP, &old);
	if (err)
		return err;
	return old ? 0 : -ENOENT;
}

static long aom_nr_entries(struct bext_map *m)
{
	uint32_t i;
	long n = 0;

	for (i = 0; i < m->max_entries; i++)
		n += __atomic_load_n((uint32_t *)m->data + i, __ATOMIC_RELAXED) != 0;
	return n;
}

static int aom_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	return bext_array_ops.get_next_key(m, key, next_key);
}

const struct bext_map_ops bext_array_of_maps_ops = {
    .get_next_key = aom_get_next_key,
    .check_attr = aom_check_attr,
    .layout = aom_layout,
    .open = mim_open,
    .close = mim_close,
    .lookup = aom_lookup,
    .update = aom_update,
    .delete = aom_delete,
    .lookup_copy = aom_lookup_copy,
    .nr_entries = aom_nr_entries,
    .batch_ops = BATCH_LOOKUP | BATCH_UPDATE,
};

/* ---- hash of maps ---------------------------------------------------------------------- */

static int hom_check_attr(const struct bext_map_create_opts *o)
{
	struct bext_map_create_opts h = *o;

	if (o->value_size != 4)
		return -EINVAL;
	h.map_type = BPF_MAP_TYPE_HASH;
	return bext_htab_ops.check_attr(&h);
}

static uint64_t hom_layout(struct bext_map_hdr *h)
{
	uint32_t t = h->map_type;
	uint64_t r;

	h->map_type = BPF_MAP_TYPE_HASH; /* plain hash layout */
	r = bext_htab_ops.layout(h);
	h->map_type = t;
	/* then one slot reference per element (its inner map id while linked) */
	r = bext_hom_refslots_off(&h->h) + (uint64_t)h->h.nr_elems * 4;
	return r;
}

static void hom_init(struct bext_map_hdr *h, uint8_t *data)
{
	bext_htab_ops.init(h, data);
}

static void *hom_lookup(struct bext_map *m, const void *key)
{
	uint32_t *v = bext_htab_ops.lookup(m, key);

	return v ? inner_handle(m, __atomic_load_n(v, __ATOMIC_ACQUIRE)) : NULL;
}

static long hom_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
		       bool all_cpus)
{
	uint32_t id;
	int err;

	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	memcpy(&id, value, 4);
	err = check_inner(m, id);
	if (err)
		return err;
	/* with element slots, hashtab.c takes the slot reference (crash-safe, see there) */
	return bext_htab_ops.update(m, key, value, flags, all_cpus);
}

static int hom_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	return bext_htab_ops.get_next_key(m, key, next_key);
}

static long hom_delete(struct bext_map *m, const void *key)
{
	return bext_htab_ops.delete(m, key);
}

static int hom_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	return bext_htab_ops.lookup_copy(m, key, value);
}

static int hom_lookup_batch(struct bext_map *m, const void *in_batch, void *out_batch, void *keys,
			    void *values, uint32_t *count, uint64_t elem_flags, bool del)
{
	return bext_htab_ops.lookup_batch(m, in_batch, out_batch, keys, values, count, elem_flags,
					  del);
}

static long hom_nr_entries(struct bext_map *m)
{
	return bext_htab_ops.nr_entries(m);
}

static int hom_check(struct bext_map *m)
{
	return bext_htab_ops.check(m);
}

const struct bext_map_ops bext_hash_of_maps_ops = {
    .check_attr = hom_check_attr,
    .layout = hom_layout,
    .init = hom_init,
    .open = mim_open,
    .close = mim_close,
    .lookup = hom_lookup,
    .update = hom_update,
    .delete = hom_delete,
    .lookup_copy = hom_lookup_copy,
    .get_next_key = hom_get_next_key,
    .lookup_batch = hom_lookup_batch,
    .nr_entries = hom_nr_entries,
    .check = hom_check,
    .batch_ops = BATCH_LOOKUP | BATCH_LOOKUP_DEL | BATCH_UPDATE | BATCH_DELETE,
};

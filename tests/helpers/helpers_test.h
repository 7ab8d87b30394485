/* SPDX-License-Identifier: MIT */
/*
 * A small loader for the helper tests and bench_maps: creates an object's
 * maps in a store (global data sections as one-element arrays with their
 * initial value), then loads programs with every helper registered, the
 * pseudo resolver over those maps, and JIT-compiles them.
 */
#ifndef BEXT_HELPERS_TEST_H
#define BEXT_HELPERS_TEST_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bext/helpers.h>
#include <bext/map.h>
#include <bext/obj.h>
#include <bext/store.h>
#include <bext/vm.h>

#define HT_MAX_MAPS 32

struct ht_env {
	char dir[64];
	struct bext_store *store;
	struct bext_obj *obj;
	struct bext_map *maps[HT_MAX_MAPS];
	struct bext_helpers_maps table;
};

static int ht_rm(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

/* Returns 0, or -errno with a message on stderr. */
static int ht_env_open(struct ht_env *e, const char *obj_path)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	char err[256] = "";
	size_t n;

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/bext-helpers-XXXXXX");
	if (!mkdtemp(e->dir))
		return -errno;
	so.path = e->dir;
	e->store = bext_store__open(&so);
	if (!e->store) {
		fprintf(stderr, "store open: %s\n", strerror(errno));
		return -errno;
	}
	e->obj = bext_obj__open(obj_path, err, sizeof(err));
	if (!e->obj) {
		fprintf(stderr, "obj open %s: %s\n", obj_path, err);
		return -errno;
	}
	n = bext_obj__map_count(e->obj);
	if (n > HT_MAX_MAPS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const struct bext_obj_map *om = bext_obj__map(e->obj, i);
		struct bext_map_create_opts mo = {.sz = sizeof(mo)};
		const void *init;
		size_t isz;
		int id;

		mo.name = bext_obj_map__name(om);
		mo.map_type = bext_obj_map__type(om);
		mo.key_size = bext_obj_map__key_size(om);
		mo.value_size = bext_obj_map__value_size(om);
		mo.max_entries = bext_obj_map__max_entries(om);
		mo.map_flags = bext_obj_map__flags(om);
		id = bext_store__create_map(e->store, &mo);
		if (id < 0) {
			fprintf(stderr, "create map %s: %s\n", mo.name, strerror(-id));
			return id;
		}
		e->maps[i] = bext_store__map_by_id(e->store, (uint32_t)id);
		if (!e->maps[i])
			return -errno;
		init = bext_obj_map__initial_value(om, &isz);
		if (init) {
			uint32_t k = 0;
			int r = bext_map__update_elem(e->maps[i], &k, init, BPF_ANY);

			if (r)
				return r;
		}
	}
	e->table.maps = e->maps;
	e->table.nr = n;
	return 0;
}

static void ht_env_close(struct ht_env *e)
{
	for (size_t i = 0; i < HT_MAX_MAPS; i++)
		bext_map__close(e->maps[i]);
	bext_obj__close(e->obj);
	bext_store__close(e->store);
	if (e->dir[0])
		nftw(e->dir, ht_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static struct bext_map *ht_map(struct ht_env *e, const char *name)
{
	const struct bext_obj_map *om = bext_obj__find_map(e->obj, name);

	for (size_t i = 0; om && i < e->table.nr; i++)
		if (bext_obj__map(e->obj, i) == om)
			return e->maps[i];
	return NULL;
}

/*
 * Loads (and JIT-compiles) program @name; NULL with a message on failure.
 * @no_inline keeps map lookups as helper calls (no lookup describer).
 */
static struct bext_vm *ht_load_opts(struct ht_env *e, const char *name,
				    const struct bext_helpers_opts *hopts, bool no_inline)
{
	const struct bext_obj_prog *p = bext_obj__find_prog(e->obj, name);
	struct bext_vm *vm;
	const struct bext_insn *insns;
	char err[256] = "";
	size_t n;

	if (!p) {
		fprintf(stderr, "no program %s\n", name);
		return NULL;
	}
	vm = bext_vm__new(NULL);
	if (!vm)
		return NULL;
	insns = bext_obj_prog__insns(p, &n);
	if (bext_helpers__register_all(vm, hopts) ||
	    (no_inline && bext_vm__set_inline_lookup(vm, NULL, NULL)) ||
	    bext_vm__set_pseudo_resolver(vm, bext_helpers__pseudo_resolver, &e->table) ||
	    bext_vm__load(vm, insns, n, err, sizeof(err)) || !bext_vm__jit(vm, err, sizeof(err))) {
		fprintf(stderr, "load %s: %s\n", name, err[0] ? err : bext_vm__last_error(vm));
		bext_vm__free(vm);
		return NULL;
	}
	return vm;
}

static struct bext_vm *ht_load(struct ht_env *e, const char *name,
			       const struct bext_helpers_opts *hopts)
{
	return ht_load_opts(e, name, hopts, false);
}

#endif

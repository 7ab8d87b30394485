/* SPDX-License-Identifier: MIT */
/*
 * The loader side of `bext load`: ELF object -> store objects.
 *
 *   bext_obj (linked insns, maps) ──► uprobe sections checked (target.c)
 *                                 ──► maps (create + initial values)
 *                                 ──► verify each program ──► programs
 *                                 ──► links for uprobe/uretprobe sections
 *
 * The section check comes first so that an unusable target (malformed
 * section, absolute PATH missing or without FUNC) creates nothing at all.
 *
 * The instructions are stored as bext_obj links them: lddw map forms keep the
 * object's map index, and every program's map id list is the object's maps in
 * object order, so the index stays valid for the agent's pseudo resolver. All
 * objects keep their creation reference for the caller; a failure puts back
 * what was created so far (links first, then programs, then maps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <bext/loader.h>
#include <bext/map.h>
#include <bext/obj.h>
#include <bext/verifier.h>

#include "loader_internal.h"

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

void bext_loaded__free(struct bext_loaded *l)
{
	if (!l)
		return;
	free(l->map_ids);
	free(l->prog_ids);
	free(l->link_ids);
	memset(l, 0, sizeof(*l));
}

/* The kernel program type stored for a section (what libbpf would pick). */
static uint32_t store_type(const char *sec)
{
	if (has_prefix(sec, "tracepoint/") || has_prefix(sec, "tp/"))
		return BPF_PROG_TYPE_TRACEPOINT;
	if (has_prefix(sec, "raw_tp") || has_prefix(sec, "raw_tracepoint"))
		return BPF_PROG_TYPE_RAW_TRACEPOINT;
	if (has_prefix(sec, "xdp"))
		return BPF_PROG_TYPE_XDP;
	if (has_prefix(sec, "uprobe") || has_prefix(sec, "uretprobe") ||
	    has_prefix(sec, "kprobe") || has_prefix(sec, "kretprobe") || has_prefix(sec, "usdt"))
		return BPF_PROG_TYPE_KPROBE;
	return BPF_PROG_TYPE_UNSPEC;
}

/* libbpf-like data map name: up to 8 characters of the object's name, then the section. */
static void data_map_name(const char *path, const char *sec, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	char obj[9];
	size_t n = 0;

	base = base ? base + 1 : path;
	while (n < 8 && base[n] && base[n] != '.') {
		obj[n] = base[n];
		n++;
	}
	obj[n] = 0;
	snprintf(buf, len, "%s%s", obj, sec);
}

static int push_id(uint32_t **arr, size_t *n, uint32_t id)
{
	uint32_t *a = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = id;
	*arr = a;
	return 0;
}

static void put_all(struct bext_store *s, struct bext_loaded *l)
{
	size_t i;

	for (i = l->nr_links; i > 0; i--)
		bext_store__obj_put(s, l->link_ids[i - 1]);
	for (i = l->nr_progs; i > 0; i--)
		bext_store__obj_put(s, l->prog_ids[i - 1]);
	for (i = l->nr_maps; i > 0; i--)
		bext_store__obj_put(s, l->map_ids[i - 1]);
}

/*
 * The object's .BTF and the map's key/value type ids, for typed `bext dump`
 * (as libbpf passes btf_fd + type ids). The store checks them as the kernel
 * does (blob parses, sizes match); clang's raw .BTF parses as is, as far as
 * those checks go. Maps without type ids (sizes given) get no BTF.
 */
/* A map's creation attributes as the object defines them, with libbpf's defaults. */
static void opts_from_obj_map(const struct bext_obj_map *m, const char *name,
			      struct bext_map_create_opts *o)
{
	o->name = name;
	o->map_type = bext_obj_map__type(m);
	o->key_size = bext_obj_map__key_size(m);
	o->value_size = bext_obj_map__value_size(m);
	o->max_entries = bext_obj_map__max_entries(m);
	o->map_flags = bext_obj_map__flags(m);
	/* as libbpf: a perf event array without max_entries gets one per possible CPU */
	if (o->map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !o->max_entries) {
		int n = libbpf_num_possible_cpus();

		o->max_entries = n > 0 ? (uint32_t)n : 1;
	}
}

static void set_btf(const struct bext_obj *obj, const struct bext_obj_map *m,
		    struct bext_map_create_opts *o)
{
	size_t size;
	const void *btf = bext_obj__btf(obj, &size);

	o->btf_key_type_id = bext_obj_map__btf_key_type_id(m);
	o->btf_value_type_id = bext_obj_map__btf_value_type_id(m);
	if (!btf || !size || size > UINT32_MAX || (!o->btf_key_type_id && !o->btf_value_type_id)) {
		o->btf_key_type_id = o->btf_value_type_id = 0;
		return;
	}
	o->btf = btf;
	o->btf_size = (uint32_t)size;
}

/*
 * A global data map's BTF: the object's .BTF with its DATASEC fixed up
 * (bext_obj__data_map_btf()), the DATASEC as value type and no key type, as
 * libbpf creates these maps. Typed `bext dump` is all it buys, so an object
 * whose DATASEC cannot be used still loads, its map without BTF. Returns the
 * blob to free after the map is created, or NULL.
 */
static void *set_data_btf(const struct bext_obj *obj, const struct bext_obj_map *m,
			  struct bext_map_create_opts *o)
{
	size_t size;
	uint32_t id;
	void *btf = bext_obj__data_map_btf(obj, m, &size, &id);

	if (!btf) {
		if (errno == EINVAL)
			pr_info("map %s: its BTF DATASEC does not describe the section, "
				"created without BTF\n",
				bext_obj_map__name(m));
		else if (errno == ENOENT)
			pr_info("map %s: no BTF DATASEC for it, created without BTF\n",
				bext_obj_map__name(m));
		return NULL;
	}
	if (size > UINT32_MAX) {
		free(btf);
		return NULL;
	}
	o->btf = btf;
	o->btf_size = (uint32_t)size;
	o->btf_key_type_id = 0;
	o->btf_value_type_id = id;
	return btf;
}

/* bext_store__create_map(), again without BTF if the store refuses the BTF. */
static int create_with_btf(struct bext_store *s, const struct bext_obj_map *m,
			   struct bext_map_create_opts *o)
{
	int r = bext_store__create_map(s, o);

	if (r == -EINVAL && o->btf) {
		/* BTF the store's checks refuse only costs typed dump output */
		pr_info("map %s: BTF type ids %u/%u refused, created without BTF\n",
			bext_obj_map__name(m), o->btf_key_type_id, o->btf_value_type_id);
		o->btf = NULL;
		o->btf_size = o->btf_key_type_id = o->btf_value_type_id = 0;
		r = bext_store__create_map(s, o);
	}
	return r;
}

/*
 * A map of maps is created from a template (the kernel's inner_map_fd): as
 * libbpf, a map "<outer>.inner" made from the `__array(values, struct inner)`
 * definition, put again once the outer map has copied its attributes.
 * Returns its id or a negative errno with err set.
 */
static int create_template(struct bext_store *s, const struct bext_obj_map *outer,
			   const struct bext_obj *obj, char *err, size_t err_len)
{
	const struct bext_obj_map *in = bext_obj_map__inner(outer);
	struct bext_map_create_opts o = {.sz = sizeof(o)};
	char name[16];
	int r;

	if (!in) {
		snprintf(err, err_len,
			 "map %s: a map of maps needs its inner map definition "
			 "(__array(values, struct inner))",
			 bext_obj_map__name(outer));
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%s", bext_obj_map__name(in));
	opts_from_obj_map(in, name, &o);
	set_btf(obj, in, &o);
	r = create_with_btf(s, in, &o);
	if (r < 0)
		snprintf(err, err_len, "map %s: cannot create its inner map template: %s",
			 bext_obj_map__name(outer), strerror(-r));
	return r;
}

/*
 * Fills the slots the object initialises statically (`.values = { [i] =
 * &prog_or_map }`): program ids into prog arrays, map ids into maps of maps,
 * with the maps' own update, so each slot takes its reference. Done before
 * any link exists, so a tail call works from a link's first hit.
 */
static int fill_slots(struct bext_store *s, const struct bext_obj *obj,
		      const struct bext_loaded *out, char *err, size_t err_len)
{
	size_t i, k, n, nmaps = bext_obj__map_count(obj);

	for (i = 0; i < nmaps && i < out->nr_maps; i++) {
		const struct bext_obj_map *m = bext_obj__map(obj, i);
		const struct bext_obj_init_slot *slots = bext_obj_map__init_slots(m, &n);
		struct bext_map *h;
		int r = 0;

		if (!n)
			continue;
		h = bext_store__map_by_id(s, out->map_ids[i]);
		if (!h) {
			r = -errno;
			snprintf(err, err_len, "map %s: cannot open it: %s", bext_obj_map__name(m),
				 strerror(errno));
			return r;
		}
		for (k = 0; k < n; k++) {
			bool prog = slots[k].kind == BEXT_OBJ_INIT_PROG;
			uint32_t key = slots[k].index, val;

			if (prog ? slots[k].target >= out->nr_progs
				 : slots[k].target >= out->nr_maps) {
				r = -EINVAL;
				break;
			}
			val = prog ? out->prog_ids[slots[k].target] : out->map_ids[slots[k].target];
			r = bext_map__update_elem(h, &key, &val, BPF_ANY);
			if (r)
				break;
		}
		bext_map__close(h);
		if (r) {
			snprintf(err, err_len, "map %s: cannot put %s %s into slot [%u]: %s",
				 bext_obj_map__name(m),
				 slots[k].kind == BEXT_OBJ_INIT_PROG ? "program" : "map",
				 slots[k].name, slots[k].index, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int create_maps(struct bext_store *s, const char *path, const struct bext_obj *obj,
		       struct bext_loaded *out, struct bext_map_desc *descs, char *err,
		       size_t err_len)
{
	size_t i, n = bext_obj__map_count(obj);
	int r;

	for (i = 0; i < n; i++) {
		const struct bext_obj_map *m = bext_obj__map(obj, i);
		enum bext_obj_map_kind kind = bext_obj_map__kind(m);
		struct bext_map_create_opts o = {.sz = sizeof(o)};
		struct bext_map *h;
		char name[16];
		const void *init;
		size_t init_size;
		uint32_t zero = 0;
		void *data_btf = NULL;

		if (kind == BEXT_OBJ_MAP_BTF && !bext_obj_map__has_def(m)) {
			snprintf(err, err_len, "map %s: no BTF definition (compile with -g)",
				 bext_obj_map__name(m));
			return -EINVAL;
		}
		if (kind == BEXT_OBJ_MAP_BTF)
			snprintf(name, sizeof(name), "%s", bext_obj_map__name(m));
		else
			data_map_name(path, bext_obj_map__name(m), name, sizeof(name));
		opts_from_obj_map(m, name, &o);
		if (kind == BEXT_OBJ_MAP_BTF)
			set_btf(obj, m, &o);
		else
			data_btf = set_data_btf(obj, m, &o);
		descs[i] = (struct bext_map_desc){o.map_type, o.key_size, o.value_size,
						  o.max_entries, o.map_flags};
		if (o.map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    o.map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			r = create_template(s, m, obj, err, err_len);
			if (r < 0)
				return r;
			o.inner_map_id = (uint32_t)r;
		}
		r = create_with_btf(s, m, &o);
		if (o.inner_map_id) /* the outer map copied what it needs from the template */
			bext_store__obj_put(s, o.inner_map_id);
		free(data_btf);
		if (r < 0) {
			snprintf(err, err_len, "map %s: cannot create it in the store: %s",
				 bext_obj_map__name(m), strerror(-r));
			return r;
		}
		if (push_id(&out->map_ids, &out->nr_maps, (uint32_t)r)) {
			bext_store__obj_put(s, (uint32_t)r);
			return -ENOMEM;
		}
		if (kind == BEXT_OBJ_MAP_BTF)
			continue;
		init = bext_obj_map__initial_value(m, &init_size);
		if (!init && kind != BEXT_OBJ_MAP_RODATA)
			continue; /* .bss: the array starts zeroed */
		h = bext_store__map_by_id(s, (uint32_t)r);
		if (!h) {
			r = -errno;
			snprintf(err, err_len, "map %s: cannot open it: %s", name, strerror(errno));
			return r;
		}
		r = 0;
		if (init && init_size == o.value_size)
			r = bext_map__update_elem(h, &zero, init, BPF_ANY);
		if (!r && kind == BEXT_OBJ_MAP_RODATA)
			r = bext_map__freeze(h);
		bext_map__close(h);
		if (r) {
			snprintf(err, err_len, "map %s: cannot set its initial value: %s", name,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

static int verify_prog(const struct bext_obj_prog *p, const struct bext_map_desc *descs,
		       uint32_t n_maps, const struct bext_load_opts *opts, char *err,
		       size_t err_len)
{
	struct bext_verify_opts vo = {.sz = sizeof(vo), .log_level = opts->log ? 1 : 0};
	struct bext_verify_stats st;
	const struct bext_insn *insns;
	size_t n;
	int r;

	memset(&st, 0, sizeof(st));
	vo.prog_type = bext_prog_type_from_section(bext_obj_prog__section_name(p), &vo.ctx_size);
	vo.maps = descs;
	vo.n_maps = n_maps;
	vo.stats = &st;
	insns = bext_obj_prog__insns(p, &n);
	r = bext_verify(insns, n, &vo, opts->log, opts->log_len);
	if (r)
		snprintf(err, err_len, "program %s rejected by the verifier: %s",
			 bext_obj_prog__name(p), st.reason[0] ? st.reason : strerror(-r));
	return r;
}

/*
 * Every auto-attachable section of @obj names a target a link can have:
 * the section parses, and an absolute PATH is an ELF file defining FUNC.
 */
static int check_targets(const struct bext_obj *obj, char *err, size_t err_len)
{
	size_t i, n = bext_obj__prog_count(obj);

	for (i = 0; i < n; i++) {
		const struct bext_obj_prog *p = bext_obj__prog(obj, i);
		const char *sec = bext_obj_prog__section_name(p);
		struct bext_probe_target t;
		char why[4400];
		int r;

		r = bext_loader_parse_section(sec, &t, why, sizeof(why));
		if (r == -ENOENT)
			continue;
		if (!r)
			r = bext_loader_check_target(&t, why, sizeof(why));
		if (r) {
			snprintf(err, err_len, "program %s: section %s: %s", bext_obj_prog__name(p),
				 sec, why);
			return r;
		}
	}
	return 0;
}

int bext_loader__check(const char *path, const struct bext_load_opts *opts, char *err,
		       size_t err_len)
{
	struct bext_obj *obj;
	char dummy[1];
	int r = 0;

	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = 0;
	if (!path) {
		snprintf(err, err_len, "bad arguments");
		return -EINVAL;
	}
	if (opts && opts->sz < sizeof(struct bext_load_opts)) {
		snprintf(err, err_len, "bad options size");
		return -EINVAL;
	}
	obj = bext_obj__open(path, err, err_len);
	if (!obj)
		return errno ? -errno : -EINVAL;
	if (!bext_obj__prog_count(obj)) {
		snprintf(err, err_len, "%s: no programs", path);
		r = -ENOENT;
	} else if (!opts || !opts->no_links) {
		r = check_targets(obj, err, err_len);
	}
	bext_obj__close(obj);
	return r;
}

int bext_loader__load(struct bext_store *s, const char *path, const struct bext_load_opts *opts,
		      struct bext_loaded *out, char *err, size_t err_len)
{
	struct bext_load_opts def = {.sz = sizeof(def), .pid = -1};
	struct bext_map_desc *descs = NULL;
	struct bext_obj *obj;
	char dummy[1];
	size_t i, nprogs, nmaps;
	int r;

	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = 0;
	if (!s || !path || !out) {
		snprintf(err, err_len, "bad arguments");
		return -EINVAL;
	}
	if (!opts)
		opts = &def;
	if (opts->sz < sizeof(struct bext_load_opts)) {
		snprintf(err, err_len, "bad options size");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	obj = bext_obj__open(path, err, err_len);
	if (!obj)
		return errno ? -errno : -EINVAL;
	nmaps = bext_obj__map_count(obj);
	nprogs = bext_obj__prog_count(obj);
	if (!nprogs) {
		snprintf(err, err_len, "%s: no programs", path);
		r = -ENOENT;
		goto out_close;
	}
	/* links that could never be installed: refused before the store is touched */
	if (!opts->no_links) {
		r = check_targets(obj, err, err_len);
		if (r)
			goto out_close;
	}
	descs = calloc(nmaps ? nmaps : 1, sizeof(*descs));
	if (!descs) {
		r = -ENOMEM;
		goto out_close;
	}
	r = create_maps(s, path, obj, out, descs, err, err_len);
	if (r)
		goto out_undo;

	for (i = 0; i < nprogs; i++) {
		const struct bext_obj_prog *p = bext_obj__prog(obj, i);
		const char *sec = bext_obj_prog__section_name(p);
		struct bext_prog_create_opts po = {.sz = sizeof(po)};
		char hint[256];
		size_t n;

		if (!opts->no_verify) {
			r = verify_prog(p, descs, (uint32_t)nmaps, opts, err, err_len);
			if (r)
				goto out_undo;
		}
		snprintf(hint, sizeof(hint), "%s%s", sec,
			 opts->no_verify ? BEXT_NO_VERIFY_MARK : "");
		po.name = bext_obj_prog__name(p);
		po.prog_type = store_type(sec);
		po.insns = bext_obj_prog__insns(p, &n);
		po.insn_cnt = (uint32_t)n;
		po.license = bext_obj__license(obj);
		po.attach_hint = hint;
		po.map_ids = out->map_ids;
		po.nr_maps = (uint32_t)out->nr_maps;
		r = bext_store__create_prog(s, &po);
		if (r < 0) {
			snprintf(err, err_len, "program %s: cannot store it: %s", po.name,
				 strerror(-r));
			goto out_undo;
		}
		if (push_id(&out->prog_ids, &out->nr_progs, (uint32_t)r)) {
			bext_store__obj_put(s, (uint32_t)r);
			r = -ENOMEM;
			goto out_undo;
		}
	}

	r = fill_slots(s, obj, out, err, err_len);
	if (r)
		goto out_undo;

	for (i = 0; i < nprogs && !opts->no_links; i++) {
		const struct bext_obj_prog *p = bext_obj__prog(obj, i);
		struct bext_link_create_opts lo = {.sz = sizeof(lo)};
		struct bext_probe_target t;
		char target[sizeof(((struct bext_link_data *)0)->target)];

		r = bext_probe_target__from_section(bext_obj_prog__section_name(p), &t);
		if (r == -ENOENT) {
			pr_info("program %s: section %s is not auto-attached\n",
				bext_obj_prog__name(p), bext_obj_prog__section_name(p));
			continue;
		}
		if (!r)
			r = bext_probe_target__format(&t, target, sizeof(target));
		if (r) {
			snprintf(err, err_len, "program %s: cannot attach section %s: %s",
				 bext_obj_prog__name(p), bext_obj_prog__section_name(p),
				 r == -EOPNOTSUPP ? "raw addresses are not supported, name a symbol"
						  : strerror(-r));
			goto out_undo;
		}
		lo.prog_id = out->prog_ids[i];
		lo.attach_type = BPF_PERF_EVENT;
		lo.target = target;
		lo.pid = opts->pid > 0 ? opts->pid : -1;
		lo.cookie = opts->cookie;
		r = bext_store__create_link(s, &lo);
		if (r < 0) {
			snprintf(err, err_len, "program %s: cannot create its link: %s",
				 bext_obj_prog__name(p), strerror(-r));
			goto out_undo;
		}
		if (push_id(&out->link_ids, &out->nr_links, (uint32_t)r)) {
			bext_store__obj_put(s, (uint32_t)r);
			r = -ENOMEM;
			goto out_undo;
		}
	}
	r = 0;
	goto out_close;

out_undo:
	put_all(s, out);
	bext_loaded__free(out);
out_close:
	free(descs);
	bext_obj__close(obj);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * bext list / dump / gc: look at and clean up an object store.
 *
 *   list [--store DIR]        every live object: maps with sizes and entries
 *                             in use, programs with their maps, links
 *   dump MAP [--store DIR]    a map's entries (MAP = id or name): typed through
 *                             the map's BTF when it has some, else in hex
 *   gc [--store DIR]          remove the store if no process has it open
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <bext/loader.h>
#include <bext/map.h>
#include <bext/store.h>

#include "commands.h"

/* Parses "[ARG] [--store DIR]" in any order; returns 0 or prints usage and returns 2. */
static int parse_args(int argc, char **argv, const char **store, const char **arg, bool want_arg,
		      const char *usage)
{
	int i;

	*store = NULL;
	if (arg)
		*arg = NULL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			*store = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			*store = argv[i] + 8;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s\n", usage);
			return 1;
		} else if (want_arg && arg && !*arg && argv[i][0] != '-') {
			*arg = argv[i];
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return 2;
		}
	}
	if (want_arg && (!arg || !*arg)) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	return 0;
}

const char *cli_store_dir(const char *dir)
{
	if (dir && *dir)
		return dir;
	dir = getenv("BEXT_STORE");
	return dir && *dir ? dir : "/dev/shm/bext";
}

struct bext_store *cli_open_existing_store(const char *dir, const char *cmd)
{
	struct bext_store_opts o = {.sz = sizeof(o), .path = dir, .no_create = true};
	struct bext_store *s = bext_store__open(&o);

	if (s)
		return s;
	if (errno == ENOENT)
		fprintf(stderr, "bext: no store at %s\n", cli_store_dir(dir));
	else
		fprintf(stderr, "bext %s: cannot open store %s: %s\n", cmd, cli_store_dir(dir),
			strerror(errno));
	return NULL;
}

static const char *map_type_str(uint32_t t)
{
	const char *s = libbpf_bpf_map_type_str((enum bpf_map_type)t);

	return s ? s : "unknown";
}

static const char *prog_type_str(uint32_t t)
{
	const char *s = libbpf_bpf_prog_type_str((enum bpf_prog_type)t);

	return s ? s : "unknown";
}

/* Ends an object's line: " DAMAGED (why)" when its segment cannot be read. */
static void end_line(const struct bext_obj_info *in, const char *damage)
{
	printf(" refs %u pid %u", in->refcnt, in->creator_pid);
	if (damage)
		printf(" DAMAGED (%s)", damage);
	printf("\n");
}

/* @damage: NULL, or why the segment is unreadable (then it is not opened). */
static void list_map(struct bext_store *s, const struct bext_obj_info *in, const char *damage,
		     char *why, size_t why_len)
{
	struct bext_map *m = damage ? NULL : bext_store__map_by_id(s, in->id);
	long n = m ? bext_map__nr_entries(m) : -1;
	char path[4200];

	if (!damage && !m && errno == EBADMSG) {
		/* the segment header is fine, the map header in it is not */
		if (bext_store__obj_seg_path(s, in->id, path, sizeof(path)))
			snprintf(path, sizeof(path), "of object %u", in->id);
		snprintf(why, why_len, "segment %s does not hold a valid map", path);
		damage = why;
	}
	printf("%u: map %s name %s key %u value %u max_entries %u flags 0x%x", in->id,
	       map_type_str(in->type), in->name[0] ? in->name : "-", in->key_size, in->value_size,
	       in->max_entries, in->flags);
	if (n >= 0)
		printf(" entries %ld", n);
	else
		printf(" entries -");
	if (m && bext_map__inner_map_id(m))
		printf(" inner_map %u", bext_map__inner_map_id(m));
	if (m && bext_map__spin_lock_off(m) >= 0)
		printf(" spin_lock_off %d", bext_map__spin_lock_off(m));
	printf(" bytes %" PRIu64, in->seg_size);
	end_line(in, damage);
	bext_map__close(m);
}

static void list_prog(struct bext_store *s, const struct bext_obj_info *in, const char *damage)
{
	struct bext_prog_data d;
	uint32_t i;

	printf("%u: prog %s name %s", in->id, prog_type_str(in->type),
	       in->name[0] ? in->name : "-");
	if (!damage && bext_store__prog_read(s, in->id, &d) == 0) {
		printf(" insns %u maps ", d.insn_cnt);
		for (i = 0; i < d.nr_maps; i++)
			printf("%s%u", i ? "," : "", d.map_ids[i]);
		if (!d.nr_maps)
			printf("-");
		if (d.attach_hint[0]) {
			/* the loader marks programs stored with --no-verify */
			size_t hl = strlen(d.attach_hint), ml = strlen(BEXT_NO_VERIFY_MARK);
			bool nv = hl >= ml && !strcmp(d.attach_hint + hl - ml, BEXT_NO_VERIFY_MARK);

			printf(" section %.*s%s", (int)(nv ? hl - ml : hl), d.attach_hint,
			       nv ? " UNVERIFIED(--no-verify)" : "");
		}
		bext_prog_data__free(&d);
	}
	end_line(in, damage);
}

static void list_link(struct bext_store *s, const struct bext_obj_info *in, const char *damage)
{
	struct bext_link_data d;

	printf("%u: link", in->id);
	if (!damage && bext_store__link_read(s, in->id, &d) == 0)
		printf(" prog %u attach_type %u target %s pid %d cookie 0x%" PRIx64, d.prog_id,
		       d.attach_type, d.target[0] ? d.target : "-", d.pid, d.cookie);
	end_line(in, damage);
}

int cmd_list(int argc, char **argv)
{
	struct bext_obj_info in;
	struct bext_store *s;
	const char *dir, *damage;
	char why[4400];
	uint32_t id = 0, n = 0, bad = 0;
	int r = parse_args(argc, argv, &dir, NULL, false, "bext list [--store DIR]");

	if (r)
		return r == 1 ? 0 : r;
	s = cli_open_existing_store(dir, "list");
	if (!s)
		return 1;
	printf("store %s\n", bext_store__path(s));
	while (bext_store__next_id(s, id, &id) == 0) {
		if (bext_store__obj_info(s, id, &in))
			continue; /* removed meanwhile */
		r = bext_store__obj_check(s, id, why, sizeof(why));
		if (r == -ENOENT)
			continue; /* removed meanwhile */
		damage = r ? why : NULL;
		n++;
		switch (in.kind) {
		case BEXT_OBJ_MAP:
			list_map(s, &in, damage, why, sizeof(why));
			break;
		case BEXT_OBJ_PROG:
			list_prog(s, &in, damage);
			break;
		case BEXT_OBJ_LINK:
			list_link(s, &in, damage);
			break;
		default:
			printf("%u: kind %u\n", in.id, in.kind);
		}
		bad += why[0] != 0;
	}
	printf("%u object%s", n, n == 1 ? "" : "s");
	if (bad)
		printf(" (%u damaged)", bad);
	printf("\n");
	bext_store__close(s);
	return 0;
}

static void hex(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "", b[i]);
}

static void btf_print(void *ctx, const char *fmt, va_list args)
{
	(void)ctx;
	vprintf(fmt, args);
}

/* Typed through BTF (libbpf's btf_dump, one line) when the map has a type here, else hex. */
static void show(struct btf_dump *d, uint32_t type_id, const void *p, size_t n)
{
	LIBBPF_OPTS(btf_dump_type_data_opts, o, .compact = true, .emit_zeroes = true);

	if (d && type_id) {
		fflush(stdout);
		if (btf_dump__dump_type_data(d, type_id, p, n, &o) >= 0)
			return;
		printf(" <btf: "); /* fall back to the bytes */
		hex(p, n);
		printf(">");
		return;
	}
	hex(p, n);
}

/*
 * A global data map (libbpf's .data/.rodata/.bss: a one-element array whose
 * value is a BTF DATASEC): one line per variable, `NAME = VALUE` typed
 * through btf_dump, then the count. Each variable is its own btf_dump call
 * (libbpf 1.1's DATASEC dump lets a char array's end leak into the next
 * variable). Returns false when the map is not one, for the usual dump.
 */
static bool dump_datasec(struct bext_map *m, const struct btf *btf, struct btf_dump *d,
			 uint32_t vid)
{
	LIBBPF_OPTS(btf_dump_type_data_opts, o, .compact = true, .emit_zeroes = true);
	const struct btf_type *t = btf ? btf__type_by_id(btf, vid) : NULL;
	const struct btf_var_secinfo *v;
	uint32_t vs = bext_map__value_size(m), zero = 0, i;
	uint8_t *val;
	int r;

	if (!d || !t || !btf_is_datasec(t) || bext_map__type(m) != BPF_MAP_TYPE_ARRAY ||
	    bext_map__max_entries(m) != 1 || bext_map__key_size(m) != sizeof(zero))
		return false;
	val = calloc(1, vs ? vs : 1);
	if (!val)
		return false;
	r = bext_map__lookup_elem(m, &zero, val);
	if (r) {
		printf("value: <%s>\n", strerror(-r));
		free(val);
		return true;
	}
	v = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);
		const char *name = var ? btf__name_by_offset(btf, var->name_off) : NULL;

		printf("%s = ", name && name[0] ? name : "?");
		if (!var || !btf_is_var(var) || v->offset > vs || vs - v->offset < v->size) {
			printf("<not inside the value: offset %u size %u>\n", v->offset, v->size);
			continue;
		}
		fflush(stdout);
		if (btf_dump__dump_type_data(d, var->type, val + v->offset, v->size, &o) < 0)
			hex(val + v->offset, v->size);
		printf("\n");
	}
	printf("%u variable%s in %s\n", btf_vlen(t), btf_vlen(t) == 1 ? "" : "s",
	       btf__name_by_offset(btf, t->name_off));
	free(val);
	return true;
}

static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* The live map called @name with the lowest id (as bext_store__map_by_name picks), or 0. */
static uint32_t map_id_by_name(struct bext_store *s, const char *name)
{
	struct bext_obj_info in;
	uint32_t id = 0;

	while (bext_store__next_id(s, id, &id) == 0)
		if (bext_store__obj_info(s, id, &in) == 0 && in.kind == BEXT_OBJ_MAP &&
		    !strncmp(in.name, name, sizeof(in.name)))
			return id;
	return 0;
}

/* Why map @name (@id when given by id, else 0) did not open: missing, or damaged. */
static void dump_open_error(struct bext_store *s, const char *name, uint32_t id, int err)
{
	struct bext_obj_info in;
	char why[4400], path[4200];

	if (!id)
		id = map_id_by_name(s, name);
	if (err == ENOENT || !id || bext_store__obj_info(s, id, &in) || in.kind != BEXT_OBJ_MAP) {
		if (id && bext_store__obj_info(s, id, &in) == 0 && in.kind != BEXT_OBJ_MAP)
			fprintf(stderr, "bext dump: object %u in %s is a %s, not a map\n", id,
				bext_store__path(s), in.kind == BEXT_OBJ_PROG ? "program" : "link");
		else
			fprintf(stderr, "bext dump: no map %s in %s\n", name, bext_store__path(s));
		return;
	}
	if (bext_store__obj_check(s, id, why, sizeof(why)) == 0) {
		if (err == EBADMSG) {
			if (bext_store__obj_seg_path(s, id, path, sizeof(path)))
				snprintf(path, sizeof(path), "of object %u", id);
			snprintf(why, sizeof(why), "segment %s does not hold a valid map", path);
		} else {
			snprintf(why, sizeof(why), "%s", strerror(err));
		}
	}
	fprintf(stderr, "bext dump: map %s (id %u) is damaged: %s\n", in.name[0] ? in.name : "-",
		id, why);
}

int cmd_dump(int argc, char **argv)
{
	const char *dir, *name;
	struct bext_store *s;
	struct bext_map *m;
	uint8_t *key = NULL, *prev = NULL, *val = NULL;
	uint32_t ks, vs, t, n = 0, cpu, btf_size = 0, kid = 0, vid = 0;
	struct btf_dump *bd = NULL;
	struct btf *btf = NULL;
	const void *blob;
	size_t svs;
	char *end;
	unsigned long id;
	int r = parse_args(argc, argv, &dir, &name, true, "bext dump MAP [--store DIR]");

	if (r)
		return r == 1 ? 0 : r;
	s = cli_open_existing_store(dir, "dump");
	if (!s)
		return 1;
	id = strtoul(name, &end, 10);
	m = *end == 0 && id > 0 ? bext_store__map_by_id(s, (uint32_t)id)
				: bext_store__map_by_name(s, name);
	if (!m) {
		dump_open_error(s, name, *end == 0 && id > 0 ? (uint32_t)id : 0, errno);
		bext_store__close(s);
		return 1;
	}
	t = bext_map__type(m);
	ks = bext_map__key_size(m);
	vs = bext_map__value_size(m);
	svs = bext_map__syscall_value_size(m);
	printf("map %u %s name %s key %u value %u max_entries %u\n", bext_map__id(m),
	       map_type_str(t), bext_map__name(m), ks, vs, bext_map__max_entries(m));
	if (t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK || t == BPF_MAP_TYPE_BLOOM_FILTER ||
	    t == BPF_MAP_TYPE_RINGBUF || t == BPF_MAP_TYPE_PERF_EVENT_ARRAY || ks == 0) {
		long e = bext_map__nr_entries(m);

		printf("(%s maps have no keys to walk", map_type_str(t));
		if (e >= 0)
			printf("; %ld element%s", e, e == 1 ? "" : "s");
		printf(")\n");
		goto out;
	}
	if (bext_map__btf(m, &blob, &btf_size, &kid, &vid) == 0) {
		btf = btf__new(blob, btf_size);
		bd = btf ? btf_dump__new(btf, btf_print, NULL, NULL) : NULL;
		if (!bd)
			fprintf(stderr, "bext dump: the map's BTF does not load: values in hex\n");
	}
	if (dump_datasec(m, btf, bd, vid)) {
		r = 0;
		goto out;
	}
	key = calloc(1, ks);
	prev = calloc(1, ks);
	val = calloc(1, svs);
	if (!key || !prev || !val) {
		r = 1;
		goto out;
	}
	for (r = bext_map__get_next_key(m, NULL, key); r == 0;
	     memcpy(prev, key, ks), r = bext_map__get_next_key(m, prev, key)) {
		int lr = bext_map__lookup_elem(m, key, val);

		if (lr == -ENOENT)
			continue; /* deleted meanwhile, or an empty map-in-map slot */
		printf("key: ");
		show(bd, kid, key, ks);
		if (lr) {
			printf("  value: <%s>\n", strerror(-lr));
		} else if (is_percpu(t)) {
			printf("\n");
			for (cpu = 0; cpu < bext_map__nr_cpus(m); cpu++) {
				printf("  cpu %u: ", cpu);
				show(bd, vid, val + (size_t)cpu * ((vs + 7) & ~7u), vs);
				printf("\n");
			}
		} else {
			printf("  value: ");
			show(bd, vid, val, vs);
			printf("\n");
		}
		if (++n >= 10000000)
			break;
	}
	printf("%u entr%s\n", n, n == 1 ? "y" : "ies");
	r = 0;
out:
	btf_dump__free(bd);
	btf__free(btf);
	free(key);
	free(prev);
	free(val);
	bext_map__close(m);
	bext_store__close(s);
	return r;
}

int cmd_gc(int argc, char **argv)
{
	const char *dir, *shown;
	uint32_t n = 0;
	uint64_t bytes = 0;
	int r = parse_args(argc, argv, &dir, NULL, false, "bext gc [--store DIR]");

	if (r)
		return r == 1 ? 0 : r;
	shown = cli_store_dir(dir);
	r = bext_store__remove_unused(dir, &n, &bytes);
	if (r == -EBUSY) {
		printf("store %s is in use by a live process: nothing removed\n", shown);
		return 1;
	}
	if (r == -ENOENT) {
		fprintf(stderr, "bext: no store at %s\n", shown);
		return 1;
	}
	if (r == -ENOTEMPTY) {
		/* the store is gone; files that are not bext's keep the directory */
		fprintf(stderr,
			"bext gc: removed the store in %s (%u object segment%s), kept the "
			"directory: it holds files that are not bext's\n",
			shown, n, n == 1 ? "" : "s");
		return 1;
	}
	if (r) {
		fprintf(stderr, "bext gc: %s: %s\n", shown, strerror(-r));
		return 1;
	}
	printf("removed store %s: %u object segment%s, %" PRIu64 " bytes\n", shown, n,
	       n == 1 ? "" : "s", bytes);
	return 0;
}

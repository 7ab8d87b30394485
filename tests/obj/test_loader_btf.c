/* SPDX-License-Identifier: MIT */
/*
 * BTF from the object to `bext dump`: bext_obj exposes the raw .BTF and each
 * .maps map's key/value type ids, `bext load` passes them to the store, and
 * `bext dump` prints the values typed. A map defined by sizes only gets no
 * BTF and is dumped as bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/btf.h>

#include <bext/map.h>
#include <bext/obj.h>
#include <bext/store.h>

static int failures;

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                           \
		}                                                                             \
	} while (0)

struct stats {
	int calls;
	long long total;
	unsigned char tag[4];
	struct {
		short lo, hi;
	} range;
};

static char dir[128];

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Runs `bext ARGS --store DIR`, returns its stdout (malloc'd) or NULL if it failed. */
static char *run_cli(const char *args)
{
	char cmd[1024], *out = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s %s --store %s", BEXT_CLI, args, dir);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	for (;;) {
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf), f);
		char *p;

		if (!n)
			break;
		p = realloc(out, len + n + 1);
		if (!p)
			break;
		out = p;
		memcpy(out + len, buf, n);
		len += n;
		out[len] = 0;
	}
	if (pclose(f) != 0) {
		fprintf(stderr, "'%s' failed; output:\n%s\n", cmd, out ? out : "");
		free(out);
		return NULL;
	}
	return out ? out : strdup("");
}

static void check_line(const char *out, const char *line)
{
	const char *p = out;
	size_t n = strlen(line);

	while (p && *p) {
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			return;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	fprintf(stderr, "missing line '%s' in:\n%s\n", line, out);
	failures++;
}

/* The object side: the blob parses and the ids name the declared types. */
static void check_obj(const char *path, uint32_t *kid, uint32_t *vid)
{
	char err[256];
	struct bext_obj *obj = bext_obj__open(path, err, sizeof(err));
	const struct bext_obj_map *m;
	const struct btf_type *t;
	const void *blob;
	struct btf *btf;
	size_t size = 0;

	if (!obj) {
		fprintf(stderr, "open %s: %s\n", path, err);
		exit(1);
	}
	blob = bext_obj__btf(obj, &size);
	CHECK(blob && size > 24);
	btf = blob ? btf__new(blob, (uint32_t)size) : NULL;
	CHECK(btf);
	m = bext_obj__find_map(obj, "stats");
	CHECK(m);
	if (m && btf) {
		*kid = bext_obj_map__btf_key_type_id(m);
		*vid = bext_obj_map__btf_value_type_id(m);
		t = btf__type_by_id(btf, *kid);
		CHECK(t && btf_is_typedef(t) &&
		      !strcmp(btf__name_by_offset(btf, t->name_off), "pid_key_t"));
		t = btf__type_by_id(btf, *vid);
		CHECK(t && btf_is_struct(t) && t->size == sizeof(struct stats) &&
		      !strcmp(btf__name_by_offset(btf, t->name_off), "stats"));
	}
	m = bext_obj__find_map(obj, "sized");
	CHECK(m && bext_obj_map__btf_key_type_id(m) == 0 &&
	      bext_obj_map__btf_value_type_id(m) == 0);
	m = bext_obj__find_map(obj, ".rodata"); /* none here; data maps never have ids */
	CHECK(!m);
	btf__free(btf);
	bext_obj__close(obj);
}

int main(void)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	const char *path = OBJ_DIR "/btfdump.bpf.o";
	uint32_t kid = 0, vid = 0, k, sk, sv, ssize;
	struct stats v;
	struct bext_map *m;
	struct bext_store *s;
	const void *blob;
	uint64_t raw;
	char *out, args[512];

	if (access(BEXT_CLI, X_OK)) {
		printf("SKIP: no bext CLI at %s\n", BEXT_CLI);
		return 77;
	}
	snprintf(dir, sizeof(dir), "/dev/shm/bext-test-ldbtf-%d", getpid());
	cleanup();
	atexit(cleanup);
	check_obj(path, &kid, &vid);

	snprintf(args, sizeof(args), "load %s --no-attach", path);
	out = run_cli(args);
	CHECK(out);
	free(out);

	so.path = dir;
	s = bext_store__open(&so);
	if (!s) {
		fprintf(stderr, "cannot open store %s\n", dir);
		return 1;
	}
	/* the store kept the object's BTF and the ids */
	m = bext_store__map_by_name(s, "stats");
	CHECK(m);
	if (m) {
		CHECK(bext_map__btf(m, &blob, &ssize, &sk, &sv) == 0);
		CHECK(sk == kid && sv == vid && ssize > 24);
		k = 7;
		v = (struct stats){.calls = 3,
				   .total = -5000000000LL,
				   .tag = {'b', 'x', 0, 0xff},
				   .range = {-2, 300}};
		CHECK(bext_map__update_elem(m, &k, &v, BPF_ANY) == 0);
		k = 1;
		memset(&v, 0, sizeof(v));
		v.calls = 1;
		CHECK(bext_map__update_elem(m, &k, &v, BPF_ANY) == 0);
		bext_map__close(m);
	}
	m = bext_store__map_by_name(s, "sized");
	CHECK(m);
	if (m) {
		CHECK(bext_map__btf(m, NULL, NULL, NULL, NULL) == -ENOENT);
		k = 1;
		raw = 0x1122334455667788ULL;
		CHECK(bext_map__update_elem(m, &k, &raw, BPF_ANY) == 0);
		bext_map__close(m);
	}
	bext_store__close(s);

	/* libbpf's btf_dump shows char arrays as characters up to the first NUL */
	out = run_cli("dump stats");
	CHECK(out);
	if (out) {
		check_line(out,
			   "key: (pid_key_t)7  value: (struct stats){.calls = (int)3,"
			   ".total = (long long)-5000000000,.tag = (unsigned char[4])['b','x',],"
			   ".range = (struct){.lo = (short)-2,.hi = (short)300,},}");
		check_line(out, "key: (pid_key_t)1  value: (struct stats){.calls = (int)1,"
				".total = (long long)0,.tag = (unsigned char[4])[],"
				".range = (struct){.lo = (short)0,.hi = (short)0,},}");
		check_line(out, "2 entries");
		free(out);
	}
	out = run_cli("dump sized");
	CHECK(out);
	if (out) {
		check_line(out, "key: 01 00 00 00  value: 88 77 66 55 44 33 22 11");
		check_line(out, "key: 00 00 00 00  value: 00 00 00 00 00 00 00 00");
		check_line(out, "2 entries");
		free(out);
	}
	if (failures) {
		fprintf(stderr, "test_loader_btf: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_loader_btf: all checks passed\n");
	return 0;
}

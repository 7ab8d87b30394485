/* SPDX-License-Identifier: MIT */
/*
 * The loader library refuses uprobe sections no link could ever use, for any
 * caller (not only `bext load`): malformed section names (with the reason),
 * negative or overflowing offsets, and absolute PATHs that are missing, not
 * regular files, not ELF, or do not define FUNC (.symtab/.dynsym), all before
 * anything is created in the store. Bare names are left to the agent.
 * The objects are compiled here with clang from a one-program source whose
 * section is given with -DSECNAME; the absolute target is this test binary.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bext/loader.h>
#include <bext/store.h>

static int failures;

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                           \
		}                                                                             \
	} while (0)

static char dir[128], self[PATH_MAX];

/* A symbol of this executable for the valid absolute-path case. */
__attribute__((noinline, used)) int loader_targets_probe_me(int x)
{
	return x * 3 + 1;
}

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Compiles the probe with section @sec into DIR/@name; 0 or -1. */
static int build(const char *sec, const char *name)
{
	char cmd[PATH_MAX + 512];

	snprintf(cmd, sizeof(cmd),
		 "%s -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu '-DSECNAME=\"%s\"' -c "
		 "%s/probe.bpf.c -o %s/%s",
		 BEXT_CLANG, sec, dir, dir, name);
	return system(cmd) == 0 ? 0 : -1;
}

/* Section parsing: return codes and what is parsed. */
static void test_sections(void)
{
	struct bext_probe_target t;

	CHECK(bext_probe_target__from_section("uprobe/libc.so.6:malloc+0x10", &t) == 0);
	CHECK(t.kind == BEXT_PROBE_UPROBE && !strcmp(t.path, "libc.so.6") &&
	      !strcmp(t.func, "malloc") && t.offset == 16);
	CHECK(bext_probe_target__from_section("uretprobe.s//usr/bin/x:f", &t) == 0);
	CHECK(t.kind == BEXT_PROBE_URETPROBE && !strcmp(t.path, "/usr/bin/x") && t.offset == 0);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+18446744073709551615", &t) == 0);
	CHECK(t.offset == UINT64_MAX);
	CHECK(bext_probe_target__from_section("uprobe", &t) == -ENOENT);
	CHECK(bext_probe_target__from_section("xdp", &t) == -ENOENT);
	CHECK(bext_probe_target__from_section("uprobe/", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe//usr/bin/ls", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe//usr/bin/ls:", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/:malloc", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+-8", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+ 8", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+18446744073709551616", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:f+0x10q", &t) == -EINVAL);
	CHECK(bext_probe_target__from_section("uprobe/lib:0x1234", &t) == -EOPNOTSUPP);
	/* link targets share the parser */
	CHECK(bext_probe_target__parse("uprobe:lib:f+-8", &t) == -EINVAL);
	CHECK(bext_probe_target__parse("uretprobe:/a/b:f+0x8", &t) == 0 && t.offset == 8);
}

struct load_case {
	const char *sec;
	int err;	 /* expected return of bext_loader__check and bext_loader__load */
	const char *msg; /* expected in err (after "program probe: section SEC: ") */
};

static void test_loads(void)
{
	char sec[PATH_MAX + 64], msg[PATH_MAX + 128], err[3 * PATH_MAX], want[3 * PATH_MAX],
	    obj[PATH_MAX];
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_load_opts lo = {.sz = sizeof(lo), .pid = -1};
	struct bext_loaded l;
	struct bext_store *s;
	char store[160];
	uint32_t next;
	const struct load_case cases[] = {
	    {"uprobe//nonexistent/dir/prog:main", -ENOENT,
	     "/nonexistent/dir/prog: No such file or directory"},
	    {"uprobe//tmp:main", -EINVAL, "/tmp is not a regular file"},
	    {"uprobe/SELF:no_such_symbol_xyz", -ENOENT,
	     "symbol no_such_symbol_xyz not found in SELF"},
	    {"uprobe/SELF:loader_targets_probe_me+0x100000", -EINVAL,
	     "offset 0x100000 is past the end of loader_targets_probe_me in SELF"},
	    {"uprobe/DIR/probe.bpf.c:main", -ENOEXEC,
	     "DIR/probe.bpf.c is not an ELF executable or library"},
	    {"uprobe/libc.so.6:malloc+-8", -EINVAL, "negative offset '-8'"},
	    {"uprobe//usr/bin/ls", -EINVAL, "no ':FUNC' after the path '/usr/bin/ls'"},
	    {"uprobe/", -EINVAL, "nothing after 'uprobe/'"},
	    {"uprobe/lib:f+99999999999999999999", -EINVAL,
	     "offset '99999999999999999999' does not fit in 64 bits"},
	};

	snprintf(store, sizeof(store), "%s/store", dir);
	so.path = store;
	s = bext_store__open(&so);
	CHECK(s != NULL);
	if (!s)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p;
		size_t o = 0;

		/* SELF: this executable, DIR: the scratch directory */
		for (p = cases[i].sec; *p && o < sizeof(sec) - 1;) {
			if (!strncmp(p, "SELF", 4)) {
				o += (size_t)snprintf(sec + o, sizeof(sec) - o, "%s", self);
				p += 4;
			} else if (!strncmp(p, "DIR", 3)) {
				o += (size_t)snprintf(sec + o, sizeof(sec) - o, "%s", dir);
				p += 3;
			} else {
				sec[o++] = *p++;
			}
		}
		sec[o] = 0;
		o = 0;
		for (p = cases[i].msg; *p && o < sizeof(msg) - 1;) {
			if (!strncmp(p, "SELF", 4)) {
				o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s", self);
				p += 4;
			} else if (!strncmp(p, "DIR", 3)) {
				o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s", dir);
				p += 3;
			} else {
				msg[o++] = *p++;
			}
		}
		msg[o] = 0;
		snprintf(obj, sizeof(obj), "%s/case%zu.bpf.o", dir, i);
		if (build(sec, obj + strlen(dir) + 1)) {
			fprintf(stderr, "cannot compile case %zu\n", i);
			failures++;
			continue;
		}
		snprintf(want, sizeof(want), "program probe: section %s: %s", sec, msg);
		CHECK(bext_loader__check(obj, &lo, err, sizeof(err)) == cases[i].err);
		if (strncmp(err, want, strlen(want))) {
			fprintf(stderr, "case %zu check: got '%s', want '%s'\n", i, err, want);
			failures++;
		}
		CHECK(bext_loader__load(s, obj, &lo, &l, err, sizeof(err)) == cases[i].err);
		if (strncmp(err, want, strlen(want))) {
			fprintf(stderr, "case %zu load: got '%s', want '%s'\n", i, err, want);
			failures++;
		}
		/* nothing was created, not even for a moment: ids were not consumed */
		CHECK(bext_store__next_id(s, 0, &next) == -ENOENT);
	}
	/* without links the sections are not checked */
	lo.no_links = true;
	snprintf(obj, sizeof(obj), "%s/case2.bpf.o", dir);
	CHECK(bext_loader__check(obj, &lo, err, sizeof(err)) == 0);
	CHECK(bext_loader__load(s, obj, &lo, &l, err, sizeof(err)) == 0);
	CHECK(l.nr_progs == 1 && l.nr_links == 0 && l.prog_ids[0] == 1);
	bext_loaded__free(&l);
	/* a symbol this file defines, inside it: one link */
	lo.no_links = false;
	snprintf(sec, sizeof(sec), "uprobe/%s:loader_targets_probe_me+1", self);
	if (build(sec, "ok.bpf.o") == 0) {
		snprintf(obj, sizeof(obj), "%s/ok.bpf.o", dir);
		CHECK(bext_loader__check(obj, NULL, err, sizeof(err)) == 0);
		CHECK(bext_loader__load(s, obj, &lo, &l, err, sizeof(err)) == 0);
		CHECK(l.nr_links == 1);
		bext_loaded__free(&l);
	} else {
		failures++;
	}
	/* a bare name is resolved by the agent in each target: accepted */
	if (build("uprobe/libc.so.6:no_such_symbol_xyz", "name.bpf.o") == 0) {
		snprintf(obj, sizeof(obj), "%s/name.bpf.o", dir);
		CHECK(bext_loader__check(obj, NULL, err, sizeof(err)) == 0);
	} else {
		failures++;
	}
	bext_store__close(s);
}

int main(void)
{
	static const char src[] = "#include <linux/bpf.h>\n"
				  "#include <bpf/bpf_helpers.h>\n"
				  "SEC(SECNAME) int probe(void *ctx) { (void)ctx; return 0; }\n"
				  "char LICENSE[] SEC(\"license\") = \"GPL\";\n";
	char path[256];
	FILE *f;

	if (access(BEXT_CLANG, X_OK)) {
		printf("SKIP: %s not found (needed to build the test objects)\n", BEXT_CLANG);
		return 77;
	}
	if (!realpath("/proc/self/exe", self)) {
		perror("realpath /proc/self/exe");
		return 1;
	}
	snprintf(dir, sizeof(dir), "/dev/shm/bext-test-targets-%d", (int)getpid());
	cleanup();
	atexit(cleanup);
	snprintf(path, sizeof(path), "mkdir -p %s", dir);
	if (system(path)) {
		perror("mkdir");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/probe.bpf.c", dir);
	f = fopen(path, "w");
	if (!f || fputs(src, f) < 0 || fclose(f)) {
		perror(path);
		return 1;
	}
	test_sections();
	test_loads();
	if (failures) {
		fprintf(stderr, "test_loader_targets: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_loader_targets: all checks passed\n");
	return 0;
}

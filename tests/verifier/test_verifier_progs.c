/* SPDX-License-Identifier: MIT */
/*
 * Real tracing programs (clang -O2 -g -target bpf, built by CMake) through
 * bext_obj and the verifier: every good program is accepted, every buggy
 * one is rejected with the expected reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <dirent.h>

#include <bext/obj.h>
#include <bext/verifier.h>

static char logbuf[1 << 20];

static enum bext_prog_type type_of(const char *sec, uint32_t *ctx_size)
{
	*ctx_size = 0;
	if (strstr(sec, "raw_syscalls"))
		return BEXT_PROG_RAW_SYSCALL;
	if (!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "tp/", 3))
		return BEXT_PROG_TRACEPOINT;
	if (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9))
		return BEXT_PROG_UPROBE;
	if (!strncmp(sec, "xdp", 3))
		return BEXT_PROG_XDP;
	return BEXT_PROG_EXT;
}

static int verify_path(const char *path, const char *name, struct bext_verify_stats *stats);

/* Verifies program `name` of OBJ_DIR/file; returns bext_verify()'s result. */
static int verify_prog(const char *file, const char *name, struct bext_verify_stats *stats)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", OBJ_DIR, file);
	return verify_path(path, name, stats);
}

static int verify_path(const char *path, const char *name, struct bext_verify_stats *stats)
{
	char err[256];
	const char *file = path;
	struct bext_obj *obj;
	const struct bext_obj_prog *p;
	struct bext_map_desc maps[16];
	struct bext_verify_opts opts = {.sz = sizeof(opts), .log_level = 1, .stats = stats};
	const struct bext_insn *insns;
	size_t n;
	int rc;

	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj)
		fail_msg("%s: %s", path, err);
	p = bext_obj__find_prog(obj, name);
	assert_non_null(p);
	insns = bext_obj_prog__insns(p, &n);
	opts.prog_type = type_of(bext_obj_prog__section_name(p), &opts.ctx_size);
	opts.n_maps = (uint32_t)bext_obj__map_count(obj);
	assert_true(opts.n_maps <= 16);
	for (uint32_t i = 0; i < opts.n_maps; i++) {
		const struct bext_obj_map *m = bext_obj__map(obj, i);

		maps[i] = (struct bext_map_desc){bext_obj_map__type(m), bext_obj_map__key_size(m),
						 bext_obj_map__value_size(m),
						 bext_obj_map__max_entries(m), bext_obj_map__flags(m)};
	}
	opts.maps = maps;
	rc = bext_verify(insns, n, &opts, logbuf, sizeof(logbuf));
	if (rc)
		printf("%s:%s rejected: %s\n", file, name, stats->reason);
	else
		printf("%s:%s accepted: %llu insns processed, %u states, %u pruned\n", file, name,
		       (unsigned long long)stats->insns_processed, stats->states_stored,
		       stats->states_pruned);
	bext_obj__close(obj);
	return rc;
}

static void expect_accept(const char *file, const char *name)
{
	struct bext_verify_stats st;
	int rc = verify_prog(file, name, &st);

	if (rc)
		printf("%s", logbuf);
	assert_int_equal(rc, 0);
}

static void expect_reject(const char *file, const char *name, const char *why)
{
	struct bext_verify_stats st;

	assert_int_equal(verify_prog(file, name, &st), -EACCES);
	if (!strstr(st.reason, why))
		fail_msg("%s: reason '%s' lacks '%s'", name, st.reason, why);
}

static void test_good(void **state)
{
	(void)state;
	expect_accept("uprobe_args.bpf.o", "capture_args");
	expect_accept("pid_count.bpf.o", "count_openat");
	expect_accept("pid_count.bpf.o", "count_raw");
	expect_accept("hist.bpf.o", "on_entry");
	expect_accept("hist.bpf.o", "on_return");
	expect_accept("hist.bpf.o", "report");
	expect_accept("strings.bpf.o", "scan_line");
	expect_accept("xdp_parse.bpf.o", "count_protocols");
}

static void test_bad(void **state)
{
	(void)state;
	expect_reject("bad.bpf.o", "no_null_check", "R0 invalid mem access 'map_value_or_null'");
	expect_reject("bad.bpf.o", "index_off_by_one", "invalid access to map value");
	expect_reject("bad.bpf.o", "leak_record", "Unreleased reference");
}

/* A ~1000-instruction tracing program built in C: lookup/update blocks. */
static void test_time_1000_insns(void **state)
{
	struct bext_insn prog[1100];
	struct bext_map_desc maps[1] = {{1 /* hash */, 8, 8, 1024, 0}};
	struct bext_verify_opts opts = {.sz = sizeof(opts), .prog_type = BEXT_PROG_UPROBE,
					.maps = maps, .n_maps = 1};
	struct bext_verify_stats st;
	struct timespec a, b;
	size_t n = 0;
	double ms, best = 1e9;

	(void)state;
	prog[n++] = BEXT_MOV64_REG(6, 1);
	while (n < 1000) {
		prog[n++] = BEXT_LDX_MEM(BEXT_SZ_DW, 7, 6, 112);          /* arg1 */
		prog[n++] = BEXT_STX_MEM(BEXT_SZ_DW, 10, 7, -8);          /* key */
		prog[n++] = BEXT_MOV64_REG(2, 10);
		prog[n++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -8);
		prog[n++] = BEXT_LD_IMM64_LO(1, 5, 0);                   /* map_idx 0 */
		prog[n++] = BEXT_LD_IMM64_HI(0);
		prog[n++] = BEXT_CALL_HELPER_INSN(1);
		prog[n++] = BEXT_JMP_IMM(BEXT_JMP_JEQ, 0, 0, 3);
		prog[n++] = BEXT_LDX_MEM(BEXT_SZ_DW, 1, 0, 0);
		prog[n++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 1);
		prog[n++] = BEXT_STX_MEM(BEXT_SZ_DW, 0, 1, 0);
		prog[n++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 7, 1);
	}
	prog[n++] = BEXT_MOV64_IMM(0, 0);
	prog[n++] = BEXT_EXIT_INSN();
	opts.stats = &st;
	for (int i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(bext_verify(prog, n, &opts, NULL, 0), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
		if (ms < best)
			best = ms;
	}
	printf("1000-insn tracing program (%zu slots): %.3f ms, %llu insns processed, %u states\n",
	       n, best, (unsigned long long)st.insns_processed, st.states_stored);
	assert_true(st.insns_processed >= n - 100);
}

/* Every eBPF program the project builds (benchmarks, obj tests) verifies. */
static void test_project_programs(void **state)
{
	static const char *const dirs[] = {"bench", "tests/obj"};
	int seen = 0;

	(void)state;
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char dir[512];
		DIR *dh;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%s", BUILD_DIR, dirs[d]);
		dh = opendir(dir);
		if (!dh)
			continue;
		while ((de = readdir(dh))) {
			size_t l = strlen(de->d_name);
			char path[1024], err[256];
			struct bext_obj *obj;

			if (l < 6 || strcmp(de->d_name + l - 6, ".bpf.o"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			obj = bext_obj__open(path, err, sizeof(err));
			if (!obj)
				fail_msg("%s: %s", path, err);
			for (size_t i = 0; i < bext_obj__prog_count(obj); i++) {
				struct bext_verify_stats st;
				const char *name = bext_obj_prog__name(bext_obj__prog(obj, i));
				int rc = verify_path(path, name, &st);

				if (rc)
					printf("%s", logbuf);
				assert_int_equal(rc, 0);
				seen++;
			}
			bext_obj__close(obj);
		}
		closedir(dh);
	}
	printf("%d project programs verified\n", seen);
	if (!seen)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_time_1000_insns),
		cmocka_unit_test(test_project_programs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

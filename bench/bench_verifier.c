// SPDX-License-Identifier: MIT
/*
 * bench_verifier: verification time of every eBPF program the build
 * produces (benchmarks, tests, examples: every *.bpf.o under the build
 * directory), of the project's assembler examples, and of a generated
 * ~1000-instruction tracing program (the target: <= 10 ms).
 *
 *   bench_verifier BUILD_DIR/bench [--quick]
 *
 * Per program: the program type (from the section name, as `bext verify`),
 * instructions, instructions processed, states stored, best and median
 * wall time of N runs (N = 5, 1 with --quick), and the verdict.
 * See docs/PERFORMANCE.md, "Verifier".
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bext/isa.h>
#include <bext/obj.h>
#include <bext/verifier.h>

#include "verifier/gen_tracing.h"

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif

static int runs = 5;
static int n_progs, n_rejected;
static double total_ms;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_one(const char *label, const struct bext_insn *insns, size_t n,
		      struct bext_verify_opts *opts)
{
	struct bext_verify_stats st;
	double t[16];
	int rc = 0;

	opts->stats = &st;
	for (int i = 0; i < runs; i++) {
		double a = now_ms();

		rc = bext_verify(insns, n, opts, NULL, 0);
		t[i] = now_ms() - a;
	}
	qsort(t, runs, sizeof(t[0]), cmp_double);
	printf("%-50s %-11s %6zu %9" PRIu64 " %7u %9.3f %9.3f  %s%s\n", label,
	       bext_prog_type_name(opts->prog_type), n, st.insns_processed, st.states_stored, t[0],
	       t[runs / 2], rc ? "rejected: " : "ok", rc ? st.reason : "");
	n_progs++;
	n_rejected += rc != 0;
	total_ms += t[runs / 2];
}

/* Ext programs get the ctx their runner gives them (as tests/verifier does). */
static void ext_ctx(const char *file, struct bext_verify_opts *o)
{
	if (!strcmp(file, "helpers.bpf.o")) {
		o->ctx_size = 32;
		o->ctx_writable = true;
	} else if (!strcmp(file, "example_checksum.bpf.o")) {
		o->ctx_size = 256;
		o->ctx_len_in_r2 = true;
	}
}

static void bench_object(const char *path, const char *rel, const char *file)
{
	char err[256];
	struct bext_obj *obj = bext_obj__open(path, err, sizeof(err));
	struct bext_map_desc maps[64];

	if (!obj) {
		fprintf(stderr, "%s: %s\n", path, err);
		return;
	}
	for (size_t i = 0; i < bext_obj__prog_count(obj); i++) {
		const struct bext_obj_prog *p = bext_obj__prog(obj, i);
		struct bext_verify_opts o = {.sz = sizeof(o)};
		const struct bext_insn *insns;
		char label[1400];
		size_t n;

		insns = bext_obj_prog__insns(p, &n);
		o.prog_type =
		    bext_prog_type_from_section(bext_obj_prog__section_name(p), &o.ctx_size);
		if (o.prog_type == BEXT_PROG_EXT)
			ext_ctx(file, &o);
		o.n_maps = (uint32_t)bext_obj__map_count(obj);
		if (o.n_maps > 64)
			continue;
		for (uint32_t k = 0; k < o.n_maps; k++) {
			const struct bext_obj_map *m = bext_obj__map(obj, k);

			maps[k] = (struct bext_map_desc){
			    bext_obj_map__type(m), bext_obj_map__key_size(m),
			    bext_obj_map__value_size(m), bext_obj_map__max_entries(m),
			    bext_obj_map__flags(m)};
		}
		o.maps = maps;
		snprintf(label, sizeof(label), "%s:%s", rel, bext_obj_prog__name(p));
		bench_one(label, insns, n, &o);
	}
	bext_obj__close(obj);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.bpf.o under dir, in name order. */
static void walk(const char *root, const char *rel, int depth)
{
	char dir[1024], *names[512];
	size_t nn = 0;
	DIR *dh;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s%s%s", root, rel[0] ? "/" : "", rel);
	dh = opendir(dir);
	if (!dh || depth > 8) {
		if (dh)
			closedir(dh);
		return;
	}
	while ((de = readdir(dh)) && nn < 512) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "CMakeFiles") ||
		    !strcmp(de->d_name, "Testing") || !strcmp(de->d_name, "fuzz"))
			continue;
		names[nn] = strdup(de->d_name);
		if (names[nn])
			nn++;
	}
	closedir(dh);
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char path[2048], sub[1024];
		size_t l = strlen(names[i]);
		DIR *d2;

		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		if ((d2 = opendir(path))) {
			closedir(d2);
			walk(root, sub, depth + 1);
		} else if (l >= 6 && !strcmp(names[i] + l - 6, ".bpf.o")) {
			bench_object(path, sub, names[i]);
		}
		free(names[i]);
	}
}

static void bench_asm(const char *rel, uint32_t ctx_size)
{
	char path[1024], err[256], *text;
	struct bext_insn *insns = NULL;
	struct bext_verify_opts o = {.sz = sizeof(o), .ctx_size = ctx_size, .ctx_len_in_r2 = true};
	size_t n = 0, len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", SOURCE_DIR, rel);
	f = fopen(path, "rb");
	if (!f)
		return;
	text = calloc(1, 1 << 16);
	if (!text) {
		fclose(f);
		return;
	}
	len = fread(text, 1, (1 << 16) - 1, f);
	fclose(f);
	if (len && !bext_asm(text, &insns, &n, err, sizeof(err)))
		bench_one(rel, insns, n, &o);
	free(insns);
	free(text);
}

/* A ~1000-instruction tracing program: argument loads, map lookups and updates. */
static void bench_tracing_1000(void)
{
	static struct bext_insn prog[1100];
	struct bext_map_desc maps[1] = {{1 /* hash */, 8, 8, 1024, 0}};
	struct bext_verify_opts o = {
	    .sz = sizeof(o), .prog_type = BEXT_PROG_UPROBE, .maps = maps, .n_maps = 1};
	size_t n;

	n = gen_tracing_prog(prog);
	bench_one("generated: 1000-insn tracing program", prog, n, &o);
}

int main(int argc, char **argv)
{
	char root[1024];
	const char *bench_dir = argc > 1 ? argv[1] : "build/bench";

	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--quick"))
			runs = 1;
	/* BUILD_DIR/bench -> BUILD_DIR: every object the build produces */
	snprintf(root, sizeof(root), "%s/..", bench_dir);
	printf("== verifier: time to verify each program (best and median of %d runs)\n", runs);
	printf("%-50s %-11s %6s %9s %7s %9s %9s  %s\n", "program", "type", "insns", "processed",
	       "states", "best ms", "median ms", "verdict");
	bench_tracing_1000();
	bench_asm("examples/sum.s", 64);
	walk(root, "", 0);
	printf("%d programs, %d rejected (as tests/verifier/test_verifier_progs.c expects), "
	       "%.1f ms in all (medians)\n",
	       n_progs, n_rejected, total_ms);
	return 0;
}

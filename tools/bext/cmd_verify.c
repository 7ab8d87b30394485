/* SPDX-License-Identifier: MIT */
/*
 * bext verify FILE [--prog NAME] [--type T] [--log-level 0|1|2] [--ctx-size N]
 *                  [--ctx-writable] [--len-in-r2] [--limit N] [--stats]
 *
 * Reads the program like every bext command (ELF object, .bin, or assembler
 * text). For ELF objects the map descriptions come from the object and the
 * program type from the section name (uprobe/, uretprobe/, kprobe/,
 * tracepoint/, tp/, raw_tp/ or a raw_syscalls tracepoint, xdp), unless --type says
 * otherwise; without --prog every program of the object is verified. Prints
 * the verdict of each and, on rejection, the verifier log (level 1: the
 * failing path with the register states at its branch points, then the
 * failing instruction, its state and the one-line reason).
 * Exit status: 0 all accepted, 1 one rejected or the input unreadable (missing
 * file, not a program, no such --prog), 2 usage error (bad option or value).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/obj.h>
#include <bext/verifier.h>

#include "commands.h"
#include "progfile.h"

#define LOG_SIZE (16u << 20)

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bext verify FILE [--prog NAME] [--type uprobe|tracepoint|raw_tp|xdp|ext]\n"
	    "                   [--log-level 0|1|2] [--ctx-size N] [--ctx-writable] [--len-in-r2]\n"
	    "                   [--limit N] [--stats]\n"
	    "  without --prog, every program of an ELF object is verified\n"
	    "  --len-in-r2: ext programs get r2 = the ctx size (bext run's r1 = memory, r2 = "
	    "size)\n");
}

static bool is_elf(const char *path)
{
	unsigned char m[4] = {0};
	FILE *f = fopen(path, "rb");
	bool ok;

	if (!f)
		return false;
	ok = fread(m, 1, 4, f) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
	fclose(f);
	return ok;
}

struct verify_args {
	const char *type;
	bool show_stats, ctx_size_set;
	struct bext_verify_opts opts; /* the options given on the command line */
};

/*
 * Parses a whole unsigned decimal (or, with @base 0, 0x-hex) number up to @max.
 * false for anything else: empty, a sign, trailing characters, out of range.
 */
static bool parse_u32(const char *s, int base, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Verifies program `prog` of path (NULL: the first or only one). 0, 1 or 2 (exit status). */
static int verify_one(const char *path, const char *prog, const struct verify_args *va)
{
	struct bext_verify_opts opts = va->opts;
	struct bext_verify_stats stats;
	struct bext_map_desc *maps = NULL;
	struct bext_insn *insns = NULL;
	struct bext_obj *obj = NULL;
	char err[512] = "", *log = NULL;
	size_t n = 0;
	int ret = 1, rc;

	rc = load_program_file(path, prog, &insns, &n, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "bext verify: %s\n", err);
		return 1;
	}
	if (is_elf(path)) {
		const struct bext_obj_prog *p;
		uint32_t csz = 0;

		obj = bext_obj__open(path, err, sizeof(err));
		if (!obj) {
			fprintf(stderr, "bext verify: %s\n", err);
			goto out;
		}
		p = prog ? bext_obj__find_prog(obj, prog) : bext_obj__prog(obj, 0);
		if (p) {
			opts.prog_type =
			    bext_prog_type_from_section(bext_obj_prog__section_name(p), &csz);
			if (!va->ctx_size_set)
				opts.ctx_size = csz;
			prog = bext_obj_prog__name(p);
		}
		opts.n_maps = (uint32_t)bext_obj__map_count(obj);
		maps = calloc(opts.n_maps ? opts.n_maps : 1, sizeof(*maps));
		if (!maps) {
			fprintf(stderr, "bext verify: out of memory\n");
			goto out;
		}
		for (uint32_t i = 0; i < opts.n_maps; i++) {
			const struct bext_obj_map *m = bext_obj__map(obj, i);

			maps[i].type = bext_obj_map__type(m);
			maps[i].key_size = bext_obj_map__key_size(m);
			maps[i].value_size = bext_obj_map__value_size(m);
			maps[i].max_entries = bext_obj_map__max_entries(m);
			maps[i].flags = bext_obj_map__flags(m);
		}
		opts.maps = maps;
	}
	if (va->type) {
		enum bext_prog_type t;

		if (bext_prog_type_from_name(va->type, &t)) {
			fprintf(stderr, "bext verify: unknown program type '%s'\n", va->type);
			ret = 2;
			goto out;
		}
		opts.prog_type = t;
	}
	log = malloc(LOG_SIZE);
	if (!log) {
		fprintf(stderr, "bext verify: out of memory\n");
		goto out;
	}
	opts.stats = &stats;
	rc = bext_verify(insns, n, &opts, log, LOG_SIZE);
	if (log[0] && (rc || opts.log_level >= 2))
		fputs(log, stdout);
	if (va->show_stats || !rc)
		printf("%s%s%s (%s): %s; %llu insns processed, %u states stored, %u pruned, stack "
		       "%u bytes%s\n",
		       path, prog ? ":" : "", prog ? prog : "", bext_prog_type_name(opts.prog_type),
		       rc ? "rejected" : "accepted", (unsigned long long)stats.insns_processed,
		       stats.states_stored, stats.states_pruned, stats.stack_depth,
		       stats.has_loops ? ", has loops" : "");
	if (rc) {
		if (stats.err_insn >= 0)
			printf("%s%s%s rejected at insn %d: %s\n", path, prog ? ":" : "",
			       prog ? prog : "", stats.err_insn, stats.reason);
		else
			printf("%s%s%s rejected: %s\n", path, prog ? ":" : "", prog ? prog : "",
			       stats.reason[0] ? stats.reason : strerror(-rc));
		ret = 1;
	} else {
		ret = 0;
	}
out:
	free(log);
	free(maps);
	free(insns);
	bext_obj__close(obj);
	return ret;
}

int cmd_verify(int argc, char **argv)
{
	const char *path = NULL, *prog = NULL;
	struct verify_args va = {.opts = {.sz = sizeof(va.opts), .log_level = 1}};
	struct bext_obj *obj;
	char err[512];
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--prog") && i + 1 < argc) {
			prog = argv[++i];
		} else if (!strcmp(a, "--type") && i + 1 < argc) {
			enum bext_prog_type t;

			va.type = argv[++i];
			if (bext_prog_type_from_name(va.type, &t)) {
				fprintf(stderr, "bext verify: unknown program type '%s'\n",
					va.type);
				return 2;
			}
		} else if (!strcmp(a, "--log-level") && i + 1 < argc) {
			if (!parse_u32(argv[++i], 10, 2, &va.opts.log_level)) {
				fprintf(stderr, "bext verify: bad --log-level '%s' (0, 1 or 2)\n",
					argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--ctx-size") && i + 1 < argc) {
			if (!parse_u32(argv[++i], 0, UINT32_MAX, &va.opts.ctx_size)) {
				fprintf(stderr, "bext verify: bad --ctx-size '%s' (bytes)\n",
					argv[i]);
				return 2;
			}
			va.ctx_size_set = true;
		} else if (!strcmp(a, "--ctx-writable")) {
			va.opts.ctx_writable = true;
		} else if (!strcmp(a, "--len-in-r2")) {
			va.opts.ctx_len_in_r2 = true;
		} else if (!strcmp(a, "--limit") && i + 1 < argc) {
			if (!parse_u32(argv[++i], 0, UINT32_MAX, &va.opts.complexity_limit)) {
				fprintf(stderr, "bext verify: bad --limit '%s' (instructions)\n",
					argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--stats")) {
			va.show_stats = true;
		} else if (a[0] == '-' || path) {
			if (a[0] == '-')
				fprintf(stderr,
					"bext verify: unknown option or missing value: '%s'\n", a);
			else
				fprintf(
				    stderr,
				    "bext verify: unexpected argument '%s' (one file at a time)\n",
				    a);
			usage(stderr);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	if (prog || !is_elf(path))
		return verify_one(path, prog, &va);
	/* every program of the object; the worst status wins */
	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj) {
		fprintf(stderr, "bext verify: %s\n", err);
		return 1;
	}
	if (!bext_obj__prog_count(obj)) {
		fprintf(stderr, "bext verify: %s has no program\n", path);
		ret = 1;
	}
	for (size_t i = 0; i < bext_obj__prog_count(obj); i++) {
		int r = verify_one(path, bext_obj_prog__name(bext_obj__prog(obj, i)), &va);

		if (r > ret)
			ret = r;
	}
	bext_obj__close(obj);
	return ret;
}

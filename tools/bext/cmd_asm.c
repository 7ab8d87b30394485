/* SPDX-License-Identifier: MIT */
/*
 * bext asm / bext disasm.
 *
 * Both read their input with load_program_file() (assembler text, a raw .bin
 * of 8-byte little-endian words, or an eBPF ELF object), so `bext asm x.o -o
 * x.bin` also extracts a program from an object. `disasm` prints assembler
 * text that `asm` reads back to the same bytes; each line carries its slot
 * index (and the target of a jump or call) as a trailing comment. For an ELF
 * object without --prog, every program is printed, each after a comment
 * header naming it (and a comment where its linked subprograms start).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bext/isa.h>
#include <bext/obj.h>

#include "commands.h"
#include "progfile.h"

static void asm_usage(FILE *f)
{
	fprintf(f, "usage: bext asm IN -o OUT.bin\n"
		   "  Assembles IN (assembler text; a .bin or an ELF object is copied through)\n"
		   "  into OUT.bin: one 8-byte little-endian word per instruction slot.\n");
}

static void disasm_usage(FILE *f)
{
	fprintf(f, "usage: bext disasm FILE [--prog NAME]\n"
		   "  Prints the program in FILE (raw .bin, eBPF ELF object or assembler text)\n"
		   "  as assembler text. For an ELF object every program is printed, or only\n"
		   "  the one --prog names (function or section name).\n");
}

static int write_bin(const char *path, const struct bext_insn *insns, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f) {
		fprintf(stderr, "bext asm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct bext_insn *in = &insns[i];
		uint64_t w = (uint64_t)in->code | (uint64_t)in->dst << 8 | (uint64_t)in->src << 12 |
			     (uint64_t)(uint16_t)in->off << 16 | (uint64_t)(uint32_t)in->imm << 32;
		unsigned char b[8];

		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)(w >> (8 * k));
		if (fwrite(b, 1, 8, f) != 8)
			break;
	}
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "bext asm: %s: write failed: %s\n", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int cmd_asm(int argc, char **argv)
{
	const char *in_path = NULL, *out_path = NULL;
	struct bext_insn *insns = NULL;
	size_t n = 0;
	char err[512];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			asm_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc && !out_path) {
			out_path = argv[++i];
		} else if (argv[i][0] != '-' && !in_path) {
			in_path = argv[i];
		} else {
			fprintf(stderr, "bext asm: unexpected argument '%s'\n", argv[i]);
			asm_usage(stderr);
			return 2;
		}
	}
	if (!in_path || !out_path) {
		asm_usage(stderr);
		return 2;
	}
	ret = load_program_file(in_path, NULL, &insns, &n, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bext asm: %s\n", err);
		return 1;
	}
	ret = write_bin(out_path, insns, n) ? 1 : 0;
	free(insns);
	return ret;
}

/* The slot a jump, call or func lddw at idx refers to, or -1. */
static long long target_of(const struct bext_insn *in, size_t idx)
{
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);

	if (in->code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
		return in->src == BEXT_PSEUDO_FUNC ? (long long)idx + 1 + in->imm : -1;
	if (cls == BEXT_CLS_JMP32 && op == BEXT_JMP_JA)
		return (long long)idx + 1 + in->imm;
	if (cls != BEXT_CLS_JMP && cls != BEXT_CLS_JMP32)
		return -1;
	if (op == BEXT_JMP_CALL)
		return in->code == (BEXT_CLS_JMP | BEXT_JMP_CALL) && in->src == BEXT_CALL_LOCAL
			   ? (long long)idx + 1 + in->imm
			   : -1;
	if (op == BEXT_JMP_EXIT)
		return -1;
	return (long long)idx + 1 + in->off;
}

/* Prints n slots; a comment marks slot sub_start (linked subprograms) when non-zero.
 * Returns the number of invalid instructions, the first one's slot in *first_bad. */
static size_t print_program(const struct bext_insn *insns, size_t n, size_t sub_start,
			    size_t *first_bad)
{
	size_t bad = 0;
	char line[160];

	for (size_t i = 0; i < n;) {
		int slots = bext_disasm_insn(insns, n, i, line, sizeof(line));
		long long t = slots > 0 ? target_of(&insns[i], i) : -1;

		if (sub_start && i == sub_start)
			printf("# linked subprograms\n");
		if (t >= 0)
			printf("%-40s # %zu -> %lld\n", line, i, t);
		else
			printf("%-40s # %zu\n", line, i);
		if (slots < 0) {
			if (!bad++)
				*first_bad = i;
			slots = 1;
		}
		i += (size_t)slots;
	}
	return bad;
}

static bool is_elf(const char *path)
{
	unsigned char magic[4] = {0};
	FILE *f = fopen(path, "rb");
	bool elf;

	if (!f)
		return false;
	elf = fread(magic, 1, 4, f) == 4 && !memcmp(magic,
						    "\x7f"
						    "ELF",
						    4);
	fclose(f);
	return elf;
}

/* Every program of an ELF object, each under a header comment. */
static int disasm_elf_all(const char *path)
{
	struct bext_obj *obj;
	size_t bad = 0, first_bad = 0, n_progs;
	char err[512];

	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj) {
		fprintf(stderr, "bext disasm: %s\n", err);
		return 1;
	}
	n_progs = bext_obj__prog_count(obj);
	if (!n_progs) {
		fprintf(stderr, "bext disasm: %s: no programs in this object\n", path);
		bext_obj__close(obj);
		return 1;
	}
	for (size_t p = 0; p < n_progs; p++) {
		const struct bext_obj_prog *prog = bext_obj__prog(obj, p);
		size_t n = 0, main_len = bext_obj_prog__main_len(prog), fb = 0, b;
		const struct bext_insn *insns = bext_obj_prog__insns(prog, &n);

		printf("%s# program %s, section %s, %zu slots\n", p ? "\n" : "",
		       bext_obj_prog__name(prog), bext_obj_prog__section_name(prog), n);
		b = print_program(insns, n, main_len < n ? main_len : 0, &fb);
		if (b && !bad)
			first_bad = fb;
		bad += b;
	}
	bext_obj__close(obj);
	if (bad) {
		fprintf(stderr, "bext disasm: %s: %zu invalid instruction%s (first at slot %zu)\n",
			path, bad, bad == 1 ? "" : "s", first_bad);
		return 1;
	}
	return 0;
}

int cmd_disasm(int argc, char **argv)
{
	const char *path = NULL, *prog = NULL;
	struct bext_insn *insns = NULL;
	size_t n = 0, bad = 0, first_bad = 0;
	char err[512];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			disasm_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--prog") && i + 1 < argc && !prog) {
			prog = argv[++i];
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			fprintf(stderr, "bext disasm: unexpected argument '%s'\n", argv[i]);
			disasm_usage(stderr);
			return 2;
		}
	}
	if (!path) {
		disasm_usage(stderr);
		return 2;
	}
	if (!prog && is_elf(path))
		return disasm_elf_all(path);
	ret = load_program_file(path, prog, &insns, &n, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bext disasm: %s\n", err);
		return 1;
	}
	bad = print_program(insns, n, 0, &first_bad);
	free(insns);
	if (bad) {
		fprintf(stderr, "bext disasm: %s: %zu invalid instruction%s (first at slot %zu)\n",
			path, bad, bad == 1 ? "" : "s", first_bad);
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the assembler and the disassembler.
 *
 * The input is used twice:
 *  - as text for bext_asm(): it must never crash, and whatever it accepts
 *    must disassemble without an "invalid" line and re-assemble to the same
 *    bytes;
 *  - as raw instruction slots for bext_disasm_insn(): every slot it accepts
 *    must re-assemble to the same bytes (the canonical-text promise).
 * Any broken promise aborts with the offending text on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/isa.h>

static void check_roundtrip(const struct bext_insn *insns, size_t n, size_t idx, const char *text,
			    int slots)
{
	struct bext_insn *back = NULL;
	size_t nb = 0;
	char err[256];

	if (bext_asm(text, &back, &nb, err, sizeof(err))) {
		fprintf(stderr, "fuzz_asm: disassembly '%s' does not assemble: %s\n", text, err);
		abort();
	}
	if (nb != (size_t)slots || idx + nb > n || memcmp(back, &insns[idx], nb * sizeof(*back))) {
		fprintf(stderr, "fuzz_asm: '%s' re-assembles to different bytes\n", text);
		abort();
	}
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bext_insn *insns = NULL, *raw;
	size_t n = 0, n_raw = size / sizeof(struct bext_insn);
	char err[256], text[160];
	char *str;

	/* 1. text -> bext_asm */
	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	if (bext_asm(str, &insns, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n;) {
			int slots = bext_disasm_insn(insns, n, i, text, sizeof(text));

			if (slots <= 0) {
				fprintf(stderr, "fuzz_asm: assembler output slot %zu is '%s'\n", i,
					text);
				fprintf(stderr, "--- input ---\n%s\n", str);
				abort();
			}
			check_roundtrip(insns, n, i, text, slots);
			i += (size_t)slots;
		}
		free(insns);
	} else if (strncmp(err, "line ", 5)) {
		fprintf(stderr, "fuzz_asm: error without a line number: '%s'\n", err);
		abort();
	}
	free(str);

	/* 2. bytes -> bext_disasm_insn, every slot (also the second half of lddw) */
	if (!n_raw)
		return 0;
	raw = malloc(n_raw * sizeof(*raw));
	if (!raw)
		return 0;
	memcpy(raw, data, n_raw * sizeof(*raw));
	for (size_t i = 0; i < n_raw; i++) {
		int slots = bext_disasm_insn(raw, n_raw, i, text, sizeof(text));

		if (slots > 0)
			check_roundtrip(raw, n_raw, i, text, slots);
		else if (strncmp(text, "invalid", 7))
			abort();
	}
	free(raw);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A generated 1000-instruction tracing program (pt_regs arg1 as the key of
 * map 0, lookup, increment), shared by test_verifier_progs (the verifier's
 * speed on it) and bench_verifier.
 */
#ifndef BEXT_GEN_TRACING_H
#define BEXT_GEN_TRACING_H

#include <bext/isa.h>

/* Fills @prog (room for 1010 instructions); returns the count. */
static inline size_t gen_tracing_prog(struct bext_insn *prog)
{
	size_t n = 0;

	prog[n++] = BEXT_MOV64_REG(6, 1);
	while (n < 1000) {
		prog[n++] = BEXT_LDX_MEM(BEXT_SZ_DW, 7, 6, 112); /* arg1 */
		prog[n++] = BEXT_STX_MEM(BEXT_SZ_DW, 10, 7, -8); /* key */
		prog[n++] = BEXT_MOV64_REG(2, 10);
		prog[n++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -8);
		prog[n++] = BEXT_LD_IMM64_LO(1, BEXT_PSEUDO_MAP_IDX, 0); /* map_idx 0 */
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
	return n;
}

#endif

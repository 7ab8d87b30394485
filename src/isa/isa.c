/* SPDX-License-Identifier: MIT */
/* Instruction-level facts shared by the assembler, disassembler and engines. */
#include <bext/isa.h>

unsigned bext_insn_slots(const struct bext_insn *insns, size_t n_insns, size_t idx)
{
	if (idx >= n_insns)
		return 0;
	if (insns[idx].code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
		return idx + 1 < n_insns ? 2 : 0;
	return 1;
}

/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the disassembler. */
#include <errno.h>
#include <bext/isa.h>

int bext_disasm_insn(const struct bext_insn *insns, size_t n_insns, size_t idx, char *buf, size_t buf_len)
{
	(void)insns; (void)n_insns; (void)idx; (void)buf; (void)buf_len;
	return -ENOSYS;
}

int bext_disasm(const struct bext_insn *insns, size_t n_insns, FILE *out)
{
	(void)insns; (void)n_insns; (void)out;
	return -ENOSYS;
}

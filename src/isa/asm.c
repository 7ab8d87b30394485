/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the assembler. */
#include <errno.h>
#include <bext/isa.h>

int bext_asm(const char *text, struct bext_insn **insns, size_t *n_insns, char *err, size_t err_len)
{
	(void)text; (void)insns; (void)n_insns; (void)err; (void)err_len;
	return -ENOSYS;
}

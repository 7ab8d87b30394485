/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the program-file reader. */
#include <errno.h>
#include <stdio.h>
#include "progfile.h"

int load_program_file(const char *path, const char *prog_name, struct bext_insn **insns,
		      size_t *n_insns, char *err, size_t err_len)
{
	(void)prog_name; (void)insns; (void)n_insns;
	snprintf(err, err_len, "%s: program files not supported yet", path);
	return -ENOSYS;
}

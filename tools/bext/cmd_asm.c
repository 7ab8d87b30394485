/* SPDX-License-Identifier: MIT */
/* STUB: bext asm / bext disasm. */
#include <stdio.h>
#include "commands.h"

int cmd_asm(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "bext asm: not implemented yet\n");
	return 1;
}

int cmd_disasm(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "bext disasm: not implemented yet\n");
	return 1;
}

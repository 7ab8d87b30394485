/* SPDX-License-Identifier: MIT */
/* STUB: bext verify. */
#include <stdio.h>
#include "commands.h"

int cmd_verify(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "bext verify: not implemented yet\n");
	return 1;
}

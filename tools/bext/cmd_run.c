/* SPDX-License-Identifier: MIT */
/* STUB: bext run. */
#include <stdio.h>
#include "commands.h"

int cmd_run(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "bext run: not implemented yet\n");
	return 1;
}

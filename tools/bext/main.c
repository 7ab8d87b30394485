/* SPDX-License-Identifier: MIT */
/* bext: the command-line tool. Dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include <bext/common.h>

#include "commands.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"asm", cmd_asm, "asm IN.s -o OUT.bin        assemble text into raw instructions"},
    {"disasm", cmd_disasm, "disasm FILE                print instructions (.bin, ELF or text)"},
    {"verify", cmd_verify, "verify OBJ [--prog NAME] [--log-level 1|2]  prove a program safe"},
    {"run", cmd_run,
     "run PROG [--mem F] [--engine interp|jit] [--repeat N] ...  run a program (checked)"},
    {"list", cmd_list, "list [--store DIR]         objects in the store (maps, programs, links)"},
    {"dump", cmd_dump, "dump MAP [--store DIR]     a map's entries (BTF-typed or hex)"},
    {"update", cmd_update,
     "update MAP KEY VALUE [any|noexist|exist]  write an entry (int or hex:..)"},
    {"delete", cmd_delete, "delete MAP KEY [--store DIR]  delete an entry"},
    {"events", cmd_events,
     "events MAP [--follow] [--count N] [--timeout SEC]  print a ring buffer's records"},
    {"load", cmd_load,
     "load OBJ [--store DIR] [--no-verify] [--pid PID] ...  maps, programs, links -> store"},
    {"start", cmd_start, "start [--store DIR] -- PROG ARGS  run PROG with the agent inside"},
    {"detach", cmd_detach, "detach LINK|PROG [--store DIR]  remove a link or a program (live)"},
    {"log", cmd_log, "log [--store DIR] [--agent|--trace] [-f]  agents' log, trace_printk output"},
    {"gc", cmd_gc, "gc [--store DIR]           remove the store if no live process has it open"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bext COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "\n`bext COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
	bext_set_print(bext_print_stderr);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "bext: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * bext log [--store DIR] [--agent|--trace]
 *
 * Prints the store's logs: the agents' log (agent.log: links attached,
 * detached, or why one could not be installed, one line per event with time
 * and pid) and then the programs' bpf_trace_printk output (trace.log).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bext/helpers.h>
#include <bext/loader.h>
#include <bext/store.h>

#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bext log [--store DIR] [--agent|--trace]\n");
}

static void cat_file(const char *dir, const char *name, bool header)
{
	char path[4200], buf[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (header)
		printf("== %s\n", path);
	fflush(stdout);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
}

int cmd_log(int argc, char **argv)
{
	struct bext_store_opts so = { .sz = sizeof(so) };
	struct bext_store *s;
	bool agent = true, trace = true;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			so.path = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			so.path = argv[i] + 8;
		} else if (!strcmp(argv[i], "--agent")) {
			trace = false;
		} else if (!strcmp(argv[i], "--trace")) {
			agent = false;
		} else {
			usage(stderr);
			return 2;
		}
	}
	s = bext_store__open(&so);
	if (!s) {
		fprintf(stderr, "bext log: cannot open the store: %s\n", strerror(errno));
		return 1;
	}
	if (agent)
		cat_file(bext_store__path(s), BEXT_AGENT_LOG_NAME, agent && trace);
	if (trace)
		cat_file(bext_store__path(s), BEXT_TRACE_LOG_NAME, agent && trace);
	bext_store__close(s);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bext log [--store DIR] [--agent|--trace] [-f|--follow]
 *
 * Prints the store's logs: the agents' log (agent.log: links attached,
 * detached, or why one could not be installed, one line per event with time
 * and pid) and then the programs' bpf_trace_printk output (trace.log).
 * -f keeps printing what is appended to them (like tail -f; a file that
 * shrinks or is replaced is read again from its start) until interrupted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bext/helpers.h>
#include <bext/loader.h>
#include <bext/store.h>

#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bext log [--store DIR] [--agent|--trace] [-f|--follow]\n");
}

/* Where -f is in a file: the inode and offset printed up to. */
struct log_pos {
	dev_t dev;
	ino_t ino;
	off_t off;
};

/* Prints @name from pos->off on (from 0 if it is another file now or shrank). */
static void cat_file(const char *dir, const char *name, bool header, struct log_pos *pos)
{
	char path[4200], buf[8192];
	struct stat st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fstat(fileno(f), &st) == 0) {
		if (st.st_dev != pos->dev || st.st_ino != pos->ino || st.st_size < pos->off) {
			pos->dev = st.st_dev;
			pos->ino = st.st_ino;
			pos->off = 0;
		}
		if (st.st_size == pos->off) {
			fclose(f);
			return;
		}
	}
	if (pos->off && fseeko(f, pos->off, SEEK_SET))
		pos->off = 0;
	if (header)
		printf("== %s\n", path);
	fflush(stdout);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, stdout);
		pos->off += (off_t)n;
	}
	fflush(stdout);
	fclose(f);
}

int cmd_log(int argc, char **argv)
{
	const char *dir = NULL;
	struct bext_store *s;
	struct log_pos apos = {0}, tpos = {0};
	bool agent = true, trace = true, follow = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			dir = argv[i] + 8;
		} else if (!strcmp(argv[i], "--agent")) {
			trace = false;
		} else if (!strcmp(argv[i], "--trace")) {
			agent = false;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else {
			usage(stderr);
			return 2;
		}
	}
	s = cli_open_existing_store(dir, "log");
	if (!s)
		return 1;
	for (;;) {
		if (agent)
			cat_file(bext_store__path(s), BEXT_AGENT_LOG_NAME, agent && trace, &apos);
		if (trace)
			cat_file(bext_store__path(s), BEXT_TRACE_LOG_NAME, agent && trace, &tpos);
		if (!follow)
			break;
		usleep(200 * 1000);
	}
	bext_store__close(s);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bext load OBJ [--store DIR] [--no-verify] [--pid PID] [--cookie N] [--no-attach]
 *
 * Puts an eBPF object's maps, programs and (for uprobe/uretprobe sections)
 * links into the store, where agents in running or future target processes
 * pick them up. Prints one line per object created. Exit status: 0 loaded,
 * 1 rejected or failed (nothing is left in the store), 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/loader.h>
#include <bext/store.h>

#include "commands.h"

#define LOAD_LOG_SIZE (1u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: bext load OBJ [--store DIR] [--no-verify] [--pid PID] [--cookie N]"
		   " [--no-attach]\n");
}

static void print_ids(struct bext_store *s, const char *what, const uint32_t *ids, size_t n)
{
	struct bext_obj_info in;
	struct bext_link_data ld;
	size_t i;

	for (i = 0; i < n; i++) {
		printf("%s %u", what, ids[i]);
		if (bext_store__obj_info(s, ids[i], &in) == 0 && in.name[0])
			printf(" %s", in.name);
		if (!strcmp(what, "link") && bext_store__link_read(s, ids[i], &ld) == 0) {
			printf(" prog %u %s", ld.prog_id, ld.target);
			if (ld.pid > 0)
				printf(" pid %d", ld.pid);
		}
		printf("\n");
	}
}

static void print_load_error(const char *path, const char *err, int r)
{
	/* The loader's messages about the file itself already start with its path. */
	if (err[0] && !strncmp(err, path, strlen(path)) && err[strlen(path)] == ':')
		fprintf(stderr, "bext load: %s\n", err);
	else
		fprintf(stderr, "bext load: %s: %s\n", path, err[0] ? err : strerror(-r));
}

int cmd_load(int argc, char **argv)
{
	struct bext_load_opts o = {.sz = sizeof(o), .pid = -1};
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_loaded l;
	struct bext_store *s;
	const char *path = NULL;
	char err[512], *end;
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--store") && i + 1 < argc) {
			so.path = argv[++i];
		} else if (!strncmp(a, "--store=", 8)) {
			so.path = a + 8;
		} else if (!strcmp(a, "--no-verify")) {
			o.no_verify = true;
		} else if (!strcmp(a, "--no-attach")) {
			o.no_links = true;
		} else if (!strcmp(a, "--pid") && i + 1 < argc) {
			long pid = strtol(argv[++i], &end, 10);

			if (*end || pid <= 0 || pid > INT32_MAX) {
				fprintf(stderr, "bext load: bad pid '%s'\n", argv[i]);
				return 2;
			}
			o.pid = (int32_t)pid;
		} else if (!strcmp(a, "--cookie") && i + 1 < argc) {
			errno = 0;
			o.cookie = strtoull(argv[++i], &end, 0);
			if (errno || *end || !argv[i][0] || argv[i][0] == '-') {
				fprintf(stderr, "bext load: bad cookie '%s'\n", argv[i]);
				return 2;
			}
		} else if (a[0] == '-' || path) {
			if (a[0] == '-')
				fprintf(stderr,
					"bext load: unknown option or missing value: '%s'\n", a);
			else
				fprintf(
				    stderr,
				    "bext load: unexpected argument '%s' (one object at a time)\n",
				    a);
			usage(stderr);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	/* refuse what the loader would refuse before creating the store */
	r = bext_loader__check(path, &o, err, sizeof(err));
	if (r) {
		print_load_error(path, err, r);
		return 1;
	}
	s = bext_store__open(&so);
	if (!s) {
		fprintf(stderr, "bext load: cannot open the store: %s\n", strerror(errno));
		return 1;
	}
	o.log = calloc(1, LOAD_LOG_SIZE);
	o.log_len = o.log ? LOAD_LOG_SIZE : 0;
	r = bext_loader__load(s, path, &o, &l, err, sizeof(err));
	if (r) {
		print_load_error(path, err, r);
		/* The log holds the last program verified: print it only when the
		 * verifier is what said no. */
		if (o.log && o.log[0] && strstr(err, "rejected by the verifier"))
			fprintf(stderr, "verifier log:\n%s", o.log);
		free(o.log);
		bext_store__close(s);
		return 1;
	}
	printf("loaded %s into %s\n", path, bext_store__path(s));
	print_ids(s, "map", l.map_ids, l.nr_maps);
	print_ids(s, "prog", l.prog_ids, l.nr_progs);
	print_ids(s, "link", l.link_ids, l.nr_links);
	bext_loaded__free(&l);
	free(o.log);
	bext_store__close(s);
	return 0;
}

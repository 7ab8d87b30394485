/* SPDX-License-Identifier: MIT */
/*
 * bext detach ID [--store DIR]
 *
 * ID a link: removes the link (agents in running targets unpatch it at once).
 * ID a program: removes every link of the program, then the program itself
 * (its maps stay, for `bext dump`). Dropping the creation reference removes
 * the object; agents follow the store's generation word and detach live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/store.h>

#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bext detach LINK|PROG [--store DIR]\n");
}

int cmd_detach(int argc, char **argv)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_obj_info in;
	struct bext_link_data ld;
	struct bext_store *s;
	unsigned long id = 0;
	uint32_t next = 0;
	char *end;
	int i, r, ret = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			so.path = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			so.path = argv[i] + 8;
		} else if (!id && argv[i][0] != '-') {
			id = strtoul(argv[i], &end, 10);
			if (*end || !id || id > UINT32_MAX) {
				fprintf(stderr, "bext detach: bad id '%s'\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr,
				"bext detach: unexpected argument '%s' (one id at a time)\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!id) {
		usage(stderr);
		return 2;
	}
	/* Detaching from a store that does not exist must not create one. */
	s = cli_open_existing_store(so.path, "detach");
	if (!s)
		return 1;
	r = bext_store__obj_info(s, (uint32_t)id, &in);
	if (r) {
		fprintf(stderr, "bext detach: no object %lu in %s\n", id, bext_store__path(s));
		goto out;
	}
	if (in.kind == BEXT_OBJ_LINK) {
		r = bext_store__obj_put(s, (uint32_t)id);
		if (r) {
			fprintf(stderr, "bext detach: link %lu: %s\n", id, strerror(-r));
			goto out;
		}
		printf("detached link %lu\n", id);
		ret = 0;
	} else if (in.kind == BEXT_OBJ_PROG) {
		while (bext_store__next_id(s, next, &next) == 0) {
			if (bext_store__obj_info(s, next, &in) || in.kind != BEXT_OBJ_LINK ||
			    bext_store__link_read(s, next, &ld) || ld.prog_id != id)
				continue;
			if (bext_store__obj_put(s, next) == 0)
				printf("detached link %u\n", next);
		}
		r = bext_store__obj_put(s, (uint32_t)id);
		if (r) {
			fprintf(stderr, "bext detach: program %lu: %s\n", id, strerror(-r));
			goto out;
		}
		printf("removed program %lu\n", id);
		ret = 0;
	} else {
		fprintf(stderr, "bext detach: object %lu is a map; give a link or program id\n",
			id);
	}
out:
	bext_store__close(s);
	return ret;
}

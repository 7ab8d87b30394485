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
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bext/loader.h>
#include <bext/obj.h>
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

/*
 * Before anything goes into the store: a uprobe section naming an absolute
 * PATH must name an existing regular ELF file, or no process could ever
 * match the link. (Bare names are matched against each target's executable
 * and libraries at attach time, so they cannot be checked here.) Returns 0,
 * or 1 after a message.
 */
static int check_uprobe_paths(const char *obj_path)
{
	static const char *const prefixes[] = { "uprobe/", "uretprobe/", "uprobe.s/",
						"uretprobe.s/" };
	char msg[512], path[4096], magic[4];
	struct bext_obj *obj;
	struct stat st;
	int bad = 0;

	obj = bext_obj__open(obj_path, msg, sizeof(msg));
	if (!obj)
		return 0; /* the loader reports it with its own message */
	for (size_t i = 0; i < bext_obj__prog_count(obj) && !bad; i++) {
		const char *sec = bext_obj_prog__section_name(bext_obj__prog(obj, i)), *p, *colon;
		size_t k, len;
		int fd;

		for (k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
			if (!strncmp(sec, prefixes[k], strlen(prefixes[k])))
				break;
		if (k == sizeof(prefixes) / sizeof(prefixes[0]))
			continue;
		p = sec + strlen(prefixes[k]);
		colon = strrchr(p, ':');
		if (colon && strchr(colon, '+') && strchr(colon, '+')[1] == '-') {
			fprintf(stderr, "bext load: %s: section %s: negative offset\n", obj_path, sec);
			bad = 1;
			break;
		}
		if (p[0] != '/' || !colon)
			continue;
		len = (size_t)(colon - p);
		if (len >= sizeof(path))
			continue;
		memcpy(path, p, len);
		path[len] = 0;
		bad = 1;
		if (stat(path, &st)) {
			fprintf(stderr, "bext load: %s: section %s: %s: %s\n", obj_path, sec, path,
				strerror(errno));
		} else if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "bext load: %s: section %s: %s is not a regular file\n",
				obj_path, sec, path);
		} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "bext load: %s: section %s: %s: %s\n", obj_path, sec, path,
				strerror(errno));
		} else {
			if (read(fd, magic, 4) == 4 && !memcmp(magic, "\x7f" "ELF", 4))
				bad = 0;
			else
				fprintf(stderr,
					"bext load: %s: section %s: %s is not an ELF executable or library\n",
					obj_path, sec, path);
			close(fd);
		}
	}
	bext_obj__close(obj);
	return bad;
}

int cmd_load(int argc, char **argv)
{
	struct bext_load_opts o = { .sz = sizeof(o), .pid = -1 };
	struct bext_store_opts so = { .sz = sizeof(so) };
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
				fprintf(stderr, "bext load: unknown option or missing value: '%s'\n", a);
			else
				fprintf(stderr, "bext load: unexpected argument '%s' (one object at a time)\n",
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
	if (!o.no_links && check_uprobe_paths(path))
		return 1;
	s = bext_store__open(&so);
	if (!s) {
		fprintf(stderr, "bext load: cannot open the store: %s\n", strerror(errno));
		return 1;
	}
	o.log = calloc(1, LOAD_LOG_SIZE);
	o.log_len = o.log ? LOAD_LOG_SIZE : 0;
	r = bext_loader__load(s, path, &o, &l, err, sizeof(err));
	if (r) {
		/* The loader's messages about the file itself already start with its path. */
		if (err[0] && !strncmp(err, path, strlen(path)) && err[strlen(path)] == ':')
			fprintf(stderr, "bext load: %s\n", err);
		else
			fprintf(stderr, "bext load: %s: %s\n", path, err[0] ? err : strerror(-r));
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

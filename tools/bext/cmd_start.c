/* SPDX-License-Identifier: MIT */
/*
 * bext start [--store DIR] [--agent SO] -- PROG ARGS...
 *
 * Runs PROG with the agent inside: execs it with LD_PRELOAD=libbext-agent.so
 * (prepended to any LD_PRELOAD already set) and BEXT_STORE=<absolute store
 * path>. The agent is looked for in this order: --agent, $BEXT_AGENT, the
 * build tree this bext was built in, then next to the bext binary
 * (DIR/libbext-agent.so, DIR/../lib/libbext-agent.so,
 * DIR/../../src/agent/libbext-agent.so). The process keeps bext's pid, so
 * `--pid` links made with $! of `bext start &` match it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bext/store.h>

#include "commands.h"

#define AGENT_NAME "libbext-agent.so"

static void usage(FILE *f)
{
	fprintf(f, "usage: bext start [--store DIR] [--agent SO] -- PROG [ARGS...]\n");
}

static bool readable(const char *p)
{
	return p && p[0] && access(p, R_OK) == 0;
}

/* An explicitly named agent must be a readable ELF file; 0 or 1 after a message. */
static int check_agent(const char *what, const char *p)
{
	char magic[4];
	int fd = open(p, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0) {
		fprintf(stderr, "bext start: %s %s: %s\n", what, p, strerror(errno));
		return 1;
	}
	ok = read(fd, magic, 4) == 4 && !memcmp(magic,
						"\x7f"
						"ELF",
						4);
	close(fd);
	if (!ok)
		fprintf(stderr, "bext start: %s %s: not a shared library (no ELF header)\n", what,
			p);
	return !ok;
}

/* PROG as execvp would find it: a regular executable file. 0 or -errno. */
static int check_prog(const char *prog)
{
	const char *path = getenv("PATH"), *p, *colon;
	char cand[PATH_MAX];
	struct stat st;
	int err = ENOENT;

	if (!prog[0])
		return -ENOENT;
	if (strchr(prog, '/')) {
		if (stat(prog, &st))
			return -errno;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return access(prog, X_OK) ? -errno : 0;
	}
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; p; p = colon ? colon + 1 : NULL) {
		size_t n;

		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? p : ".", prog) >=
		    (int)sizeof(cand))
			continue;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0)
				return 0;
			err = EACCES;
		}
	}
	return -err;
}

static int find_agent(const char *given, char *out, size_t len)
{
	static const char *const rel[] = {"/" AGENT_NAME, "/../lib/" AGENT_NAME,
					  "/../../src/agent/" AGENT_NAME};
	char self[PATH_MAX], cand[PATH_MAX + 64], *slash;
	ssize_t n;
	size_t i;

	if (!given)
		given = getenv("BEXT_AGENT");
#ifdef BEXT_AGENT_BUILD_PATH
	if (!readable(given) && readable(BEXT_AGENT_BUILD_PATH))
		given = BEXT_AGENT_BUILD_PATH;
#endif
	if (readable(given))
		return realpath(given, out) ? 0 : -errno;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
		if (readable(cand) && realpath(cand, out))
			return 0;
	}
	(void)len;
	return -ENOENT;
}

int cmd_start(int argc, char **argv)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	const char *agent_arg = NULL, *old;
	char agent[PATH_MAX], store[PATH_MAX], *preload;
	struct bext_store *s;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			so.path = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			so.path = argv[i] + 8;
		} else if (!strcmp(argv[i], "--agent") && i + 1 < argc) {
			agent_arg = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "bext start: unknown option or missing value: '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		} else {
			break; /* PROG without "--" */
		}
	}
	if (i >= argc) {
		fprintf(stderr, "bext start: no program to run\n");
		usage(stderr);
		return 2;
	}
	/* Refuse before touching the store: a bad PROG or agent creates nothing. */
	r = check_prog(argv[i]);
	if (r) {
		fprintf(stderr, "bext start: cannot run %s: %s\n", argv[i], strerror(-r));
		return 127;
	}
	if (agent_arg && check_agent("--agent", agent_arg))
		return 1;
	if (!agent_arg && getenv("BEXT_AGENT") && getenv("BEXT_AGENT")[0] &&
	    check_agent("BEXT_AGENT", getenv("BEXT_AGENT")))
		return 1;
	r = find_agent(agent_arg, agent, sizeof(agent));
	if (r) {
		fprintf(stderr, "bext start: cannot find %s (set BEXT_AGENT or --agent)\n",
			AGENT_NAME);
		return 1;
	}
	/* Create the store now so the agent finds it, and pass its absolute path. */
	s = bext_store__open(&so);
	if (!s) {
		fprintf(stderr, "bext start: cannot open the store: %s\n", strerror(errno));
		return 1;
	}
	if (!realpath(bext_store__path(s), store)) {
		fprintf(stderr, "bext start: %s: %s\n", bext_store__path(s), strerror(errno));
		bext_store__close(s);
		return 1;
	}
	bext_store__close(s);
	old = getenv("LD_PRELOAD");
#ifdef BEXT_AGENT_PRELOAD_FIRST
	/* Sanitizer builds: the agent needs its sanitizer runtime loaded first. */
	r = asprintf(&preload, "%s %s%s%s", BEXT_AGENT_PRELOAD_FIRST, agent, old ? " " : "",
		     old ? old : "");
#else
	r = asprintf(&preload, "%s%s%s", agent, old && old[0] ? " " : "", old ? old : "");
#endif
	if (r < 0) {
		fprintf(stderr, "bext start: out of memory\n");
		return 1;
	}
	if (setenv("LD_PRELOAD", preload, 1) || setenv("BEXT_STORE", store, 1)) {
		fprintf(stderr, "bext start: setenv: %s\n", strerror(errno));
		free(preload);
		return 1;
	}
	free(preload);
	fflush(NULL);
	execvp(argv[i], argv + i);
	fprintf(stderr, "bext start: cannot run %s: %s\n", argv[i], strerror(errno));
	return 127;
}

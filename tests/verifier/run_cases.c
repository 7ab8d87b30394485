/* SPDX-License-Identifier: MIT */
/*
 * Data-driven verifier tests: every .txt file under cases/ holds cases like
 *
 *   == name of the case
 *   @type uprobe                  (ext, uprobe, tracepoint, raw_tp, xdp)
 *   @ctx_size 16                  (ext; tracepoint record size)
 *   @ctx_writable
 *   @ctx_len_in_r2                (ext: r2 = ctx_size at entry)
 *   @map hash 4 8 16 [flags]      (type key_size value_size max_entries): index 0, 1, ...
 *   @policy helper 1              (a policy is created at the first @policy line)
 *   @policy all_helpers | deny_helper N | host_func ID NAME NARGS
 *   @policy ctx_read OFF SIZE | ctx_write OFF SIZE | insn_budget N | mem_budget N
 *   @limit 100000                 (complexity limit)
 *   @ret MIN MAX                  (ext return range)
 *   @expect accept | reject | malformed | too_big
 *   @error substring of the reason
 *   <assembler lines, docs/ISA.md syntax>
 *
 * The runner assembles each case, verifies it and checks verdict, errno and
 * message. `run_cases NAME` runs only cases whose name contains NAME and
 * prints their logs at level 2.
 *
 * `run_cases --kernel LIST` instead loads every case whose program type
 * exists in the kernel (uprobe as kprobe, tracepoint, raw_tp as tracepoint,
 * xdp) and has no bext-only feature (policy, complexity limit) into the
 * running kernel, and compares the kernel's verdict with the expected one.
 * Disagreements not named in LIST (one case name a line) fail the run; the
 * known ones are explained in docs/VERIFIER.md. Exits 77 when the kernel
 * refuses bpf() altogether.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <unistd.h>

#include <bext/isa.h>
#include <bext/policy.h>
#include <bext/verifier.h>

#define MAX_MAPS 8

struct tcase {
	char name[160];
	char file[128];
	int line;
	struct bext_verify_opts opts;
	struct bext_map_desc maps[MAX_MAPS];
	struct bext_policy *policy;
	char expect[16];
	char error[192];
	char *text;
	size_t text_len, text_cap;
	bool bad;
	bool bext_only; /* uses a feature the kernel does not have */
};

static const struct {
	const char *name;
	uint32_t type;
} map_types[] = {
    {"hash", BPF_MAP_TYPE_HASH},
    {"array", BPF_MAP_TYPE_ARRAY},
    {"prog_array", BPF_MAP_TYPE_PROG_ARRAY},
    {"perf_event_array", BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    {"percpu_hash", BPF_MAP_TYPE_PERCPU_HASH},
    {"percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY},
    {"stack_trace", BPF_MAP_TYPE_STACK_TRACE},
    {"lru_hash", BPF_MAP_TYPE_LRU_HASH},
    {"lru_percpu_hash", BPF_MAP_TYPE_LRU_PERCPU_HASH},
    {"lpm_trie", BPF_MAP_TYPE_LPM_TRIE},
    {"array_of_maps", BPF_MAP_TYPE_ARRAY_OF_MAPS},
    {"queue", BPF_MAP_TYPE_QUEUE},
    {"stack", BPF_MAP_TYPE_STACK},
    {"ringbuf", BPF_MAP_TYPE_RINGBUF},
    {"bloom_filter", BPF_MAP_TYPE_BLOOM_FILTER},
};

static void append_text(struct tcase *c, const char *line)
{
	size_t n = strlen(line);

	if (c->text_len + n + 2 > c->text_cap) {
		c->text_cap = (c->text_len + n + 2) * 2;
		c->text = realloc(c->text, c->text_cap);
		if (!c->text)
			abort();
	}
	memcpy(c->text + c->text_len, line, n);
	c->text_len += n;
	c->text[c->text_len++] = '\n';
	c->text[c->text_len] = 0;
}

static int directive(struct tcase *c, char *line)
{
	char key[32] = "", a[64] = "", b[64] = "";
	unsigned long long x, y, z, w, f;
	int n;

	if (sscanf(line, "@%31s", key) != 1)
		return -1;
	if (!strcmp(key, "type")) {
		enum bext_prog_type t;

		if (sscanf(line, "@type %63s", a) != 1 || bext_prog_type_from_name(a, &t))
			return -1;
		c->opts.prog_type = t;
	} else if (!strcmp(key, "ctx_size")) {
		if (sscanf(line, "@ctx_size %llu", &x) != 1)
			return -1;
		c->opts.ctx_size = (uint32_t)x;
	} else if (!strcmp(key, "ctx_writable")) {
		c->opts.ctx_writable = true;
	} else if (!strcmp(key, "ctx_len_in_r2")) {
		c->opts.ctx_len_in_r2 = true;
		c->bext_only = true;
	} else if (!strcmp(key, "map")) {
		size_t i;

		f = 0;
		n = sscanf(line, "@map %63s %llu %llu %llu %llu", a, &x, &y, &z, &f);
		if (n < 4 || c->opts.n_maps >= MAX_MAPS)
			return -1;
		for (i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
			if (!strcmp(a, map_types[i].name))
				break;
		if (i == sizeof(map_types) / sizeof(map_types[0]))
			return -1;
		c->maps[c->opts.n_maps++] = (struct bext_map_desc){.type = map_types[i].type,
								   .key_size = (uint32_t)x,
								   .value_size = (uint32_t)y,
								   .max_entries = (uint32_t)z,
								   .flags = (uint32_t)f};
	} else if (!strcmp(key, "policy")) {
		c->bext_only = true;
		if (!c->policy)
			c->policy = bext_policy__new();
		if (sscanf(line, "@policy %63s", a) != 1)
			return -1;
		if (!strcmp(a, "all_helpers"))
			return bext_policy__allow_all_helpers(c->policy);
		if (!strcmp(a, "none"))
			return 0;
		if (!strcmp(a, "host_func")) {
			if (sscanf(line, "@policy host_func %llu %63s %llu", &x, b, &y) != 3)
				return -1;
			return bext_policy__allow_host_func(c->policy, (uint32_t)x, b, (uint32_t)y);
		}
		n = sscanf(line, "@policy %63s %llu %llu", a, &x, &y);
		if (n < 2)
			return -1;
		if (!strcmp(a, "helper"))
			return bext_policy__allow_helper(c->policy, (uint32_t)x);
		if (!strcmp(a, "deny_helper"))
			return bext_policy__deny_helper(c->policy, (uint32_t)x);
		if (!strcmp(a, "ctx_read") && n == 3)
			return bext_policy__allow_ctx_read(c->policy, (uint32_t)x, (uint32_t)y);
		if (!strcmp(a, "ctx_write") && n == 3)
			return bext_policy__allow_ctx_write(c->policy, (uint32_t)x, (uint32_t)y);
		if (!strcmp(a, "insn_budget")) {
			bext_policy__set_insn_budget(c->policy, x);
			return 0;
		}
		if (!strcmp(a, "mem_budget")) {
			bext_policy__set_mem_budget(c->policy, x);
			return 0;
		}
		return -1;
	} else if (!strcmp(key, "limit")) {
		c->bext_only = true;
		if (sscanf(line, "@limit %llu", &x) != 1)
			return -1;
		c->opts.complexity_limit = (uint32_t)x;
	} else if (!strcmp(key, "ret")) {
		long long lo, hi;

		if (sscanf(line, "@ret %lld %lld", &lo, &hi) != 2)
			return -1;
		c->bext_only = true;
		c->opts.ret_min = lo;
		c->opts.ret_max = hi;
	} else if (!strcmp(key, "expect")) {
		if (sscanf(line, "@expect %15s", c->expect) != 1)
			return -1;
	} else if (!strcmp(key, "error")) {
		char *p = line + strlen("@error");

		while (*p == ' ')
			p++;
		snprintf(c->error, sizeof(c->error), "%.191s", p);
	} else {
		(void)w;
		return -1;
	}
	return 0;
}

static int expected_err(const char *e)
{
	if (!strcmp(e, "accept"))
		return 0;
	if (!strcmp(e, "reject"))
		return -EACCES;
	if (!strcmp(e, "malformed"))
		return -EINVAL;
	if (!strcmp(e, "too_big"))
		return -E2BIG;
	return 1;
}

static char logbuf[1 << 20];

/* --- kernel cross-check --------------------------------------------------- */

static char **known;
static int n_known;
static int xc_agree, xc_disagree, xc_known, xc_skipped;

static bool is_known(const char *name)
{
	for (int i = 0; i < n_known; i++)
		if (!strcmp(known[i], name))
			return true;
	return false;
}

/* 0: kernel accepts, 1: kernel rejects, -1: cannot be tried there. */
static int kernel_verdict(struct tcase *c, struct bext_insn *insns, size_t n)
{
	enum bpf_prog_type pt;
	int fds[MAX_MAPS], rc = -1, fd;
	static char klog[1 << 16];
	LIBBPF_OPTS(bpf_prog_load_opts, po, .log_buf = klog, .log_size = sizeof(klog),
		    .log_level = 1);

	switch (c->opts.prog_type) {
	case BEXT_PROG_UPROBE:
		pt = BPF_PROG_TYPE_KPROBE;
		break;
	case BEXT_PROG_TRACEPOINT:
	case BEXT_PROG_RAW_SYSCALL:
		pt = BPF_PROG_TYPE_TRACEPOINT;
		break;
	case BEXT_PROG_XDP:
		pt = BPF_PROG_TYPE_XDP;
		break;
	default:
		return -1;
	}
	if (c->bext_only)
		return -1;
	for (uint32_t i = 0; i < c->opts.n_maps; i++) {
		const struct bext_map_desc *m = &c->maps[i];
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = m->flags);

		fds[i] =
		    bpf_map_create(m->type, NULL, m->key_size, m->value_size, m->max_entries, &mo);
		if (fds[i] < 0) {
			for (uint32_t k = 0; k < i; k++)
				close(fds[k]);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (insns[i].code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
			continue;
		if (insns[i].src == BEXT_PSEUDO_MAP_IDX || insns[i].src == BEXT_PSEUDO_MAP_FD ||
		    insns[i].src == BEXT_PSEUDO_MAP_IDX_VALUE ||
		    insns[i].src == BEXT_PSEUDO_MAP_VALUE) {
			bool val = insns[i].src == BEXT_PSEUDO_MAP_IDX_VALUE ||
				   insns[i].src == BEXT_PSEUDO_MAP_VALUE;

			if (insns[i].imm >= 0 && (uint32_t)insns[i].imm < c->opts.n_maps)
				insns[i].imm = fds[insns[i].imm];
			else
				insns[i].imm = 10000; /* no such fd: the kernel must refuse */
			insns[i].src = val ? BEXT_PSEUDO_MAP_VALUE : BEXT_PSEUDO_MAP_FD;
		}
		i++;
	}
	fd = bpf_prog_load(pt, NULL, "GPL", (const struct bpf_insn *)insns, n, &po);
	if (fd >= 0) {
		close(fd);
		rc = 0;
	} else {
		rc = 1;
	}
	for (uint32_t i = 0; i < c->opts.n_maps; i++)
		close(fds[i]);
	return rc;
}

static void xcheck_case(struct tcase *c)
{
	struct bext_insn *insns = NULL;
	size_t n = 0;
	char err[256];
	int k, want = expected_err(c->expect);

	if (c->bad || want == 1 || bext_asm(c->text ? c->text : "", &insns, &n, err, sizeof(err))) {
		xc_skipped++;
		return;
	}
	k = kernel_verdict(c, insns, n);
	free(insns);
	if (k < 0) {
		xc_skipped++;
		return;
	}
	if ((k == 0) == (want == 0)) {
		xc_agree++;
		return;
	}
	if (is_known(c->name)) {
		xc_known++;
		return;
	}
	xc_disagree++;
	printf("DISAGREE %s:%d %s: bext %s, kernel %s\n", c->file, c->line, c->name,
	       want ? "rejects" : "accepts", k ? "rejects" : "accepts");
}

/* Returns true if the case passed. */
static bool run_case(struct tcase *c, bool verbose)
{
	struct bext_insn *insns = NULL;
	struct bext_verify_stats stats;
	size_t n = 0;
	char err[256] = "";
	int want = expected_err(c->expect), got;
	bool ok = true;

	if (c->bad || want == 1) {
		printf("FAIL %s:%d %s: bad case description\n", c->file, c->line, c->name);
		return false;
	}
	if (bext_asm(c->text ? c->text : "", &insns, &n, err, sizeof(err))) {
		printf("FAIL %s:%d %s: does not assemble: %s\n", c->file, c->line, c->name, err);
		return false;
	}
	c->opts.sz = sizeof(c->opts);
	c->opts.maps = c->maps;
	c->opts.policy = c->policy;
	c->opts.log_level = verbose ? 2 : 1;
	c->opts.stats = &stats;
	got = bext_verify(insns, n, &c->opts, logbuf, sizeof(logbuf));
	if (got != want) {
		printf("FAIL %s:%d %s: expected %s (%d), got %d: %s\n", c->file, c->line, c->name,
		       c->expect, want, got, got ? stats.reason : "accepted");
		ok = false;
	} else if (want && !c->error[0]) {
		printf("FAIL %s:%d %s: rejection case without @error\n", c->file, c->line, c->name);
		ok = false;
	} else if (want && !strstr(stats.reason, c->error)) {
		printf("FAIL %s:%d %s: reason '%s' lacks '%s'\n", c->file, c->line, c->name,
		       stats.reason, c->error);
		ok = false;
	} else if (want && !strstr(logbuf, stats.reason)) {
		printf("FAIL %s:%d %s: the log lacks the reason\n", c->file, c->line, c->name);
		ok = false;
	}
	if (!ok || verbose)
		printf("---- log of %s:\n%s----\n", c->name, logbuf);
	free(insns);
	return ok;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *dir = CASES_DIR, *filter = argc > 1 ? argv[1] : NULL;
	bool xcheck = argc > 1 && !strcmp(argv[1], "--kernel");
	DIR *d = opendir(dir);
	struct dirent *de;
	char *files[256];
	int nfiles = 0, total = 0, failed = 0, accepts = 0, rejects = 0;

	if (!d) {
		printf("cannot open %s\n", dir);
		return 1;
	}
	if (xcheck) {
		FILE *kl = argc > 2 ? fopen(argv[2], "r") : NULL;
		char l[256];
		int fd;

		filter = NULL;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
		if (fd < 0) {
			printf("the kernel refuses bpf(): %s: skipping\n", strerror(errno));
			closedir(d);
			return 77;
		}
		close(fd);
		while (kl && fgets(l, sizeof(l), kl)) {
			l[strcspn(l, "\r\n")] = 0;
			if (!l[0] || l[0] == '#')
				continue;
			known = realloc(known, (n_known + 1) * sizeof(*known));
			known[n_known++] = strdup(l);
		}
		if (kl)
			fclose(kl);
	}
	while ((de = readdir(d)) && nfiles < 256) {
		size_t l = strlen(de->d_name);

		if (l > 4 && !strcmp(de->d_name + l - 4, ".txt"))
			files[nfiles++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(files, nfiles, sizeof(files[0]), cmp_str);
	for (int fi = 0; fi < nfiles; fi++) {
		char path[512], line[1024];
		FILE *f;
		struct tcase c;
		bool have = false;
		int ln = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, files[fi]);
		f = fopen(path, "r");
		if (!f) {
			printf("cannot open %s\n", path);
			return 1;
		}
		memset(&c, 0, sizeof(c));
		for (;;) {
			char *r = fgets(line, sizeof(line), f);
			size_t l;

			ln++;
			if (r) {
				l = strlen(line);
				while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
					line[--l] = 0;
			}
			if (!r || !strncmp(line, "== ", 3)) {
				if (have && (!filter || strstr(c.name, filter))) {
					total++;
					if (!strcmp(c.expect, "accept"))
						accepts++;
					else
						rejects++;
					if (xcheck)
						xcheck_case(&c);
					else if (!run_case(&c, filter != NULL))
						failed++;
				}
				free(c.text);
				bext_policy__free(c.policy);
				memset(&c, 0, sizeof(c));
				if (!r)
					break;
				have = true;
				snprintf(c.name, sizeof(c.name), "%.159s", line + 3);
				snprintf(c.file, sizeof(c.file), "%s", files[fi]);
				c.line = ln;
				continue;
			}
			if (!have)
				continue;
			if (line[0] == '@') {
				if (directive(&c, line))
					c.bad = true;
				continue;
			}
			append_text(&c, line);
		}
		fclose(f);
		free(files[fi]);
	}
	if (xcheck) {
		printf("kernel cross-check: %d agree, %d known disagreements, %d new "
		       "disagreements, %d not comparable\n",
		       xc_agree, xc_known, xc_disagree, xc_skipped);
		return xc_disagree ? 1 : 0;
	}
	printf("%d cases (%d accept, %d reject/malformed), %d failed\n", total, accepts, rejects,
	       failed);
	if (!total)
		return 1;
	return failed ? 1 : 0;
}

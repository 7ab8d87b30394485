/* SPDX-License-Identifier: MIT */
/*
 * Runs every *.data file of the bpf_conformance suite on one engine:
 *
 *   conformance_runner [--engine interp|jit] [-v] DIR [FILE.data...]
 *
 * Sections: `-- asm` (assembled with bext_asm), `-- raw` (64-bit words,
 * preferred when present), `-- mem` (hex bytes), `-- result` (expected r0),
 * `-- error` (the load or run must fail). r1 = the memory (NULL if none),
 * r2 = its length. Helper 5 returns r1 and unwinds when it is 0.
 *
 * For the jit engine the program must compile: a JIT failure is a test
 * failure, never an interpreter run in disguise. Exit status: 0 when nothing
 * failed, 1 otherwise, 77 when the suite is missing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/isa.h>
#include <bext/vm.h>

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
	return 0;
}

struct test_case {
	struct buf asm_text, raw, mem, result, error;
	bool has_asm, has_raw, has_mem, has_result, has_error;
};

static void case_free(struct test_case *tc)
{
	free(tc->asm_text.p);
	free(tc->raw.p);
	free(tc->mem.p);
	free(tc->result.p);
	free(tc->error.p);
}

static int parse_file(const char *path, struct test_case *tc)
{
	struct buf *cur = NULL;
	char line[1024];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		char *dash;

		if (hash) {
			hash[0] = '\n';
			hash[1] = '\0';
		}
		dash = strstr(line, "--");
		if (dash && strspn(line, " \t") == (size_t)(dash - line)) {
			char *name = dash + 2;

			name += strspn(name, " \t");
			name[strcspn(name, " \t\r\n")] = '\0';
			cur = NULL;
			if (!strcmp(name, "asm")) {
				cur = &tc->asm_text;
				tc->has_asm = true;
			} else if (!strcmp(name, "raw")) {
				cur = &tc->raw;
				tc->has_raw = true;
			} else if (!strcmp(name, "mem")) {
				cur = &tc->mem;
				tc->has_mem = true;
			} else if (!strcmp(name, "result")) {
				cur = &tc->result;
				tc->has_result = true;
			} else if (!strcmp(name, "error")) {
				cur = &tc->error;
				tc->has_error = true;
			}
			/* other sections (`-- c`, `-- no register offset`) are informational */
			continue;
		}
		if (cur && buf_add(cur, line)) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

static int parse_raw(const char *text, struct bext_insn **insns, size_t *n)
{
	size_t cap = 16, cnt = 0;
	struct bext_insn *v = malloc(cap * sizeof(*v));
	const char *p = text;

	if (!v)
		return -ENOMEM;
	for (;;) {
		char *end;
		unsigned long long w;

		p += strspn(p, " \t\r\n,");
		if (!*p)
			break;
		errno = 0;
		w = strtoull(p, &end, 16);
		if (end == p || errno) {
			free(v);
			return -EINVAL;
		}
		p = end;
		if (cnt == cap) {
			struct bext_insn *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		memcpy(&v[cnt++], &w, sizeof(w)); /* little-endian host */
	}
	*insns = v;
	*n = cnt;
	return 0;
}

static int parse_mem(const char *text, uint8_t **mem, size_t *len)
{
	size_t cnt = 0;
	uint8_t *m = malloc(strlen(text) / 2 + 1);
	const char *p = text;

	if (!m)
		return -ENOMEM;
	for (;;) {
		char *end;
		unsigned long b;

		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		b = strtoul(p, &end, 16);
		if (end == p || b > 0xff) {
			free(m);
			return -EINVAL;
		}
		p = end;
		m[cnt++] = (uint8_t)b;
	}
	*mem = m;
	*len = cnt;
	return 0;
}

static uint64_t parse_result(const char *text)
{
	const char *p = text + strspn(text, " \t\r\n");

	if (strstr(p, "0x") || strstr(p, "0X"))
		return strtoull(p, NULL, 16);
	if (*p == '-')
		return (uint64_t)strtoll(p, NULL, 10);
	return strtoull(p, NULL, 10);
}

static uint64_t helper5(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r2;
	(void)r3;
	(void)r4;
	(void)r5;
	return r1;
}

enum outcome { PASS, FAIL, SKIP };

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
}

static enum outcome run_file(const char *dir, const char *name, bool jit, bool verbose)
{
	struct test_case tc = {0};
	struct bext_insn *insns = NULL;
	size_t n_insns = 0, mem_len = 0;
	uint8_t *mem = NULL;
	struct bext_vm *vm = NULL;
	enum outcome out = FAIL;
	char path[4096], err[256] = "";
	uint64_t expect = 0, got = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = parse_file(path, &tc);
	if (ret) {
		printf("FAIL %s: cannot read: %s\n", name, strerror(-ret));
		goto out;
	}
	if (!tc.has_result && !tc.has_error) {
		printf("SKIP %s: no result or error section\n", name);
		out = SKIP;
		goto out;
	}
	if (tc.has_result)
		expect = parse_result(tc.result.p ? tc.result.p : "");
	if (tc.has_raw)
		ret = parse_raw(tc.raw.p ? tc.raw.p : "", &insns, &n_insns);
	else if (tc.has_asm)
		ret = bext_asm(tc.asm_text.p ? tc.asm_text.p : "", &insns, &n_insns, err,
			       sizeof(err));
	else
		ret = -ENOENT, snprintf(err, sizeof(err), "no program section");
	if (ret) {
		printf("FAIL %s: program: %s (%s)\n", name, err[0] ? err : "bad raw section",
		       strerror(-ret));
		goto out;
	}
	if (tc.has_mem && tc.mem.p) {
		ret = parse_mem(tc.mem.p, &mem, &mem_len);
		if (ret) {
			printf("FAIL %s: bad mem section\n", name);
			goto out;
		}
		if (!mem_len) {
			free(mem);
			mem = NULL;
		}
	}

	vm = bext_vm__new(NULL);
	if (!vm || bext_vm__register_helper(vm, 5, "unwind", helper5) ||
	    bext_vm__set_unwind_helper(vm, 5)) {
		printf("FAIL %s: cannot create vm\n", name);
		goto out;
	}
	ret = bext_vm__load(vm, insns, n_insns, err, sizeof(err));
	if (!ret) {
		if (jit) {
			bext_jit_fn fn = bext_vm__jit(vm, err, sizeof(err));

			if (!fn) {
				printf("FAIL %s: JIT cannot compile: %s\n", name, err);
				goto out;
			}
			got = fn(mem, mem_len);
		} else {
			ret = bext_vm__exec(vm, mem, mem_len, &got);
			if (ret)
				snprintf(err, sizeof(err), "%s", bext_vm__last_error(vm));
		}
	}
	if (tc.has_error) {
		if (ret) {
			out = PASS;
		} else {
			trim(tc.error.p);
			printf("FAIL %s: expected error '%s', got r0 = 0x%llx\n", name, tc.error.p,
			       (unsigned long long)got);
		}
		goto out;
	}
	if (ret) {
		printf("FAIL %s: expected 0x%llx, got error: %s\n", name,
		       (unsigned long long)expect, err);
		goto out;
	}
	if (got != expect) {
		printf("FAIL %s: expected 0x%llx, got 0x%llx\n", name, (unsigned long long)expect,
		       (unsigned long long)got);
		goto out;
	}
	if (verbose)
		printf("ok   %s: 0x%llx\n", name, (unsigned long long)got);
	out = PASS;
out:
	bext_vm__free(vm);
	free(insns);
	free(mem);
	case_free(&tc);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *engine = "interp", *dir = NULL;
	char **names = NULL;
	size_t n_names = 0, cap = 0;
	unsigned passed = 0, failed = 0, skipped = 0;
	bool verbose = false, explicit_files = false;
	struct dirent *de;
	DIR *d;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--engine") && i + 1 < argc) {
			engine = argv[++i];
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!dir) {
			dir = argv[i];
		} else {
			/* explicit file names: run only those */
			if (n_names == cap) {
				cap = cap ? 2 * cap : 16;
				names = realloc(names, cap * sizeof(*names));
				if (!names)
					return 1;
			}
			names[n_names++] = strdup(argv[i]);
			explicit_files = true;
		}
	}
	if (strcmp(engine, "interp") && strcmp(engine, "jit")) {
		fprintf(stderr, "usage: %s [--engine interp|jit] [-v] DIR [FILE...]\n", argv[0]);
		return 2;
	}
	if (!dir) {
		fprintf(stderr, "usage: %s [--engine interp|jit] [-v] DIR [FILE...]\n", argv[0]);
		return 2;
	}
	d = opendir(dir);
	if (!d) {
		printf("conformance suite not found at %s: skipped\n", dir);
		return 77;
	}
	while (!explicit_files && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".data"))
			continue;
		if (n_names == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				return 1;
		}
		names[n_names++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n_names, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n_names; i++) {
		switch (run_file(dir, names[i], !strcmp(engine, "jit"), verbose)) {
		case PASS:
			passed++;
			break;
		case FAIL:
			failed++;
			break;
		case SKIP:
			skipped++;
			break;
		}
		free(names[i]);
	}
	free(names);
	printf("%s: %u passed, %u failed, %u skipped\n", engine, passed, failed, skipped);
	fflush(stdout);
	return failed || !passed ? 1 : 0;
}

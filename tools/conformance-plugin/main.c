/* SPDX-License-Identifier: MIT */
/*
 * bext-conformance-plugin: a VM plugin for the bpf_conformance suite's runner.
 *
 *   bext-conformance-plugin [HEX-MEMORY] [--interpret|--jit]
 *
 * stdin: the program as one line of hex bytes (8 per instruction, in memory
 * order). argv[1]: the input memory as hex bytes separated by white space
 * (optional). stdout: r0 in hex; exit 0. On error: a message on stderr and
 * exit 1. --jit never falls back to the interpreter: a program the JIT
 * cannot compile is an error. Helper 5 returns r1 and unwinds when it is 0.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/vm.h>

static uint64_t helper5(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r2;
	(void)r3;
	(void)r4;
	(void)r5;
	return r1;
}

/* Parses hex bytes ("b7 01 00 ..." or "b70100...") into a malloc'd array. */
static int parse_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0;
	uint8_t *v = malloc(strlen(s) / 2 + 1);
	int hi = -1;

	if (!v)
		return -ENOMEM;
	for (; *s; s++) {
		int d;

		if (isspace((unsigned char)*s) || *s == ',') {
			if (hi >= 0) { /* a single digit byte */
				v[n++] = (uint8_t)hi;
				hi = -1;
			}
			continue;
		}
		if (*s == '0' && (s[1] == 'x' || s[1] == 'X') && hi < 0) {
			s++;
			continue;
		}
		if (!isxdigit((unsigned char)*s)) {
			free(v);
			return -EINVAL;
		}
		d = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
		if (hi < 0) {
			hi = d;
		} else {
			v[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	if (hi >= 0)
		v[n++] = (uint8_t)hi;
	*out = v;
	*len = n;
	return 0;
}

static char *read_all(FILE *f)
{
	size_t cap = 4096, len = 0;
	char *p = malloc(cap);

	while (p) {
		size_t got = fread(p + len, 1, cap - len - 1, f);

		len += got;
		if (len + 1 < cap) {
			p[len] = '\0';
			return p;
		}
		cap *= 2;
		char *np = realloc(p, cap);

		if (!np)
			free(p);
		p = np;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mem_hex = NULL;
	bool jit = false;
	uint8_t *prog = NULL, *mem = NULL;
	size_t prog_len = 0, mem_len = 0;
	struct bext_vm *vm = NULL;
	char err[256] = "", *text = NULL;
	uint64_t r0 = 0;
	int ret, status = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jit"))
			jit = true;
		else if (!strcmp(argv[i], "--interpret"))
			jit = false;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s [HEX-MEMORY] [--interpret|--jit] < program-hex\n",
			       argv[0]);
			return 0;
		} else if (i == 1)
			mem_hex = argv[i];
		else {
			fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
			return 2;
		}
	}

	text = read_all(stdin);
	if (!text) {
		fprintf(stderr, "cannot read the program from stdin\n");
		goto out;
	}
	if (parse_hex(text, &prog, &prog_len) || !prog_len || prog_len % 8) {
		fprintf(stderr, "bad program: expected hex bytes, a multiple of 8\n");
		goto out;
	}
	if (mem_hex && parse_hex(mem_hex, &mem, &mem_len)) {
		fprintf(stderr, "bad memory argument: expected hex bytes\n");
		goto out;
	}
	if (!mem_len) {
		free(mem);
		mem = NULL;
	}

	vm = bext_vm__new(NULL);
	if (!vm || bext_vm__register_helper(vm, 5, "unwind", helper5) ||
	    bext_vm__set_unwind_helper(vm, 5)) {
		fprintf(stderr, "cannot create the vm\n");
		goto out;
	}
	ret = bext_vm__load(vm, (const struct bext_insn *)(void *)prog, prog_len / 8, err,
			    sizeof(err));
	if (ret) {
		fprintf(stderr, "load failed: %s\n", err);
		goto out;
	}
	if (jit && !bext_vm__jit(vm, err, sizeof(err))) {
		fprintf(stderr, "JIT failed: %s\n", err);
		goto out;
	}
	/* With the JIT compiled, run() uses it (no fallback) and reports its run errors. */
	ret = bext_vm__run(vm, jit ? BEXT_ENGINE_JIT : BEXT_ENGINE_INTERP, mem, mem_len, &r0);
	if (ret) {
		fprintf(stderr, "run failed: %s\n", bext_vm__last_error(vm));
		goto out;
	}
	printf("%" PRIx64 "\n", r0);
	status = 0;
out:
	bext_vm__free(vm);
	free(text);
	free(prog);
	free(mem);
	return status;
}

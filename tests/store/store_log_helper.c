// SPDX-License-Identifier: MIT
/*
 * store_log_helper DIR N VALUE: runs a program calling bpf_trace_printk("hi %d\n", VALUE)
 * N times with the trace sink set to store DIR (its trace.log), as an agent would.
 */
#include <stdio.h>
#include <stdlib.h>

#include <bext/helpers.h>
#include <bext/store.h>
#include <bext/vm.h>

#define INSN(op_, d_, s_, o_, i_)                                                 \
	{                                                                         \
		.code = (op_), .dst = (d_), .src = (s_), .off = (o_), .imm = (i_) \
	}

int main(int argc, char **argv)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_helpers_opts ho = {.sz = sizeof(ho)};
	struct bext_store *s;
	struct bext_vm *vm;
	char err[256];
	uint64_t r0;
	int n, v;

	if (argc != 4)
		return 2;
	so.path = argv[1];
	n = atoi(argv[2]);
	v = atoi(argv[3]);
	{
		/* "hi %d\n\0\0" little-endian */
		const struct bext_insn prog[] = {
		    INSN(0x18, 1, 0, 0, 0x25206968), /* lddw r1, ... */
		    INSN(0, 0, 0, 0, 0x00000a64),
		    INSN(0x7b, 10, 1, -8, 0), /* *(u64 *)(r10 - 8) = r1 */
		    INSN(0xbf, 1, 10, 0, 0),  /* r1 = r10 */
		    INSN(0x07, 1, 0, 0, -8),  /* r1 += -8 */
		    INSN(0xb7, 2, 0, 0, 8),   /* r2 = 8 */
		    INSN(0xb7, 3, 0, 0, v),   /* r3 = v */
		    INSN(0x85, 0, 0, 0, 6),   /* call bpf_trace_printk */
		    INSN(0x95, 0, 0, 0, 0),   /* exit */
		};

		s = bext_store__open(&so);
		vm = bext_vm__new(NULL);
		if (!s || !vm)
			return 1;
		ho.store = s;
		if (bext_helpers__register_all(vm, &ho) ||
		    bext_vm__load(vm, prog, sizeof(prog) / sizeof(prog[0]), err, sizeof(err))) {
			fprintf(stderr, "load: %s\n", err);
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		if (bext_vm__run(vm, BEXT_ENGINE_INTERP, NULL, 0, &r0) || (int64_t)r0 <= 0)
			return 1;
	bext_vm__free(vm);
	bext_store__close(s);
	return 0;
}

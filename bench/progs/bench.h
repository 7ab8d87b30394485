/* SPDX-License-Identifier: MIT */
/*
 * Shared by every benchmark program. One C source builds twice:
 *   clang -O2 -target bpf  -> an XDP program (kernel JIT via BPF_PROG_TEST_RUN,
 *                             bext JIT and interpreter through bext_obj);
 *   gcc -O2 -fPIC -shared  -> native code, loaded with dlopen().
 *
 * Input: every program reads `input`, 4 KiB in its own section .data.input,
 * which the runner fills with the same deterministic bytes for all engines
 * (libbpf's initial value for the kernel, the MAP_IDX_VALUE buffer for bext,
 * the global itself for native). The ctx is never read: a userspace pointer
 * does not fit xdp_md's 32-bit data fields, and not touching it keeps the
 * code identical in all engines. Because `input` is writable global data, no
 * compiler can fold the work away; the result (a 32-bit checksum) must be the
 * same in every engine, which the runner checks.
 * Scratch space lives in .bss. Loops have constant bounds (the kernel verifier
 * must see them terminate) and indices are masked where data-dependent.
 */
#ifndef BENCH_H
#define BENCH_H

#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define BENCH_PROG(name) SEC("xdp") int name(struct xdp_md *ctx)
#define BENCH_LICENSE char LICENSE[] SEC("license") = "Dual MIT/GPL"
#else
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
struct xdp_md;
#define SEC(name)
#define BENCH_PROG(name) int name(struct xdp_md *ctx)
#define BENCH_LICENSE
#endif

#define BENCH_INPUT_SIZE 4096
#define NOINLINE __attribute__((noinline))

/*
 * The result goes through a global and is read back: the kernel verifier
 * marks an XDP program's r0 "precise" at exit, and a return value computed
 * from data-dependent branches then stops it from pruning any state (the
 * Collatz loop exceeds its 1M-instruction limit). A load from a map value is
 * an unknown scalar and breaks that chain; all engines pay the same store
 * and load.
 */
#define BENCH_INPUT                                                                        \
	__u8 input[BENCH_INPUT_SIZE] __attribute__((aligned(8))) SEC(".data.input") = {1}; \
	__u32 bench_result

#define BENCH_RETURN(x)                                  \
	do {                                             \
		bench_result = (x);                      \
		return *(volatile __u32 *)&bench_result; \
	} while (0)

static inline __u32 fold(__u64 x)
{
	return (__u32)(x ^ (x >> 32));
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Branchy code: 2048 Collatz steps; each time a sequence reaches 1 the next
 * seed comes from the input. n is kept to 24 bits: without that mask the
 * kernel verifier's bounds for n differ on every path through the loop, it
 * can prune nothing and gives up ("BPF program is too large"), whether the
 * loop is nested or not.
 */
#include "bench.h"

BENCH_INPUT;

BENCH_PROG(bench_collatz)
{
	const __u32 *w = (const __u32 *)input;
	__u64 n = w[0] | 1, total = 0;

	for (__u32 k = 0; k < 2048; k++) {
		if (n & 1)
			n = 3 * n + 1;
		else
			n >>= 1;
		n &= 0xffffff;
		if (n == 1) {
			total = total * 31 + k;
			n = (w[k & 1023] & 0xfffff) | 1;
		}
	}
	BENCH_RETURN(fold(total) ^ (__u32)n);
}

BENCH_LICENSE;

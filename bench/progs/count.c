/* SPDX-License-Identifier: MIT */
/* A counting loop with arithmetic (an LCG mixed with shifts), 10000 rounds. */
#include "bench.h"

BENCH_INPUT;

BENCH_PROG(bench_count)
{
	__u64 acc = *(volatile __u64 *)input;

	for (__u32 i = 0; i < 10000; i++) {
		acc = acc * 6364136223846793005ull + i;
		acc ^= acc >> 29;
		acc += (acc << 3) - i;
	}
	BENCH_RETURN(fold(acc));
}

BENCH_LICENSE;

/* SPDX-License-Identifier: MIT */
/* bpf-to-bpf calls: two noinline subprograms (one calling the other), 1000 rounds. */
#include "bench.h"

BENCH_INPUT;

static NOINLINE __u64 mix(__u64 a, __u64 b)
{
	return (a ^ b) * 0x9e3779b97f4a7c15ull + (a >> 7);
}

static NOINLINE __u64 step(__u64 x, __u32 i)
{
	return mix(x, i) + mix(i, x >> 3);
}

BENCH_PROG(bench_calls)
{
	__u64 x = *(volatile __u64 *)(input + 8);

	for (__u32 i = 0; i < 1000; i++)
		x = step(x, i);
	BENCH_RETURN(fold(x));
}

BENCH_LICENSE;

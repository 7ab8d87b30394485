/* SPDX-License-Identifier: MIT */
/* A hash over bytes: 64-bit FNV-1a over the whole 4 KiB input. */
#include "bench.h"

BENCH_INPUT;

BENCH_PROG(bench_fnv)
{
	__u64 h = 0xcbf29ce484222325ull;

	for (__u32 i = 0; i < BENCH_INPUT_SIZE; i++) {
		h ^= input[i];
		h *= 0x100000001b3ull;
	}
	BENCH_RETURN(fold(h));
}

BENCH_LICENSE;

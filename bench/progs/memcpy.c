/* SPDX-License-Identifier: MIT */
/* A memcpy-like loop: 2 KiB from the input into .bss scratch, 8 bytes at a time, rotated. */
#include "bench.h"

BENCH_INPUT;
__u64 scratch[256];

BENCH_PROG(bench_memcpy)
{
	const __u64 *src = (const __u64 *)input;
	__u32 rot = input[7] & 255;

	for (__u32 i = 0; i < 256; i++)
		scratch[(i + rot) & 255] = src[i];
	BENCH_RETURN(fold(scratch[0] ^ scratch[100] ^ scratch[255]));
}

BENCH_LICENSE;

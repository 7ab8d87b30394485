/* SPDX-License-Identifier: MIT */
/* Sorting a small array: bubble sort of 32 words from the input, in .bss scratch. */
#include "bench.h"

#define N 32

BENCH_INPUT;
__u32 arr[N];

BENCH_PROG(bench_sort)
{
	const __u32 *w = (const __u32 *)input;

	for (__u32 i = 0; i < N; i++)
		arr[i] = w[i + 64];
	for (__u32 i = 0; i < N - 1; i++) {
		for (__u32 j = 0; j < N - 1 - i; j++) {
			__u32 a = arr[j], b = arr[j + 1];

			if (a > b) {
				arr[j] = b;
				arr[j + 1] = a;
			}
		}
	}
	BENCH_RETURN(arr[0] ^ (arr[N / 2] * 3) ^ (arr[N - 1] * 7));
}

BENCH_LICENSE;

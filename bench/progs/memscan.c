/* SPDX-License-Identifier: MIT */
/* Memory scan: sum and maximum of the 1024 32-bit words of the 4 KiB input. */
#include "bench.h"

BENCH_INPUT;

BENCH_PROG(bench_memscan)
{
	const __u32 *w = (const __u32 *)input;
	__u64 sum = 0;
	__u32 max = 0;

	for (__u32 i = 0; i < BENCH_INPUT_SIZE / 4; i++) {
		__u32 v = w[i];

		sum += v;
		if (v > max)
			max = v;
	}
	BENCH_RETURN(fold(sum) ^ max);
}

BENCH_LICENSE;

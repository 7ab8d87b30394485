// SPDX-License-Identifier: MIT
/* No SEC(): everything lands in .text; the global function is the program. */
volatile int bias = 4;

static __attribute__((noinline)) int triple(int x)
{
	return 3 * x + bias;
}

int entry(void *ctx)
{
	return triple(bias) + 1; /* 3 * 4 + 4 + 1 = 17 */
}

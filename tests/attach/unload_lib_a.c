// SPDX-License-Identifier: MIT
/* test_attach_unload: the probed library (libbext_unload_a.so). */

__attribute__((noinline, used, visibility("default"))) long unload_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 7 + 1;
}

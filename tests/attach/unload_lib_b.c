// SPDX-License-Identifier: MIT
/* test_attach_unload: other code, mapped where libbext_unload_a.so was (libbext_unload_b.so). */

__attribute__((noinline, used, visibility("default"))) long unload_fn(long x)
{
	long r = x;

	__asm__ volatile("xor %%eax, %%eax\n\tnop\n\tnop\n\tnop" ::: "eax", "memory");
	return r * 5 + 2;
}

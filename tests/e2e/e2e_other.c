// SPDX-License-Identifier: MIT
/*
 * e2e: a second small library (libe2e_other.so), different code, about the
 * size of libe2e_plugin.so: e2e_dlclose loads it after unloading the plugin,
 * so that it is mapped where the plugin was.
 */

__attribute__((noinline, used, visibility("default"))) long other_fn(long x)
{
	long r = x;

	__asm__ volatile("xor %%eax, %%eax\n\tnop\n\tnop\n\tnop" ::: "eax", "memory");
	return r * 5 + 2;
}

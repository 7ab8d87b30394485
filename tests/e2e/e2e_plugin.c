// SPDX-License-Identifier: MIT
/* e2e: a small shared library that e2e_dlopen loads after start (libe2e_plugin.so). */

__attribute__((noinline, used, visibility("default"))) long plugin_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 7 + 1;
}

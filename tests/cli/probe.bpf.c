/* SPDX-License-Identifier: MIT */
/* A minimal uprobe program for the CLI bad-input tests: SECNAME picks the
 * section (a missing PATH, a non-ELF PATH, a negative offset...); with
 * REJECT it reads past the end of struct pt_regs, which the verifier refuses. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef SECNAME
#define SECNAME "uprobe/libc.so.6:malloc"
#endif

SEC(SECNAME)
int probe(void *ctx)
{
#ifdef REJECT
	return *(volatile long *)((char *)ctx + 400);
#else
	(void)ctx;
	return 0;
#endif
}

char LICENSE[] SEC("license") = "GPL";

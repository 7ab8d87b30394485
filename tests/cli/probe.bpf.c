/* SPDX-License-Identifier: MIT */
/* A minimal uprobe program for the CLI bad-input tests: SECNAME picks the
 * section (a missing PATH, a non-ELF PATH, a negative offset...); with
 * REJECT it reads past the end of struct pt_regs, which the verifier refuses;
 * WITH_MAPS adds two maps. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef SECNAME
#define SECNAME "uprobe/libc.so.6:malloc"
#endif

#ifdef WITH_MAPS
/* WITH_MAPS: two maps, for the damaged-segment cases */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, int);
	__type(value, long);
} mstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, int);
	__type(value, long);
} mother SEC(".maps");
#endif

SEC(SECNAME)
int probe(void *ctx)
{
#ifdef WITH_MAPS
	int k = 0;
	long *v = bpf_map_lookup_elem(&mstats, &k);

	if (v)
		(*v)++;
	v = bpf_map_lookup_elem(&mother, &k);
	if (v)
		(*v)++;
#endif
#ifdef REJECT
	return *(volatile long *)((char *)ctx + 400);
#else
	(void)ctx;
	return 0;
#endif
}

char LICENSE[] SEC("license") = "GPL";

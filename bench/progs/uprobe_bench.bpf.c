// SPDX-License-Identifier: MIT
/*
 * bench_uprobe: the programs attached to bench_target() of the bench binary,
 * by bext and by the kernel (the same object for both).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

SEC("uprobe")
int empty(void *ctx)
{
	return 0;
}

/* a counter in an array map value, through bpf_map_lookup_elem */
SEC("uprobe")
int count(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&counter, &k);

	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

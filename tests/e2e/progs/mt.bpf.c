// SPDX-License-Identifier: MIT
/* e2e: per-thread-index call counts and argument sums of e2e_mt's work(). */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} jsum SEC(".maps");

__u64 total; /* .bss */

SEC("uprobe/e2e_mt:work")
int BPF_KPROBE(on_work, long idx, long j)
{
	if (idx < 0 || idx >= 8)
		return 0;
	stat_add(&calls, idx, 1);
	stat_add(&jsum, idx, j);
	__sync_fetch_and_add(&total, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

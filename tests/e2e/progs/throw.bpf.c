// SPDX-License-Identifier: MIT
/* e2e: C++ thrower(x), which throws for x % 3 == 0: entry and normal returns. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} tstats SEC(".maps"); /* 0 entries, 1 sum of x, 2 returns, 3 sum of results */

SEC("uprobe/e2e_throw:thrower")
int BPF_KPROBE(on_thrower, long x)
{
	stat_add(&tstats, 0, 1);
	stat_add(&tstats, 1, x);
	return 0;
}

SEC("uretprobe/e2e_throw:thrower")
int BPF_KRETPROBE(on_thrower_ret, long ret)
{
	stat_add(&tstats, 2, 1);
	stat_add(&tstats, 3, ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

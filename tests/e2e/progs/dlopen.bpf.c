// SPDX-License-Identifier: MIT
/* e2e: counts calls, arguments and results of plugin_fn in a library dlopen'ed after start. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pstats SEC(".maps"); /* 0 calls, 1 sum of x, 2 returns, 3 sum of results */

SEC("uprobe/libe2e_plugin.so:plugin_fn")
int BPF_KPROBE(on_plugin, long x)
{
	stat_add(&pstats, 0, 1);
	stat_add(&pstats, 1, x);
	return 0;
}

SEC("uretprobe/libe2e_plugin.so:plugin_fn")
int BPF_KRETPROBE(on_plugin_ret, long ret)
{
	stat_add(&pstats, 2, 1);
	stat_add(&pstats, 3, ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// SPDX-License-Identifier: MIT
/* e2e: one link whose symbol does not exist, one that does. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} mstats SEC(".maps"); /* 0 missing-function hits (must stay 0), 1 add calls */

SEC("uprobe/e2e_loop:no_such_function")
int on_missing(struct pt_regs *ctx)
{
	stat_add(&mstats, 0, 1);
	return 0;
}

SEC("uprobe/e2e_loop:add")
int on_add2(struct pt_regs *ctx)
{
	stat_add(&mstats, 1, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

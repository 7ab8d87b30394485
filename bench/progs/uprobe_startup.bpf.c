// SPDX-License-Identifier: MIT
/*
 * bench_uprobe --startup: makes bench_startup_probe() of the bench binary
 * return 1 (it returns 0 unprobed), so the target sees when the hook is live.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe/bench_uprobe:bench_startup_probe")
int startup_hook(void *ctx)
{
	bpf_override_return(ctx, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

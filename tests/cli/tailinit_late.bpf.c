// SPDX-License-Identifier: MIT
/*
 * tail_init.sh's late program: loaded while tailinit_target runs and put
 * into its jmp[1] with `bext update`; it has no link, so only the agent's
 * loading of prog array members can make the tail call reach it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} late_hits SEC(".maps");

SEC("uprobe")
int prog_late(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&late_hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

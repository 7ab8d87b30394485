// SPDX-License-Identifier: MIT
/* A perf event array declared without max_entries: libbpf gives it one slot per possible CPU. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
} events SEC(".maps");

SEC("uprobe") int pe_send(void *ctx)
{
	__u64 v = 1;

	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &v, sizeof(v));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

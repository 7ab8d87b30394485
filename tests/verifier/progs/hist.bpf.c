// SPDX-License-Identifier: MIT
/* Latency histogram: log2 with a loop, per-slot counters in an array. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOTS 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

static __always_inline __u32 log2_loop(__u64 v)
{
	__u32 r = 0;

	for (int i = 0; i < 63; i++) {
		if (v <= 1)
			break;
		v >>= 1;
		r++;
	}
	return r;
}

SEC("uprobe/./target:work")
int BPF_KPROBE(on_entry)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("uretprobe/./target:work")
int BPF_KRETPROBE(on_return)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *tsp = bpf_map_lookup_elem(&start, &tid), *cnt;
	__u32 slot;

	if (!tsp)
		return 0;
	slot = log2_loop(bpf_ktime_get_ns() - *tsp);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	cnt = bpf_map_lookup_elem(&hist, &slot);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* The same with the histogram kept in a stack array and summed by bpf_loop. */
struct sum_ctx {
	__u64 *vals;
	__u64 total;
};

static long add_slot(__u32 i, void *data)
{
	struct sum_ctx *c = data;
	__u32 k = i;
	__u64 *v = bpf_map_lookup_elem(&hist, &k);

	if (v)
		c->total += *v;
	return 0;
}

SEC("uprobe/./target:report")
int BPF_KPROBE(report)
{
	struct sum_ctx c = {};

	bpf_loop(SLOTS, add_slot, &c, 0);
	return c.total > 100;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: MIT
/*
 * The extension of tests/cli/events.sh, probed on events_target's
 * emit(kind, x):
 *   kind 0: ring buffer rb gets { x, 3 * x } (bpf_ringbuf_output, 8 bytes)
 *   kind 1: rb gets 5 bytes x, x+1 .. x+4 (reserve + submit)
 *   kind 2: a 5-byte reservation in rb, discarded (never printed)
 *   kind 3: perf event array pe, ring x & 3, gets { x, x + 1, x + 2 } (12 bytes)
 *   kind 4: pe ring 1 gets (__u64)x: 8 bytes, which the perf format pads to
 *           12 (4 + raw size is a multiple of 8)
 *   kind 5: pe ring 3 gets 4000 bytes (the value of big[0], bytes x), to fill
 *           the ring's 32 KiB: 8 fit, the next ones are lost
 * counts (a hash map) is there for the wrong-type error case.
 */
#ifndef __TARGET_ARCH_x86
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 4);
} pe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

#define BIG 4000
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[BIG]);
} big SEC(".maps");

SEC("uprobe/events_target:emit")
int BPF_KPROBE(on_emit, int kind, int x)
{
	__u32 zero = 0;
	__u8 *p, *v;

	if (kind == 0) {
		__u32 ev[2] = {x, 3 * x};

		bpf_ringbuf_output(&rb, ev, sizeof(ev), 0);
	} else if (kind == 1 || kind == 2) {
		p = bpf_ringbuf_reserve(&rb, 5, 0);
		if (!p)
			return 0;
		for (int i = 0; i < 5; i++)
			p[i] = x + i;
		if (kind == 1)
			bpf_ringbuf_submit(p, 0);
		else
			bpf_ringbuf_discard(p, 0);
	} else if (kind == 3) {
		__u32 ev[3] = {x, x + 1, x + 2};

		bpf_perf_event_output(ctx, &pe, x & 3, ev, sizeof(ev));
	} else if (kind == 4) {
		__u64 ev = x;

		bpf_perf_event_output(ctx, &pe, 1, &ev, sizeof(ev));
	} else if (kind == 5) {
		v = bpf_map_lookup_elem(&big, &zero);
		if (!v)
			return 0;
		v[0] = x;
		v[BIG - 1] = x;
		bpf_perf_event_output(ctx, &pe, 3, v, BIG);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: MIT
/*
 * e2e: libc malloc probed by library name. Entry: calls and bytes of the
 * sizes e2e_malloc uses (123000 + i); the size is kept per thread so the
 * return probe counts non-NULL results of exactly those calls.
 */
#include "common.h"

#define LO 123000
#define HI                                                                           \
	(123000 + 1000) /* e2e_malloc uses at most 1000 sizes; the range stays clear \
			 * of other allocations (bext itself allocates 132096 bytes  \
			 * for a thread's first uretprobe hit, and it is a malloc too) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} mcount SEC(".maps"); /* 0 calls, 1 bytes, 2 non-NULL returns, 3 sum of sizes at return */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* size asked for */
} inflight SEC(".maps");

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(on_malloc, unsigned long size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 sz = size;

	if (size < LO || size >= HI)
		return 0;
	stat_add(&mcount, 0, 1);
	stat_add(&mcount, 1, size);
	bpf_map_update_elem(&inflight, &tid, &sz, BPF_ANY);
	return 0;
}

SEC("uretprobe/libc.so.6:malloc")
int BPF_KRETPROBE(on_malloc_ret, void *ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *sz = bpf_map_lookup_elem(&inflight, &tid);

	if (!sz)
		return 0;
	if (ret) {
		stat_add(&mcount, 2, 1);
		stat_add(&mcount, 3, *sz);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

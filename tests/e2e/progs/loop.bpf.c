// SPDX-License-Identifier: MIT
/* e2e: counts and records arguments and results of e2e_loop's add() and mul(). */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps"); /* 0 add calls, 1 sum a, 2 sum b, 3 add returns, 4 sum ret,
		       * 5 mul+3 hits, 6 sum of mul's a at +3, 7 last cookie */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);   /* pid */
	__type(value, __u64); /* add calls */
} per_pid SEC(".maps");

__u64 bss_calls;	       /* .bss: += step per add call */
__u64 data_base = 1000;	       /* .data: += 1 per add call */
const volatile __u64 step = 2; /* .rodata */

SEC("uprobe/e2e_loop:add")
int BPF_KPROBE(on_add, long a, long b)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v;

	stat_add(&stats, 0, 1);
	stat_add(&stats, 1, a);
	stat_add(&stats, 2, b);
	__sync_fetch_and_add(&bss_calls, step);
	__sync_fetch_and_add(&data_base, 1);
	v = bpf_map_lookup_elem(&per_pid, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&per_pid, &pid, &one, BPF_NOEXIST);
	return 0;
}

SEC("uretprobe/e2e_loop:add")
int BPF_KRETPROBE(on_add_ret, long ret)
{
	stat_add(&stats, 3, 1);
	stat_add(&stats, 4, ret);
	return 0;
}

/* e2e_loop is built at -O2: mul+3 is its imul (after a 3-byte mov) */
SEC("uprobe/e2e_loop:mul+3")
int BPF_KPROBE(on_mul_off, long a)
{
	__u32 k = 7;
	__u64 c = bpf_get_attach_cookie(ctx);

	stat_add(&stats, 5, 1);
	stat_add(&stats, 6, a);
	bpf_map_update_elem(&stats, &k, &c, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// SPDX-License-Identifier: MIT
/* Per-pid syscall counting in a hash map (tracepoint ctx). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct sys_enter_ctx {
	__u64 common;
	int nr;
	int pad;
	unsigned long args[6];
};

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(struct sys_enter_ctx *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v;

	if (ctx->nr < 0)
		return 0;
	v = bpf_map_lookup_elem(&counts, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
	return 0;
}

SEC("tp/raw_syscalls/sys_enter")
int count_raw(struct {
	__u64 common;
	long id;
	unsigned long args[6];
} * ctx)
{
	__u32 key = ctx->id & 0xffff;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);

	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: MIT
/* Buggy programs the verifier must reject (each names the rule it breaks). */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[16]);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} rb SEC(".maps");

/* expect: map_value_or_null */
SEC("uprobe/./target:f")
int BPF_KPROBE(no_null_check)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &k);

	return *v;
}

/* expect: invalid access to map value */
SEC("uprobe/./target:f")
int BPF_KPROBE(index_off_by_one, long i)
{
	__u32 k = 0;
	__u64 *t = bpf_map_lookup_elem(&table, &k);

	if (!t || i < 0 || i > 16)
		return 0;
	return t[i];
}

/* expect: Unreleased reference */
SEC("uprobe/./target:f")
int BPF_KPROBE(leak_record, long x)
{
	__u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return 0;
	*e = x;
	if (x > 5)
		return 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

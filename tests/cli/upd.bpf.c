// SPDX-License-Identifier: MIT
/* Maps for `bext update` / `bext delete` (tests/cli/update.sh). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, 4);
	__uint(value_size, 3); /* not an integer size: hex only */
} raw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u16);
} pc SEC(".maps");

const volatile int limit = 5;

SEC("uprobe")
int noop(void *ctx)
{
	return limit;
}

char LICENSE[] SEC("license") = "GPL";

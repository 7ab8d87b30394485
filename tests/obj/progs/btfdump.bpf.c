// SPDX-License-Identifier: MIT
/*
 * Test object for BTF-typed `bext dump` after `bext load` (test_loader_btf):
 * a hash map with a struct value given by type, an array map given by sizes
 * only (no type ids: dumped as bytes), and a program that changes the struct
 * value in place.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned int pid_key_t;

struct stats {
	int calls;
	long long total;
	unsigned char tag[4];
	struct {
		short lo, hi;
	} range;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, pid_key_t);
	__type(value, struct stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, 4);
	__uint(value_size, 8);
} sized SEC(".maps");

SEC("uprobe")
int bump(void *ctx)
{
	pid_key_t k = 7;
	struct stats *s = bpf_map_lookup_elem(&stats, &k);

	if (s) {
		s->calls++;
		s->total += 1000;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

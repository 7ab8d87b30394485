// SPDX-License-Identifier: MIT
/*
 * Test object for the ELF reader: several code sections, two programs in one
 * section, static noinline subprograms called from several programs (and from
 * each other), maps in .maps, global data in .data/.rodata/.bss and a
 * bpf_loop callback (a BPF_PSEUDO_FUNC lddw). Expected results are in
 * test_obj_kernel.c / test_obj_vm.c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair {
	__u32 a, b;
	__u64 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct pair);
} table SEC(".maps");

__u64 gcount = 7;		/* .data */
const volatile __u32 scale = 3; /* .rodata */
__u64 zeroed;			/* .bss */

static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b)
{
	return a * 31 + b;
}

static __attribute__((noinline)) __u64 twice(__u64 x)
{
	return mix(x, x ^ 1) + 1;
}

static long add_index(__u32 i, void *c)
{
	*(__u64 *)c += i + 1;
	return 0;
}

/* 7 * 31 + 3 + 0 = 220 */
SEC("xdp") int prog_a(void *ctx)
{
	return mix(gcount, scale) + zeroed;
}

/* 1 + 2 + 3 + 4 + 5 = 15 */
SEC("xdp") int prog_d(void *ctx)
{
	__u64 s = 0;

	bpf_loop(5, add_index, &s, 0);
	return s;
}

/* twice(7) = 7 * 31 + 6 + 1 = 224; mix(7, 1) = 218; 442; zeroed becomes 1 */
SEC("tc") int prog_b(void *ctx)
{
	__u64 x = gcount;

	zeroed += 1;
	return twice(x) + mix(x, 1);
}

/* counters[1] += 5, returns the new value (5 on the first run) */
SEC("socket") int prog_c(void *ctx)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&counters, &k);

	if (!v)
		return mix(gcount, 0);
	*v += 5;
	return *v;
}

char LICENSE[] SEC("license") = "GPL";

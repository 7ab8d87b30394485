// SPDX-License-Identifier: MIT
/*
 * Static initialisation of a prog array and of maps of maps, as libbpf
 * allows it (tests/cli/tail_init.sh): `jmp` holds prog_a in slot 0 and
 * prog_b in slot 2 from the object itself, `outer` and `houter` hold inner
 * maps. on_tick, probed on tailinit_target's tick(x), counts its hits in
 * results[0] and tail-calls jmp[x]: prog_a counts in results[1], prog_b in
 * results[2]; a failed tail call (empty slot, x out of range) continues and
 * counts in results[3].
 *
 * Built with -DBAD=N, it is one of the malformed initialisers the loader
 * must refuse (see tail_init.sh).
 */
#ifndef __TARGET_ARCH_x86
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&results, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("uprobe")
int prog_a(struct pt_regs *ctx)
{
	count(1);
	return 0;
}

SEC("uprobe")
int prog_b(struct pt_regs *ctx)
{
	count(2);
	return 0;
}

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} in1 SEC(".maps"), in2 SEC(".maps");

#if BAD == 3
extern int not_here(void *ctx);
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(void *));
} jmp SEC(".maps") = {
    .values =
	{
	    [0] = (void *)&prog_a,
	    [2] = (void *)&prog_b,
#if BAD == 1
	    [4] = (void *)&prog_a, /* max_entries is 4 */
#elif BAD == 2
	    [1] = (void *)&in1, /* a map in a prog array */
#elif BAD == 3
	    [1] = (void *)&not_here, /* an undefined symbol */
#endif
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
    .values =
	{
	    [1] = &in2,
	    [2] = &in1,
#if BAD == 4
	    [0] = (void *)&prog_b, /* a program in a map of maps */
#endif
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} houter SEC(".maps") = {
    .values = {[0] = &in1, [3] = &in2},
};

#if BAD == 6
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS); /* 8-byte keys: [i] cannot name a key */
	__uint(max_entries, 4);
	__type(key, __u64);
	__array(values, struct inner);
} hwide SEC(".maps") = {
    .values = {[1] = &in1},
};
#endif

#if BAD == 5
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); /* no __array(values, ...): no template */
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} noinner SEC(".maps");
#endif

SEC("uprobe/tailinit_target:tick")
int on_tick(struct pt_regs *ctx)
{
	count(0);
	bpf_tail_call(ctx, &jmp, (__u32)PT_REGS_PARM1(ctx));
	count(3);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: MIT
/*
 * malloc_count: counts malloc() calls and bytes per process, in every
 * program started under `bext start` (libc's malloc, found by library name).
 *
 *   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c malloc_count.bpf.c
 *   bext load malloc_count.bpf.o
 *   bext start -- ls -R /usr/include > /dev/null
 *   bext dump counts            # key: pid, value: calls
 *   bext dump comms             # key: pid, value: command name
 */
/* pt_regs layout of x86-64 for PT_REGS_PARM1() (usually -D__TARGET_ARCH_x86) */
#ifndef __TARGET_ARCH_x86
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* pid */
	__type(value, __u64); /* malloc calls */
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* pid */
	__type(value, __u64); /* bytes asked for */
} bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	 /* pid */
	__type(value, char[16]); /* command name */
} comms SEC(".maps");

static void add(void *map, __u32 pid, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &pid);

	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(map, &pid, &n, BPF_NOEXIST) == 0)
		return;
	/* another thread created the entry first: add to it */
	v = bpf_map_lookup_elem(map, &pid);
	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(count_malloc, unsigned long size)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	char comm[16];

	/* every time: a forked child calls malloc before and after its exec */
	bpf_get_current_comm(comm, sizeof(comm));
	bpf_map_update_elem(&comms, &pid, comm, BPF_ANY);
	add(&counts, pid, 1);
	add(&bytes, pid, size);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

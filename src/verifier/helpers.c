/* SPDX-License-Identifier: MIT */
/*
 * Helper prototypes: kernel helper ids (bpf_helper_defs.h), argument kinds,
 * result kinds and the program types each helper is enabled for. The
 * argument and result kinds restate the documented helper contracts; the
 * runtime helpers must honour them (e.g. a helper that fills an
 * ARG_MEM_UNINIT buffer writes every byte of it, even on failure).
 */
#include <linux/bpf.h>

#include "verifier_internal.h"

#define T(x) (1u << BEXT_PROG_##x)
#define TRACING (T(UPROBE) | T(TRACEPOINT) | T(RAW_SYSCALL))
#define ALL (TRACING | T(EXT) | T(XDP))

static const struct helper_proto protos[] = {
    {1, "bpf_map_lookup_elem", RET_MAP_VALUE_OR_NULL, {ARG_CONST_MAP_PTR, ARG_MAP_KEY}, ALL},
    {2,
     "bpf_map_update_elem",
     RET_INTEGER,
     {ARG_CONST_MAP_PTR, ARG_MAP_KEY, ARG_MAP_VALUE, ARG_ANYTHING},
     ALL},
    {3, "bpf_map_delete_elem", RET_INTEGER, {ARG_CONST_MAP_PTR, ARG_MAP_KEY}, ALL},
    {4,
     "bpf_probe_read",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING | T(EXT),
     .gpl_only = true},
    {5, "bpf_ktime_get_ns", RET_INTEGER, {0}, ALL},
    {6,
     "bpf_trace_printk",
     RET_INTEGER,
     {ARG_MEM, ARG_SIZE},
     ALL,
     .gpl_only = true}, /* r3..r5: format arguments, unchecked */
    {7, "bpf_get_prandom_u32", RET_INTEGER, {0}, ALL},
    {8, "bpf_get_smp_processor_id", RET_INTEGER, {0}, ALL},
    {12, "bpf_tail_call", RET_INTEGER, {ARG_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING}, ALL},
    {14, "bpf_get_current_pid_tgid", RET_INTEGER, {0}, ALL},
    {15, "bpf_get_current_uid_gid", RET_INTEGER, {0}, TRACING | T(EXT)},
    {16, "bpf_get_current_comm", RET_INTEGER, {ARG_MEM_UNINIT, ARG_SIZE}, TRACING | T(EXT)},
    {25,
     "bpf_perf_event_output",
     RET_INTEGER,
     {ARG_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING, ARG_MEM, ARG_SIZE_OR_ZERO},
     ALL},
    {27, "bpf_get_stackid", RET_INTEGER, {ARG_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING}, TRACING},
    {36,
     "bpf_probe_write_user",
     RET_INTEGER,
     {ARG_ANYTHING, ARG_MEM, ARG_SIZE},
     TRACING,
     .gpl_only = true},
    {45,
     "bpf_probe_read_str",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING | T(EXT),
     .ret_le_size = true,
     .gpl_only = true},
    {58, "bpf_override_return", RET_INTEGER, {ARG_CTX, ARG_ANYTHING}, T(UPROBE), .gpl_only = true},
    {67,
     "bpf_get_stack",
     RET_INTEGER,
     {ARG_CTX, ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING,
     .ret_le_size = true},
    {87, "bpf_map_push_elem", RET_INTEGER, {ARG_CONST_MAP_PTR, ARG_MAP_VALUE, ARG_ANYTHING}, ALL},
    {88, "bpf_map_pop_elem", RET_INTEGER, {ARG_CONST_MAP_PTR, ARG_MAP_VALUE_UNINIT}, ALL},
    {89, "bpf_map_peek_elem", RET_INTEGER, {ARG_CONST_MAP_PTR, ARG_MAP_VALUE_UNINIT}, ALL},
    {93, "bpf_spin_lock", RET_VOID, {ARG_SPIN_LOCK}, T(EXT) | T(XDP)},
    {94, "bpf_spin_unlock", RET_VOID, {ARG_SPIN_LOCK}, T(EXT) | T(XDP)},
    {112,
     "bpf_probe_read_user",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING | T(EXT),
     .gpl_only = true},
    {113,
     "bpf_probe_read_kernel",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING,
     .gpl_only = true},
    {114,
     "bpf_probe_read_user_str",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING | T(EXT),
     .ret_le_size = true,
     .gpl_only = true},
    {115,
     "bpf_probe_read_kernel_str",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     TRACING,
     .ret_le_size = true,
     .gpl_only = true},
    {125, "bpf_ktime_get_boot_ns", RET_INTEGER, {0}, ALL},
    {130,
     "bpf_ringbuf_output",
     RET_INTEGER,
     {ARG_CONST_MAP_PTR, ARG_MEM, ARG_SIZE_OR_ZERO, ARG_ANYTHING},
     ALL},
    {131,
     "bpf_ringbuf_reserve",
     RET_RINGBUF_MEM_OR_NULL,
     {ARG_CONST_MAP_PTR, ARG_CONST_ALLOC_SIZE, ARG_ANYTHING},
     ALL},
    {132, "bpf_ringbuf_submit", RET_VOID, {ARG_RINGBUF_MEM, ARG_ANYTHING}, ALL},
    {133, "bpf_ringbuf_discard", RET_VOID, {ARG_RINGBUF_MEM, ARG_ANYTHING}, ALL},
    {134, "bpf_ringbuf_query", RET_INTEGER, {ARG_CONST_MAP_PTR, ARG_ANYTHING}, ALL},
    {160, "bpf_ktime_get_coarse_ns", RET_INTEGER, {0}, ALL},
    {164,
     "bpf_for_each_map_elem",
     RET_INTEGER,
     {ARG_CONST_MAP_PTR, ARG_FUNC, ARG_STACK_OR_NULL, ARG_ANYTHING},
     ALL},
    {165,
     "bpf_snprintf",
     RET_INTEGER,
     {ARG_MEM_UNINIT, ARG_SIZE_OR_ZERO, ARG_CONST_STR, ARG_MEM_OR_NULL, ARG_SIZE_OR_ZERO},
     ALL},
    {173, "bpf_get_func_ip", RET_INTEGER, {ARG_CTX}, T(UPROBE)},
    {174, "bpf_get_attach_cookie", RET_INTEGER, {ARG_CTX}, TRACING},
    {181, "bpf_loop", RET_INTEGER, {ARG_SCALAR, ARG_FUNC, ARG_STACK_OR_NULL, ARG_ANYTHING}, ALL},
    {182, "bpf_strncmp", RET_INTEGER, {ARG_MEM, ARG_SIZE, ARG_CONST_STR}, ALL},
    {195,
     "bpf_map_lookup_percpu_elem",
     RET_MAP_VALUE_OR_NULL,
     {ARG_CONST_MAP_PTR, ARG_MAP_KEY, ARG_SCALAR},
     ALL},
};

const struct helper_proto *helper_proto(uint32_t id)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].id == id)
			return &protos[i];
	return NULL;
}

const char *bext_helper_name(uint32_t id)
{
	const struct helper_proto *p = helper_proto(id);

	return p ? p->name : NULL;
}

static bool is_lookup_map(uint32_t t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return true;
	default:
		return false;
	}
}

static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* Which helper may take which map type (both directions, as the kernel). */
bool helper_map_compatible(uint32_t id, uint32_t t)
{
	switch (id) {
	case 1: /* lookup */
		return is_lookup_map(t);
	case 2: /* update */
		return (is_lookup_map(t) && t != BPF_MAP_TYPE_ARRAY_OF_MAPS &&
			t != BPF_MAP_TYPE_HASH_OF_MAPS);
	case 3: /* delete */
		return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH ||
		       t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
		       t == BPF_MAP_TYPE_LPM_TRIE;
	case 87: /* push */
		return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK ||
		       t == BPF_MAP_TYPE_BLOOM_FILTER;
	case 88: /* pop */
		return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK;
	case 89: /* peek */
		return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK ||
		       t == BPF_MAP_TYPE_BLOOM_FILTER;
	case 12:
		return t == BPF_MAP_TYPE_PROG_ARRAY;
	case 25:
		return t == BPF_MAP_TYPE_PERF_EVENT_ARRAY;
	case 27:
		return t == BPF_MAP_TYPE_STACK_TRACE;
	case 130:
	case 131:
	case 134:
		return t == BPF_MAP_TYPE_RINGBUF;
	case 164:
		return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_ARRAY ||
		       t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
		       t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	case 195:
		return is_percpu(t);
	default:
		return false;
	}
}

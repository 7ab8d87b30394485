/* SPDX-License-Identifier: MIT */
/*
 * bext/helpers.h - the kernel-compatible eBPF helpers, by kernel helper id
 * (bpf_helper_defs.h), for programs run by a bext_vm. See docs/HELPERS.md for
 * each helper's userspace semantics and where it differs from the kernel.
 *
 * Map arguments: a program's map pointer (r1 of bpf_map_lookup_elem & co.)
 * is a per-process `struct bext_map *`. The lddw pseudo forms are resolved
 * onto such pointers by bext_helpers__pseudo_resolver() over a table the
 * loader fills (struct bext_helpers_maps).
 *
 * Process-wide state (helpers are plain functions without a user pointer):
 * the trace_printk sink, the program registry used by tail calls, and the
 * per-thread "current run" record. All three are safe to use from many
 * threads; configuration calls take a lock.
 */
#ifndef BEXT_HELPERS_H
#define BEXT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/common.h>
#include <bext/map.h>
#include <bext/store.h>
#include <bext/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one trace_printk/trace_vprintk message (no trailing newline added). */
typedef void (*bext_trace_fn)(void *ctx, const char *msg, size_t len);

struct bext_helpers_opts {
	size_t sz; /* sizeof(struct bext_helpers_opts) */
	/*
	 * Where trace_printk output goes (process-wide; the last call that sets
	 * one of these wins). In order of precedence: trace_fn; log_path (a
	 * file, appended to); store (the file BEXT_TRACE_LOG_NAME in the store
	 * directory, read by `bext log`). None set: the sink is unchanged (the
	 * initial sink drops messages). Output never goes to stdout/stderr.
	 */
	bext_trace_fn trace_fn;
	void *trace_ctx;
	const char *log_path;
	struct bext_store *store;
	/* Do not install the tail-call resolver (bpf_tail_call then fails, r0 = -ENOENT). */
	bool no_tail_call;
};

#define BEXT_TRACE_LOG_NAME "trace.log"

/*
 * Registers every helper bext implements (by kernel id) in @vm and installs
 * bext_helpers__tail_call_resolver() as its tail-call resolver. Ids already
 * registered in @vm are left alone (the caller's own helpers win). Must be
 * called before bext_vm__load(). opts may be NULL. Returns 0 or -errno.
 */
BEXT_API int bext_helpers__register_all(struct bext_vm *vm, const struct bext_helpers_opts *opts);

/* The kernel name of helper @id ("bpf_map_lookup_elem"), NULL if bext lacks it. */
BEXT_API const char *bext_helpers__name(uint32_t id);

/* Sets the trace_printk sink from @opts (see above) without registering helpers. */
BEXT_API int bext_helpers__set_trace_sink(const struct bext_helpers_opts *opts);

/* ---- lddw pseudo forms -----------------------------------------------------------
 * maps[i] is the map a program calls number i (BEXT_PSEUDO_MAP_IDX imm, as
 * bext_obj numbers them). fds, when not NULL, gives the fd standing for
 * maps[i] (BEXT_PSEUDO_MAP_FD imm); when NULL, map fd forms use the index too.
 * Value forms (MAP_VALUE, MAP_IDX_VALUE) need a one-element BPF_MAP_TYPE_ARRAY
 * (global data) and an offset inside its value; they load the value address.
 * The table must outlive the load call only.
 */
struct bext_helpers_maps {
	struct bext_map **maps;
	const int *fds;
	size_t nr;
};
/* A bext_pseudo_fn; user is a struct bext_helpers_maps *. */
BEXT_API int bext_helpers__pseudo_resolver(void *user, int src, int32_t imm, int32_t next_imm,
					   uint64_t *value);

/* ---- programs for tail calls ------------------------------------------------------
 * A BPF_MAP_TYPE_PROG_ARRAY holds program ids (store ids). Each process says
 * which of its loaded vms stands for an id; @vm NULL forgets the id. The vm
 * must stay alive (and be JIT-compiled, for JIT runs) while it is
 * registered. -EINVAL for id 0, -ENOSPC when the registry is full.
 */
BEXT_API int bext_helpers__set_prog(uint32_t prog_id, struct bext_vm *vm);
BEXT_API struct bext_vm *bext_helpers__get_prog(uint32_t prog_id);
/* A bext_tail_call_fn: @map is the struct bext_map * the program passed. */
BEXT_API struct bext_vm *bext_helpers__tail_call_resolver(void *user, uint64_t map, uint32_t index);

/* ---- the current run ----------------------------------------------------------------
 * Per-thread facts about the program run in progress, which the attach layer
 * fills before running a program and clears after (plain runs have none):
 * bpf_get_func_ip and bpf_get_attach_cookie read them; bpf_get_stack walks
 * the user stack from user_regs (an x86-64 struct pt_regs: rip, rbp).
 */
struct bext_run_info {
	uint64_t func_ip;	/* address of the probed function (0: unknown) */
	uint64_t attach_cookie; /* the link's cookie */
	const void *user_regs;	/* struct pt_regs at the probe point, or NULL */
};
/* Sets this thread's current run (NULL clears) and returns the previous one. */
BEXT_API const struct bext_run_info *bext_helpers__set_run(const struct bext_run_info *ri);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_HELPERS_H */

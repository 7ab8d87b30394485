/* SPDX-License-Identifier: MIT */
/*
 * Private state of the eBPF machine, shared by vm.c (object and loading),
 * interp.c (the interpreter), jit.c (engine-independent JIT driver) and the
 * architecture back ends under src/arch/.
 */
#ifndef BEXT_VM_INTERNAL_H
#define BEXT_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/vm.h>

#include "../common/common_internal.h"

struct bext_region {
	uintptr_t base;
	size_t len;
	bool writable;
};

struct bext_helper {
	bext_helper_fn fn;
	char *name;
};

struct bext_run;
struct bext_jit_cb;

struct bext_vm {
	struct bext_vm_opts opts;

	struct bext_insn *insns; /* loaded, pseudo lddw resolved */
	size_t n_insns;
	bool loaded;

	struct bext_helper helpers[BEXT_MAX_HELPERS];
	int64_t unwind_helper; /* -1: none */

	struct bext_region *regions;
	size_t n_regions;

	bext_pseudo_fn pseudo;
	void *pseudo_user;
	bext_tail_call_fn tail_call;
	void *tail_call_user;

	/* JIT state: code is mapped read+execute once written (W^X). */
	void *jit_mem;
	size_t jit_mem_size; /* mapping size */
	size_t jit_size;     /* bytes of code */
	bext_jit_fn jit_fn;
	void *jit_tail_entry; /* where a tail call into this program lands */
	bool jit_tried;
	/*
	 * Callback support (added by "jitperf"), filled by the back end:
	 * jit_run_entry is the main entry taking a struct bext_run * as third
	 * argument (bext_vm__run() uses it; the JIT code publishes its run
	 * context there); jit_cb_entry is the trampoline described at struct
	 * bext_jit_cb; jit_funcs[0..n_jit_funcs) are the native addresses of
	 * the BPF_PSEUDO_FUNC targets (the only valid JIT function values),
	 * sorted.
	 */
	uint64_t (*jit_run_entry)(void *ctx, uint64_t ctx_len, struct bext_run *run);
	uint64_t (*jit_cb_entry)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
				 const struct bext_jit_cb *cb);
	uintptr_t *jit_funcs;
	size_t n_jit_funcs;

	/*
	 * Valid callx targets (added by "vm"): func_entry[i] != 0 when a
	 * BPF_PSEUDO_FUNC lddw of this program points at insn i. Set by
	 * bext_vm__load(); n_insns bytes.
	 */
	uint8_t *func_entry;

	/*
	 * Inlined lookups (added by "inline"): the describer set by
	 * bext_vm__set_inline_lookup(); map_lddw[i] != 0 when insn i is an lddw
	 * the loader resolved from BPF_PSEUDO_MAP_FD or BPF_PSEUDO_MAP_IDX
	 * (n_insns bytes, set by bext_vm__load()); jit_inlined counts the calls
	 * the back end inlined (set by compile()).
	 */
	bext_inline_lookup_fn inline_lookup;
	void *inline_lookup_user;
	uint8_t *map_lddw;
	size_t jit_inlined;

	char err[256];
};

/*
 * Run-time errors of JIT'd code (added by "vm"). JIT'd code cannot return an
 * errno (its result is r0), so on "call depth exceeded" (-E2BIG) or "bad
 * callx" (-EINVAL) it calls bext_jit_set_run_error(-errno, insn_index) and
 * returns 0. bext_vm__run() clears the thread-local word before calling the
 * JIT'd function and turns a non-zero value into its return value and a
 * message. Thread-local, so concurrent runs do not disturb each other.
 */
extern __thread int bext_jit_run_error;		 /* 0 or a negative errno */
extern __thread int64_t bext_jit_run_error_insn; /* insn index, -1 if unknown */
BEXT_HIDDEN void bext_jit_set_run_error(int err_no, int64_t insn);

/*
 * One run of a program on this thread (added by "jitperf"), for callbacks
 * (bext_vm__call_func). Every run started by bext_vm__exec/run, and every
 * callback, pushes one on the thread-local stack bext_cur_run (parent links)
 * for its duration. Fields are written by the engine running it:
 *   vm       the program running now (a tail call replaces it)
 *   depth    interpreter: call depth (0 = main frame) at the last helper call
 *   base     interpreter: depth of the run's first frame (callbacks: > 0)
 *   stack0   interpreter: frame 0 of its stack array (frame d at
 *            stack0 + d * BEXT_STACK_SIZE); checked mode lets a callback
 *            touch the active frames of the runs it is a callback of
 *   jit_rc   JIT: the run context (r12) of the JIT code, written by the
 *            code's run entry or callback trampoline; u32 call depth at +0
 */
struct bext_run {
	struct bext_vm *vm;
	enum bext_engine engine;
	void *ctx; /* as the run was started (a callback: NULL) */
	size_t ctx_len;
	unsigned depth;
	unsigned base;
	uint8_t *stack0;
	void *jit_rc;
	struct bext_run *parent;
	bool callback; /* a callback run: parent is the run that called it */
};
extern __thread struct bext_run *bext_cur_run;

/*
 * Argument block of the JIT callback trampoline vm->jit_cb_entry(r1..r5, cb):
 * it saves the callee-saved registers, builds a run context like the main
 * program's (call depth `depth`, no tail calls allowed since depth > 0, run
 * record `run`, whose jit_rc it sets), calls the subprogram at `target` (one
 * of vm->jit_funcs: the caller validates) with r1-r5 and returns its r0. A
 * run error inside (depth, bad callx) is reported like a run's, through
 * bext_jit_set_run_error(), and the trampoline returns 0.
 */
struct bext_jit_cb {
	uintptr_t target; /* @0 */
	uint32_t depth;	  /* @8 */
	uint32_t pad;
	struct bext_run *run; /* @16 */
};

/* The interpreter (interp.c): runs vm->insns, returns 0 with r0 or a negative errno. */
BEXT_HIDDEN int bext_interp_run(struct bext_vm *vm, void *ctx, size_t ctx_len, uint64_t *ret);
/*
 * Interpreter callback (interp.c): runs the function starting at insn `fn` of
 * parent->vm (validated by the caller) with r1-r5 = args, at call depth
 * parent->depth + 1 (checked by the caller), as a nested run whose parent is
 * `parent`. Returns 0 with r0 in *ret or a negative errno.
 */
BEXT_HIDDEN int bext_interp_call(struct bext_run *parent, const struct bext_insn *fn,
				 const uint64_t args[5], uint64_t *ret);

/*
 * Architecture JIT back end. compile() writes native code for vm->insns and
 * fills vm->jit_mem/jit_mem_size/jit_size/jit_fn/jit_tail_entry, or returns a
 * negative errno with a message in err.
 */
struct bext_jit_ops {
	const char *name;
	int (*compile)(struct bext_vm *vm, char *err, size_t err_len);
	void (*release)(struct bext_vm *vm);
};

/* Provided by src/arch/<arch>/; NULL where no back end exists (weak default). */
extern const struct bext_jit_ops *const bext_arch_jit_ops;
/* Releases the JIT code of vm through the back end, if any (jit.c). */
BEXT_HIDDEN void bext_jit_release(struct bext_vm *vm);

/* Sets vm->err (and returns -err_no) in one go. */
__attribute__((format(printf, 3, 4))) int bext_vm_error(struct bext_vm *vm, int err_no,
							const char *fmt, ...);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * bext/vm.h - the eBPF machine: an interpreter and an x86-64 JIT.
 *
 * A bext_vm holds one program (instructions already free of pseudo
 * relocations once loaded), the helper table it may call (by kernel helper
 * id), the memory regions the checked interpreter accepts, and, after
 * bext_vm__jit(), the native code. Lifetime: the caller owns the vm;
 * bext_vm__free() releases the code too, so no JIT'd function pointer may be
 * called after it.
 *
 * Threads: once loaded (and JIT-compiled), a vm may be run from any number of
 * threads at once; configuration calls are not thread-safe.
 *
 * Calling convention of a program: r1 = ctx, r2 = ctx_len, r10 = top of a
 * 512-byte stack; the result is r0.
 */
#ifndef BEXT_VM_H
#define BEXT_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/common.h>
#include <bext/isa.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Helper ids are the kernel's (bpf_helper_defs.h); the table has this many slots. */
#define BEXT_MAX_HELPERS 512u

typedef uint64_t (*bext_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);

/* A JIT-compiled program, callable directly: returns r0. */
typedef uint64_t (*bext_jit_fn)(void *ctx, uint64_t ctx_len);

enum bext_engine {
	BEXT_ENGINE_INTERP = 0,
	BEXT_ENGINE_JIT = 1,
};

struct bext_vm_opts {
	size_t sz; /* sizeof(struct bext_vm_opts), for forward compatibility */
	/*
	 * Checked interpretation, for code no verifier has proven: every load
	 * and store is checked against the stack, the ctx (ctx, ctx_len) and the
	 * registered regions, and execution stops after insn_budget
	 * instructions (0: no budget). A violation ends the run with -EFAULT
	 * (memory) or -E2BIG (budget) and a message in bext_vm__last_error().
	 */
	bool checked;
	uint64_t insn_budget;
	/* JIT: blind constants (imm operands XORed with a per-compile random key). */
	bool blinding;
};

/*
 * Resolves the pseudo forms of lddw at load time (map fd, map value, map
 * index, BTF id; BPF_PSEUDO_FUNC is resolved by the vm itself). `src` is the
 * lddw's src field, imm and next_imm the two immediates. Returns 0 and the
 * 64-bit value to load, or a negative errno that fails the load.
 */
typedef int (*bext_pseudo_fn)(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value);

/*
 * Tail calls: bpf_tail_call(ctx, map, index) asks this function for the
 * program at `index` of the program array `map` (the value the program had
 * in r2). NULL means no program there: execution continues after the call,
 * as in the kernel. The returned vm must be loaded (and JIT-compiled, when
 * the caller runs JIT code) and stay alive while programs run.
 */
typedef struct bext_vm *(*bext_tail_call_fn)(void *user, uint64_t map, uint32_t index);

/*
 * Inlined map lookups (added by "inline"). The JIT may replace a call to
 * helper 1 (bpf_map_lookup_elem) by native code computing the value address
 * itself, as the kernel's JIT does for arrays, when r1 at the call is a map
 * pointer the program loaded with a map lddw pseudo form (BPF_PSEUDO_MAP_FD
 * or BPF_PSEUDO_MAP_IDX) earlier in the same basic block. The owner of the
 * helper table describes such a map through a bext_inline_lookup_fn; the
 * inlined code must return exactly what the registered helper 1 would:
 *
 *   key = *(u32 *)r2
 *   key >= max_entries             -> r0 = 0
 *   ARRAY                          -> r0 = base + key * elem_stride
 *   PERCPU_ARRAY, cpu = the s32 at thread pointer + cpu_tp_off (rseq cpu_id):
 *     (u32)cpu < nr_cpus           -> r0 = base + key * elem_stride + cpu * cpu_stride
 *     otherwise                    -> r0 = helper 1 (r1, r2), called as usual
 */
enum bext_inline_kind {
	BEXT_INLINE_NONE = 0, /* do not inline: call the helper */
	BEXT_INLINE_ARRAY = 1,
	BEXT_INLINE_PERCPU_ARRAY = 2,
};

struct bext_inline_lookup {
	uint32_t kind; /* enum bext_inline_kind */
	uint32_t max_entries;
	uint64_t base;	      /* address of key 0's value (per-CPU: of CPU 0's slot) */
	uint64_t elem_stride; /* bytes from key i to key i + 1 */
	uint64_t cpu_stride;  /* per-CPU: bytes from CPU c's slot to CPU c + 1's */
	uint32_t nr_cpus;     /* per-CPU: slots per key */
	uint32_t reserved;
	int64_t cpu_tp_off; /* per-CPU: where the s32 CPU id is, from the thread pointer */
};

/*
 * Fills *out for the map pointer `map` (the value the program's map lddw
 * loaded). Returns 0 with out->kind set (BEXT_INLINE_NONE: call the helper),
 * or a negative errno (also: call the helper). Called at JIT compile time;
 * what it describes must stay valid while the JIT code may run.
 */
typedef int (*bext_inline_lookup_fn)(void *user, uint64_t map, struct bext_inline_lookup *out);

/*
 * Sets the describer of inlinable lookups (NULL: never inline). Only consulted
 * by the JIT, without constant blinding, for helper 1 when it is not the
 * unwinding helper. bext_helpers__register_all() installs one for the maps
 * of <bext/map.h> when it registers bpf_map_lookup_elem itself.
 */
BEXT_API int bext_vm__set_inline_lookup(struct bext_vm *vm, bext_inline_lookup_fn fn, void *user);
/* How many helper calls the last JIT compilation inlined (0 before compiling). */
BEXT_API size_t bext_vm__jit_inlined(const struct bext_vm *vm);

/* Creates an empty vm. opts may be NULL. Returns NULL and sets errno on failure. */
BEXT_API struct bext_vm *bext_vm__new(const struct bext_vm_opts *opts);
/* Frees the vm, its instructions and its JIT code. Accepts NULL. */
BEXT_API void bext_vm__free(struct bext_vm *vm);

/* Registers fn as helper `id` (< BEXT_MAX_HELPERS). name is copied. -EINVAL, -EEXIST. */
BEXT_API int bext_vm__register_helper(struct bext_vm *vm, uint32_t id, const char *name,
				      bext_helper_fn fn);
/* The registered name of helper id, or NULL. */
BEXT_API const char *bext_vm__helper_name(const struct bext_vm *vm, uint32_t id);
/*
 * Marks helper `id` as an unwinding helper: when it returns 0 the program
 * stops at once with r0 = 0 (bpf_conformance's helper 5 convention).
 */
BEXT_API int bext_vm__set_unwind_helper(struct bext_vm *vm, uint32_t id);
/* Adds a memory region the checked interpreter lets programs touch. */
BEXT_API int bext_vm__add_region(struct bext_vm *vm, void *base, size_t len, bool writable);
BEXT_API int bext_vm__set_pseudo_resolver(struct bext_vm *vm, bext_pseudo_fn fn, void *user);
BEXT_API int bext_vm__set_tail_call_resolver(struct bext_vm *vm, bext_tail_call_fn fn, void *user);

/*
 * Loads a program (copied). Checks what every engine relies on: known
 * opcodes and registers, jump and call targets inside the program and not
 * into the middle of an lddw, lddw pseudo forms resolved, helpers
 * registered, a last instruction that cannot fall off the end. It is not the
 * verifier: memory safety and termination are not proven here.
 * Returns 0 or a negative errno, with a message ("insn 12: ...") in err.
 */
BEXT_API int bext_vm__load(struct bext_vm *vm, const struct bext_insn *insns, size_t n_insns,
			   char *err, size_t err_len);
/* The loaded (relocated) instructions. */
BEXT_API const struct bext_insn *bext_vm__insns(const struct bext_vm *vm, size_t *n_insns);

/* Runs the interpreter. Returns 0 with r0 in *ret, or a negative errno. */
BEXT_API int bext_vm__exec(struct bext_vm *vm, void *ctx, size_t ctx_len, uint64_t *ret);

/*
 * JIT-compiles the program (once; later calls return the same function).
 * Returns NULL and sets errno, with the reason in err, when the program
 * cannot be compiled (unsupported architecture or instruction).
 */
BEXT_API bext_jit_fn bext_vm__jit(struct bext_vm *vm, char *err, size_t err_len);
/* Size in bytes of the JIT'd code, 0 before compilation. */
BEXT_API size_t bext_vm__jit_size(const struct bext_vm *vm);

/*
 * Runs with the chosen engine. BEXT_ENGINE_JIT compiles on first use and
 * falls back to the interpreter, with a warning through bext_set_print(),
 * when it cannot compile. Returns 0 with r0 in *ret, or a negative errno.
 */
BEXT_API int bext_vm__run(struct bext_vm *vm, enum bext_engine engine, void *ctx, size_t ctx_len,
			  uint64_t *ret);

/*
 * Callbacks: a helper calling back into the running program, as bpf_loop
 * (181) and bpf_for_each_map_elem (164) do.
 *
 * A program passes a callback as a "function value": the register loaded by
 * a BPF_PSEUDO_FUNC lddw (`lddw r2, func cb`), which the helper receives as
 * one of r1..r5 like any other argument. Its numeric value is engine-specific
 * (an instruction address for the interpreter, a code address for the JIT);
 * a helper must treat it as opaque and only hand it back here.
 *
 * bext_vm__call_func() runs that function, from inside a helper, on the
 * engine and in the run that called the helper: the function gets r1-r5, a
 * fresh 512-byte stack frame (its own r10) and returns r0 in *ret. It is a
 * nested call for the call-depth limit: the callback's frame counts as one
 * more frame below the helper's caller, and calls it makes count on top
 * (at most BEXT_MAX_CALL_DEPTH frames over the whole nesting, callbacks
 * within callbacks included). Tail calls from a callback fail like a missing
 * program (it is not the main frame). In checked mode the callback may touch
 * the ctx and the active stack frames of the runs it is nested in (so a
 * bpf_loop ctx pointer into the caller's stack works).
 *
 * The current run is found through a thread-local record set by
 * bext_vm__exec() and bext_vm__run() (and by each callback) for their
 * duration; a JIT'd function called directly through its bext_jit_fn pointer
 * has none, so its helpers cannot call back (-EINVAL or -ENOENT).
 *
 * vm: the running program's vm, or NULL for "the program running on this
 * thread" (bext_vm__current(); after a tail call, the tail-called program).
 * Returns 0 with r0 in *ret, or:
 *   -ENOENT  no program is running on this thread
 *   -EINVAL  func_value is not a function value of the running program (it
 *            is never called: no jump to an arbitrary address), vm is not the
 *            running program, ret is NULL, or the callback itself ended with
 *            a bad callx
 *   -E2BIG   call depth exceeded (by the callback itself, or inside it)
 *   -EFAULT  (checked interpreter) a bad memory access inside the callback
 * with a message in bext_vm__last_error(). An error inside the callback ends
 * the callback only; the helper decides what its caller sees. An unwinding
 * helper (bext_vm__set_unwind_helper) returning 0 inside the callback ends
 * the callback with r0 = 0, not the whole program.
 */
BEXT_API int bext_vm__call_func(struct bext_vm *vm, uint64_t func_value, uint64_t r1, uint64_t r2,
				uint64_t r3, uint64_t r4, uint64_t r5, uint64_t *ret);
/* The vm whose program runs on this thread (innermost run), or NULL. */
BEXT_API struct bext_vm *bext_vm__current(void);

/* The message of the last failed load, compile or run (empty if none). */
BEXT_API const char *bext_vm__last_error(const struct bext_vm *vm);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_VM_H */

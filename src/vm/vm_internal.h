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
	 * Valid callx targets (added by "vm"): func_entry[i] != 0 when a
	 * BPF_PSEUDO_FUNC lddw of this program points at insn i. Set by
	 * bext_vm__load(); n_insns bytes.
	 */
	uint8_t *func_entry;

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
extern __thread int bext_jit_run_error;     /* 0 or a negative errno */
extern __thread int64_t bext_jit_run_error_insn; /* insn index, -1 if unknown */
BEXT_HIDDEN void bext_jit_set_run_error(int err_no, int64_t insn);

/* The interpreter (interp.c): runs vm->insns, returns 0 with r0 or a negative errno. */
BEXT_HIDDEN int bext_interp_run(struct bext_vm *vm, void *ctx, size_t ctx_len, uint64_t *ret);

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

/* Sets vm->err (and returns -err_no) in one go. */
__attribute__((format(printf, 3, 4))) int bext_vm_error(struct bext_vm *vm, int err_no,
							const char *fmt, ...);

#endif

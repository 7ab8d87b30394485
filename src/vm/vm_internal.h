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

	char err[256];
};

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

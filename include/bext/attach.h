/* SPDX-License-Identifier: MIT */
/*
 * bext/attach.h - hooks installed in the running process by binary rewriting
 * (x86-64): uprobes at a function's entry (or entry + offset), uretprobes at
 * its return, and programs that override the function's result.
 *
 * A hook patches the first instructions of a function with a 5-byte jump to
 * a trampoline placed within +-2 GiB. The trampoline builds an x86-64 kernel
 * `struct pt_regs` on the stack, calls the attached programs in attach order,
 * then runs the relocated original instructions and jumps back. Several
 * attachments on one function share one patch; the last detach removes it.
 *
 * Threads: attach/detach may be called while other threads run through the
 * patched function (the patch is installed so that no thread ever executes a
 * half-written instruction); attach/detach calls themselves are serialised
 * internally.
 */
#ifndef BEXT_ATTACH_H
#define BEXT_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/common.h>
#include <bext/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bext_attach_kind {
	BEXT_ATTACH_UPROBE = 0,	   /* at entry (or entry + offset) */
	BEXT_ATTACH_URETPROBE = 1, /* when the function returns; ctx rax = return value */
};

struct bext_attach_opts {
	size_t sz; /* sizeof(struct bext_attach_opts) */
	enum bext_attach_kind kind;
	uint64_t cookie;     /* bpf_get_attach_cookie() */
	bool allow_override; /* the program may call bpf_override_return (uprobe at entry only) */
	/*
	 * The vm prog was JIT-compiled from (optional; must stay loaded while
	 * attached). Its instructions tell which work a hit can skip: a program
	 * that calls no helper runs without saving xmm0-7, and one that reads no
	 * run info (get_func_ip, get_attach_cookie, get_stack/get_stackid, tail
	 * calls) without setting it. NULL: prog may do anything (a C function).
	 */
	const struct bext_vm *vm;
};

struct bext_attachment;

/*
 * Attaches prog (a JIT-compiled program; called as prog(&pt_regs, sizeof
 * pt_regs)) at addr, which must be the entry of a function (or a point inside
 * it reached by a function-entry offset, for uprobes). Returns NULL and sets
 * errno with a message in err when the site cannot be patched safely:
 * function too short, a branch target inside the patched bytes, an
 * instruction that cannot be relocated, no trampoline memory within +-2 GiB.
 */
BEXT_API struct bext_attachment *bext_attach(void *addr, bext_jit_fn prog,
					     const struct bext_attach_opts *opts, char *err,
					     size_t err_len);

/* Removes one attachment (the patch too when it was the last). Accepts NULL.
 * Returns 0 or a negative errno. After it returns no thread starts prog again
 * from this attachment; threads already inside prog finish normally. */
BEXT_API int bext_detach(struct bext_attachment *a);

/*
 * Resolves a symbol of this process: in the main executable (path NULL or
 * matching /proc/self/exe) or in a loaded shared object whose path or basename
 * matches `path`, from .symtab and .dynsym (PIE and non-PIE). Returns 0 and
 * the run-time address, or -ENOENT with a message.
 */
BEXT_API int bext_attach__resolve(const char *path, const char *symbol, uint64_t offset,
				  void **addr, char *err, size_t err_len);

/*
 * Code that goes away. bext keeps, per probed address, the bytes it replaced;
 * once the code there is unmapped (a library dlclose'd), restoring them would
 * write into whatever is mapped there next. These calls make bext forget such
 * sites: it never writes to their addresses again, their programs no longer
 * run, and bext_detach() on their attachments only frees them (no write).
 * A later bext_attach() at the same address patches the new code there.
 */

/*
 * Runs unload(arg) (e.g. the real dlclose) with attach and detach held off,
 * then forgets every site inside the loaded objects (dl_iterate_phdr) that
 * unload() made disappear. A call nested in unload() (a destructor calling
 * dlclose) runs its unload at once: the outer call covers it. Returns
 * unload()'s result, or -EDEADLK without calling it when attach/detach stayed
 * busy for timeout_ms (the caller then keeps the object: unloading it
 * unseen could let a patch in progress write into it). *forgot (may be NULL)
 * = sites forgotten.
 */
BEXT_API int bext_attach__unload(int (*unload)(void *arg), void *arg, unsigned timeout_ms,
				 unsigned *forgot);

/* Forgets the sites whose patched bytes lie in [lo, hi), which the caller
 * knows to be unmapped (or no longer the code that was probed). Returns the
 * number of sites forgotten. */
BEXT_API unsigned bext_attach__forget_range(uintptr_t lo, uintptr_t hi);

/* Whether a's site was forgotten (its code unloaded): a may only be detached. */
BEXT_API bool bext_attach__forgotten(const struct bext_attachment *a);

/*
 * bpf_override_return (kernel helper id 58) for programs run by attachments
 * made with allow_override: register it in the program's vm as helper 58.
 * bpf_override_return(ctx, rc) makes the probed function return rc to its
 * caller at once, without running (after every entry program ran; the last
 * call wins). Called from any other program it returns -EPERM and does
 * nothing (the kernel refuses such programs at load time instead).
 */
#define BEXT_ATTACH_OVERRIDE_RETURN_ID 58u
BEXT_API uint64_t bext_attach__override_return_helper(uint64_t ctx, uint64_t rc, uint64_t r3,
						      uint64_t r4, uint64_t r5);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_ATTACH_H */

/* SPDX-License-Identifier: MIT */
/*
 * x86-64 pieces of binary rewriting used by src/attach: site analysis and
 * instruction relocation (Zydis), memory near a target, text writes, and the
 * trampoline template of tramp_x86_64.S. Internal to libbext.
 */
#ifndef BEXT_PATCH_X86_64_H
#define BEXT_PATCH_X86_64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common_internal.h"

#define BEXT_X86_JMP_LEN 5u
#define BEXT_X86_MAX_PATCH 20u	/* displaced bytes: at most 5 + one 15-byte insn */
#define BEXT_X86_MAX_RELOC 256u /* relocated code incl. the jmp back */

/* The x86-64 kernel struct pt_regs, the ctx of uprobe programs. */
struct bext_pt_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
_Static_assert(sizeof(struct bext_pt_regs) == 168, "pt_regs layout");
_Static_assert(__builtin_offsetof(struct bext_pt_regs, rax) == 80, "pt_regs rax");
_Static_assert(__builtin_offsetof(struct bext_pt_regs, rip) == 128, "pt_regs rip");
_Static_assert(__builtin_offsetof(struct bext_pt_regs, rsp) == 152, "pt_regs rsp");

/* The patch point of a site: what analysis found. */
struct bext_x86_site_info {
	unsigned skip;	    /* endbr64 kept in place at addr: patch = addr + skip */
	unsigned patch_len; /* whole instructions displaced, >= 5 */
	unsigned n_insn;
};

/*
 * Checks that a 5-byte jmp can be placed at addr (inside the function
 * [func, func + func_size)): decodes the whole function linearly, refuses
 * undecodable bytes, a function shorter than the patch, a relative branch
 * (or RIP-relative address) into the displaced bytes, and an int3 there.
 * When addr == func and it starts with endbr64, the endbr64 stays and the
 * patch goes after it. Returns 0 or -EINVAL/-ENOTSUP with a message.
 */
BEXT_HIDDEN int bext_x86_analyze(const uint8_t *func, size_t func_size, const uint8_t *addr,
				 struct bext_x86_site_info *si, char *err, size_t err_len);

/* Relocated copy of the displaced instructions, followed by jmp back. */
struct bext_x86_reloc {
	uint8_t code[BEXT_X86_MAX_RELOC];
	size_t len;
	/* instruction starts inside the patch (offset > 0) -> offset in code */
	unsigned nb;
	uint8_t b_orig[BEXT_X86_MAX_PATCH];
	uint16_t b_new[BEXT_X86_MAX_PATCH];
};

/*
 * Relocates the patch_len bytes at src (executed at run time from src) so
 * that they run at dst_addr, ending with a jump to src + patch_len.
 * Returns 0 or -ENOTSUP/-ERANGE with a message.
 */
BEXT_HIDDEN int bext_x86_relocate(const uint8_t *src, unsigned patch_len, uint64_t dst_addr,
				  struct bext_x86_reloc *r, char *err, size_t err_len);

/* Maps `size` bytes (page multiple) read+write within +-2 GiB (minus slack) of
 * near. NULL + errno. */
BEXT_HIDDEN void *bext_x86_alloc_near(const void *near, size_t size);

/* Writes n bytes of code at dst (mprotect'ing the pages writable while
 * keeping them executable, then back to their /proc/self/maps protection). */
BEXT_HIDDEN int bext_x86_text_write(void *dst, const void *src, size_t n);

/* The trampoline templates (tramp_x86_64.S): at a function's entry, inside a function. */
extern const uint8_t bext_tramp_entry_start[], bext_tramp_entry_end[];
extern const uint8_t bext_tramp_entry_ip[], bext_tramp_entry_site[], bext_tramp_entry_tls[];
extern const uint8_t bext_tramp_mid_start[], bext_tramp_mid_end[];
extern const uint8_t bext_tramp_mid_ip[], bext_tramp_mid_site[], bext_tramp_mid_tls[];
extern const uint8_t bext_uret_tramp[];

/* Builds the whole trampoline for a site at `tramp` (writable, size bytes):
 * the entry or mid template with ip/site/tls_off (offset of the hit path's
 * per-thread state from the thread pointer), then the relocated code.
 * Returns the offset of the relocated code or a negative errno. */
BEXT_HIDDEN long bext_x86_build_tramp(uint8_t *tramp, size_t size, bool at_entry, uint64_t ip,
				      void *site, int64_t tls_off, const uint8_t *patch,
				      unsigned patch_len, struct bext_x86_reloc *r, char *err,
				      size_t err_len);

#endif

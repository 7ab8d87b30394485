/* SPDX-License-Identifier: MIT */
/*
 * Trampoline code for bext's uprobes (see docs/ATTACH.md).
 *
 * bext_tramp_tmpl_start .. bext_tramp_tmpl_end is a position-independent
 * template copied into every site's trampoline page (near the probed code);
 * three movabs immediates are patched per copy (probe ip, site, dispatcher).
 * The relocated original instructions and a jmp back follow the copy.
 *
 * bext_uret_tramp is the one return trampoline every uretprobe'd call
 * returns into. Its unwind info (FDE starting one byte before the label,
 * personality bext_uret_personality) lets C++ exceptions and forced unwinds
 * pass through: the personality writes the real return address back into
 * the stack slot the FDE names before the unwinder reads it.
 *
 * Frame built by both (16-byte aligned, 304 bytes):
 *   0..167   struct pt_regs (r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx
 *            rdx rsi rdi orig_rax rip cs eflags rsp ss)
 *   168      entry: pointer to {saved rax, saved rflags}
 *   176..303 xmm0..xmm7
 */
#define FRAME 304

	.macro SAVE_GPRS_BUT_RAX
	mov %r15, 0(%rsp)
	mov %r14, 8(%rsp)
	mov %r13, 16(%rsp)
	mov %r12, 24(%rsp)
	mov %rbp, 32(%rsp)
	mov %rbx, 40(%rsp)
	mov %r11, 48(%rsp)
	mov %r10, 56(%rsp)
	mov %r9, 64(%rsp)
	mov %r8, 72(%rsp)
	mov %rcx, 88(%rsp)
	mov %rdx, 96(%rsp)
	mov %rsi, 104(%rsp)
	mov %rdi, 112(%rsp)
	movq $-1, 120(%rsp)
	movq $0x33, 136(%rsp)
	movq $0x2b, 160(%rsp)
	.endm

	.macro RESTORE_GPRS_BUT_RAX rbp=1
	mov 0(%rsp), %r15
	mov 8(%rsp), %r14
	mov 16(%rsp), %r13
	mov 24(%rsp), %r12
	.if \rbp
	mov 32(%rsp), %rbp
	.endif
	mov 40(%rsp), %rbx
	mov 48(%rsp), %r11
	mov 56(%rsp), %r10
	mov 64(%rsp), %r9
	mov 72(%rsp), %r8
	mov 88(%rsp), %rcx
	mov 96(%rsp), %rdx
	mov 104(%rsp), %rsi
	mov 112(%rsp), %rdi
	.endm

	.macro SAVE_XMM
	movaps %xmm0, 176(%rsp)
	movaps %xmm1, 192(%rsp)
	movaps %xmm2, 208(%rsp)
	movaps %xmm3, 224(%rsp)
	movaps %xmm4, 240(%rsp)
	movaps %xmm5, 256(%rsp)
	movaps %xmm6, 272(%rsp)
	movaps %xmm7, 288(%rsp)
	.endm

	.macro RESTORE_XMM
	movaps 176(%rsp), %xmm0
	movaps 192(%rsp), %xmm1
	movaps 208(%rsp), %xmm2
	movaps 224(%rsp), %xmm3
	movaps 240(%rsp), %xmm4
	movaps 256(%rsp), %xmm5
	movaps 272(%rsp), %xmm6
	movaps 288(%rsp), %xmm7
	.endm

	.text
	.globl bext_tramp_tmpl_start, bext_tramp_tmpl_end
	.globl bext_tramp_tmpl_ip, bext_tramp_tmpl_site, bext_tramp_tmpl_fn
	.hidden bext_tramp_tmpl_start, bext_tramp_tmpl_end
	.hidden bext_tramp_tmpl_ip, bext_tramp_tmpl_site, bext_tramp_tmpl_fn
	.p2align 4
bext_tramp_tmpl_start:
	lea -128(%rsp), %rsp		/* skip the red zone of a leaf function */
	pushfq
	push %rax
	mov %rsp, %rax
	and $-16, %rsp
	sub $FRAME, %rsp
	mov %rax, 168(%rsp)
	SAVE_GPRS_BUT_RAX
	mov (%rax), %rcx
	mov %rcx, 80(%rsp)		/* rax */
	mov 8(%rax), %rcx
	mov %rcx, 144(%rsp)		/* eflags */
	lea 144(%rax), %rcx
	mov %rcx, 152(%rsp)		/* rsp at the probe */
	movabs $0x1111111111111111, %rcx
bext_tramp_tmpl_ip:
	mov %rcx, 128(%rsp)		/* rip = probed address */
	SAVE_XMM
	movabs $0x2222222222222222, %rdi
bext_tramp_tmpl_site:
	mov %rsp, %rsi
	movabs $0x3333333333333333, %rax
bext_tramp_tmpl_fn:
	call *%rax
	test %eax, %eax
	jz 1f
	/* override: return pt_regs.rax to the caller without running the function */
	mov 80(%rsp), %rax
	mov 168(%rsp), %rsp
	lea 144(%rsp), %rsp
	ret
1:
	RESTORE_XMM
	RESTORE_GPRS_BUT_RAX
	mov 168(%rsp), %rsp
	pop %rax
	popfq
	lea 128(%rsp), %rsp
bext_tramp_tmpl_end:

/* ---- return trampoline ------------------------------------------------------------ */
	.globl bext_uret_tramp
	.hidden bext_uret_tramp
	.p2align 4
	.cfi_startproc
	.cfi_personality 0x9b, DW.ref.bext_uret_personality
	/* here (and at the nop before the label, which is what an unwinder looks
	 * up for a return address equal to bext_uret_tramp): CFA = rsp, the
	 * return address in the slot just below the CFA */
	.cfi_def_cfa %rsp, 0
	.cfi_offset %rip, -8
	nop
bext_uret_tramp:
	lea -8(%rsp), %rsp		/* rsp = the return-address slot again */
	.cfi_def_cfa_offset 8
	pushfq
	.cfi_def_cfa_offset 16
	push %rbp
	.cfi_def_cfa_offset 24
	.cfi_offset %rbp, -24
	mov %rsp, %rbp
	.cfi_def_cfa_register %rbp
	and $-16, %rsp
	sub $FRAME, %rsp
	SAVE_GPRS_BUT_RAX
	mov %rax, 80(%rsp)
	mov 0(%rbp), %rax
	mov %rax, 32(%rsp)		/* rbp */
	mov 8(%rbp), %rax
	mov %rax, 144(%rsp)		/* eflags */
	lea 24(%rbp), %rax
	mov %rax, 152(%rsp)		/* rsp after the return */
	SAVE_XMM
	mov %rsp, %rdi
	call bext_attach__ret_dispatch	/* returns the original return address */
	mov %rax, 16(%rbp)
	RESTORE_XMM
	RESTORE_GPRS_BUT_RAX 0		/* rbp: popped below */
	mov 80(%rsp), %rax
	mov %rbp, %rsp
	.cfi_def_cfa_register %rsp
	pop %rbp
	.cfi_restore %rbp
	.cfi_def_cfa_offset 16
	popfq
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc

	.hidden DW.ref.bext_uret_personality
	.weak DW.ref.bext_uret_personality
	.section .data.rel.local.DW.ref.bext_uret_personality,"awG",@progbits,DW.ref.bext_uret_personality,comdat
	.p2align 3
	.type DW.ref.bext_uret_personality, @object
	.size DW.ref.bext_uret_personality, 8
DW.ref.bext_uret_personality:
	.quad bext_uret_personality

	.section .note.GNU-stack,"",@progbits

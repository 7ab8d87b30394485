/* SPDX-License-Identifier: MIT */
/*
 * Trampoline code for bext's uprobes (see docs/ATTACH.md, "The hit path").
 *
 * Two position-independent templates are copied into a site's trampoline
 * page (near the probed code): bext_tramp_entry_* for a probe at a
 * function's first instruction, bext_tramp_mid_* for a probe inside a
 * function. Three movabs immediates are patched per copy (probe ip, site,
 * TLS offset of bext_attach_tls); the relocated original instructions and a
 * jmp back follow the copy.
 *
 * The hit path, all in the template (C is called only when needed):
 *   build struct pt_regs on the stack (GPRs only)
 *   thread not registered yet?  -> site->init_fn (once per thread)
 *   already inside a probe?     -> skip, site->nested++ (recursion guard)
 *   tls.seq++ (odd: inside; the detach grace period waits for it)
 *   p = site->progs (immutable, replaced by attach/detach)
 *   p->flags & XMM:    save xmm0-7 (some program here calls a helper)
 *   p->flags & DIRECT: p->direct(&pt_regs, 168)   (one program, nothing else)
 *   p->flags & DISPATCH: site->dispatch_fn(site, &pt_regs, p)  (the rest, in C)
 *   p->flags & ARM:    push {slot, return address, site} on the thread's
 *                      shadow stack, slot := bext_uret_tramp (the rare cases:
 *                      site->push_fn in C)
 *   tls.seq++ (even)
 *   restore (xmm0-7 when saved), relocated instructions, jmp back
 *
 * Flags: at a function's first instruction nothing live is in rflags (the
 * SysV ABI preserves no flag across a call and requires DF = 0 at entry and
 * return; nothing here sets DF), so the entry template records rflags in
 * pt_regs but does not restore them; the mid template saves and restores
 * them (pushfq/popfq) and skips the leaf red zone.
 *
 * bext_uret_tramp is the one return trampoline every uretprobe'd call
 * returns into. It pops the shadow stack (the rare cases in C), runs the
 * uretprobe programs (saving st0/st1 when they may call C code), and goes
 * back to the caller with an indirect jmp, not a ret: the ret into
 * bext_uret_tramp already consumed the caller's return-stack-buffer entry,
 * so a ret here would mispredict, and so would every ret above it. Its unwind info (FDE starting one byte before the label,
 * personality bext_uret_personality) lets C++ exceptions and forced unwinds
 * pass through: the personality writes the real return address back into
 * the stack slot the FDE names before the unwinder reads it.
 *
 * Frame built by both (16-byte aligned, 304 bytes):
 *   0..167   struct pt_regs (r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx
 *            rdx rsi rdi orig_rax rip cs eflags rsp ss)
 *   168      entry: pointer to {saved rax, saved rflags}
 *   176..303 xmm0..xmm7 (only when saved)
 *
 * The offsets below are checked against the C structs in attach.c.
 */
#define FRAME 304

#define TLS_SEQ 0		/* struct bext_tls */
#define TLS_REG 8
#define SITE_PROGS 0		/* struct bext_site */
#define SITE_INIT 8
#define SITE_DISPATCH 16
#define SITE_NESTED 24
#define SITE_URET 32
#define SITE_PUSH 40
#define TLS_TOP 12
#define TLS_SS 24
#define SHADOW_DEPTH 256	/* entries of 24 bytes: {slot, return address, site} */
#define P_FLAGS 0		/* struct prog_arr */
#define P_DIRECT 8
#define P_DIRECT_RET 16
#define F_XMM 1			/* prog_arr flags */
#define F_DIRECT 2
#define F_DISPATCH 4
#define F_RET_X87 8
#define F_RET_DIRECT 16
#define F_ARM 128

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

	/*
	 * One template. Registers while inside: rbx = site, r12 = TLS offset,
	 * r13 = program set, r14d = its flags (all callee-saved, all restored
	 * from pt_regs at the end).
	 */
	.macro TRAMP p, mid
	.globl \p\()_start, \p\()_end, \p\()_ip, \p\()_site, \p\()_tls
	.hidden \p\()_start, \p\()_end, \p\()_ip, \p\()_site, \p\()_tls
	.p2align 4
\p\()_start:
	.if \mid
	lea -128(%rsp), %rsp		/* skip the red zone of a leaf function */
	.endif
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
	.if \mid
	lea 144(%rax), %rcx
	.else
	lea 16(%rax), %rcx
	.endif
	mov %rcx, 152(%rsp)		/* rsp at the probe */
	movabs $0x1111111111111111, %rcx
\p\()_ip:
	mov %rcx, 128(%rsp)		/* rip = probed address */
	movabs $0x2222222222222222, %rbx
\p\()_site:
	movabs $0x4444444444444444, %r12
\p\()_tls:
	cmpb $0, %fs:TLS_REG(%r12)
	je 7f				/* first hit on this thread */
1:
	testb $1, %fs:TLS_SEQ(%r12)
	jnz 8f				/* inside a probe already: skip */
	incq %fs:TLS_SEQ(%r12)		/* odd: inside */
	mov SITE_PROGS(%rbx), %r13	/* after the seq store: see synchronize() */
	mov P_FLAGS(%r13), %r14d
	xor %eax, %eax
	test $F_XMM, %r14d
	jz 2f
	SAVE_XMM
2:
	test $F_DIRECT, %r14d
	jz 3f
	mov %rsp, %rdi
	mov $168, %esi
	call *P_DIRECT(%r13)
	xor %eax, %eax
	jmp 10f
3:
	test $F_DISPATCH, %r14d
	jz 10f
	mov %rbx, %rdi
	mov %rsp, %rsi
	mov %r13, %rdx
	call *SITE_DISPATCH(%rbx)	/* returns 1: override */
10:	/* uretprobes: arm the return (after the entry programs, so an
	 * overriding return still reaches them) */
	test $F_ARM, %r14d
	jz 4f
	mov %eax, %r15d			/* override */
	mov 152(%rsp), %rdx		/* the return-address slot */
	mov %fs:TLS_SS(%r12), %rdi
	test %rdi, %rdi
	jz 12f				/* no stack yet on this thread: C maps it */
	mov %fs:TLS_TOP(%r12), %ecx
	cmp $SHADOW_DEPTH, %ecx
	jae 12f				/* full: C counts it */
	lea (%rcx,%rcx,2), %rsi
	lea (%rdi,%rsi,8), %rsi		/* &ss[top] */
	test %ecx, %ecx
	jz 11f
	cmp %rdx, -24(%rsi)
	jbe 12f				/* top entry at or below this slot: stale ones, or a tail call */
11:
	mov %rdx, (%rsi)		/* entry = {slot, return address, site} */
	mov (%rdx), %rdi
	mov %rdi, 8(%rsi)
	mov %rbx, 16(%rsi)
	inc %ecx
	mov %ecx, %fs:TLS_TOP(%r12)
	mov SITE_URET(%rbx), %rdi
	mov %rdi, (%rdx)		/* the function returns into bext_uret_tramp */
	jmp 13f
12:
	mov %rbx, %rdi
	mov %rdx, %rsi
	call *SITE_PUSH(%rbx)
13:
	mov %r15d, %eax
4:
	incq %fs:TLS_SEQ(%r12)		/* even: left */
	test $F_XMM, %r14d
	jz 5f
	RESTORE_XMM
5:
	test %eax, %eax
	jnz 9f
6:
	RESTORE_GPRS_BUT_RAX
	mov 168(%rsp), %rsp
	pop %rax
	.if \mid
	popfq
	lea 128(%rsp), %rsp
	.else
	lea 8(%rsp), %rsp		/* rflags: not restored (see above) */
	.endif
	jmp \p\()_end
7:	/* first hit on this thread: register it (C, may lock and allocate) */
	SAVE_XMM
	call *SITE_INIT(%rbx)
	RESTORE_XMM
	test %eax, %eax
	jz 1b
	jmp 6b				/* thread exiting: no programs */
8:
	lock incq SITE_NESTED(%rbx)
	jmp 6b
9:	/* override: return pt_regs.rax to the caller without running the function */
	RESTORE_GPRS_BUT_RAX
	mov 80(%rsp), %rax
	mov 168(%rsp), %rsp
	.if \mid
	lea 144(%rsp), %rsp
	.else
	lea 16(%rsp), %rsp
	.endif
	ret
\p\()_end:
	.endm

	.text
	TRAMP bext_tramp_entry, 0
	TRAMP bext_tramp_mid, 1

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
	push %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	mov %rsp, %rbp
	.cfi_def_cfa_register %rbp
	and $-16, %rsp
	sub $FRAME, %rsp
	SAVE_GPRS_BUT_RAX
	mov %rax, 80(%rsp)
	mov 0(%rbp), %rax
	mov %rax, 32(%rsp)		/* rbp */
	pushfq				/* recorded; flags are dead after a return */
	pop %rax
	mov %rax, 144(%rsp)		/* eflags */
	lea 16(%rbp), %rax
	mov %rax, 152(%rsp)		/* rsp after the return */
	/* xmm0/xmm1 may hold the return value; xmm2-7 are dead at a return
	 * (caller-saved, not return registers): two saves, always */
	movaps %xmm0, 176(%rsp)
	movaps %xmm1, 192(%rsp)
	/* pop the shadow stack: the top entry is this return's unless frames
	 * were left without a return (longjmp): then C drops those first */
	mov bext_attach_tls@gottpoff(%rip), %r12
	lea 8(%rbp), %rdx		/* the return-address slot */
	mov %fs:TLS_TOP(%r12), %ecx
	test %ecx, %ecx
	jz 1f
	dec %ecx
	lea (%rcx,%rcx,2), %rsi
	shl $3, %rsi
	add %fs:TLS_SS(%r12), %rsi	/* &ss[top - 1] */
	cmp %rdx, (%rsi)
	jne 1f
	mov %ecx, %fs:TLS_TOP(%r12)
	mov 8(%rsi), %rax
	mov %rax, 128(%rsp)		/* rip = the real return address */
	mov 16(%rsi), %rbx		/* site */
	jmp 2f
1:
	mov %rsp, %rdi
	call bext_attach__ret_pop_slow	/* sets rip, returns the site (aborts if none) */
	mov %rax, %rbx
2:
	cmpb $0, %fs:TLS_REG(%r12)
	je 9f				/* thread past its TLS destructors */
	testb $1, %fs:TLS_SEQ(%r12)
	jnz 9f				/* a return inside a probe: no programs */
	incq %fs:TLS_SEQ(%r12)		/* odd: inside */
	mov SITE_PROGS(%rbx), %r13	/* after the seq store: see synchronize() */
	mov P_FLAGS(%r13), %r14d
	test $F_ARM, %r14d
	jz 8f				/* uretprobes detached since the call */
	/*
	 * st0 (and st1) may hold a long double (complex) return value. C code
	 * a program calls expects an empty x87 stack (SysV ABI) and may push
	 * up to 8: store and pop the occupied ones (fxam tells an empty
	 * register without raising an exception), load them back after.
	 */
	xor %r15d, %r15d
	test $F_RET_X87, %r14d
	jz 4f
	fxam
	fnstsw %ax
	and $0x4500, %ax		/* C3 C2 C0 */
	cmp $0x4100, %ax		/* empty */
	je 4f
	fstpt 208(%rsp)
	inc %r15d
	fxam
	fnstsw %ax
	and $0x4500, %ax
	cmp $0x4100, %ax
	je 4f
	fstpt 224(%rsp)
	inc %r15d
4:
	mov %rsp, %rdi
	test $F_RET_DIRECT, %r14d
	jz 5f
	mov $168, %esi
	call *P_DIRECT_RET(%r13)
	jmp 6f
5:
	mov %r13, %rsi
	call bext_attach__ret_dispatch
6:
	test %r15d, %r15d
	jz 8f
	cmp $2, %r15d
	jb 7f
	fldt 224(%rsp)
7:
	fldt 208(%rsp)
8:
	incq %fs:TLS_SEQ(%r12)		/* even: left */
9:
	movaps 176(%rsp), %xmm0
	movaps 192(%rsp), %xmm1
	mov 128(%rsp), %rax
	mov %rax, 8(%rbp)		/* the real return address back in its slot */
	RESTORE_GPRS_BUT_RAX 0		/* rbp: popped below */
	mov 128(%rsp), %r11		/* r11: dead at a return (caller-saved, no result) */
	mov 80(%rsp), %rax
	mov %rbp, %rsp
	.cfi_def_cfa_register %rsp
	pop %rbp
	.cfi_restore %rbp
	.cfi_def_cfa_offset 8
	lea 8(%rsp), %rsp
	.cfi_def_cfa_offset 0
	.cfi_register %rip, %r11
	jmp *%r11
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

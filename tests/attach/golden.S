/* SPDX-License-Identifier: MIT */
/* Functions with known first instructions for the relocator's golden tests. */
	.macro FUNC name
	.globl \name
	.type \name, @function
	.p2align 4
\name:
	.endm
	.macro END name
	.size \name, . - \name
	.endm

	.data
	.globl g_value
	.p2align 3
g_value:
	.quad 1000

	.text
/* RIP-relative load first: returns g_value + rdi */
FUNC g_rip_load
	mov g_value(%rip), %rax
	add %rdi, %rax
	ret
END g_rip_load

/* short jmp first (over 6 nops): returns rdi + 7 */
FUNC g_short_jmp
	jmp 1f
	.byte 0x90, 0x90, 0x90, 0x90, 0x90, 0x90
1:	lea 7(%rdi), %rax
	ret
END g_short_jmp

/* test + jcc (rel8) displaced: returns 2 if rdi == 0 else 1 */
FUNC g_jcc
	test %rdi, %rdi
	jz g_jcc_zero
	mov $1, %eax
	ret
	.globl g_jcc_zero
g_jcc_zero:
	mov $2, %eax
	ret
END g_jcc

/* call first: returns rdi + 1 + 10 */
FUNC g_add1
	lea 1(%rdi), %rax
	ret
END g_add1

FUNC g_call
	call g_add1
	add $10, %rax
	ret
END g_call

/* endbr64 then push/mov frame: returns rdi + 3 */
FUNC g_endbr
	endbr64
	push %rbp
	mov %rsp, %rbp
	lea 3(%rdi), %rax
	pop %rbp
	ret
END g_endbr

/* push/mov sequence: returns rdi + 5, rbx preserved */
FUNC g_pushmov
	push %rbx
	mov %rdi, %rbx
	lea 5(%rbx), %rax
	pop %rbx
	ret
END g_pushmov

/* refusals --------------------------------------------------------------- */
/* too short: 4 bytes */
FUNC g_tiny
	mov %rdi, %rax
	ret
END g_tiny

/* loop back to +2, inside the patched bytes */
FUNC g_branch_in
	xor %eax, %eax
1:	inc %eax
	cmp %edi, %eax
	jl 1b
	ret
END g_branch_in

/* an invalid opcode in 64-bit mode (0x06, push es) after the displaced bytes */
FUNC g_undecodable
	mov $1, %eax
	nop
	.byte 0x06
	ret
END g_undecodable

/* loop (rel8, only short form) in the displaced bytes: cannot be relocated */
FUNC g_loop
	mov %rdi, %rcx
	loop 1f
	nop
	nop
	nop
1:	mov %rcx, %rax
	ret
END g_loop

	.section .note.GNU-stack,"",@progbits

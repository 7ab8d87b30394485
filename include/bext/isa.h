/* SPDX-License-Identifier: MIT */
/*
 * bext/isa.h - the eBPF instruction set (RFC 9669) as bext sees it.
 *
 * Instruction encoding is the kernel's: one 64-bit little-endian word per
 * instruction slot, `lddw` taking two slots. The constants below mirror
 * <linux/bpf.h> and <linux/bpf_common.h>, plus the v4 additions the Debian 12
 * UAPI headers predate (BPF_MEMSX, the sign-extension offsets, ja32).
 *
 * Also here: the text assembler and disassembler for the syntax of the
 * bpf_conformance suite (`mov32 %r0, 1`, `ldxdw %r1, [%r10-8]`,
 * `lock fetch add [%r10-8], %r1`, `call local f`, `ja32 L`).
 */
#ifndef BEXT_ISA_H
#define BEXT_ISA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BEXT_API
#define BEXT_API __attribute__((visibility("default")))
#endif

/* Layout-identical to the kernel's struct bpf_insn. */
struct bext_insn {
	uint8_t code;
	uint8_t dst : 4;
	uint8_t src : 4;
	int16_t off;
	int32_t imm;
};

#define BEXT_MAX_INSNS (1u << 20)
#define BEXT_STACK_SIZE 512u	/* bytes of stack per frame */
#define BEXT_MAX_CALL_DEPTH 8u	/* bpf-to-bpf frames, the kernel's limit */
#define BEXT_MAX_TAIL_CALLS 33u /* MAX_TAIL_CALL_CNT */

/* Instruction classes (code & 0x07). */
#define BEXT_CLS_LD 0x00
#define BEXT_CLS_LDX 0x01
#define BEXT_CLS_ST 0x02
#define BEXT_CLS_STX 0x03
#define BEXT_CLS_ALU 0x04
#define BEXT_CLS_JMP 0x05
#define BEXT_CLS_JMP32 0x06
#define BEXT_CLS_ALU64 0x07
#define BEXT_CLASS(code) ((code)&0x07)

/* Size (code & 0x18) and mode (code & 0xe0) for loads and stores. */
#define BEXT_SZ_W 0x00
#define BEXT_SZ_H 0x08
#define BEXT_SZ_B 0x10
#define BEXT_SZ_DW 0x18
#define BEXT_SIZE(code) ((code)&0x18)
#define BEXT_MODE_IMM 0x00
#define BEXT_MODE_ABS 0x20
#define BEXT_MODE_IND 0x40
#define BEXT_MODE_MEM 0x60
#define BEXT_MODE_MEMSX 0x80
#define BEXT_MODE_ATOMIC 0xc0
#define BEXT_MODE(code) ((code)&0xe0)

/* Source operand (code & 0x08): immediate or register. */
#define BEXT_SRC_K 0x00
#define BEXT_SRC_X 0x08
#define BEXT_SRC(code) ((code)&0x08)

/* ALU operations (code & 0xf0). */
#define BEXT_ALU_ADD 0x00
#define BEXT_ALU_SUB 0x10
#define BEXT_ALU_MUL 0x20
#define BEXT_ALU_DIV 0x30 /* off == 1: sdiv */
#define BEXT_ALU_OR 0x40
#define BEXT_ALU_AND 0x50
#define BEXT_ALU_LSH 0x60
#define BEXT_ALU_RSH 0x70
#define BEXT_ALU_NEG 0x80
#define BEXT_ALU_MOD 0x90 /* off == 1: smod */
#define BEXT_ALU_XOR 0xa0
#define BEXT_ALU_MOV 0xb0 /* off == 8/16/32: movsx */
#define BEXT_ALU_ARSH 0xc0
#define BEXT_ALU_END 0xd0 /* ALU: to le (K) / be (X); ALU64 K: bswap */
#define BEXT_OP(code) ((code)&0xf0)

/* Jump operations (code & 0xf0). */
#define BEXT_JMP_JA 0x00 /* JMP32 class: ja32/gotol, 32-bit imm offset */
#define BEXT_JMP_JEQ 0x10
#define BEXT_JMP_JGT 0x20
#define BEXT_JMP_JGE 0x30
#define BEXT_JMP_JSET 0x40
#define BEXT_JMP_JNE 0x50
#define BEXT_JMP_JSGT 0x60
#define BEXT_JMP_JSGE 0x70
#define BEXT_JMP_CALL 0x80
#define BEXT_JMP_EXIT 0x90
#define BEXT_JMP_JLT 0xa0
#define BEXT_JMP_JLE 0xb0
#define BEXT_JMP_JSLT 0xc0
#define BEXT_JMP_JSLE 0xd0

/* Atomic operations (imm of BPF_ATOMIC stores). */
#define BEXT_ATOMIC_FETCH 0x01
#define BEXT_ATOMIC_ADD 0x00
#define BEXT_ATOMIC_OR 0x40
#define BEXT_ATOMIC_AND 0x50
#define BEXT_ATOMIC_XOR 0xa0
#define BEXT_ATOMIC_XCHG (0xe0 | BEXT_ATOMIC_FETCH)
#define BEXT_ATOMIC_CMPXCHG (0xf0 | BEXT_ATOMIC_FETCH)

/* src field of a call instruction. */
#define BEXT_CALL_HELPER 0 /* imm = helper id */
#define BEXT_CALL_LOCAL 1  /* imm = pc-relative target - 1 (bpf-to-bpf) */
#define BEXT_CALL_KFUNC 2  /* imm = BTF id (not supported in userspace) */

/* src field of lddw (pseudo forms, <linux/bpf.h> BPF_PSEUDO_*). */
#define BEXT_PSEUDO_NONE 0
#define BEXT_PSEUDO_MAP_FD 1
#define BEXT_PSEUDO_MAP_VALUE 2
#define BEXT_PSEUDO_BTF_ID 3
#define BEXT_PSEUDO_FUNC 4
#define BEXT_PSEUDO_MAP_IDX 5
#define BEXT_PSEUDO_MAP_IDX_VALUE 6

/* Tail calls go through this helper id (bpf_tail_call). */
#define BEXT_HELPER_TAIL_CALL 12

/* Encoding macros, for building programs in C (tests, tools). */
#define BEXT_INSN(c, d, s, o, i) \
	((struct bext_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})
#define BEXT_ALU64_IMM(op, d, i) BEXT_INSN(BEXT_CLS_ALU64 | (op) | BEXT_SRC_K, d, 0, 0, i)
#define BEXT_ALU64_REG(op, d, s) BEXT_INSN(BEXT_CLS_ALU64 | (op) | BEXT_SRC_X, d, s, 0, 0)
#define BEXT_ALU32_IMM(op, d, i) BEXT_INSN(BEXT_CLS_ALU | (op) | BEXT_SRC_K, d, 0, 0, i)
#define BEXT_ALU32_REG(op, d, s) BEXT_INSN(BEXT_CLS_ALU | (op) | BEXT_SRC_X, d, s, 0, 0)
#define BEXT_MOV64_IMM(d, i) BEXT_ALU64_IMM(BEXT_ALU_MOV, d, i)
#define BEXT_MOV64_REG(d, s) BEXT_ALU64_REG(BEXT_ALU_MOV, d, s)
#define BEXT_MOV32_IMM(d, i) BEXT_ALU32_IMM(BEXT_ALU_MOV, d, i)
#define BEXT_LD_IMM64_LO(d, s, v) \
	BEXT_INSN(BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM, d, s, 0, (int32_t)(uint32_t)(v))
#define BEXT_LD_IMM64_HI(v) BEXT_INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define BEXT_LDX_MEM(sz, d, s, o) BEXT_INSN(BEXT_CLS_LDX | (sz) | BEXT_MODE_MEM, d, s, o, 0)
#define BEXT_STX_MEM(sz, d, s, o) BEXT_INSN(BEXT_CLS_STX | (sz) | BEXT_MODE_MEM, d, s, o, 0)
#define BEXT_ST_MEM(sz, d, o, i) BEXT_INSN(BEXT_CLS_ST | (sz) | BEXT_MODE_MEM, d, 0, o, i)
#define BEXT_ATOMIC(sz, d, s, o, op) BEXT_INSN(BEXT_CLS_STX | (sz) | BEXT_MODE_ATOMIC, d, s, o, op)
#define BEXT_JMP_IMM(op, d, i, o) BEXT_INSN(BEXT_CLS_JMP | (op) | BEXT_SRC_K, d, 0, o, i)
#define BEXT_JMP_REG(op, d, s, o) BEXT_INSN(BEXT_CLS_JMP | (op) | BEXT_SRC_X, d, s, o, 0)
#define BEXT_JA(o) BEXT_INSN(BEXT_CLS_JMP | BEXT_JMP_JA, 0, 0, o, 0)
#define BEXT_CALL_HELPER_INSN(id) \
	BEXT_INSN(BEXT_CLS_JMP | BEXT_JMP_CALL, 0, BEXT_CALL_HELPER, 0, id)
#define BEXT_CALL_LOCAL_INSN(rel) \
	BEXT_INSN(BEXT_CLS_JMP | BEXT_JMP_CALL, 0, BEXT_CALL_LOCAL, 0, rel)
#define BEXT_EXIT_INSN() BEXT_INSN(BEXT_CLS_JMP | BEXT_JMP_EXIT, 0, 0, 0, 0)

/*
 * Assembler.
 *
 * bext_asm() assembles `text` (NUL-terminated) into a newly allocated array
 * stored in *insns (free() it) with its length in slots in *n_insns.
 * On error returns a negative errno (-EINVAL for bad input, -ENOMEM) and,
 * when err is non-NULL, writes "line N: what is wrong" into err.
 */
BEXT_API int bext_asm(const char *text, struct bext_insn **insns, size_t *n_insns, char *err,
		      size_t err_len);

/*
 * Disassembler.
 *
 * bext_disasm_insn() writes the text of the instruction at insns[idx] (no
 * newline) into buf and returns the number of slots it takes (1, or 2 for
 * lddw), or a negative errno for an invalid instruction (the text then says
 * so). Jump and call targets are printed as signed offsets (`+3`, `-2`), so
 * that bext_asm(bext_disasm(x)) == x byte for byte.
 */
BEXT_API int bext_disasm_insn(const struct bext_insn *insns, size_t n_insns, size_t idx, char *buf,
			      size_t buf_len);

/* Disassembles a whole program, one instruction a line, into out. Returns 0
 * or a negative errno (the first invalid instruction). */
BEXT_API int bext_disasm(const struct bext_insn *insns, size_t n_insns, FILE *out);

/* The number of slots the instruction at insns[idx] occupies (2 for lddw),
 * or 0 if it is malformed (lddw without its second slot). */
BEXT_API unsigned bext_insn_slots(const struct bext_insn *insns, size_t n_insns, size_t idx);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_ISA_H */

/* SPDX-License-Identifier: MIT */
/*
 * Private to src/isa: the mnemonic tables the assembler and the disassembler
 * share, so that what one prints the other reads back.
 */
#ifndef BEXT_ISA_INTERNAL_H
#define BEXT_ISA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <bext/isa.h>

/* Everything here has hidden visibility (the default for bext's objects). */
/* Two-operand ALU mnemonics (the `32` suffix selects the ALU class). */
struct isa_alu_op {
	const char *name;
	uint8_t op;  /* BEXT_ALU_* */
	int16_t off; /* 1 for sdiv/smod */
};

/* movsx: ALU/ALU64 MOV with a register source and off = 8/16/32. */
struct isa_movsx_op {
	const char *name;
	uint8_t cls; /* BEXT_CLS_ALU or BEXT_CLS_ALU64 */
	int16_t off;
};

/* Byte-order mnemonics: code and width (imm). */
struct isa_end_op {
	const char *name;
	uint8_t code;
	int32_t imm;
};

struct isa_jmp_op {
	const char *name;
	uint8_t op; /* BEXT_JMP_* */
};

struct isa_atomic_op {
	const char *name; /* after "lock " and before the optional 32 suffix */
	int32_t imm;	  /* BEXT_ATOMIC_* */
};

/* Size letters of loads and stores: b h w dw, indexed by BEXT_SIZE(code) >> 3. */
struct isa_size {
	const char *suffix;
	uint8_t sz;
};

/* Names of the lddw pseudo forms, indexed by src (NULL: none or invalid). */
#define ISA_PSEUDO_MAX BEXT_PSEUDO_MAP_IDX_VALUE

extern const struct isa_alu_op isa_alu_ops[];
extern const unsigned isa_n_alu_ops;
extern const struct isa_movsx_op isa_movsx_ops[];
extern const unsigned isa_n_movsx_ops;
extern const struct isa_end_op isa_end_ops[];
extern const unsigned isa_n_end_ops;
extern const struct isa_jmp_op isa_jmp_ops[];
extern const unsigned isa_n_jmp_ops;
extern const struct isa_atomic_op isa_atomic_ops[];
extern const unsigned isa_n_atomic_ops;
extern const struct isa_size isa_sizes[];
extern const unsigned isa_n_sizes;
extern const char *const isa_pseudo_names[ISA_PSEUDO_MAX + 1];

/* Name of the ALU op `op` with offset `off`, or NULL if that pair is not an op. */
const char *isa_alu_name(uint8_t op, int16_t off);
/* Name of the jump op, or NULL. */
const char *isa_jmp_name(uint8_t op);
/* Size suffix ("b", "h", "w", "dw") of a load/store code. */
const char *isa_size_suffix(uint8_t code);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Instruction-level facts shared by the assembler, disassembler and engines:
 * slot counting and the mnemonic tables (one table per instruction family;
 * the assembler searches them by name, the disassembler by encoding).
 */
#include <stddef.h>

#include "isa_internal.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const struct isa_alu_op isa_alu_ops[] = {
    {"add", BEXT_ALU_ADD, 0}, {"sub", BEXT_ALU_SUB, 0},	 {"mul", BEXT_ALU_MUL, 0},
    {"div", BEXT_ALU_DIV, 0}, {"sdiv", BEXT_ALU_DIV, 1}, {"or", BEXT_ALU_OR, 0},
    {"and", BEXT_ALU_AND, 0}, {"lsh", BEXT_ALU_LSH, 0},	 {"rsh", BEXT_ALU_RSH, 0},
    {"neg", BEXT_ALU_NEG, 0}, {"mod", BEXT_ALU_MOD, 0},	 {"smod", BEXT_ALU_MOD, 1},
    {"xor", BEXT_ALU_XOR, 0}, {"mov", BEXT_ALU_MOV, 0},	 {"arsh", BEXT_ALU_ARSH, 0},
};
const unsigned isa_n_alu_ops = N_OF(isa_alu_ops);

const struct isa_movsx_op isa_movsx_ops[] = {
    {"movsx832", BEXT_CLS_ALU, 8},     {"movsx1632", BEXT_CLS_ALU, 16},
    {"movsx864", BEXT_CLS_ALU64, 8},   {"movsx1664", BEXT_CLS_ALU64, 16},
    {"movsx3264", BEXT_CLS_ALU64, 32},
};
const unsigned isa_n_movsx_ops = N_OF(isa_movsx_ops);

#define LE_CODE (BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_K)
#define BE_CODE (BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_X)
#define BSWAP_CODE (BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_K)

/* The first name of each code/width pair is the one the disassembler prints. */
const struct isa_end_op isa_end_ops[] = {
    {"le16", LE_CODE, 16},	 {"le32", LE_CODE, 32},	      {"le64", LE_CODE, 64},
    {"be16", BE_CODE, 16},	 {"be32", BE_CODE, 32},	      {"be64", BE_CODE, 64},
    {"bswap16", BSWAP_CODE, 16}, {"bswap32", BSWAP_CODE, 32}, {"bswap64", BSWAP_CODE, 64},
    {"swap16", BSWAP_CODE, 16},	 {"swap32", BSWAP_CODE, 32},  {"swap64", BSWAP_CODE, 64},
};
const unsigned isa_n_end_ops = N_OF(isa_end_ops);

/* Conditional jumps only; ja, call and exit are handled on their own. */
const struct isa_jmp_op isa_jmp_ops[] = {
    {"jeq", BEXT_JMP_JEQ},   {"jgt", BEXT_JMP_JGT},   {"jge", BEXT_JMP_JGE},
    {"jset", BEXT_JMP_JSET}, {"jne", BEXT_JMP_JNE},   {"jsgt", BEXT_JMP_JSGT},
    {"jsge", BEXT_JMP_JSGE}, {"jlt", BEXT_JMP_JLT},   {"jle", BEXT_JMP_JLE},
    {"jslt", BEXT_JMP_JSLT}, {"jsle", BEXT_JMP_JSLE},
};
const unsigned isa_n_jmp_ops = N_OF(isa_jmp_ops);

/* "fetch add" etc. are spelled with the fetch keyword; xchg and cmpxchg always fetch. */
const struct isa_atomic_op isa_atomic_ops[] = {
    {"add", BEXT_ATOMIC_ADD},
    {"or", BEXT_ATOMIC_OR},
    {"and", BEXT_ATOMIC_AND},
    {"xor", BEXT_ATOMIC_XOR},
    {"fetch add", BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH},
    {"fetch or", BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH},
    {"fetch and", BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH},
    {"fetch xor", BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH},
    {"xchg", BEXT_ATOMIC_XCHG},
    {"cmpxchg", BEXT_ATOMIC_CMPXCHG},
};
const unsigned isa_n_atomic_ops = N_OF(isa_atomic_ops);

/* Longest suffix first, so that "dw" is tried before "w". */
const struct isa_size isa_sizes[] = {
    {"dw", BEXT_SZ_DW},
    {"b", BEXT_SZ_B},
    {"h", BEXT_SZ_H},
    {"w", BEXT_SZ_W},
};
const unsigned isa_n_sizes = N_OF(isa_sizes);

const char *const isa_pseudo_names[ISA_PSEUDO_MAX + 1] = {
    [BEXT_PSEUDO_NONE] = NULL,
    [BEXT_PSEUDO_MAP_FD] = "map_fd",
    [BEXT_PSEUDO_MAP_VALUE] = "map_value",
    [BEXT_PSEUDO_BTF_ID] = "btf_id",
    [BEXT_PSEUDO_FUNC] = "func",
    [BEXT_PSEUDO_MAP_IDX] = "map_idx",
    [BEXT_PSEUDO_MAP_IDX_VALUE] = "map_idx_value",
};

const char *isa_alu_name(uint8_t op, int16_t off)
{
	for (unsigned i = 0; i < isa_n_alu_ops; i++)
		if (isa_alu_ops[i].op == op && isa_alu_ops[i].off == off)
			return isa_alu_ops[i].name;
	return NULL;
}

const char *isa_jmp_name(uint8_t op)
{
	for (unsigned i = 0; i < isa_n_jmp_ops; i++)
		if (isa_jmp_ops[i].op == op)
			return isa_jmp_ops[i].name;
	return NULL;
}

const char *isa_size_suffix(uint8_t code)
{
	for (unsigned i = 0; i < isa_n_sizes; i++)
		if (isa_sizes[i].sz == BEXT_SIZE(code))
			return isa_sizes[i].suffix;
	return "?";
}

unsigned bext_insn_slots(const struct bext_insn *insns, size_t n_insns, size_t idx)
{
	if (idx >= n_insns)
		return 0;
	if (insns[idx].code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
		return idx + 1 < n_insns ? 2 : 0;
	return 1;
}

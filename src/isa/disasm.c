/* SPDX-License-Identifier: MIT */
/*
 * Disassembler: one instruction to one line of the assembler's syntax.
 *
 * The output is canonical: exactly one spelling per encoding, jump and call
 * targets as signed offsets, so bext_asm() of the text gives back the same
 * bytes. To keep that promise the decoder accepts only encodings the
 * assembler can produce, which are the kernel's valid encodings: any reserved
 * field that is not zero, an unknown opcode, a size/mode pair the ISA does not
 * define or a register above r10 makes the line "invalid ..." and the call
 * returns -EINVAL. Such a line is deliberately not valid assembler input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "isa_internal.h"

static uint64_t insn_word(const struct bext_insn *in)
{
	return (uint64_t)in->code | (uint64_t)in->dst << 8 | (uint64_t)in->src << 12 |
	       (uint64_t)(uint16_t)in->off << 16 | (uint64_t)(uint32_t)in->imm << 32;
}

__attribute__((format(printf, 3, 4))) static int emit(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return 0;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return 0;
}

static int invalid(char *buf, size_t len, const struct bext_insn *in, const char *why)
{
	emit(buf, len, "invalid 0x%016" PRIx64 " (%s)", insn_word(in), why);
	return -EINVAL;
}

/* "[%rN+OFF]", "[%rN-OFF]" or "[%rN]" into mem (at least 24 bytes). */
static void fmt_mem(char *mem, size_t len, unsigned reg, int16_t off)
{
	if (off)
		snprintf(mem, len, "[%%r%u%+d]", reg, off);
	else
		snprintf(mem, len, "[%%r%u]", reg);
}

static int disasm_alu(const struct bext_insn *in, char *buf, size_t len)
{
	bool is32 = BEXT_CLASS(in->code) == BEXT_CLS_ALU;
	const char *sfx = is32 ? "32" : "";
	uint8_t op = BEXT_OP(in->code);
	bool reg = BEXT_SRC(in->code) == BEXT_SRC_X;
	const char *name;

	if (op == BEXT_ALU_END) {
		if (in->src || in->off)
			return invalid(buf, len, in, "reserved field of byte swap not zero");
		for (unsigned i = 0; i < isa_n_end_ops; i++)
			if (isa_end_ops[i].code == in->code && isa_end_ops[i].imm == in->imm)
				return emit(buf, len, "%s %%r%u", isa_end_ops[i].name, in->dst), 1;
		return invalid(buf, len, in, "bad byte swap code or width");
	}
	if (op == BEXT_ALU_NEG) {
		if (reg || in->src || in->off || in->imm)
			return invalid(buf, len, in, "reserved field of neg not zero");
		return emit(buf, len, "neg%s %%r%u", sfx, in->dst), 1;
	}
	if (op > BEXT_ALU_ARSH)
		return invalid(buf, len, in, "unknown ALU operation");
	if (op == BEXT_ALU_MOV && reg && in->off) {
		for (unsigned i = 0; i < isa_n_movsx_ops; i++)
			if (isa_movsx_ops[i].cls == BEXT_CLASS(in->code) &&
			    isa_movsx_ops[i].off == in->off) {
				if (in->imm)
					return invalid(buf, len, in,
						       "reserved field of movsx not zero");
				return emit(buf, len, "%s %%r%u, %%r%u", isa_movsx_ops[i].name,
					    in->dst, in->src),
				       1;
			}
		return invalid(buf, len, in, "bad movsx offset");
	}
	name = isa_alu_name(op, in->off);
	if (!name)
		return invalid(buf, len, in, "bad offset for ALU operation");
	if (reg) {
		if (in->imm)
			return invalid(buf, len, in, "immediate of register ALU op not zero");
		return emit(buf, len, "%s%s %%r%u, %%r%u", name, sfx, in->dst, in->src), 1;
	}
	if (in->src)
		return invalid(buf, len, in, "src of immediate ALU op not zero");
	return emit(buf, len, "%s%s %%r%u, %d", name, sfx, in->dst, in->imm), 1;
}

static int disasm_jmp(const struct bext_insn *in, char *buf, size_t len)
{
	bool is32 = BEXT_CLASS(in->code) == BEXT_CLS_JMP32;
	const char *sfx = is32 ? "32" : "";
	uint8_t op = BEXT_OP(in->code);
	bool reg = BEXT_SRC(in->code) == BEXT_SRC_X;
	const char *name;

	switch (op) {
	case BEXT_JMP_JA:
		if (reg || in->dst || in->src)
			return invalid(buf, len, in, "reserved field of ja not zero");
		if (is32) {
			if (in->off)
				return invalid(buf, len, in, "offset of ja32 not zero");
			return emit(buf, len, "ja32 %+d", in->imm), 1;
		}
		if (in->imm)
			return invalid(buf, len, in, "immediate of ja not zero");
		return emit(buf, len, "ja %+d", in->off), 1;
	case BEXT_JMP_CALL:
		if (is32)
			return invalid(buf, len, in, "call in JMP32 class");
		if (reg) {
			if (in->src || in->off || in->imm)
				return invalid(buf, len, in, "reserved field of callx not zero");
			return emit(buf, len, "call %%r%u", in->dst), 1;
		}
		if (in->dst)
			return invalid(buf, len, in, "dst of call not zero");
		switch (in->src) {
		case BEXT_CALL_HELPER:
			if (in->off)
				return invalid(buf, len, in, "offset of helper call not zero");
			return emit(buf, len, "call %d", in->imm), 1;
		case BEXT_CALL_LOCAL:
			if (in->off)
				return invalid(buf, len, in, "offset of local call not zero");
			return emit(buf, len, "call local %+d", in->imm), 1;
		case BEXT_CALL_KFUNC:
			if (in->off)
				return emit(buf, len, "call kfunc %d, %d", in->imm, in->off), 1;
			return emit(buf, len, "call kfunc %d", in->imm), 1;
		default:
			return invalid(buf, len, in, "unknown call kind");
		}
	case BEXT_JMP_EXIT:
		if (is32)
			return invalid(buf, len, in, "exit in JMP32 class");
		if (reg || in->dst || in->src || in->off || in->imm)
			return invalid(buf, len, in, "reserved field of exit not zero");
		return emit(buf, len, "exit"), 1;
	}
	name = isa_jmp_name(op);
	if (!name)
		return invalid(buf, len, in, "unknown jump operation");
	if (reg) {
		if (in->imm)
			return invalid(buf, len, in, "immediate of register jump not zero");
		return emit(buf, len, "%s%s %%r%u, %%r%u, %+d", name, sfx, in->dst, in->src,
			    in->off),
		       1;
	}
	if (in->src)
		return invalid(buf, len, in, "src of immediate jump not zero");
	return emit(buf, len, "%s%s %%r%u, %d, %+d", name, sfx, in->dst, in->imm, in->off), 1;
}

static int disasm_lddw(const struct bext_insn *insns, size_t n_insns, size_t idx, char *buf,
		       size_t len)
{
	const struct bext_insn *in = &insns[idx], *next;
	uint64_t value;

	if (idx + 1 >= n_insns)
		return invalid(buf, len, in, "lddw without its second slot");
	next = &insns[idx + 1];
	if (in->off)
		return invalid(buf, len, in, "offset of lddw not zero");
	if (next->code || next->dst || next->src || next->off)
		return invalid(buf, len, in, "reserved field of lddw second slot not zero");
	switch (in->src) {
	case BEXT_PSEUDO_NONE:
		value = (uint64_t)(uint32_t)in->imm | (uint64_t)(uint32_t)next->imm << 32;
		return emit(buf, len, "lddw %%r%u, 0x%" PRIx64, in->dst, value), 2;
	case BEXT_PSEUDO_MAP_FD:
	case BEXT_PSEUDO_MAP_IDX:
		if (next->imm)
			return invalid(buf, len, in, "second immediate of map lddw not zero");
		return emit(buf, len, "lddw %%r%u, %s %d", in->dst, isa_pseudo_names[in->src],
			    in->imm),
		       2;
	case BEXT_PSEUDO_MAP_VALUE:
	case BEXT_PSEUDO_MAP_IDX_VALUE:
		return emit(buf, len, "lddw %%r%u, %s %d+%u", in->dst, isa_pseudo_names[in->src],
			    in->imm, (uint32_t)next->imm),
		       2;
	case BEXT_PSEUDO_BTF_ID:
		if (next->imm)
			return emit(buf, len, "lddw %%r%u, btf_id %d fd %d", in->dst, in->imm,
				    next->imm),
			       2;
		return emit(buf, len, "lddw %%r%u, btf_id %d", in->dst, in->imm), 2;
	case BEXT_PSEUDO_FUNC:
		if (next->imm)
			return invalid(buf, len, in, "second immediate of func lddw not zero");
		return emit(buf, len, "lddw %%r%u, func %+d", in->dst, in->imm), 2;
	default:
		return invalid(buf, len, in, "unknown lddw pseudo source");
	}
}

static int disasm_mem(const struct bext_insn *in, char *buf, size_t len)
{
	const char *sz = isa_size_suffix(in->code);
	uint8_t mode = BEXT_MODE(in->code);
	char mem[32];

	switch (BEXT_CLASS(in->code)) {
	case BEXT_CLS_LD:
		if (mode != BEXT_MODE_ABS && mode != BEXT_MODE_IND)
			return invalid(buf, len, in, "unknown LD mode");
		if (BEXT_SIZE(in->code) == BEXT_SZ_DW)
			return invalid(buf, len, in, "legacy packet load of size dw");
		if (in->dst || in->off)
			return invalid(buf, len, in, "reserved field of packet load not zero");
		if (mode == BEXT_MODE_ABS) {
			if (in->src)
				return invalid(buf, len, in, "src of ldabs not zero");
			return emit(buf, len, "ldabs%s %d", sz, in->imm), 1;
		}
		return emit(buf, len, "ldind%s %%r%u, %d", sz, in->src, in->imm), 1;
	case BEXT_CLS_LDX:
		if (in->imm)
			return invalid(buf, len, in, "immediate of load not zero");
		fmt_mem(mem, sizeof(mem), in->src, in->off);
		if (mode == BEXT_MODE_MEM)
			return emit(buf, len, "ldx%s %%r%u, %s", sz, in->dst, mem), 1;
		if (mode == BEXT_MODE_MEMSX && BEXT_SIZE(in->code) != BEXT_SZ_DW)
			return emit(buf, len, "ldxs%s %%r%u, %s", sz, in->dst, mem), 1;
		return invalid(buf, len, in, "bad LDX mode or size");
	case BEXT_CLS_ST:
		if (mode != BEXT_MODE_MEM)
			return invalid(buf, len, in, "bad ST mode");
		if (in->src)
			return invalid(buf, len, in, "src of store immediate not zero");
		fmt_mem(mem, sizeof(mem), in->dst, in->off);
		return emit(buf, len, "st%s %s, %d", sz, mem, in->imm), 1;
	default: /* STX */
		fmt_mem(mem, sizeof(mem), in->dst, in->off);
		if (mode == BEXT_MODE_MEM) {
			if (in->imm)
				return invalid(buf, len, in, "immediate of store not zero");
			return emit(buf, len, "stx%s %s, %%r%u", sz, mem, in->src), 1;
		}
		if (mode != BEXT_MODE_ATOMIC)
			return invalid(buf, len, in, "bad STX mode");
		if (BEXT_SIZE(in->code) != BEXT_SZ_W && BEXT_SIZE(in->code) != BEXT_SZ_DW)
			return invalid(buf, len, in, "atomic operation of size b or h");
		for (unsigned i = 0; i < isa_n_atomic_ops; i++)
			if (isa_atomic_ops[i].imm == in->imm)
				return emit(buf, len, "lock %s%s %s, %%r%u", isa_atomic_ops[i].name,
					    BEXT_SIZE(in->code) == BEXT_SZ_W ? "32" : "", mem,
					    in->src),
				       1;
		return invalid(buf, len, in, "unknown atomic operation");
	}
}

int bext_disasm_insn(const struct bext_insn *insns, size_t n_insns, size_t idx, char *buf,
		     size_t buf_len)
{
	const struct bext_insn *in;

	if (!insns || idx >= n_insns) {
		emit(buf, buf_len, "invalid (no instruction at %zu)", idx);
		return -EINVAL;
	}
	in = &insns[idx];
	if (in->dst > 10)
		return invalid(buf, buf_len, in, "bad dst register");
	if (in->src > 10)
		return invalid(buf, buf_len, in, "bad src register");

	switch (BEXT_CLASS(in->code)) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		return disasm_alu(in, buf, buf_len);
	case BEXT_CLS_JMP:
	case BEXT_CLS_JMP32:
		return disasm_jmp(in, buf, buf_len);
	case BEXT_CLS_LD:
		if (in->code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
			return disasm_lddw(insns, n_insns, idx, buf, buf_len);
		return disasm_mem(in, buf, buf_len);
	default:
		return disasm_mem(in, buf, buf_len);
	}
}

int bext_disasm(const struct bext_insn *insns, size_t n_insns, FILE *out)
{
	char line[128];
	int first_err = 0;

	if (!out || (!insns && n_insns))
		return -EINVAL;
	for (size_t i = 0; i < n_insns;) {
		int ret = bext_disasm_insn(insns, n_insns, i, line, sizeof(line));

		fprintf(out, "%s\n", line);
		if (ret < 0) {
			if (!first_err)
				first_err = ret;
			i++;
		} else {
			i += (size_t)ret;
		}
	}
	return first_err;
}

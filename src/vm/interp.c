/* SPDX-License-Identifier: MIT */
/*
 * The interpreter: direct-threaded dispatch (GCC labels-as-values) over the
 * loaded instructions, one label per opcode byte.
 *
 * bext_vm__load() has already checked opcodes, registers, jump targets and
 * helper ids, so the fast path does only what the ISA itself needs. The body
 * below is compiled twice, by including this file into itself (GCC cannot
 * inline a function that contains a computed goto, so a template function
 * would not be specialised):
 *
 *   interp_fast     no checks beyond the ISA
 *   interp_checked  every load/store checked against the active stack
 *                   frames, [ctx, ctx + ctx_len) and the registered regions
 *                   (writable flag respected); instructions counted against
 *                   opts.insn_budget
 *
 * Stack: BEXT_MAX_CALL_DEPTH frames of BEXT_STACK_SIZE bytes live in the C
 * frame of the run, so concurrent runs of one vm share nothing. Frame 0 is
 * the main program's; a local call takes the next one, saving r6-r9 and the
 * return address in a small side array (never in memory the program can
 * reach).
 *
 * Function values (BPF_PSEUDO_FUNC lddw) are the address of the target
 * instruction in the running program's insns; callx accepts a value only if
 * it is such an address and vm->func_entry marks it, or a helper id.
 *
 * Callbacks (bext_vm__call_func): a nested run of the same body starting at
 * the function, with its frames numbered from the caller's depth + 1 (so
 * the depth limit holds across the nesting); each run keeps its depth and
 * current program in its struct bext_run before helper calls.
 */
#ifndef BEXT_INTERP_BODY

#include <errno.h>
#include <string.h>

#include "vm_internal.h"

struct call_frame {
	uint64_t saved[4]; /* r6-r9 of the caller */
	const struct bext_insn *ret;
};

struct run_state {
	struct bext_vm *vm; /* the vm the run started on: regions, errors */
	void *ctx;
	size_t ctx_len;
	uint8_t *stack_lo; /* bottom of the run's first frame */
	const struct bext_run *run;
};

static inline uint64_t ld8(uintptr_t a)
{
	uint8_t v;

	memcpy(&v, (const void *)a, 1);
	return v;
}

static inline uint64_t ld16(uintptr_t a)
{
	uint16_t v;

	memcpy(&v, (const void *)a, 2);
	return v;
}

static inline uint64_t ld32(uintptr_t a)
{
	uint32_t v;

	memcpy(&v, (const void *)a, 4);
	return v;
}

static inline uint64_t ld64(uintptr_t a)
{
	uint64_t v;

	memcpy(&v, (const void *)a, 8);
	return v;
}

static inline void st8(uintptr_t a, uint64_t x)
{
	uint8_t v = (uint8_t)x;

	memcpy((void *)a, &v, 1);
}

static inline void st16(uintptr_t a, uint64_t x)
{
	uint16_t v = (uint16_t)x;

	memcpy((void *)a, &v, 2);
}

static inline void st32(uintptr_t a, uint64_t x)
{
	uint32_t v = (uint32_t)x;

	memcpy((void *)a, &v, 4);
}

static inline void st64(uintptr_t a, uint64_t x)
{
	memcpy((void *)a, &x, 8);
}

static inline uint64_t sdiv64(uint64_t a, uint64_t b)
{
	if (!b)
		return 0;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
		return a;
	return (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t smod64(uint64_t a, uint64_t b)
{
	if (!b)
		return a;
	if ((int64_t)b == -1)
		return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint32_t sdiv32(uint32_t a, uint32_t b)
{
	if (!b)
		return 0;
	if ((int32_t)a == INT32_MIN && (int32_t)b == -1)
		return a;
	return (uint32_t)((int32_t)a / (int32_t)b);
}

static inline uint32_t smod32(uint32_t a, uint32_t b)
{
	if (!b)
		return a;
	if ((int32_t)b == -1)
		return 0;
	return (uint32_t)((int32_t)a % (int32_t)b);
}

/*
 * Checked mode: may [addr, addr + size) be touched? Active stack frames and
 * the ctx are readable and writable; regions as registered.
 */
static int check_access(const struct run_state *rs, uint8_t *stack_hi, uintptr_t addr, size_t size,
			bool store, size_t pc)
{
	const struct bext_vm *vm = rs->vm;
	uintptr_t end = addr + size;
	bool ro_hit = false;

	if (end < addr)
		goto bad;
	if (addr >= (uintptr_t)rs->stack_lo && end <= (uintptr_t)stack_hi)
		return 0;
	/* A callback may touch the active frames of the runs that called it. */
	for (const struct bext_run *r = rs->run; r && r->callback; r = r->parent) {
		const struct bext_run *p = r->parent;

		if (p->engine == BEXT_ENGINE_INTERP &&
		    addr >= (uintptr_t)(p->stack0 + (size_t)p->base * BEXT_STACK_SIZE) &&
		    end <= (uintptr_t)(p->stack0 + (size_t)(p->depth + 1) * BEXT_STACK_SIZE))
			return 0;
	}
	if (rs->ctx && addr >= (uintptr_t)rs->ctx && end <= (uintptr_t)rs->ctx + rs->ctx_len)
		return 0;
	for (size_t i = 0; i < vm->n_regions; i++) {
		const struct bext_region *r = &vm->regions[i];

		if (addr < r->base || end > r->base + r->len)
			continue;
		if (!store || r->writable)
			return 0;
		ro_hit = true;
	}
	if (ro_hit)
		return bext_vm_error(
		    rs->vm, EFAULT,
		    "insn %zu: store of %zu bytes at 0x%llx into a read-only region", pc, size,
		    (unsigned long long)addr);
bad:
	return bext_vm_error(rs->vm, EFAULT,
			     "insn %zu: %s of %zu bytes at 0x%llx outside any region", pc,
			     store ? "store" : "load", size, (unsigned long long)addr);
}

#define BEXT_INTERP_BODY
#define CHECKED 0
#define INTERP_FN interp_fast
#include "interp.c"
#undef CHECKED
#undef INTERP_FN
#define CHECKED 1
#define INTERP_FN interp_checked
#include "interp.c"
#undef CHECKED
#undef INTERP_FN
#undef BEXT_INTERP_BODY

/* Runs with `run` pushed on the thread's run stack. */
static int interp_enter(struct bext_run *run, void *ctx, size_t ctx_len,
			const struct bext_insn *start, const uint64_t args[5], uint64_t *ret)
{
	int err;

	run->parent = bext_cur_run;
	bext_cur_run = run;
	if (run->vm->opts.checked)
		err = interp_checked(run, ctx, ctx_len, start, args, ret);
	else
		err = interp_fast(run, ctx, ctx_len, start, args, ret);
	bext_cur_run = run->parent;
	return err;
}

int bext_interp_run(struct bext_vm *vm, void *ctx, size_t ctx_len, uint64_t *ret)
{
	struct bext_run run = {
	    .vm = vm, .engine = BEXT_ENGINE_INTERP, .ctx = ctx, .ctx_len = ctx_len};
	const uint64_t args[5] = {(uint64_t)(uintptr_t)ctx, ctx_len, 0, 0, 0};

	return interp_enter(&run, ctx, ctx_len, vm->insns, args, ret);
}

int bext_interp_call(struct bext_run *parent, const struct bext_insn *fn, const uint64_t args[5],
		     uint64_t *ret)
{
	struct bext_run run = {.vm = parent->vm,
			       .engine = BEXT_ENGINE_INTERP,
			       .base = parent->depth + 1,
			       .callback = true};
	struct bext_run *outer = parent;

	/* Checked mode: the ctx of the run the callback chain started from. */
	while (outer->callback)
		outer = outer->parent;
	return interp_enter(&run, outer->ctx, outer->ctx_len, fn, args, ret);
}

#else /* BEXT_INTERP_BODY: the interpreter proper, compiled once per mode */

/* The dispatch table fills every slot with bad_opcode first, then overrides. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"

static int INTERP_FN(struct bext_run *run, void *ctx, size_t ctx_len, const struct bext_insn *start,
		     const uint64_t args[5], uint64_t *ret)
{
	_Alignas(16) uint8_t stack[BEXT_MAX_CALL_DEPTH][BEXT_STACK_SIZE];
	struct call_frame frames[BEXT_MAX_CALL_DEPTH];
	struct bext_vm *vm = run->vm;
	const struct bext_vm *cur = vm; /* the running program (changes on tail calls) */
	const struct bext_insn *ip = start;
	uint64_t reg[11] = {0};
	const unsigned base = run->base; /* 0, or a callback's first depth */
	unsigned depth = base, tail_calls = 0;
	uint64_t id, fv;
	int err;
#if CHECKED
	struct run_state rs = {
	    .vm = vm, .ctx = ctx, .ctx_len = ctx_len, .stack_lo = stack[base], .run = run};
	uint64_t budget = vm->opts.insn_budget ? vm->opts.insn_budget : UINT64_MAX;
	uint64_t count = 0;
#endif
	static const void *const labels[256] = {
	    [0 ... 255] = &&bad_opcode,
#define ALU_LABELS(op, name)                                                                \
	[BEXT_CLS_ALU64 | (op) | BEXT_SRC_K] = &&alu64_##name##_k,                          \
				 [BEXT_CLS_ALU64 | (op) | BEXT_SRC_X] = &&alu64_##name##_x, \
				 [BEXT_CLS_ALU | (op) | BEXT_SRC_K] = &&alu32_##name##_k,   \
				 [BEXT_CLS_ALU | (op) | BEXT_SRC_X] = &&alu32_##name##_x
	    ALU_LABELS(BEXT_ALU_ADD, add),
	    ALU_LABELS(BEXT_ALU_SUB, sub),
	    ALU_LABELS(BEXT_ALU_MUL, mul),
	    ALU_LABELS(BEXT_ALU_DIV, div),
	    ALU_LABELS(BEXT_ALU_OR, or),
	    ALU_LABELS(BEXT_ALU_AND, and),
	    ALU_LABELS(BEXT_ALU_LSH, lsh),
	    ALU_LABELS(BEXT_ALU_RSH, rsh),
	    ALU_LABELS(BEXT_ALU_MOD, mod),
	    ALU_LABELS(BEXT_ALU_XOR, xor),
	    ALU_LABELS(BEXT_ALU_MOV, mov),
	    ALU_LABELS(BEXT_ALU_ARSH, arsh),
	    [BEXT_CLS_ALU64 | BEXT_ALU_NEG | BEXT_SRC_K] = &&alu64_neg,
	    [BEXT_CLS_ALU64 | BEXT_ALU_NEG | BEXT_SRC_X] = &&alu64_neg,
	    [BEXT_CLS_ALU | BEXT_ALU_NEG | BEXT_SRC_K] = &&alu32_neg,
	    [BEXT_CLS_ALU | BEXT_ALU_NEG | BEXT_SRC_X] = &&alu32_neg,
	    [BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_K] = &&end_le,
	    [BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_X] = &&end_be,
	    [BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_K] = &&end_be, /* bswap */
#undef ALU_LABELS
	    [BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM] = &&lddw,
	    [BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_B] = &&ldxb,
	    [BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_H] = &&ldxh,
	    [BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_W] = &&ldxw,
	    [BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_DW] = &&ldxdw,
	    [BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_B] = &&ldxsb,
	    [BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_H] = &&ldxsh,
	    [BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_W] = &&ldxsw,
	    [BEXT_CLS_ST | BEXT_MODE_MEM | BEXT_SZ_B] = &&stb,
	    [BEXT_CLS_ST | BEXT_MODE_MEM | BEXT_SZ_H] = &&sth,
	    [BEXT_CLS_ST | BEXT_MODE_MEM | BEXT_SZ_W] = &&stw,
	    [BEXT_CLS_ST | BEXT_MODE_MEM | BEXT_SZ_DW] = &&stdw,
	    [BEXT_CLS_STX | BEXT_MODE_MEM | BEXT_SZ_B] = &&stxb,
	    [BEXT_CLS_STX | BEXT_MODE_MEM | BEXT_SZ_H] = &&stxh,
	    [BEXT_CLS_STX | BEXT_MODE_MEM | BEXT_SZ_W] = &&stxw,
	    [BEXT_CLS_STX | BEXT_MODE_MEM | BEXT_SZ_DW] = &&stxdw,
	    [BEXT_CLS_STX | BEXT_MODE_ATOMIC | BEXT_SZ_W] = &&atomic_w,
	    [BEXT_CLS_STX | BEXT_MODE_ATOMIC | BEXT_SZ_DW] = &&atomic_dw,
	    [BEXT_CLS_JMP | BEXT_JMP_JA] = &&ja,
	    [BEXT_CLS_JMP32 | BEXT_JMP_JA] = &&ja32,
	    [BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_K] = &&call,
	    [BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X] = &&callx,
	    [BEXT_CLS_JMP | BEXT_JMP_EXIT] = &&exit,
#define JMP_LABELS(op, name)                                                              \
	[BEXT_CLS_JMP | (op) | BEXT_SRC_K] = &&jmp_##name##_k,                            \
			       [BEXT_CLS_JMP | (op) | BEXT_SRC_X] = &&jmp_##name##_x,     \
			       [BEXT_CLS_JMP32 | (op) | BEXT_SRC_K] = &&jmp32_##name##_k, \
			       [BEXT_CLS_JMP32 | (op) | BEXT_SRC_X] = &&jmp32_##name##_x
	    JMP_LABELS(BEXT_JMP_JEQ, jeq),
	    JMP_LABELS(BEXT_JMP_JGT, jgt),
	    JMP_LABELS(BEXT_JMP_JGE, jge),
	    JMP_LABELS(BEXT_JMP_JSET, jset),
	    JMP_LABELS(BEXT_JMP_JNE, jne),
	    JMP_LABELS(BEXT_JMP_JSGT, jsgt),
	    JMP_LABELS(BEXT_JMP_JSGE, jsge),
	    JMP_LABELS(BEXT_JMP_JLT, jlt),
	    JMP_LABELS(BEXT_JMP_JLE, jle),
	    JMP_LABELS(BEXT_JMP_JSLT, jslt),
	    JMP_LABELS(BEXT_JMP_JSLE, jsle),
#undef JMP_LABELS
	};

#define PC ((size_t)(ip - cur->insns))
#define DST reg[ip->dst]
#define SRC reg[ip->src]
#define IMM ((uint64_t)(int64_t)ip->imm)
#if CHECKED
#define DISPATCH()                            \
	do {                                  \
		if (++count > budget)         \
			goto budget_exceeded; \
		goto *labels[ip->code];       \
	} while (0)
#define CHECK_MEM(addr, size, store)                                                             \
	do {                                                                                     \
		err = check_access(&rs, stack[depth] + BEXT_STACK_SIZE, (addr), (size), (store), \
				   PC);                                                          \
		if (err)                                                                         \
			return err;                                                              \
	} while (0)
#else
#define DISPATCH() goto *labels[ip->code]
#define CHECK_MEM(addr, size, store) ((void)0)
#endif
#define NEXT()              \
	do {                \
		ip++;       \
		DISPATCH(); \
	} while (0)

	(void)ctx;
	(void)ctx_len;
	memcpy(&reg[1], args, 5 * sizeof(reg[0]));
	reg[10] = (uint64_t)(uintptr_t)(stack[depth] + BEXT_STACK_SIZE);
	run->stack0 = stack[0];
	DISPATCH();

	/* ---- ALU ---- */
#define ALU_BOTH(name, expr64, expr32)                             \
	alu64_##name##_k:                                          \
	{                                                          \
		uint64_t a = DST, b = IMM;                         \
		DST = (expr64);                                    \
		NEXT();                                            \
	}                                                          \
	alu64_##name##_x:                                          \
	{                                                          \
		uint64_t a = DST, b = SRC;                         \
		DST = (expr64);                                    \
		NEXT();                                            \
	}                                                          \
	alu32_##name##_k:                                          \
	{                                                          \
		uint32_t a = (uint32_t)DST, b = (uint32_t)ip->imm; \
		DST = (uint32_t)(expr32);                          \
		NEXT();                                            \
	}                                                          \
	alu32_##name##_x:                                          \
	{                                                          \
		uint32_t a = (uint32_t)DST, b = (uint32_t)SRC;     \
		DST = (uint32_t)(expr32);                          \
		NEXT();                                            \
	}
	ALU_BOTH(add, a + b, a + b)
	ALU_BOTH(sub, a - b, a - b)
	ALU_BOTH(mul, a * b, a * b)
	ALU_BOTH(or, a | b, a | b)
	ALU_BOTH(and, a & b, a & b)
	ALU_BOTH(xor, a ^ b, a ^ b)
	ALU_BOTH(lsh, a << (b & 63), a << (b & 31))
	ALU_BOTH(rsh, a >> (b & 63), a >> (b & 31))
	ALU_BOTH(arsh, (uint64_t)((int64_t)a >> (b & 63)), (uint32_t)((int32_t)a >> (b & 31)))
	ALU_BOTH(div, ip->off ? sdiv64(a, b) : (b ? a / b : 0),
		 ip->off ? sdiv32(a, b) : (b ? a / b : 0))
	ALU_BOTH(mod, ip->off ? smod64(a, b) : (b ? a % b : a),
		 ip->off ? smod32(a, b) : (b ? a % b : a))
#undef ALU_BOTH
alu64_neg:
	DST = -DST;
	NEXT();
alu32_neg:
	DST = (uint32_t) - (uint32_t)DST;
	NEXT();
alu64_mov_k:
	DST = IMM;
	NEXT();
alu32_mov_k:
	DST = (uint32_t)ip->imm;
	NEXT();
alu64_mov_x:
	switch (ip->off) {
	case 0:
		DST = SRC;
		break;
	case 8:
		DST = (uint64_t)(int64_t)(int8_t)SRC;
		break;
	case 16:
		DST = (uint64_t)(int64_t)(int16_t)SRC;
		break;
	default:
		DST = (uint64_t)(int64_t)(int32_t)SRC;
		break;
	}
	NEXT();
alu32_mov_x:
	switch (ip->off) {
	case 0:
		DST = (uint32_t)SRC;
		break;
	case 8:
		DST = (uint32_t)(int32_t)(int8_t)SRC;
		break;
	default:
		DST = (uint32_t)(int32_t)(int16_t)SRC;
		break;
	}
	NEXT();
end_le:
	switch (ip->imm) {
	case 16:
		DST = (uint16_t)DST;
		break;
	case 32:
		DST = (uint32_t)DST;
		break;
	}
	NEXT();
end_be:
	switch (ip->imm) {
	case 16:
		DST = __builtin_bswap16((uint16_t)DST);
		break;
	case 32:
		DST = __builtin_bswap32((uint32_t)DST);
		break;
	default:
		DST = __builtin_bswap64(DST);
		break;
	}
	NEXT();

	/* ---- loads and stores ---- */
lddw:
	if (ip->src == BEXT_PSEUDO_FUNC)
		DST = (uint64_t)(uintptr_t)(ip + 1 + ip->imm);
	else
		DST = (uint64_t)(uint32_t)ip->imm | ((uint64_t)(uint32_t)ip[1].imm << 32);
	ip += 2;
	DISPATCH();
#define LDX(name, size, expr)                                                \
	name : {                                                             \
		uintptr_t a = (uintptr_t)(SRC + (uint64_t)(int64_t)ip->off); \
		CHECK_MEM(a, size, false);                                   \
		DST = (expr);                                                \
		NEXT();                                                      \
	}
	LDX(ldxb, 1, ld8(a))
	LDX(ldxh, 2, ld16(a))
	LDX(ldxw, 4, ld32(a))
	LDX(ldxdw, 8, ld64(a))
	LDX(ldxsb, 1, (uint64_t)(int64_t)(int8_t)ld8(a))
	LDX(ldxsh, 2, (uint64_t)(int64_t)(int16_t)ld16(a))
	LDX(ldxsw, 4, (uint64_t)(int64_t)(int32_t)ld32(a))
#undef LDX
#define STORE(name, size, fn, val)                                           \
	name : {                                                             \
		uintptr_t a = (uintptr_t)(DST + (uint64_t)(int64_t)ip->off); \
		CHECK_MEM(a, size, true);                                    \
		fn(a, (val));                                                \
		NEXT();                                                      \
	}
	STORE(stb, 1, st8, IMM)
	STORE(sth, 2, st16, IMM)
	STORE(stw, 4, st32, IMM)
	STORE(stdw, 8, st64, IMM)
	STORE(stxb, 1, st8, SRC)
	STORE(stxh, 2, st16, SRC)
	STORE(stxw, 4, st32, SRC)
	STORE(stxdw, 8, st64, SRC)
#undef STORE

/*
 * One body for both atomic widths: T is the memory word (uint32_t for W,
 * uint64_t for DW); fetched values land zero-extended in SRC or r0.
 * bext_vm__load has already refused any other imm, so default is CMPXCHG.
 */
#define ATOMIC_OP(T)                                                                             \
	do {                                                                                     \
		T *p = (T *)(uintptr_t)(DST + (uint64_t)(int64_t)ip->off);                       \
		T v = (T)SRC, old;                                                               \
                                                                                                 \
		CHECK_MEM((uintptr_t)p, sizeof(T), true);                                        \
		if (CHECKED && ((uintptr_t)p & (sizeof(T) - 1)))                                 \
			return bext_vm_error(vm, EFAULT,                                         \
					     "insn %zu: misaligned atomic access at 0x%llx", PC, \
					     (unsigned long long)(uintptr_t)p);                  \
		switch (ip->imm) {                                                               \
		case BEXT_ATOMIC_ADD:                                                            \
			__atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);                              \
			break;                                                                   \
		case BEXT_ATOMIC_OR:                                                             \
			__atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);                               \
			break;                                                                   \
		case BEXT_ATOMIC_AND:                                                            \
			__atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);                              \
			break;                                                                   \
		case BEXT_ATOMIC_XOR:                                                            \
			__atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);                              \
			break;                                                                   \
		case BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH:                                        \
			SRC = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);                        \
			break;                                                                   \
		case BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH:                                         \
			SRC = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);                         \
			break;                                                                   \
		case BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH:                                        \
			SRC = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);                        \
			break;                                                                   \
		case BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH:                                        \
			SRC = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);                        \
			break;                                                                   \
		case BEXT_ATOMIC_XCHG:                                                           \
			SRC = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);                       \
			break;                                                                   \
		default: /* BEXT_ATOMIC_CMPXCHG */                                               \
			old = (T)reg[0];                                                         \
			__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST,         \
						    __ATOMIC_SEQ_CST);                           \
			reg[0] = old;                                                            \
			break;                                                                   \
		}                                                                                \
	} while (0)

atomic_w:
	ATOMIC_OP(uint32_t);
	NEXT();
atomic_dw:
	ATOMIC_OP(uint64_t);
	NEXT();
#undef ATOMIC_OP

	/* ---- jumps ---- */
ja:
	ip += ip->off + 1;
	DISPATCH();
ja32:
	ip += (int64_t)ip->imm + 1;
	DISPATCH();
#define JMP_BOTH(name, cmp64, cmp32)                               \
	jmp_##name##_k:                                            \
	{                                                          \
		uint64_t a = DST, b = IMM;                         \
		ip += (cmp64) ? ip->off + 1 : 1;                   \
		DISPATCH();                                        \
	}                                                          \
	jmp_##name##_x:                                            \
	{                                                          \
		uint64_t a = DST, b = SRC;                         \
		ip += (cmp64) ? ip->off + 1 : 1;                   \
		DISPATCH();                                        \
	}                                                          \
	jmp32_##name##_k:                                          \
	{                                                          \
		uint32_t a = (uint32_t)DST, b = (uint32_t)ip->imm; \
		ip += (cmp32) ? ip->off + 1 : 1;                   \
		DISPATCH();                                        \
	}                                                          \
	jmp32_##name##_x:                                          \
	{                                                          \
		uint32_t a = (uint32_t)DST, b = (uint32_t)SRC;     \
		ip += (cmp32) ? ip->off + 1 : 1;                   \
		DISPATCH();                                        \
	}
	JMP_BOTH(jeq, a == b, a == b)
	JMP_BOTH(jne, a != b, a != b)
	JMP_BOTH(jgt, a > b, a > b)
	JMP_BOTH(jge, a >= b, a >= b)
	JMP_BOTH(jlt, a < b, a < b)
	JMP_BOTH(jle, a <= b, a <= b)
	JMP_BOTH(jset, a & b, a & b)
	JMP_BOTH(jsgt, (int64_t)a > (int64_t)b, (int32_t)a > (int32_t)b)
	JMP_BOTH(jsge, (int64_t)a >= (int64_t)b, (int32_t)a >= (int32_t)b)
	JMP_BOTH(jslt, (int64_t)a < (int64_t)b, (int32_t)a < (int32_t)b)
	JMP_BOTH(jsle, (int64_t)a <= (int64_t)b, (int32_t)a <= (int32_t)b)
#undef JMP_BOTH

	/* ---- calls ---- */
call:
	if (ip->src == BEXT_CALL_LOCAL) {
		fv = (uint64_t)(uintptr_t)(ip + 1 + ip->imm);
		goto local_call;
	}
	id = (uint32_t)ip->imm;
	goto helper_call;
callx:
	fv = DST;
	if (fv < BEXT_MAX_HELPERS) {
		id = fv;
		if (!cur->helpers[id].fn && !(id == BEXT_HELPER_TAIL_CALL && cur->tail_call))
			return bext_vm_error(vm, EINVAL, "insn %zu: callx to unknown helper %llu",
					     PC, (unsigned long long)id);
		goto helper_call;
	}
	{
		uintptr_t base = (uintptr_t)cur->insns;
		uintptr_t off = (uintptr_t)fv - base;

		if ((uintptr_t)fv < base || off >= cur->n_insns * sizeof(struct bext_insn) ||
		    off % sizeof(struct bext_insn) ||
		    !cur->func_entry[off / sizeof(struct bext_insn)])
			return bext_vm_error(vm, EINVAL,
					     "insn %zu: callx to 0x%llx, neither a helper id nor a "
					     "function of this program",
					     PC, (unsigned long long)fv);
	}
local_call:
	if (depth + 1 >= BEXT_MAX_CALL_DEPTH)
		return bext_vm_error(vm, E2BIG, "insn %zu: call depth exceeded (max %u frames)", PC,
				     BEXT_MAX_CALL_DEPTH);
	memcpy(frames[depth].saved, &reg[6], sizeof(frames[depth].saved));
	frames[depth].ret = ip + 1;
	depth++;
	reg[10] = (uint64_t)(uintptr_t)(stack[depth] + BEXT_STACK_SIZE);
	ip = (const struct bext_insn *)(uintptr_t)fv;
	DISPATCH();

helper_call:
	if (id == BEXT_HELPER_TAIL_CALL && cur->tail_call) {
		const struct bext_vm *next = NULL;

		if (depth == 0 && tail_calls < BEXT_MAX_TAIL_CALLS)
			next = cur->tail_call(cur->tail_call_user, reg[2], (uint32_t)reg[3]);
		if (!next || !next->loaded) {
			reg[0] = (uint64_t)-ENOENT;
			NEXT();
		}
		tail_calls++;
		cur = next;
		ip = cur->insns;
		DISPATCH();
	}
	/* What bext_vm__call_func() needs while the helper runs. */
	run->vm = (struct bext_vm *)cur;
	run->depth = depth;
	reg[0] = cur->helpers[id].fn(reg[1], reg[2], reg[3], reg[4], reg[5]);
	if ((int64_t)id == cur->unwind_helper && reg[0] == 0)
		goto done;
	NEXT();

exit:
	if (depth == base)
		goto done;
	depth--;
	memcpy(&reg[6], frames[depth].saved, sizeof(frames[depth].saved));
	reg[10] = (uint64_t)(uintptr_t)(stack[depth] + BEXT_STACK_SIZE);
	ip = frames[depth].ret;
	DISPATCH();

bad_opcode:
	/* Unreachable after bext_vm__load(); kept so a bad table entry cannot jump wild. */
	return bext_vm_error(vm, EINVAL, "insn %zu: unknown opcode 0x%02x", PC, ip->code);
#if CHECKED
budget_exceeded:
	return bext_vm_error(vm, E2BIG, "insn %zu: instruction budget of %llu exceeded", PC,
			     (unsigned long long)vm->opts.insn_budget);
#endif
done:
	*ret = reg[0];
	(void)err;
	return 0;
#undef PC
#undef DST
#undef SRC
#undef IMM
#undef DISPATCH
#undef CHECK_MEM
#undef NEXT
}
#pragma GCC diagnostic pop

#endif /* BEXT_INTERP_BODY */

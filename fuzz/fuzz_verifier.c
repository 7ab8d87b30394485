/* SPDX-License-Identifier: MIT */
/*
 * Soundness fuzzing of the verifier: whatever it accepts must run under the
 * checked interpreter without a single out-of-bounds access.
 *
 * The fuzz input is the stream of choices of a program generator (so most
 * inputs become programs the verifier has something to say about):
 *
 *   setup     ctx size (1..64 bytes, writable or not), one map (array or
 *             hash, 4-byte key, value size 1..64, 4 entries, maybe
 *             BPF_F_RDONLY_PROG)
 *   prologue  r6 = r1 (ctx), r8 = r10, scalars in r0, r2-r5, r7, r9 (from
 *             immediates or ctx loads; or r2 = ctx length, opts.ctx_len_in_r2),
 *             some stack bytes initialised
 *   body      ALU/ALU32 on any register (pointers included), pointer
 *             arithmetic with constants and masked variables (on the ext
 *             ctx too: plain memory), loads, stores
 *             and atomics of every width through any register at small
 *             offsets, stack spills and fills (aligned or not), map lookups
 *             with or without a null check, direct map value access,
 *             helper calls returning unknown scalars, forward conditional
 *             jumps (64/32-bit, imm/reg, every op), bounded loops, calls of
 *             a subprogram (stack pointers as arguments) and bpf_loop with
 *             it as the callback
 *   sub       optionally a subprogram after main (its own prologue, body,
 *             r0 = 0/1, exit)
 *   epilogue  r0 = 0 (or a register), exit
 *
 * The verifier runs with a small complexity limit (fast rejections). An
 * accepted program is loaded into a checked interpreter whose regions are
 * the ctx and the map's values, and run a few times on random ctx bytes.
 * Abort (with the program disassembled and the verifier's verdict) when:
 *   - the run reports a memory fault (-EFAULT);
 *   - it runs longer than the instructions the verifier processed (every
 *     concrete step follows an explored abstract one, each at most once);
 *   - it writes a read-only ctx or a BPF_F_RDONLY_PROG map value;
 *   - a helper gets a key pointer that is not stack or map memory.
 *   - the JIT, run on the same inputs (and helper results), ends with another
 *     r0, ctx or map content (FUZZ_VERIFIER_NO_JIT=1 skips this);
 *   - (every fourth rejection) verifying again with a level-1 log, which
 *     replays the failing path, changes the verdict or does not end with
 *     the reason.
 * Seed inputs live in fuzz/corpus/verifier/; the regressions it found are
 * cases of tests/verifier/cases.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/isa.h>
#include <bext/verifier.h>
#include <bext/vm.h>

#define MAX_INSNS 512
#define MAX_OPS 48
#define N_ENTRIES 4
#define V_LIMIT 20000 /* verifier complexity limit: keeps rejections fast */

struct gen {
	const uint8_t *data;
	size_t size, pos;
	struct bext_insn p[MAX_INSNS];
	size_t n, limit; /* emit() stops at limit */
	bool full;
	int depth;    /* loop nesting */
	bool has_sub; /* a subprogram follows main: calls and bpf_loop may use it */
	bool in_sub;
	bool callbacks;	  /* bpf_loop is called: the run budget is looser */
	size_t fixup[64]; /* call local / lddw func insns to point at the subprogram */
	size_t n_fixup;
};

static uint8_t byte(struct gen *g)
{
	return g->pos < g->size ? g->data[g->pos++] : 0;
}

static unsigned pick(struct gen *g, unsigned n)
{
	return byte(g) % n;
}

static int32_t imm32(struct gen *g)
{
	static const int32_t small[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, -1, -8, -64};
	uint32_t v;

	switch (pick(g, 4)) {
	case 0:
	case 1:
		return small[pick(g, 16)];
	case 2:
		return (int8_t)byte(g);
	default:
		v = byte(g);
		v |= (uint32_t)byte(g) << 8;
		v |= (uint32_t)byte(g) << 16;
		v |= (uint32_t)byte(g) << 24;
		return (int32_t)v;
	}
}

static void emit(struct gen *g, struct bext_insn in)
{
	if (g->n + 2 >= g->limit) { /* room for the lddw pairs and the epilogue */
		g->full = true;
		return;
	}
	g->p[g->n++] = in;
}

static void fixup(struct gen *g)
{
	if (g->n_fixup < sizeof(g->fixup) / sizeof(g->fixup[0]))
		g->fixup[g->n_fixup++] = g->n;
}

/* Registers the body works on: r0-r9 (r10 only as a base). */
static uint8_t reg(struct gen *g)
{
	return (uint8_t)pick(g, 10);
}

/* A base register for memory accesses: mostly the pointer holders. */
static uint8_t base_reg(struct gen *g)
{
	static const uint8_t bases[] = {6, 8, 10, 10, 0, 1, 2, 3, 4, 5, 7, 9};

	return bases[pick(g, sizeof(bases))];
}

static int16_t mem_off(struct gen *g, uint8_t base)
{
	if (base == 10 || base == 8)
		return (int16_t) - (int)(1 + pick(g, 80));
	return (int16_t)((int)pick(g, 80) - 8);
}

static uint8_t size_code(struct gen *g)
{
	static const uint8_t sz[] = {BEXT_SZ_B, BEXT_SZ_H, BEXT_SZ_W, BEXT_SZ_DW};

	return sz[pick(g, 4)];
}

static uint8_t alu_op(struct gen *g)
{
	static const uint8_t ops[] = {BEXT_ALU_ADD,  BEXT_ALU_SUB, BEXT_ALU_MUL, BEXT_ALU_DIV,
				      BEXT_ALU_OR,   BEXT_ALU_AND, BEXT_ALU_LSH, BEXT_ALU_RSH,
				      BEXT_ALU_NEG,  BEXT_ALU_MOD, BEXT_ALU_XOR, BEXT_ALU_MOV,
				      BEXT_ALU_ARSH, BEXT_ALU_ADD, BEXT_ALU_AND, BEXT_ALU_ADD};

	return ops[pick(g, sizeof(ops))];
}

static uint8_t jmp_op(struct gen *g)
{
	static const uint8_t ops[] = {BEXT_JMP_JEQ, BEXT_JMP_JGT,  BEXT_JMP_JGE,  BEXT_JMP_JSET,
				      BEXT_JMP_JNE, BEXT_JMP_JSGT, BEXT_JMP_JSGE, BEXT_JMP_JLT,
				      BEXT_JMP_JLE, BEXT_JMP_JSLT, BEXT_JMP_JSLE};

	return ops[pick(g, sizeof(ops))];
}

static void gen_body(struct gen *g, int n_ops);

static void gen_alu(struct gen *g)
{
	uint8_t op = alu_op(g), d = reg(g), cls = pick(g, 3) ? BEXT_CLS_ALU64 : BEXT_CLS_ALU;
	int16_t off = 0;
	int32_t imm = imm32(g);

	if (op == BEXT_ALU_LSH || op == BEXT_ALU_RSH || op == BEXT_ALU_ARSH)
		imm &= cls == BEXT_CLS_ALU64 ? 63 : 31;
	if ((op == BEXT_ALU_DIV || op == BEXT_ALU_MOD) && pick(g, 4) == 0)
		off = 1; /* sdiv/smod */
	if (op == BEXT_ALU_MOV && pick(g, 6) == 0)
		off = (int16_t)(8 << pick(g, cls == BEXT_CLS_ALU64 ? 3 : 2)); /* movsx */
	if (pick(g, 2))
		emit(g, BEXT_INSN(cls | op | BEXT_SRC_K, d, 0, off, op == BEXT_ALU_NEG ? 0 : imm));
	else
		emit(g, BEXT_INSN(cls | op | (op == BEXT_ALU_NEG ? BEXT_SRC_K : BEXT_SRC_X), d,
				  op == BEXT_ALU_NEG ? 0 : reg(g), off, 0));
}

static void gen_ptr_arith(struct gen *g)
{
	static const uint8_t ptrs[] = {6, 8, 10, 0};
	uint8_t d = reg(g), s = ptrs[pick(g, sizeof(ptrs))], v = reg(g);

	if (d == v)
		v = d == 9 ? 7 : 9;
	emit(g, BEXT_MOV64_REG(d, s));
	switch (pick(g, 4)) {
	case 0: /* constant offset */
		emit(g, BEXT_ALU64_IMM(BEXT_ALU_ADD, d, (int32_t)((int)pick(g, 96) - 80)));
		break;
	case 1: /* masked variable offset */
		emit(g, BEXT_ALU64_IMM(BEXT_ALU_AND, v, (int32_t)pick(g, 64)));
		emit(g, BEXT_ALU64_REG(pick(g, 4) ? BEXT_ALU_ADD : BEXT_ALU_SUB, d, v));
		break;
	case 2: /* bounded by a branch first */
		emit(g, BEXT_JMP_IMM(pick(g, 2) ? BEXT_JMP_JGT : BEXT_JMP_JSGT, v,
				     (int32_t)pick(g, 72), (int16_t)(1 + pick(g, 2))));
		emit(g, BEXT_ALU64_REG(BEXT_ALU_ADD, d, v));
		break;
	default: /* anything */
		emit(g, BEXT_ALU64_REG(BEXT_ALU_ADD, d, v));
		break;
	}
}

static void gen_mem(struct gen *g)
{
	uint8_t b = base_reg(g), sz = size_code(g);
	int16_t off = mem_off(g, b);

	switch (pick(g, 5)) {
	case 0:
	case 1:
		emit(g,
		     BEXT_INSN(BEXT_CLS_LDX | sz | (pick(g, 8) ? BEXT_MODE_MEM : BEXT_MODE_MEMSX),
			       reg(g), b, off, 0));
		break;
	case 2:
		emit(g, BEXT_STX_MEM(sz, b, reg(g), off));
		break;
	case 3:
		emit(g, BEXT_ST_MEM(sz, b, off, imm32(g)));
		break;
	default: {
		static const int32_t aops[] = {BEXT_ATOMIC_ADD,
					       BEXT_ATOMIC_OR,
					       BEXT_ATOMIC_AND,
					       BEXT_ATOMIC_XOR,
					       BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH,
					       BEXT_ATOMIC_XCHG,
					       BEXT_ATOMIC_CMPXCHG};

		emit(g, BEXT_ATOMIC(pick(g, 2) ? BEXT_SZ_W : BEXT_SZ_DW, b, reg(g), off,
				    aops[pick(g, sizeof(aops) / sizeof(aops[0]))]));
		break;
	}
	}
}

static void gen_spill(struct gen *g)
{
	int16_t off = (int16_t)(-8 * (int)(1 + pick(g, 8)));

	if (pick(g, 4) == 0)
		off = (int16_t)(off + (int)pick(g, 8)); /* unaligned */
	if (pick(g, 2))
		emit(g, BEXT_STX_MEM(BEXT_SZ_DW, 10, reg(g), off));
	else
		emit(g, BEXT_LDX_MEM(pick(g, 4) ? BEXT_SZ_DW : size_code(g), reg(g), 10, off));
}

static void gen_lookup(struct gen *g)
{
	uint8_t d = reg(g);

	if (pick(g, 2))
		emit(g, BEXT_ST_MEM(BEXT_SZ_W, 10, -4, (int32_t)pick(g, N_ENTRIES + 2)));
	else
		emit(g, BEXT_STX_MEM(BEXT_SZ_W, 10, reg(g), -4));
	emit(g, BEXT_LD_IMM64_LO(1, BEXT_PSEUDO_MAP_IDX, 0));
	emit(g, BEXT_LD_IMM64_HI(0));
	emit(g, BEXT_MOV64_REG(2, 10));
	emit(g, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, pick(g, 8) ? -4 : -(int32_t)pick(g, 16)));
	emit(g, BEXT_CALL_HELPER_INSN(1));
	switch (pick(g, 4)) {
	case 0: /* no null check */
		break;
	case 1: /* if r0 == 0 goto out */
		emit(g, BEXT_JMP_IMM(BEXT_JMP_JEQ, 0, 0, (int16_t)(1 + pick(g, 6))));
		break;
	default: /* if r0 != 0 goto use; exit-ish path */
		emit(g, BEXT_JMP_IMM(BEXT_JMP_JNE, 0, 0, 2));
		emit(g, BEXT_MOV64_IMM(0, 0));
		emit(g, BEXT_EXIT_INSN());
		break;
	}
	if (d != 0 && pick(g, 2))
		emit(g, BEXT_MOV64_REG(d, 0));
}

static void gen_map_value(struct gen *g)
{
	emit(g, BEXT_LD_IMM64_LO(reg(g), BEXT_PSEUDO_MAP_IDX_VALUE, 0));
	emit(g, BEXT_LD_IMM64_HI(pick(g, 72)));
}

static void gen_cond(struct gen *g)
{
	uint8_t cls = pick(g, 3) ? BEXT_CLS_JMP : BEXT_CLS_JMP32;
	int16_t off = (int16_t)(1 + pick(g, 10));

	if (pick(g, 2))
		emit(g, BEXT_INSN(cls | jmp_op(g) | BEXT_SRC_K, reg(g), 0, off, imm32(g)));
	else
		emit(g, BEXT_INSN(cls | jmp_op(g) | BEXT_SRC_X, reg(g), reg(g), off, 0));
}

static void gen_loop(struct gen *g)
{
	uint8_t c = reg(g);
	size_t head;
	int32_t k = (int32_t)(1 + pick(g, 12));

	if (g->depth >= 2)
		return;
	emit(g, BEXT_MOV64_IMM(c, (int32_t)pick(g, 3)));
	head = g->n;
	g->depth++;
	gen_body(g, 1 + (int)pick(g, 4));
	g->depth--;
	if (pick(g, 8)) {
		emit(g, BEXT_ALU64_IMM(BEXT_ALU_ADD, c, 1));
		emit(g, BEXT_JMP_IMM(pick(g, 4) ? BEXT_JMP_JLT : BEXT_JMP_JNE, c, k, 0));
	} else { /* count with a register bound, 32-bit */
		emit(g, BEXT_ALU32_IMM(BEXT_ALU_ADD, c, 1));
		emit(g, BEXT_INSN(BEXT_CLS_JMP32 | BEXT_JMP_JLT | BEXT_SRC_K, c, 0, 0, k));
	}
	if (!g->full)
		g->p[g->n - 1].off = (int16_t)((int64_t)head - (int64_t)g->n);
}

/* call local sub(r1 = a stack pointer or scalar, r2 = scalar) */
static void gen_call_local(struct gen *g)
{
	if (!g->has_sub || g->in_sub || g->n_fixup >= 64)
		return;
	emit(g, BEXT_MOV64_REG(1, 10));
	emit(g, BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, -8 * (int32_t)(1 + pick(g, 8))));
	if (pick(g, 4) == 0)
		emit(g, BEXT_MOV64_IMM(1, imm32(g)));
	emit(g, BEXT_MOV64_IMM(2, imm32(g)));
	if (g->full)
		return;
	fixup(g);
	emit(g, BEXT_CALL_LOCAL_INSN(0));
}

/* bpf_loop(n, sub, ctx = a stack pointer or NULL, 0) */
static void gen_bpf_loop(struct gen *g)
{
	if (!g->has_sub || g->in_sub || g->n_fixup >= 64 || g->n + 8 >= g->limit)
		return;
	emit(g, BEXT_MOV64_IMM(1, (int32_t)pick(g, 9)));
	fixup(g);
	emit(g, BEXT_LD_IMM64_LO(2, BEXT_PSEUDO_FUNC, 0));
	emit(g, BEXT_LD_IMM64_HI(0));
	if (pick(g, 3)) {
		emit(g, BEXT_MOV64_REG(3, 10));
		emit(g, BEXT_ALU64_IMM(BEXT_ALU_ADD, 3, -8 * (int32_t)(1 + pick(g, 8))));
	} else {
		emit(g, BEXT_MOV64_IMM(3, 0));
	}
	emit(g, BEXT_MOV64_IMM(4, 0));
	emit(g, BEXT_CALL_HELPER_INSN(181));
	g->callbacks = true;
}

static void gen_body(struct gen *g, int n_ops)
{
	for (int i = 0; i < n_ops && !g->full && g->pos < g->size; i++) {
		switch (pick(g, 16)) {
		case 0:
		case 1:
		case 2:
			gen_alu(g);
			break;
		case 3:
		case 4:
			gen_ptr_arith(g);
			break;
		case 5:
		case 6:
		case 7:
			gen_mem(g);
			break;
		case 8:
			gen_spill(g);
			break;
		case 9:
		case 10:
			gen_lookup(g);
			break;
		case 11:
			gen_map_value(g);
			break;
		case 12:
			gen_cond(g);
			break;
		case 13:
			gen_loop(g);
			break;
		case 14:
			switch (pick(g, 4)) {
			case 0:
				gen_call_local(g);
				break;
			case 1:
				gen_bpf_loop(g);
				break;
			default:
				emit(g, BEXT_CALL_HELPER_INSN(pick(g, 2) ? 7
									 : 5)); /* prandom, ktime */
				break;
			}
			break;
		default:
			emit(g, BEXT_MOV64_REG(reg(g), reg(g)));
			break;
		}
	}
}

struct setup {
	uint32_t ctx_size;
	bool ctx_writable;
	bool len_in_r2; /* r2 = ctx_size at entry (the vm passes ctx_len there) */
	struct bext_map_desc map;
};

/* Forward jumps of [from, n) land inside [from, n]: clamp them to the end. */
static void clamp_jumps(struct gen *g, size_t from)
{
	for (size_t k = from; k < g->n; k++) {
		struct bext_insn *in = &g->p[k];
		uint8_t cls = BEXT_CLASS(in->code);

		if ((cls == BEXT_CLS_JMP || cls == BEXT_CLS_JMP32) &&
		    BEXT_OP(in->code) != BEXT_JMP_CALL && BEXT_OP(in->code) != BEXT_JMP_EXIT &&
		    in->off > 0 && (int64_t)k + in->off + 1 > (int64_t)g->n)
			in->off = (int16_t)(g->n - k - 1);
	}
}

static void generate(struct gen *g, struct setup *s)
{
	static const uint8_t inits[] = {0, 2, 3, 4, 5, 7, 9};
	uint8_t init_bytes;

	s->ctx_size = 1 + pick(g, 64);
	s->ctx_writable = pick(g, 2);
	s->len_in_r2 = pick(g, 4) == 0;
	s->map.type = pick(g, 2) ? 2 /* array */ : 1 /* hash */;
	s->map.key_size = 4;
	s->map.value_size = 1 + pick(g, 64);
	s->map.max_entries = N_ENTRIES;
	s->map.flags = pick(g, 4) == 0 ? 1u << 7 /* BPF_F_RDONLY_PROG */ : 0;
	if (s->map.type == 1 && s->map.value_size > 8 && pick(g, 2))
		s->map.type = 2;
	emit(g, BEXT_MOV64_REG(6, 1));
	emit(g, BEXT_MOV64_REG(8, 10));
	for (size_t i = 0; i < sizeof(inits); i++) {
		uint8_t r = inits[i];

		if (r == 2 && s->len_in_r2)
			continue;
		if (s->ctx_size >= 8 && pick(g, 3) == 0)
			emit(g, BEXT_LDX_MEM(BEXT_SZ_DW, r, 6,
					     (int16_t)(pick(g, s->ctx_size - 7) & ~7u)));
		else
			emit(g, BEXT_MOV64_IMM(r, imm32(g)));
	}
	init_bytes = (uint8_t)pick(g, 9); /* slots fp-8 .. fp-64 */
	for (int k = 0; k < init_bytes; k++)
		emit(g, BEXT_ST_MEM(BEXT_SZ_DW, 10, (int16_t)(-8 * (k + 1)), imm32(g)));
	g->has_sub = pick(g, 3) == 0;
	g->limit = g->has_sub ? MAX_INSNS - 96 : MAX_INSNS - 4;
	gen_body(g, MAX_OPS);
	clamp_jumps(g, 0);
	g->full = false;
	if (pick(g, 8))
		g->p[g->n++] = BEXT_MOV64_IMM(0, 0);
	else
		g->p[g->n++] = BEXT_MOV64_REG(0, reg(g));
	g->p[g->n++] = BEXT_EXIT_INSN();
	if (!g->has_sub)
		return;
	/* the subprogram: a callee (r1, r2 from the caller) or a bpf_loop
	 * callback (r1 = index, r2 = ctx); returns 0 or 1 mostly */
	{
		size_t start = g->n;

		g->in_sub = true;
		g->limit = MAX_INSNS - 4;
		emit(g, BEXT_MOV64_REG(6, 2));
		emit(g, BEXT_MOV64_REG(8, 10));
		emit(g, BEXT_MOV64_IMM(0, (int32_t)pick(g, 2)));
		emit(g, BEXT_MOV64_IMM(7, imm32(g)));
		emit(g, BEXT_MOV64_IMM(9, imm32(g)));
		gen_body(g, 1 + (int)pick(g, 12));
		clamp_jumps(g, start);
		g->full = false;
		if (pick(g, 8))
			g->p[g->n++] = BEXT_MOV64_IMM(0, (int32_t)pick(g, 2));
		g->p[g->n++] = BEXT_EXIT_INSN();
		for (size_t k = 0; k < g->n_fixup; k++)
			g->p[g->fixup[k]].imm =
			    (int32_t)((int64_t)start - (int64_t)g->fixup[k] - 1);
	}
}

/* ---- the checked run ---------------------------------------------- */

static struct {
	uint8_t *values;
	size_t value_size;
	size_t stride; /* elements start 8-byte aligned, as in the kernel's arrays */
	bool bad_key;
} fmap;

static uint8_t map_handle; /* what lddw map resolves to */

static int resolve(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value)
{
	(void)user;
	if (imm != 0)
		return -EINVAL;
	if (src == BEXT_PSEUDO_MAP_IDX || src == BEXT_PSEUDO_MAP_FD) {
		*value = (uint64_t)(uintptr_t)&map_handle;
		return 0;
	}
	if (src == BEXT_PSEUDO_MAP_IDX_VALUE || src == BEXT_PSEUDO_MAP_VALUE) {
		if (next_imm < 0 || (size_t)next_imm >= fmap.value_size)
			return -EINVAL;
		*value = (uint64_t)(uintptr_t)(fmap.values + next_imm);
		return 0;
	}
	return -EINVAL;
}

static uint64_t h_lookup(uint64_t map, uint64_t key, uint64_t a3, uint64_t a4, uint64_t a5)
{
	uint32_t k;

	(void)a3;
	(void)a4;
	(void)a5;
	if (map != (uint64_t)(uintptr_t)&map_handle || !key) {
		fmap.bad_key = true;
		return 0;
	}
	memcpy(&k, (const void *)(uintptr_t)key, sizeof(k));
	if (k >= N_ENTRIES)
		return 0;
	return (uint64_t)(uintptr_t)(fmap.values + (size_t)k * fmap.stride);
}

static bool cb_fault;
static char cb_err[256];

/* bpf_loop: at most 16 iterations here (the verifier assumes any number) */
static uint64_t h_loop(uint64_t n, uint64_t fn, uint64_t ctx, uint64_t flags, uint64_t a5)
{
	uint64_t i, r;

	(void)a5;
	if (flags)
		return (uint64_t)-EINVAL;
	for (i = 0; i < n && i < 16; i++) {
		int rc = bext_vm__call_func(NULL, fn, i, ctx, 0, 0, 0, &r);

		if (rc) {
			if (!cb_fault) {
				struct bext_vm *vm = bext_vm__current();

				snprintf(cb_err, sizeof(cb_err), "callback: %d %s", rc,
					 vm ? bext_vm__last_error(vm) : "");
			}
			cb_fault = true;
			return i;
		}
		if (r)
			return i + 1;
	}
	return i;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t h_random(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a1;
	(void)a2;
	(void)a3;
	(void)a4;
	(void)a5;
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t h_prandom(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	return (uint32_t)h_random(a1, a2, a3, a4, a5);
}

static void __attribute__((noreturn))
unsound(const struct gen *g, const struct setup *s, const char *what, const char *detail)
{
	char log[1 << 14];
	struct bext_verify_opts o = {.sz = sizeof(o),
				     .prog_type = BEXT_PROG_EXT,
				     .ctx_size = s->ctx_size,
				     .ctx_writable = s->ctx_writable,
				     .ctx_len_in_r2 = s->len_in_r2,
				     .maps = &s->map,
				     .n_maps = 1,
				     .complexity_limit = V_LIMIT,
				     .log_level = 1};

	fprintf(stderr, "fuzz_verifier: UNSOUND: %s: %s\n", what, detail);
	fprintf(stderr, "ctx_size=%u%s%s map type=%u value_size=%u flags=0x%x\n", s->ctx_size,
		s->ctx_writable ? " writable" : "", s->len_in_r2 ? " r2=len" : "", s->map.type,
		s->map.value_size, s->map.flags);
	bext_disasm(g->p, g->n, stderr);
	(void)bext_verify(g->p, g->n, &o, log, sizeof(log));
	fprintf(stderr, "verifier log (tail):\n%s", log);
	abort();
}

static unsigned long n_inputs, n_accepted, n_jit;

static void report(void)
{
	fprintf(stderr,
		"fuzz_verifier: %lu of %lu programs accepted and run (%lu runs compared with the "
		"JIT)\n",
		n_accepted, n_inputs, n_jit);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(report);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gen g;
	struct setup s;
	struct bext_verify_stats st;
	struct bext_verify_opts o = {
	    .sz = sizeof(o), .prog_type = BEXT_PROG_EXT, .stats = &st, .complexity_limit = V_LIMIT};
	struct bext_vm_opts vo = {.sz = sizeof(vo), .checked = true};
	struct bext_vm *vm;
	uint8_t ctx[64], ctx_copy[64], ctx_jit[64], *values, *values_copy, *values_jit;
	bool jit;
	size_t vbytes;
	char err[256];
	int rc;

	memset(&g, 0, sizeof(g));
	g.limit = MAX_INSNS - 4;
	g.data = data;
	g.size = size;
	generate(&g, &s);
	o.ctx_size = s.ctx_size;
	o.ctx_writable = s.ctx_writable;
	o.ctx_len_in_r2 = s.len_in_r2;
	o.maps = &s.map;
	o.n_maps = 1;
	n_inputs++;
	rc = bext_verify(g.p, g.n, &o, NULL, 0);
	if (getenv("FUZZ_VERIFIER_DUMP")) { /* reproducing an input by hand */
		fprintf(stderr, "ctx_size=%u%s map type=%u value_size=%u flags=0x%x\n", s.ctx_size,
			s.ctx_writable ? " writable" : "", s.map.type, s.map.value_size,
			s.map.flags);
		bext_disasm(g.p, g.n, stderr);
		fprintf(stderr,
			"verdict %d: %s; %" PRIu64 " insns processed, %u states, %u pruned\n", rc,
			rc ? st.reason : "accepted", st.insns_processed, st.states_stored,
			st.states_pruned);
	}
	if (rc == -ENOMEM)
		unsound(&g, &s, "verifier", "out of memory");
	if (rc) {
		/* every few rejections: the level-1 log (the failing path replayed)
		 * ends with the reason, and the verdict does not change */
		if (n_inputs % 4 == 0 && rc != -E2BIG) {
			static char log[1 << 16];
			struct bext_verify_stats st1;
			size_t ll, rl;
			int rc1;

			o.log_level = 1;
			o.stats = &st1;
			rc1 = bext_verify(g.p, g.n, &o, log, sizeof(log));
			ll = strlen(log);
			rl = strlen(st1.reason);
			if (rc1 != rc || strcmp(st1.reason, st.reason) || ll < rl + 1 ||
			    strncmp(log + ll - rl - 1, st1.reason, rl) || log[ll - 1] != '\n' ||
			    (ll > rl + 1 && log[ll - rl - 2] != '\n'))
				unsound(&g, &s, "level-1 log",
					"verdict changed or reason not last");
		}
		return 0;
	}
	n_accepted++;

	fmap.stride = (s.map.value_size + 7u) & ~7u;
	vbytes = fmap.stride * N_ENTRIES;
	values = calloc(1, vbytes);
	values_copy = malloc(vbytes);
	values_jit = malloc(vbytes);
	if (!values || !values_copy || !values_jit)
		abort();
	fmap.values = values;
	fmap.value_size = s.map.value_size;
	fmap.bad_key = false;
	/* budget: a concrete run follows explored abstract steps, each at most once */
	vo.insn_budget = st.insns_processed;
	if (g.callbacks) /* in-progress states cover callback iterations: no such bound */
		vo.insn_budget = st.insns_processed * 64 + 100000;
	cb_fault = false;
	vm = bext_vm__new(&vo);
	if (!vm)
		abort();
	if (bext_vm__register_helper(vm, 1, "bpf_map_lookup_elem", h_lookup) ||
	    bext_vm__register_helper(vm, 5, "bpf_ktime_get_ns", h_random) ||
	    bext_vm__register_helper(vm, 7, "bpf_get_prandom_u32", h_prandom) ||
	    bext_vm__register_helper(vm, 181, "bpf_loop", h_loop) ||
	    bext_vm__set_pseudo_resolver(vm, resolve, NULL))
		abort();
	for (size_t k = 0; k < N_ENTRIES; k++) /* each element, not the padding between */
		if (bext_vm__add_region(vm, values + k * fmap.stride, s.map.value_size,
					!(s.map.flags & (1u << 7))))
			abort();
	if (bext_vm__load(vm, g.p, g.n, err, sizeof(err)))
		unsound(&g, &s, "the vm refuses a verified program", err);
	jit = !getenv("FUZZ_VERIFIER_NO_JIT") && bext_vm__jit(vm, err, sizeof(err));
	for (int run = 0; run < 4; run++) {
		uint64_t r0, r0_jit, seed;

		for (size_t i = 0; i < sizeof(ctx); i++)
			ctx[i] = (uint8_t)h_random(0, 0, 0, 0, 0);
		for (size_t i = 0; i < vbytes; i++)
			values[i] = (uint8_t)h_random(0, 0, 0, 0, 0);
		memcpy(ctx_copy, ctx, sizeof(ctx));
		memcpy(values_copy, values, vbytes);
		seed = rnd_state;
		rc = bext_vm__exec(vm, ctx, s.ctx_size, &r0);
		if (rc == -EFAULT)
			unsound(&g, &s, "memory fault", bext_vm__last_error(vm));
		if (rc == -E2BIG)
			unsound(&g, &s, "ran past the instructions the verifier explored",
				bext_vm__last_error(vm));
		if (rc)
			unsound(&g, &s, "run failed", bext_vm__last_error(vm));
		if (cb_fault)
			unsound(&g, &s, "fault inside a callback", cb_err);
		if (fmap.bad_key)
			unsound(&g, &s, "helper", "bad map or key pointer");
		if (!s.ctx_writable && memcmp(ctx, ctx_copy, s.ctx_size))
			unsound(&g, &s, "read-only ctx", "written");
		if ((s.map.flags & (1u << 7)) && memcmp(values, values_copy, vbytes))
			unsound(&g, &s, "read-only map", "written");
		if (!jit)
			continue;
		/* the same inputs (and helper results) on the JIT: same r0, ctx, map */
		memcpy(ctx_jit, ctx, sizeof(ctx));
		memcpy(values_jit, values, vbytes);
		memcpy(ctx, ctx_copy, sizeof(ctx));
		memcpy(values, values_copy, vbytes);
		rnd_state = seed;
		rc = bext_vm__run(vm, BEXT_ENGINE_JIT, ctx, s.ctx_size, &r0_jit);
		if (rc || cb_fault)
			unsound(&g, &s, "JIT run failed", bext_vm__last_error(vm));
		if (r0 != r0_jit || memcmp(ctx, ctx_jit, sizeof(ctx)) ||
		    memcmp(values, values_jit, vbytes)) {
			char d[128];

			snprintf(d, sizeof(d),
				 "interpreter r0 0x%" PRIx64 ", JIT r0 0x%" PRIx64 "%s%s", r0,
				 r0_jit, memcmp(ctx, ctx_jit, sizeof(ctx)) ? ", ctx differs" : "",
				 memcmp(values, values_jit, vbytes) ? ", map differs" : "");
			unsound(&g, &s, "interpreter and JIT differ on a verified program", d);
		}
		n_jit++;
	}
	bext_vm__free(vm);
	free(values);
	free(values_copy);
	free(values_jit);
	return 0;
}

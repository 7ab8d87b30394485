/* SPDX-License-Identifier: MIT */
/*
 * JIT-specific tests: every ALU/jump/memory/atomic operation against a C
 * reference over many values and register pairs (both shift code paths, with
 * and without blinding), W^X of the code mapping, constant blinding, call
 * depth limit, callx checks, tail-call chains and limit, stack alignment at
 * helper calls, register preservation across helper and local calls,
 * compile-time measurement and compile errors, inlined map lookups (exact
 * pointers at and past the bounds, per-CPU slow path, which calls qualify).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <time.h>

#include <cmocka.h>

#include <bext/isa.h>
#include <bext/vm.h>
#include "vm/vm_internal.h"

/* Test hooks of the x86-64 back end. */
extern bool bext_x86_jit_no_bmi2;
extern size_t bext_x86_jit_max_image;

/* ---- program builder ------------------------------------------------------ */

struct prog {
	struct bext_insn *p;
	size_t n, cap;
};

static void put(struct prog *pr, struct bext_insn in)
{
	if (pr->n == pr->cap) {
		pr->cap = pr->cap ? 2 * pr->cap : 256;
		pr->p = realloc(pr->p, pr->cap * sizeof(*pr->p));
		assert_non_null(pr->p);
	}
	pr->p[pr->n++] = in;
}

static void put_lddw(struct prog *pr, int reg, uint64_t v)
{
	put(pr, BEXT_LD_IMM64_LO(reg, 0, v));
	put(pr, BEXT_LD_IMM64_HI(v));
}

static struct bext_vm *load_opts(const struct bext_insn *p, size_t n, bool blinding)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .blinding = blinding};
	struct bext_vm *vm = bext_vm__new(&o);
	char err[256];
	int ret;

	assert_non_null(vm);
	ret = bext_vm__load(vm, p, n, err, sizeof(err));
	if (ret)
		fail_msg("load: %s", err);
	return vm;
}

static struct bext_vm *load_asm(const char *text, bool blinding)
{
	struct bext_insn *p;
	size_t n;
	char err[256];
	struct bext_vm *vm;

	if (bext_asm(text, &p, &n, err, sizeof(err)))
		fail_msg("asm: %s", err);
	vm = load_opts(p, n, blinding);
	free(p);
	return vm;
}

static bext_jit_fn jit(struct bext_vm *vm)
{
	char err[256];
	bext_jit_fn fn = bext_vm__jit(vm, err, sizeof(err));

	if (!fn)
		fail_msg("jit: %s", err);
	return fn;
}

/* Runs on the JIT (must compile) and returns the run status; r0 in *r0. */
static int run_jit(struct bext_vm *vm, void *ctx, size_t len, uint64_t *r0)
{
	jit(vm);
	return bext_vm__run(vm, BEXT_ENGINE_JIT, ctx, len, r0);
}

/* ---- ALU reference ----------------------------------------------------------- */

static uint64_t ref_alu(int op, bool w, int off, uint64_t a, uint64_t b)
{
	uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;

	switch (op) {
	case BEXT_ALU_ADD:
		return w ? a + b : (uint32_t)(a32 + b32);
	case BEXT_ALU_SUB:
		return w ? a - b : (uint32_t)(a32 - b32);
	case BEXT_ALU_MUL:
		return w ? a * b : (uint32_t)(a32 * b32);
	case BEXT_ALU_OR:
		return w ? a | b : (a32 | b32);
	case BEXT_ALU_AND:
		return w ? a & b : (a32 & b32);
	case BEXT_ALU_XOR:
		return w ? a ^ b : (a32 ^ b32);
	case BEXT_ALU_LSH:
		return w ? a << (b & 63) : (uint32_t)(a32 << (b32 & 31));
	case BEXT_ALU_RSH:
		return w ? a >> (b & 63) : a32 >> (b32 & 31);
	case BEXT_ALU_ARSH:
		return w ? (uint64_t)((int64_t)a >> (b & 63))
			 : (uint32_t)((int32_t)a32 >> (b32 & 31));
	case BEXT_ALU_NEG:
		return w ? 0 - a : (uint32_t)(0 - a32);
	case BEXT_ALU_MOV:
		if (off == 8)
			return w ? (uint64_t)(int64_t)(int8_t)b : (uint32_t)(int32_t)(int8_t)b;
		if (off == 16)
			return w ? (uint64_t)(int64_t)(int16_t)b : (uint32_t)(int32_t)(int16_t)b;
		if (off == 32)
			return (uint64_t)(int64_t)(int32_t)b;
		return w ? b : b32;
	case BEXT_ALU_DIV:
		if (!off)
			return w ? (b ? a / b : 0) : (b32 ? a32 / b32 : 0);
		if (w) {
			if (!b)
				return 0;
			if ((int64_t)b == -1)
				return 0 - a;
			return (uint64_t)((int64_t)a / (int64_t)b);
		}
		if (!b32)
			return 0;
		if ((int32_t)b32 == -1)
			return (uint32_t)(0 - a32);
		return (uint32_t)((int32_t)a32 / (int32_t)b32);
	case BEXT_ALU_MOD:
		if (!off)
			return w ? (b ? a % b : a) : (b32 ? a32 % b32 : a32);
		if (w) {
			if (!b)
				return a;
			if ((int64_t)b == -1)
				return 0;
			return (uint64_t)((int64_t)a % (int64_t)b);
		}
		if (!b32)
			return a32;
		if ((int32_t)b32 == -1)
			return 0;
		return (uint32_t)((int32_t)a32 % (int32_t)b32);
	}
	fail_msg("bad op %#x", op);
	return 0;
}

static const uint64_t vals[] = {
    0,
    1,
    2,
    7,
    (uint64_t)-1,
    (uint64_t)-7,
    31,
    32,
    63,
    64,
    (uint64_t)(int64_t)INT32_MIN,
    0x80000000u,
    0x8000000000000000ull,
    0x7fffffffffffffffull,
    0x123456789abcdef0ull,
    0xfffffffeu,
    0xffffffff00000003ull,
};
static const int32_t imms[] = {
    0,	1,   -1,  2,	7,	   -7,	      31,	  32,	       63,
    64, 127, 128, -128, INT32_MIN, INT32_MAX, 0x12345678, -0x12345678,
};
/* Every BPF register usable as an operand while r1 holds the output pointer. */
static const int regs[] = {0, 2, 3, 4, 5, 6, 7, 8, 9};

struct alu_case {
	int op, off;
};

static const struct alu_case alu_ops[] = {
    {BEXT_ALU_ADD, 0},	{BEXT_ALU_SUB, 0},  {BEXT_ALU_MUL, 0},	{BEXT_ALU_DIV, 0},
    {BEXT_ALU_DIV, 1},	{BEXT_ALU_OR, 0},   {BEXT_ALU_AND, 0},	{BEXT_ALU_LSH, 0},
    {BEXT_ALU_RSH, 0},	{BEXT_ALU_NEG, 0},  {BEXT_ALU_MOD, 0},	{BEXT_ALU_MOD, 1},
    {BEXT_ALU_XOR, 0},	{BEXT_ALU_MOV, 0},  {BEXT_ALU_ARSH, 0}, {BEXT_ALU_MOV, 8},
    {BEXT_ALU_MOV, 16}, {BEXT_ALU_MOV, 32},
};

/*
 * One program per (op, width, operand kind): every case writes its result
 * to out[k]; the JIT and the interpreter must both match the reference.
 */
static void check_alu_config(const struct alu_case *c, bool w, bool k, bool blinding)
{
	struct prog pr = {0};
	uint64_t *expect, *out;
	size_t n_cases = 0, cap = 4096;
	struct bext_vm *vm;
	uint64_t r0;
	int cls = w ? BEXT_CLS_ALU64 : BEXT_CLS_ALU;

	if (c->off && (k || (c->op == BEXT_ALU_MOV && c->off == 32 && !w)))
		return; /* movsx is register-only; no 32-bit movsx32 */
	if (c->op == BEXT_ALU_NEG && !k)
		return;
	expect = malloc(cap * sizeof(*expect));
	assert_non_null(expect);
	for (size_t di = 0; di < BEXT_ARRAY_SIZE(regs); di++) {
		int d = regs[di];

		for (size_t si = 0; si < (k ? 1 : BEXT_ARRAY_SIZE(regs)); si++) {
			int s = regs[si];
			/* All value pairs for a few register pairs, fewer for the rest. */
			bool full = k || d == s || (d == 0 && s == 3) || (d == 3 && s == 4) ||
				    (d == 4 && s == 0) || (d == 6 && s == 4);
			size_t nv = full ? BEXT_ARRAY_SIZE(vals) : 5;
			size_t nb = k ? BEXT_ARRAY_SIZE(imms) : (d == s ? 1 : nv);

			for (size_t ai = 0; ai < nv; ai++) {
				for (size_t bi = 0; bi < nb; bi++) {
					uint64_t a = vals[full ? ai : ai * 3];
					uint64_t b = k	      ? (uint64_t)(int64_t)imms[bi]
						     : d == s ? a
							      : vals[full ? bi : bi * 3 + 1];

					if (!w && k)
						b = (uint32_t)imms[bi];
					put_lddw(&pr, d, a);
					if (!k && d != s)
						put_lddw(&pr, s, b);
					if (k)
						put(&pr, BEXT_INSN(cls | c->op | BEXT_SRC_K, d, 0,
								   0, imms[bi]));
					else
						put(&pr, BEXT_INSN(cls | c->op | BEXT_SRC_X, d, s,
								   c->off, 0));
					put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 1, d, 0));
					put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 8));
					if (n_cases == cap) {
						cap *= 2;
						expect = realloc(expect, cap * sizeof(*expect));
						assert_non_null(expect);
					}
					expect[n_cases++] = ref_alu(c->op, w, c->off, a, b);
				}
			}
		}
	}
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_EXIT_INSN());
	vm = load_opts(pr.p, pr.n, blinding);
	out = calloc(n_cases, sizeof(*out));
	assert_non_null(out);
	assert_int_equal(run_jit(vm, out, n_cases * 8, &r0), 0);
	for (size_t i = 0; i < n_cases; i++) {
		if (out[i] != expect[i])
			fail_msg("JIT op %#x off %d %s %s case %zu: got %#llx want %#llx", c->op,
				 c->off, w ? "alu64" : "alu32", k ? "imm" : "reg", i,
				 (unsigned long long)out[i], (unsigned long long)expect[i]);
	}
	memset(out, 0, n_cases * 8);
	assert_int_equal(bext_vm__exec(vm, out, n_cases * 8, &r0), 0);
	assert_memory_equal(out, expect, n_cases * 8);
	bext_vm__free(vm);
	free(out);
	free(expect);
	free(pr.p);
}

static void alu_all(bool blinding)
{
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(alu_ops); i++)
		for (int w = 0; w < 2; w++)
			for (int k = 0; k < 2; k++)
				check_alu_config(&alu_ops[i], w, k, blinding);
}

static void test_alu_ops(void **state)
{
	(void)state;
	alu_all(false);
}

static void test_alu_ops_blinded(void **state)
{
	(void)state;
	alu_all(true);
}

/* Variable shifts without BMI2: the count must go through cl (= BPF r4). */
static void test_shifts_without_bmi2(void **state)
{
	static const struct alu_case sh[] = {
	    {BEXT_ALU_LSH, 0},
	    {BEXT_ALU_RSH, 0},
	    {BEXT_ALU_ARSH, 0},
	};

	(void)state;
	bext_x86_jit_no_bmi2 = true;
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(sh); i++)
		for (int w = 0; w < 2; w++)
			for (int b = 0; b < 2; b++) {
				check_alu_config(&sh[i], w, false, b);
				check_alu_config(&sh[i], w, true, b);
			}
	bext_x86_jit_no_bmi2 = false;
}

static uint64_t bswap_n(uint64_t v, int bits)
{
	if (bits == 16)
		return __builtin_bswap16((uint16_t)v);
	if (bits == 32)
		return __builtin_bswap32((uint32_t)v);
	return __builtin_bswap64(v);
}

static void test_endian(void **state)
{
	static const uint8_t codes[] = {0xd4, 0xdc, 0xd7};
	static const int widths[] = {16, 32, 64};
	struct prog pr = {0};
	uint64_t expect[BEXT_ARRAY_SIZE(codes) * 3 * BEXT_ARRAY_SIZE(regs) * 3],
	    out[sizeof(expect) / 8];
	const uint64_t in[] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 0x80ff};
	size_t n = 0;
	struct bext_vm *vm;
	uint64_t r0;

	(void)state;
	for (size_t c = 0; c < BEXT_ARRAY_SIZE(codes); c++)
		for (size_t wi = 0; wi < 3; wi++)
			for (size_t ri = 0; ri < BEXT_ARRAY_SIZE(regs); ri++)
				for (size_t v = 0; v < 3; v++) {
					int bits = widths[wi];
					uint64_t x = in[v];

					put_lddw(&pr, regs[ri], x);
					put(&pr, BEXT_INSN(codes[c], regs[ri], 0, 0, bits));
					put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 1, regs[ri], 0));
					put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 8));
					if (codes[c] == 0xd4)
						expect[n++] =
						    bits == 64 ? x : x & ((1ull << bits) - 1);
					else
						expect[n++] = bswap_n(x, bits);
				}
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_EXIT_INSN());
	vm = load_opts(pr.p, pr.n, false);
	memset(out, 0, sizeof(out));
	assert_int_equal(run_jit(vm, out, sizeof(out), &r0), 0);
	assert_memory_equal(out, expect, n * 8);
	bext_vm__free(vm);
	free(pr.p);
}

/* ---- jumps ------------------------------------------------------------------ */

static bool ref_jmp(int op, bool w, uint64_t a, uint64_t b)
{
	if (!w) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	int64_t sa = w ? (int64_t)a : (int32_t)a, sb = w ? (int64_t)b : (int32_t)b;

	switch (op) {
	case BEXT_JMP_JEQ:
		return a == b;
	case BEXT_JMP_JNE:
		return a != b;
	case BEXT_JMP_JGT:
		return a > b;
	case BEXT_JMP_JGE:
		return a >= b;
	case BEXT_JMP_JLT:
		return a < b;
	case BEXT_JMP_JLE:
		return a <= b;
	case BEXT_JMP_JSET:
		return (a & b) != 0;
	case BEXT_JMP_JSGT:
		return sa > sb;
	case BEXT_JMP_JSGE:
		return sa >= sb;
	case BEXT_JMP_JSLT:
		return sa < sb;
	case BEXT_JMP_JSLE:
		return sa <= sb;
	}
	return false;
}

static void jumps(bool blinding)
{
	static const int ops[] = {BEXT_JMP_JEQ,	 BEXT_JMP_JNE,	BEXT_JMP_JGT,  BEXT_JMP_JGE,
				  BEXT_JMP_JLT,	 BEXT_JMP_JLE,	BEXT_JMP_JSET, BEXT_JMP_JSGT,
				  BEXT_JMP_JSGE, BEXT_JMP_JSLT, BEXT_JMP_JSLE};
	struct prog pr = {0};
	size_t n = 0, cap = 1 << 16;
	uint64_t *expect = malloc(cap * 8), *out, r0;
	struct bext_vm *vm;

	assert_non_null(expect);
	for (size_t oi = 0; oi < BEXT_ARRAY_SIZE(ops); oi++)
		for (int w = 0; w < 2; w++)
			for (int k = 0; k < 2; k++)
				for (size_t ai = 0; ai < BEXT_ARRAY_SIZE(vals); ai++)
					for (size_t bi = 0; bi < (k ? BEXT_ARRAY_SIZE(imms)
								    : BEXT_ARRAY_SIZE(vals));
					     bi++) {
						uint64_t a = vals[ai];
						uint64_t b =
						    k ? (uint64_t)(int64_t)imms[bi] : vals[bi];
						int cls = w ? BEXT_CLS_JMP : BEXT_CLS_JMP32;
						int d = (int)(ai % 2) ? 4 : 0,
						    s = (int)(bi % 2) ? 3 : 9;

						put_lddw(&pr, d, a);
						if (!k)
							put_lddw(&pr, s, b);
						put(&pr, BEXT_MOV64_IMM(6, 1));
						put(&pr,
						    BEXT_INSN(cls | ops[oi] |
								  (k ? BEXT_SRC_K : BEXT_SRC_X),
							      d, k ? 0 : s, 1, k ? imms[bi] : 0));
						put(&pr, BEXT_MOV64_IMM(6, 0));
						put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 1, 6, 0));
						put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 8));
						assert_true(n < cap);
						expect[n++] = ref_jmp(ops[oi], w, a, b);
					}
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_EXIT_INSN());
	vm = load_opts(pr.p, pr.n, blinding);
	out = calloc(n, 8);
	assert_non_null(out);
	assert_int_equal(run_jit(vm, out, n * 8, &r0), 0);
	for (size_t i = 0; i < n; i++)
		if (out[i] != expect[i])
			fail_msg("jump case %zu: got %llu want %llu", i, (unsigned long long)out[i],
				 (unsigned long long)expect[i]);
	bext_vm__free(vm);
	free(out);
	free(expect);
	free(pr.p);
}

static void test_jumps(void **state)
{
	(void)state;
	jumps(false);
	jumps(true);
}

/* Long and short jumps, forward and backward, around a big block, plus ja32. */
static void test_jump_distances(void **state)
{
	static const int sizes[] = {0, 1, 20, 31, 32, 33, 40, 200, 5000};

	(void)state;
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(sizes); i++) {
		struct prog pr = {0};
		struct bext_vm *vm;
		uint64_t r0;
		int pad = sizes[i];

		/* r0 = 0; r2 = 3; loop: { pad x (r0 += 1) ; r2 -= 1; jne r2, 0, loop } ;
		 * ja32 over pad x (r0 = 0) ; exit */
		put(&pr, BEXT_MOV64_IMM(0, 0));
		put(&pr, BEXT_MOV64_IMM(2, 3));
		for (int k = 0; k < pad; k++)
			put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1));
		put(&pr, BEXT_ALU64_IMM(BEXT_ALU_SUB, 2, 1));
		put(&pr, BEXT_JMP_IMM(BEXT_JMP_JNE, 2, 0, -(pad + 2)));
		put(&pr, BEXT_JMP_IMM(BEXT_JMP_JNE, 2, 0, pad + 1));
		put(&pr, BEXT_INSN(BEXT_CLS_JMP32 | BEXT_JMP_JA, 0, 0, 0, pad));
		for (int k = 0; k < pad; k++)
			put(&pr, BEXT_MOV64_IMM(0, 12345));
		put(&pr, BEXT_EXIT_INSN());
		vm = load_opts(pr.p, pr.n, false);
		assert_int_equal(run_jit(vm, NULL, 0, &r0), 0);
		assert_int_equal(r0, 3 * pad);
		bext_vm__free(vm);
		free(pr.p);
	}
}

/* ---- memory -------------------------------------------------------------------- */

static void test_loads_stores(void **state)
{
	static const int szs[] = {BEXT_SZ_B, BEXT_SZ_H, BEXT_SZ_W, BEXT_SZ_DW};
	static const int bytes[] = {1, 2, 4, 8};
	uint8_t mem[64], want[64];
	uint64_t r0;

	(void)state;
	/* For each base/value register pair and size: stx, st imm, ldx, ldxsx. */
	for (size_t bi = 0; bi < BEXT_ARRAY_SIZE(regs); bi++)
		for (size_t vi = 0; vi < BEXT_ARRAY_SIZE(regs); vi++)
			for (size_t z = 0; z < 4; z++) {
				int base = regs[bi], v = regs[vi], sz = szs[z], nb = bytes[z];
				uint64_t x = 0xf1e2d3c4b5a69788ull;
				struct bext_insn p[32];
				size_t n = 0;
				uint64_t zx, sx;
				struct bext_vm *vm;

				if (base == v)
					continue;
				p[n++] = BEXT_MOV64_REG(base, 1);
				p[n++] = BEXT_LD_IMM64_LO(v, 0, x);
				p[n++] = BEXT_LD_IMM64_HI(x);
				p[n++] = BEXT_STX_MEM(sz, base, v, 8);		 /* mem[8] */
				p[n++] = BEXT_ST_MEM(sz, base, 16, -0x12345679); /* mem[16] */
				p[n++] = BEXT_LDX_MEM(sz, v, base, 8);
				p[n++] = BEXT_STX_MEM(BEXT_SZ_DW, base, v, 24); /* zero-ext */
				if (sz != BEXT_SZ_DW) {
					p[n++] = BEXT_INSN(BEXT_CLS_LDX | sz | BEXT_MODE_MEMSX, v,
							   base, 8, 0);
					p[n++] =
					    BEXT_STX_MEM(BEXT_SZ_DW, base, v, 32); /* sign-ext */
				}
				/* r10-relative round trip through the stack. */
				p[n++] = BEXT_STX_MEM(sz, 10, v, -8 - 256);
				p[n++] = BEXT_LDX_MEM(sz, 0, 10, -8 - 256);
				p[n++] = BEXT_EXIT_INSN();
				vm = load_opts(p, n, false);
				memset(mem, 0xaa, sizeof(mem));
				memset(want, 0xaa, sizeof(want));
				assert_int_equal(run_jit(vm, mem, sizeof(mem), &r0), 0);
				memcpy(want + 8, &x, nb);
				{
					uint64_t imm = (uint64_t)(int64_t)-0x12345679;

					memcpy(want + 16, &imm, nb);
				}
				zx = nb == 8 ? x : x & ((1ull << (8 * nb)) - 1);
				memcpy(want + 24, &zx, 8);
				if (sz != BEXT_SZ_DW) {
					sx = (uint64_t)((int64_t)(x << (64 - 8 * nb)) >>
							(64 - 8 * nb));
					if (sz == BEXT_SZ_W)
						sx = (uint64_t)(int64_t)(int32_t)zx;
					memcpy(want + 32, &sx, 8);
				}
				assert_memory_equal(mem, want, sizeof(mem));
				/* r0 = the loaded value: v was reloaded with zx, then sign-extended
				 */
				assert_int_equal(r0, zx);
				bext_vm__free(vm);
			}
}

static uint64_t ref_atomic(int op, bool w, uint64_t *m, uint64_t s, uint64_t *r0)
{
	uint64_t old = w ? *m : (uint32_t)*m, nv = old, mask = w ? ~0ull : 0xffffffffull;

	switch (op & ~BEXT_ATOMIC_FETCH) {
	case BEXT_ATOMIC_ADD:
		nv = old + s;
		break;
	case BEXT_ATOMIC_OR:
		nv = old | s;
		break;
	case BEXT_ATOMIC_AND:
		nv = old & s;
		break;
	case BEXT_ATOMIC_XOR:
		nv = old ^ s;
		break;
	case 0xe0:
		nv = s;
		break;
	case 0xf0:
		if ((*r0 & mask) == old)
			nv = s;
		*r0 = old;
		break;
	}
	*m = w ? nv : ((*m & ~mask) | (nv & mask));
	if (op == BEXT_ATOMIC_CMPXCHG)
		return s;
	return (op & BEXT_ATOMIC_FETCH) ? old : s;
}

static void test_atomics(void **state)
{
	static const int ops[] = {
	    BEXT_ATOMIC_ADD,
	    BEXT_ATOMIC_OR,
	    BEXT_ATOMIC_AND,
	    BEXT_ATOMIC_XOR,
	    BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH,
	    BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH,
	    BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH,
	    BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH,
	    BEXT_ATOMIC_XCHG,
	    BEXT_ATOMIC_CMPXCHG,
	};
	static const int sregs[] = {0, 2, 3, 4, 6, 9};
	static const int bregs[] = {1, 3, 5, 7, 10};

	(void)state;
	for (size_t oi = 0; oi < BEXT_ARRAY_SIZE(ops); oi++)
		for (int w = 0; w < 2; w++)
			for (size_t si = 0; si < BEXT_ARRAY_SIZE(sregs); si++)
				for (size_t bi = 0; bi < BEXT_ARRAY_SIZE(bregs); bi++)
					for (int eq = 0; eq < 2; eq++) {
						int s = sregs[si], b = bregs[bi], op = ops[oi];
						uint64_t mem[4] = {0}, m0 = 0xff00ff00f0f0f0f0ull;
						uint64_t sv = 0x0ff00ff012345678ull,
							 r0v = eq ? m0 : 0x1234;
						uint64_t exp_m, exp_s, exp_r0 = r0v, got_r0;
						struct bext_insn p[32];
						size_t n = 0;
						struct bext_vm *vm;

						int out = s == 6 ? 7 : 6, tmp = 2;

						while (tmp == s || tmp == b || tmp == out)
							tmp++;
						if (s == b)
							continue;
						if (op == BEXT_ATOMIC_CMPXCHG && s == 0)
							continue;
						if (s == 0)
							r0v = sv;
						exp_r0 = r0v;
						/* mem[0] = m0 (through the base); r0 = r0v; s = sv;
						 * atomic; mem[1] = s; mem[2] = r0; r0 = mem[0] via
						 * ldx */
						p[n++] = BEXT_MOV64_REG(out, 1);
						if (b != 10)
							p[n++] = BEXT_MOV64_REG(b, 1);
						p[n++] = BEXT_LD_IMM64_LO(tmp, 0, m0);
						p[n++] = BEXT_LD_IMM64_HI(m0);
						p[n++] = BEXT_STX_MEM(BEXT_SZ_DW, b, tmp,
								      b == 10 ? -16 : 0);
						p[n++] = BEXT_LD_IMM64_LO(0, 0, r0v);
						p[n++] = BEXT_LD_IMM64_HI(r0v);
						p[n++] = BEXT_LD_IMM64_LO(s, 0, sv);
						p[n++] = BEXT_LD_IMM64_HI(sv);
						p[n++] = BEXT_ATOMIC(w ? BEXT_SZ_DW : BEXT_SZ_W, b,
								     s, b == 10 ? -16 : 0, op);
						p[n++] = BEXT_STX_MEM(BEXT_SZ_DW, out, s, 8);
						p[n++] = BEXT_STX_MEM(BEXT_SZ_DW, out, 0, 16);
						if (b == 10) {
							p[n++] =
							    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 10, -16);
							p[n++] =
							    BEXT_STX_MEM(BEXT_SZ_DW, out, 0, 0);
						}
						p[n++] = BEXT_LDX_MEM(BEXT_SZ_DW, 0, out, 0);
						p[n++] = BEXT_EXIT_INSN();
						vm = load_opts(p, n, false);
						assert_int_equal(
						    run_jit(vm, mem, sizeof(mem), &got_r0), 0);
						exp_m = m0;
						exp_s = ref_atomic(op, w, &exp_m, s == 0 ? r0v : sv,
								   &exp_r0);
						if (!w && (op & BEXT_ATOMIC_FETCH) &&
						    op != BEXT_ATOMIC_CMPXCHG)
							exp_s = (uint32_t)exp_s;
						if (s == 0 && op != BEXT_ATOMIC_CMPXCHG)
							exp_r0 = exp_s;
						if (mem[0] != exp_m || mem[1] != exp_s ||
						    mem[2] != exp_r0 || got_r0 != exp_m)
							fail_msg("atomic %#x %s src r%d base r%d: "
								 "mem %#llx/%#llx src "
								 "%#llx/%#llx r0 %#llx/%#llx",
								 op, w ? "dw" : "w", s, b,
								 (unsigned long long)mem[0],
								 (unsigned long long)exp_m,
								 (unsigned long long)mem[1],
								 (unsigned long long)exp_s,
								 (unsigned long long)mem[2],
								 (unsigned long long)exp_r0);
						bext_vm__free(vm);
					}
}

/* ---- code mapping, blinding, errors ------------------------------------------- */

static void test_wx(void **state)
{
	struct bext_insn p[] = {BEXT_MOV64_IMM(0, 42), BEXT_EXIT_INSN()};
	struct bext_vm *vm = load_opts(p, 2, false);
	bext_jit_fn fn = jit(vm);
	uintptr_t a = (uintptr_t)fn;
	char line[512];
	bool found = false;
	FILE *f;

	(void)state;
	assert_int_equal(fn(NULL, 0), 42);
	assert_true(bext_vm__jit_size(vm) > 0);
	f = fopen("/proc/self/maps", "r");
	if (!f) {
		bext_vm__free(vm);
		skip();
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (a >= lo && a < hi) {
			found = true;
			assert_string_equal(perms, "r-xp");
		}
	}
	fclose(f);
	assert_true(found);
	bext_vm__free(vm);
}

static bool code_has(const struct bext_vm *vm, const void *bytes, size_t n)
{
	const uint8_t *c = vm->jit_mem;

	for (size_t i = 0; i + n <= vm->jit_size; i++)
		if (!memcmp(c + i, bytes, n))
			return true;
	return false;
}

static void test_blinding(void **state)
{
	static const int32_t secrets[] = {0x41424344, 0x13572468, 0x0badcafe, 0x7eadbeef,
					  0x55aa55aa, 0x31415926, 0x2718281f};
	const char *text = "mov %r0, 0x41424344\n"
			   "add %r0, 0x13572468\n"
			   "stw [%r10-8], 0x0badcafe\n"
			   "ldxw %r2, [%r10-8]\n"
			   "add %r0, %r2\n"
			   "jeq %r0, 0x7eadbeef, skip\n"
			   "xor32 %r0, 0x55aa55aa\n"
			   "skip:\n"
			   "lddw %r3, 0x2718281f31415926\n"
			   "add %r0, %r3\n"
			   "exit\n";
	uint64_t r_plain, r_blind;
	struct bext_vm *plain = load_asm(text, false), *blind;

	(void)state;
	assert_int_equal(run_jit(plain, NULL, 0, &r_plain), 0);
	assert_int_equal(bext_vm__exec(plain, NULL, 0, &r_blind), 0);
	assert_int_equal(r_plain, r_blind);
	/* The check can fail: without blinding the immediates are in the code. */
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(secrets); i++)
		assert_true(code_has(plain, &secrets[i], 4));
	for (int round = 0; round < 4; round++) {
		blind = load_asm(text, true);
		assert_int_equal(run_jit(blind, NULL, 0, &r_blind), 0);
		assert_int_equal(r_blind, r_plain);
		for (size_t i = 0; i < BEXT_ARRAY_SIZE(secrets); i++)
			if (code_has(blind, &secrets[i], 4))
				fail_msg("immediate %#x found in blinded code", secrets[i]);
		bext_vm__free(blind);
	}
	bext_vm__free(plain);
}

static void test_too_large_and_kfunc(void **state)
{
	struct prog pr = {0};
	struct bext_vm *vm;
	char err[256];
	uint64_t r0;
	size_t saved = bext_x86_jit_max_image;
	struct bext_insn kf[] = {
	    BEXT_INSN(BEXT_CLS_JMP | BEXT_JMP_CALL, 0, BEXT_CALL_KFUNC, 0, 1234),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm_opts o = {.sz = sizeof(o)};
	struct bext_vm hand;

	(void)state;
	for (int i = 0; i < 4000; i++)
		put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1));
	put(&pr, BEXT_EXIT_INSN());
	vm = load_opts(pr.p, pr.n, false);
	bext_x86_jit_max_image = 4096;
	errno = 0;
	assert_null(bext_vm__jit(vm, err, sizeof(err)));
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err, "too large for the JIT"));
	/* run falls back to the interpreter and still gets the right result */
	assert_int_equal(bext_vm__run(vm, BEXT_ENGINE_JIT, NULL, 0, &r0), 0);
	assert_int_equal(r0, 4000);
	bext_x86_jit_max_image = saved;
	bext_vm__free(vm);
	free(pr.p);

	/* The loader refuses kfunc calls; a vm built by hand reaches the back end. */
	memset(&hand, 0, sizeof(hand));
	hand.opts = o;
	hand.insns = kf;
	hand.n_insns = 2;
	hand.loaded = true;
	hand.unwind_helper = -1;
	errno = 0;
	assert_null(bext_vm__jit(&hand, err, sizeof(err)));
	assert_int_equal(errno, ENOTSUP);
	assert_string_equal(err, "insn 0: kfunc calls are not supported");
}

/* ---- helpers and calls --------------------------------------------------------- */

/* Returns the stack pointer at its entry (before the return address is popped). */
uint64_t rsp_probe(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
__asm__(".text\n.globl rsp_probe\n.type rsp_probe,@function\nrsp_probe:\n"
	"\tmov %rsp, %rax\n\tret\n");

static uint64_t h_snprintf(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	char buf[64];
	/* Variadic double: glibc saves xmm registers with aligned moves. */
	double x = (double)a / 8.0;

	(void)b;
	(void)c;
	(void)d;
	(void)e;
	return (uint64_t)snprintf(buf, sizeof(buf), "%.3f %g", x, x * 2);
}

static uint64_t h_args(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	/* Clobber every caller-saved register the ABI allows. */
	__asm__ volatile("" ::: "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	return a * 1 + b * 10 + c * 100 + d * 1000 + e * 10000;
}

static uint64_t h_zero(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)b;
	(void)c;
	(void)d;
	(void)e;
	return a;
}

static struct bext_vm *new_vm(bool blinding)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .blinding = blinding};
	struct bext_vm *vm = bext_vm__new(&o);

	assert_non_null(vm);
	assert_int_equal(bext_vm__register_helper(vm, 1, "probe", rsp_probe), 0);
	assert_int_equal(bext_vm__register_helper(vm, 2, "snprintf", h_snprintf), 0);
	assert_int_equal(bext_vm__register_helper(vm, 3, "args", h_args), 0);
	assert_int_equal(bext_vm__register_helper(vm, 5, "unwind", h_zero), 0);
	assert_int_equal(bext_vm__set_unwind_helper(vm, 5), 0);
	return vm;
}

static void load_into(struct bext_vm *vm, const char *text)
{
	struct bext_insn *p;
	size_t n;
	char err[256];

	if (bext_asm(text, &p, &n, err, sizeof(err)))
		fail_msg("asm: %s", err);
	if (bext_vm__load(vm, p, n, err, sizeof(err)))
		fail_msg("load: %s", err);
	free(p);
}

static void test_helper_alignment(void **state)
{
	/* rsp at helper entry must be 8 mod 16 (16-aligned at the call), in the
	 * main frame, in nested subprograms and through callx. */
	const char *text = "call 1\n"
			   "stxdw [%r1], %r0\n"
			   "mov %r6, %r1\n"
			   "call local f\n"
			   "stxdw [%r6+8], %r0\n"
			   "mov %r2, 1\n"
			   "call %r2\n"
			   "stxdw [%r6+16], %r0\n"
			   "mov %r1, 100\n"
			   "call 2\n"
			   "exit\n"
			   "f:\n"
			   "call local g\n"
			   "exit\n"
			   "g:\n"
			   "mov %r1, 100\n"
			   "call 2\n"
			   "call 1\n"
			   "exit\n";
	struct bext_vm *vm = new_vm(false);
	uint64_t out[3] = {0}, r0;

	(void)state;
	load_into(vm, text);
	assert_int_equal(run_jit(vm, out, sizeof(out), &r0), 0);
	assert_int_equal(r0, strlen("12.500 25"));
	for (int i = 0; i < 3; i++)
		assert_int_equal(out[i] % 16, 8);
	bext_vm__free(vm);
}

static void test_register_pressure(void **state)
{
	/* r6-r9 survive helper calls and a local call that overwrites them;
	 * r1-r5 reach the helper in order. */
	const char *text = "lddw %r6, 0x6666666666666666\n"
			   "lddw %r7, 0x7777777777777777\n"
			   "lddw %r8, 0x8888888888888888\n"
			   "lddw %r9, 0x9999999999999999\n"
			   "mov %r1, 1\n"
			   "mov %r2, 2\n"
			   "mov %r3, 3\n"
			   "mov %r4, 4\n"
			   "mov %r5, 5\n"
			   "call 3\n"
			   "jne %r0, 54321, bad\n"
			   "mov %r1, 9\n"
			   "call 2\n"
			   "call local clobber\n"
			   "jne %r0, 7, bad\n"
			   "mov %r1, 5\n"
			   "mov %r2, 4\n"
			   "mov %r3, 3\n"
			   "mov %r4, 2\n"
			   "mov %r5, 1\n"
			   "call 3\n"
			   "jne %r0, 12345, bad\n"
			   "lddw %r0, 0x6666666666666666\n"
			   "jne %r6, %r0, bad\n"
			   "lddw %r0, 0x7777777777777777\n"
			   "jne %r7, %r0, bad\n"
			   "lddw %r0, 0x8888888888888888\n"
			   "jne %r8, %r0, bad\n"
			   "lddw %r0, 0x9999999999999999\n"
			   "jne %r9, %r0, bad\n"
			   "mov %r0, 1\n"
			   "exit\n"
			   "bad:\n"
			   "mov %r0, 0\n"
			   "exit\n"
			   "clobber:\n"
			   "mov %r6, 0\n"
			   "mov %r7, 0\n"
			   "mov %r8, 0\n"
			   "mov %r9, 0\n"
			   "stxdw [%r10-8], %r6\n"
			   "mov %r1, 1\n"
			   "mov %r2, 1\n"
			   "mov %r3, 1\n"
			   "mov %r4, 1\n"
			   "mov %r5, 1\n"
			   "call 3\n"
			   "mov %r0, 7\n"
			   "exit\n";
	struct bext_vm *vm = new_vm(false);
	uint64_t r0 = 99;

	(void)state;
	load_into(vm, text);
	assert_int_equal(run_jit(vm, NULL, 0, &r0), 0);
	assert_int_equal(r0, 1);
	bext_vm__free(vm);
}

/* A chain of n nested local calls, each with its own stack frame. */
static int run_depth(int n, uint64_t *r0)
{
	char text[2048];
	size_t len = 0;
	struct bext_vm *vm = new_vm(false);
	int ret;

	/* Each function stores a marker in its frame, calls the next, checks the
	 * marker (its own frame was not overwritten) and adds 1. */
	len +=
	    (size_t)snprintf(text + len, sizeof(text) - len, "mov %%r0, 0\ncall local f1\nexit\n");
	for (int i = 1; i <= n; i++) {
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"f%d:\nmov %%r6, %d\nstxdw [%%r10-8], %%r6\n", i, i);
		if (i < n)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "call local f%d\n",
						i + 1);
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"ldxdw %%r1, [%%r10-8]\njne %%r1, %d, bad%d\n"
					"jne %%r6, %d, bad%d\nadd %%r0, 1\nexit\nbad%d:\n"
					"mov %%r0, 1000\nexit\n",
					i, i, i, i, i);
	}
	load_into(vm, text);
	ret = run_jit(vm, NULL, 0, r0);
	if (ret)
		assert_non_null(strstr(bext_vm__last_error(vm), "call depth"));
	bext_vm__free(vm);
	return ret;
}

static void test_call_depth(void **state)
{
	uint64_t r0;

	(void)state;
	/* main + 7 callees = 8 frames: fine; one more: -E2BIG. */
	assert_int_equal(run_depth(7, &r0), 0);
	assert_int_equal(r0, 7);
	r0 = 123;
	assert_int_equal(run_depth(8, &r0), -E2BIG);
	assert_int_equal(r0, 123); /* *ret untouched on error */
	assert_int_equal(run_depth(1, &r0), 0);
	assert_int_equal(r0, 1);
}

static void test_infinite_recursion(void **state)
{
	struct bext_vm *vm = new_vm(false);
	uint64_t r0 = 5;

	(void)state;
	load_into(vm, "call local f\nexit\nf:\ncall local f\nexit\n");
	assert_int_equal(run_jit(vm, NULL, 0, &r0), -E2BIG);
	/* The error does not stick: a later good run of another vm is clean. */
	assert_int_equal(run_depth(2, &r0), 0);
	assert_int_equal(r0, 2);
	bext_vm__free(vm);
}

static void test_callx(void **state)
{
	/* callx to a function value, to a helper id, and to junk. */
	const char *good = "lddw %r6, func f\n"
			   "mov %r1, 20\n"
			   "call %r6\n"
			   "mov %r7, %r0\n"
			   "mov %r1, 1\n"
			   "mov %r2, 2\n"
			   "mov %r3, 3\n"
			   "mov %r4, 4\n"
			   "mov %r5, 5\n"
			   "mov %r8, 3\n"
			   "call %r8\n"
			   "add %r0, %r7\n"
			   "exit\n"
			   "f:\n"
			   "mov %r0, %r1\n"
			   "add %r0, 1\n"
			   "exit\n";
	struct bext_vm *vm = new_vm(false);
	uint64_t r0;
	static const char *const bad[] = {
	    /* an address that is no function of this program */
	    "lddw %r2, 0x7fff00001000\ncall %r2\nmov %r0, 1\nexit\n",
	    /* a function value plus one */
	    "lddw %r2, func f\nadd %r2, 1\ncall %r2\nmov %r0, 1\nexit\nf:\nmov %r0, 2\nexit\n",
	    /* an unregistered helper id */
	    "mov %r2, 77\ncall %r2\nmov %r0, 1\nexit\n",
	};

	(void)state;
	load_into(vm, good);
	assert_int_equal(run_jit(vm, NULL, 0, &r0), 0);
	assert_int_equal(r0, 54321 + 21);
	bext_vm__free(vm);

	for (size_t i = 0; i < BEXT_ARRAY_SIZE(bad); i++) {
		vm = new_vm(false);
		load_into(vm, bad[i]);
		r0 = 9;
		assert_int_equal(run_jit(vm, NULL, 0, &r0), -EINVAL);
		assert_non_null(strstr(bext_vm__last_error(vm), "callx"));
		/* the interpreter agrees */
		assert_int_equal(bext_vm__exec(vm, NULL, 0, &r0), -EINVAL);
		bext_vm__free(vm);
	}
}

static void test_unwind(void **state)
{
	struct bext_vm *vm = new_vm(false);
	uint64_t r0;

	(void)state;
	/* unwind from a nested subprogram: r0 = 0, nothing after runs */
	load_into(vm, "mov %r1, 3\ncall 5\nmov %r6, %r0\ncall local f\nmov %r0, 77\nexit\n"
		      "f:\ncall local g\nmov %r0, 55\nexit\n"
		      "g:\nmov %r1, 0\ncall 5\nmov %r0, 66\nexit\n");
	assert_int_equal(run_jit(vm, NULL, 0, &r0), 0);
	assert_int_equal(r0, 0);
	bext_vm__free(vm);
}

/* ---- tail calls ----------------------------------------------------------------- */

struct tail_env {
	struct bext_vm *progs[4];
	unsigned lookups;
};

static struct bext_vm *tail_resolve(void *user, uint64_t map, uint32_t index)
{
	struct tail_env *env = user;

	env->lookups++;
	if (map != 0x1234 || index >= 4)
		return NULL;
	return env->progs[index];
}

static struct bext_vm *tail_vm(struct tail_env *env, const char *text)
{
	struct bext_vm *vm = new_vm(false);

	assert_int_equal(bext_vm__set_tail_call_resolver(vm, tail_resolve, env), 0);
	assert_int_equal(bext_vm__register_helper(vm, BEXT_HELPER_TAIL_CALL, "tail_call", h_zero),
			 0);
	load_into(vm, text);
	jit(vm);
	return vm;
}

static void test_tail_calls(void **state)
{
	struct tail_env env = {0};
	uint64_t ctx[2] = {0}, r0;

	(void)state;
	/* 0 -> 1 -> 2; 2 returns ctx[0] (written along the way) + its own mark. */
	env.progs[0] = tail_vm(&env, "mov %r6, 5\nstxdw [%r1], %r6\nlddw %r2, 0x1234\n"
				     "mov %r3, 1\ncall 12\nmov %r0, 99\nexit\n");
	env.progs[1] = tail_vm(&env, "ldxdw %r6, [%r1]\nadd %r6, 10\nstxdw [%r1], %r6\n"
				     "lddw %r2, 0x1234\nmov %r3, 2\ncall 12\nmov %r0, 98\nexit\n");
	env.progs[2] = tail_vm(&env, "ldxdw %r0, [%r1]\nadd %r0, 100\nexit\n");
	/* 3 tail-calls itself, counting in ctx[1], until the limit; then r0 = the
	 * helper's result (-ENOENT) and it returns the count. */
	env.progs[3] = tail_vm(&env, "ldxdw %r6, [%r1+8]\nadd %r6, 1\nstxdw [%r1+8], %r6\n"
				     "lddw %r2, 0x1234\nmov %r3, 3\ncall 12\n"
				     "lddw %r2, -2\njne %r0, %r2, bad\n"
				     "ldxdw %r0, [%r1+8]\nexit\nbad:\nmov %r0, 0\nexit\n");
	assert_int_equal(bext_vm__run(env.progs[0], BEXT_ENGINE_JIT, ctx, sizeof(ctx), &r0), 0);
	assert_int_equal(r0, 115);
	assert_int_equal(env.lookups, 2);

	/* missing program: execution continues with r0 = -ENOENT */
	{
		struct bext_vm *vm = tail_vm(&env, "lddw %r2, 0x1234\nmov %r3, 9\ncall 12\nexit\n");

		assert_int_equal(bext_vm__run(vm, BEXT_ENGINE_JIT, ctx, sizeof(ctx), &r0), 0);
		assert_int_equal(r0, (uint64_t)-ENOENT);
		bext_vm__free(vm);
	}

	/* the limit: 1 run + 33 tail calls, the 34th fails */
	ctx[1] = 0;
	env.lookups = 0;
	assert_int_equal(bext_vm__run(env.progs[3], BEXT_ENGINE_JIT, ctx, sizeof(ctx), &r0), 0);
	assert_int_equal(r0, BEXT_MAX_TAIL_CALLS + 1);
	assert_int_equal(env.lookups, BEXT_MAX_TAIL_CALLS);
	/* the counter is per run */
	ctx[1] = 0;
	assert_int_equal(bext_vm__run(env.progs[3], BEXT_ENGINE_JIT, ctx, sizeof(ctx), &r0), 0);
	assert_int_equal(r0, BEXT_MAX_TAIL_CALLS + 1);
	/* same on the interpreter */
	ctx[1] = 0;
	assert_int_equal(bext_vm__exec(env.progs[3], ctx, sizeof(ctx), &r0), 0);
	assert_int_equal(r0, BEXT_MAX_TAIL_CALLS + 1);

	/* not from a subprogram: fails like a missing program */
	{
		struct bext_vm *vm =
		    tail_vm(&env, "call local f\nexit\n"
				  "f:\nlddw %r2, 0x1234\nmov %r3, 2\ncall 12\nexit\n");

		assert_int_equal(bext_vm__run(vm, BEXT_ENGINE_JIT, ctx, sizeof(ctx), &r0), 0);
		assert_int_equal(r0, (uint64_t)-ENOENT);
		bext_vm__free(vm);
	}
	for (int i = 0; i < 4; i++)
		bext_vm__free(env.progs[i]);
}

/* ---- peephole patterns ----------------------------------------------------------- */

extern bool bext_x86_jit_no_peephole;

/*
 * Runs text on the interpreter, the JIT and the JIT without peephole: same
 * r0 everywhere. Returns code size with and without fusion (via *sizes).
 */
static uint64_t run3(const char *text, size_t sizes[2])
{
	uint64_t r[3];
	size_t sz[2];

	for (int k = 0; k < 3; k++) {
		struct bext_vm *vm = new_vm(false);

		load_into(vm, text);
		if (k == 0) {
			assert_int_equal(bext_vm__exec(vm, NULL, 0, &r[k]), 0);
		} else {
			bext_x86_jit_no_peephole = k == 2;
			assert_int_equal(run_jit(vm, NULL, 0, &r[k]), 0);
			sz[k - 1] = bext_vm__jit_size(vm);
			bext_x86_jit_no_peephole = false;
		}
		bext_vm__free(vm);
	}
	if (r[0] != r[1] || r[0] != r[2])
		fail_msg("interp 0x%llx, jit 0x%llx, jit without peephole 0x%llx for:\n%s",
			 (unsigned long long)r[0], (unsigned long long)r[1],
			 (unsigned long long)r[2], text);
	if (sizes) {
		sizes[0] = sz[0];
		sizes[1] = sz[1];
	}
	return r[0];
}

static const uint64_t pvals[] = {0,
				 1,
				 0xffffffffull,
				 0x80000000ull,
				 0x123456789abcdef0ull,
				 (uint64_t)-1,
				 (uint64_t)-5,
				 0x7fffffff7fffffffull};
static const int32_t pimms[] = {0,	 1,  2,	 3,    5,   9,	     8,		7,	  4096,
				1 << 30, -1, -3, -128, 127, 1000000, INT32_MIN, INT32_MAX};
static const int pregs[] = {0, 1, 4, 6, 7, 9};

/* prologue: every register gets a value (r10 excluded) */
static int prologue(char *t, size_t len, uint64_t v)
{
	int n = 0;

	for (int r = 0; r <= 9; r++)
		n += snprintf(t + n, len - (size_t)n, "lddw %%r%d, 0x%llx\n", r,
			      (unsigned long long)(v * (uint64_t)(r + 1) + (uint64_t)r * 0x1111));
	return n;
}

/* Each pattern, fused (smaller code) and with a jump landing on its 2nd/3rd insn. */
static void test_peephole_alu(void **state)
{
	static const char *const pats[] = {
	    /* %1$d = X, %2$d = Y, %3$d = Z, %4$d = imm */
	    "lsh %%r%1$d, 32\nrsh %%r%1$d, 32\n",
	    "mov %%r%1$d, %%r%2$d\nlsh %%r%1$d, 32\nrsh %%r%1$d, 32\n",
	    "mov %%r%1$d, %%r%2$d\nadd %%r%1$d, %4$d\n",
	    "mov32 %%r%1$d, %%r%2$d\nadd32 %%r%1$d, %4$d\n",
	    "mov %%r%1$d, %%r%2$d\nadd32 %%r%1$d, %4$d\n",
	    "mov %%r%1$d, %%r%2$d\nadd %%r%1$d, %%r%3$d\n",
	    "mov %%r%1$d, %%r%2$d\nadd32 %%r%1$d, %%r%3$d\n",
	    "mov %%r%1$d, %%r%2$d\nadd %%r%1$d, %%r%1$d\n",
	    "mov %%r%1$d, %%r%2$d\nmul %%r%1$d, %4$d\n",
	    "mov %%r%1$d, %%r%2$d\nmul32 %%r%1$d, %4$d\n",
	    "mov32 %%r%1$d, %%r%2$d\nmul32 %%r%1$d, %4$d\n",
	    "mul %%r%1$d, %4$d\n",
	    "mul32 %%r%1$d, %4$d\n",
	    /* not fused (64-bit op after a 32-bit mov), must still be right */
	    "mov32 %%r%1$d, %%r%2$d\nadd %%r%1$d, %4$d\n",
	    "mov32 %%r%1$d, %%r%2$d\nmul %%r%1$d, %4$d\n",
	};
	char text[4096], body[256];
	size_t sizes[2];
	unsigned fused = 0;

	(void)state;
	for (size_t p = 0; p < BEXT_ARRAY_SIZE(pats); p++) {
		for (size_t xi = 0; xi < BEXT_ARRAY_SIZE(pregs); xi++) {
			int x = pregs[xi], y = pregs[(xi + 1 + p) % BEXT_ARRAY_SIZE(pregs)];
			int z = pregs[(xi + 2) % BEXT_ARRAY_SIZE(pregs)];

			for (size_t ii = 0; ii < BEXT_ARRAY_SIZE(pimms); ii++) {
				uint64_t v = pvals[(ii + xi) % BEXT_ARRAY_SIZE(pvals)];
				int n, lines;

				snprintf(body, sizeof(body), pats[p], x, y, z, pimms[ii]);
				lines = 0;
				for (const char *c = body; *c; c++)
					lines += *c == '\n';
				/* 1. straight: fused */
				n = prologue(text, sizeof(text), v);
				snprintf(text + n, sizeof(text) - (size_t)n,
					 "%smov %%r0, %%r%d\nxor %%r0, %%r%d\nexit\n", body, x,
					 y == x ? z : y);
				run3(text, sizes);
				if (sizes[0] < sizes[1])
					fused++;
				/* 2. a jump over the first insn: lands on the second (and
				 *    the third) instruction of the pattern */
				for (int land = 1; land < lines; land++) {
					char head[256];
					const char *second = body;

					for (int l = 0; l < land; l++)
						second = strchr(second, '\n') + 1;
					snprintf(head, sizeof(head), "%.*s", (int)(second - body),
						 body);
					n = prologue(text, sizeof(text), v);
					snprintf(text + n, sizeof(text) - (size_t)n,
						 "jgt %%r%d, 0x1000, land\n%sland:\n%s"
						 "mov %%r0, %%r%d\nxor %%r0, %%r%d\nexit\n",
						 z, head, second, x, y == x ? z : y);
					run3(text, NULL);
				}
			}
		}
	}
	/* most straight cases fuse (not the 64-bit-after-mov32 ones, nor imms with no gain) */
	printf("peephole alu: %u of %zu straight programs fused\n", fused,
	       BEXT_ARRAY_SIZE(pats) * BEXT_ARRAY_SIZE(pregs) * BEXT_ARRAY_SIZE(pimms));
	assert_true(fused > BEXT_ARRAY_SIZE(pats) * BEXT_ARRAY_SIZE(pregs) * 8);
}

/* if (cond) goto +1; goto L  =>  one inverted branch; and with L/the ja a jump target. */
static void test_peephole_branch(void **state)
{
	static const char *const ops[] = {"jeq",  "jne",  "jgt",  "jge",  "jlt", "jle",
					  "jset", "jsgt", "jsge", "jslt", "jsle"};
	static const int64_t cmp[] = {0, 1, -1, 5, 0x80000000ll, 0x7fffffff};
	char text[2048];
	size_t sizes[2];
	unsigned fused = 0;

	(void)state;
	for (size_t o = 0; o < BEXT_ARRAY_SIZE(ops); o++) {
		for (int w = 0; w < 2; w++) {
			for (size_t c = 0; c < BEXT_ARRAY_SIZE(cmp); c++) {
				for (int kind = 0; kind < 3; kind++) {
					const char *sfx = w ? "32" : "";
					char operand[64];

					if (kind == 1)
						snprintf(operand, sizeof(operand), "%%r2");
					else
						snprintf(operand, sizeof(operand), "%lld",
							 (long long)cmp[c]);
					/*
					 * A counting loop whose back edge is the pattern; kind 2
					 * also jumps straight to the ja (a jump target: no fusion
					 * of that pair).
					 */
					snprintf(text, sizeof(text),
						 "mov %%r0, 0\nlddw %%r1, %lld\nlddw %%r2, %lld\n"
						 "mov %%r3, 0\n"
						 "top:\n"
						 "add %%r0, %%r1\nadd %%r1, 1\nadd %%r3, 1\n"
						 "jgt %%r3, 20, out\n"
						 "%s"
						 "%s%s %%r1, %s, +1\n"
						 "ja top\n"
						 "out:\n"
						 "exit\n",
						 (long long)cmp[c] - 10, (long long)cmp[c],
						 kind == 2 ? "jeq %r3, 7, +1\n" : "", ops[o], sfx,
						 operand);
					run3(text, sizes);
					fused += sizes[0] < sizes[1];
				}
			}
		}
	}
	printf("peephole branch: %u fused\n", fused);
	assert_true(fused >= BEXT_ARRAY_SIZE(ops) * 2 * BEXT_ARRAY_SIZE(cmp) * 2);
}

/* ---- callbacks (bext_vm__call_func) ------------------------------------------- */

/* bpf_loop-like helper: r0 = cb(i, ctx) for i < n, stops on r0 != 0. */
static uint64_t h_loop(uint64_t n, uint64_t fn, uint64_t ctx, uint64_t flags, uint64_t r5)
{
	uint64_t i, r0;
	int err;

	(void)flags;
	(void)r5;
	for (i = 0; i < n; i++) {
		err = bext_vm__call_func(NULL, fn, i, ctx, 0, 0, 0, &r0);
		if (err)
			return (uint64_t)(int64_t)err;
		if (r0)
			return i + 1;
	}
	return i;
}

/*
 * In a callback: rsp at helper calls is 8 mod 16 (alignment), local calls
 * and callx work, registers r6-r9 of the helper's caller survive, and 1000
 * iterations sum up.
 */
static void test_callback_jit(void **state)
{
	const char *text = "mov %r6, %r1\n"
			   "mov %r7, 7\n"
			   "stdw [%r10-8], 0\n"
			   "stxdw [%r10-16], %r6\n"
			   "mov %r1, 1000\n"
			   "lddw %r2, func cb\n"
			   "mov %r3, %r10\n"
			   "add %r3, -16\n"
			   "mov %r4, 0\n"
			   "call 181\n"
			   "jne %r7, 7, bad\n"
			   "ldxdw %r1, [%r10-8]\n"
			   "lsh %r0, 32\n"
			   "add %r0, %r1\n"
			   "exit\n"
			   "bad:\n"
			   "mov %r0, 0\n"
			   "exit\n"
			   "cb:\n"
			   "mov %r7, %r2\n"
			   "mov %r6, %r1\n"
			   "call 1\n"
			   "ldxdw %r1, [%r7+0]\n"
			   "stxdw [%r1], %r0\n"
			   "lddw %r2, func sq\n"
			   "mov %r1, %r6\n"
			   "call %r2\n"
			   "mov %r6, %r0\n"
			   "call local probe\n"
			   "ldxdw %r1, [%r7+0]\n"
			   "stxdw [%r1+8], %r0\n"
			   "ldxdw %r1, [%r7+8]\n"
			   "add %r1, %r6\n"
			   "stxdw [%r7+8], %r1\n"
			   "mov %r0, 0\n"
			   "exit\n"
			   "sq:\n"
			   "mov %r0, %r1\n"
			   "mul %r0, %r1\n"
			   "exit\n"
			   "probe:\n"
			   "call 1\n"
			   "exit\n";
	struct bext_vm *vm = new_vm(false);
	uint64_t out[2] = {0}, r0, sum = 0;

	(void)state;
	assert_int_equal(bext_vm__register_helper(vm, 181, "loop", h_loop), 0);
	load_into(vm, text);
	assert_int_equal(run_jit(vm, out, sizeof(out), &r0), 0);
	for (uint64_t i = 0; i < 1000; i++)
		sum += i * i;
	assert_int_equal(r0, (1000ull << 32) | sum);
	assert_int_equal(out[0] % 16, 8);
	assert_int_equal(out[1] % 16, 8);
	/* the interpreter agrees */
	assert_int_equal(bext_vm__exec(vm, out, sizeof(out), &r0), 0);
	assert_int_equal(r0, (1000ull << 32) | sum);
	/* JIT code called directly has no run record: the helper cannot call back */
	r0 = jit(vm)(out, sizeof(out));
	assert_int_equal(r0, (uint64_t)-ENOENT << 32);
	bext_vm__free(vm);
}

/* A tail-called program's callbacks are looked up in the tail-called program. */
static struct bext_vm *cb_tail_target;

static struct bext_vm *cb_tail_resolve(void *user, uint64_t map, uint32_t index)
{
	(void)user;
	(void)map;
	return index == 1 ? cb_tail_target : NULL;
}

static void test_callback_after_tail_call(void **state)
{
	/* The first program has its own function at the same insn index. */
	const char *first = "mov %r6, %r1\nlddw %r2, 1\nmov %r3, 1\ncall 12\nexit\n"
			    "f:\nmov %r0, 1\nexit\n";
	const char *second = "mov %r1, 5\nlddw %r2, func cb\nmov %r3, 0\nmov %r4, 0\n"
			     "call 181\nadd %r0, 100\nexit\n"
			     "cb:\nmov %r0, 0\nexit\n";
	struct bext_vm *vms[2];
	uint64_t r0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		vms[i] = new_vm(false);
		assert_int_equal(bext_vm__register_helper(vms[i], 181, "loop", h_loop), 0);
		assert_int_equal(
		    bext_vm__register_helper(vms[i], BEXT_HELPER_TAIL_CALL, "tail_call", h_zero),
		    0);
		assert_int_equal(bext_vm__set_tail_call_resolver(vms[i], cb_tail_resolve, NULL), 0);
		load_into(vms[i], i ? second : first);
		jit(vms[i]);
	}
	cb_tail_target = vms[1];
	assert_int_equal(bext_vm__run(vms[0], BEXT_ENGINE_JIT, NULL, 0, &r0), 0);
	assert_int_equal(r0, 105);
	assert_int_equal(bext_vm__exec(vms[0], NULL, 0, &r0), 0);
	assert_int_equal(r0, 105);
	bext_vm__free(vms[0]);
	bext_vm__free(vms[1]);
}

/* ---- compile time ------------------------------------------------------------------ */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void test_compile_time(void **state)
{
	struct prog pr = {0};
	enum { N = 1000, RUNS = 50 };
	double best = 1e30, total = 0;
	uint64_t r0, want;

	(void)state;
	/* A typical mix: ALU, loads/stores on the stack, forward and backward branches. */
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_MOV64_IMM(6, 4));
	while (pr.n < N - 3) {
		size_t i = pr.n;

		switch (i % 8) {
		case 0:
			put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, (int32_t)i));
			break;
		case 1:
			put(&pr, BEXT_ALU64_REG(BEXT_ALU_XOR, 7, 0));
			break;
		case 2:
			put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 10, 0, -8 * (int)(1 + i % 32)));
			break;
		case 3:
			put(&pr, BEXT_LDX_MEM(BEXT_SZ_DW, 8, 10, -8 * (int)(1 + (i - 1) % 32)));
			break;
		case 4:
			put(&pr, BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 8));
			break;
		case 5:
			put(&pr, BEXT_JMP_IMM(BEXT_JMP_JGT, 0, 1000000000, 1));
			break;
		case 6:
			put(&pr, BEXT_ALU32_IMM(BEXT_ALU_LSH, 9, 3));
			break;
		case 7:
			put(&pr, BEXT_ALU64_IMM(BEXT_ALU_RSH, 0, 1));
			break;
		}
	}
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_SUB, 6, 1));
	put(&pr, BEXT_JMP_IMM(BEXT_JMP_JNE, 6, 0, -(int)(pr.n - 1)));
	put(&pr, BEXT_EXIT_INSN());
	for (int r = 0; r < RUNS; r++) {
		struct bext_vm *vm = load_opts(pr.p, pr.n, false);
		double t0 = now_us(), dt;

		jit(vm);
		dt = now_us() - t0;
		total += dt;
		if (dt < best)
			best = dt;
		if (r == 0) {
			assert_int_equal(bext_vm__exec(vm, NULL, 0, &want), 0);
			assert_int_equal(run_jit(vm, NULL, 0, &r0), 0);
			assert_int_equal(r0, want);
			printf("# compile: %zu insns -> %zu bytes of x86-64\n", pr.n,
			       bext_vm__jit_size(vm));
		}
		bext_vm__free(vm);
	}
	printf("# compile time for %zu insns: best %.1f us, mean %.1f us (%d runs)\n", pr.n, best,
	       total / RUNS, RUNS);
	free(pr.p);
}

/* ---- inlined map lookups -------------------------------------------------------- */

/*
 * A fake map the describer knows: values of `stride` bytes, `nr_cpus` slots
 * per key for the per-CPU kind. The fake helper 1 has the semantics the
 * inlined code must reproduce, except that when the rseq CPU id is >=
 * nr_cpus it returns a marker (FALLBACK + key): seeing the marker proves the
 * inlined per-CPU code called the helper on its slow path.
 */
#define FALLBACK 0x7e57000000000000ull

static struct bext_inline_lookup fake;
static uint8_t fake_mem[64 * 4096] __attribute__((aligned(64)));
static int describe_calls;

static int32_t rseq_cpu(void)
{
	return *(volatile int32_t *)((char *)__builtin_thread_pointer() + __rseq_offset +
				     offsetof(struct rseq, cpu_id));
}

static uint64_t fake_lookup(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint32_t key = *(const uint32_t *)(uintptr_t)r2;
	uint32_t cpu = (uint32_t)rseq_cpu();

	(void)r3, (void)r4, (void)r5;
	if (r1 != (uintptr_t)&fake)
		return 0x5eed; /* the other map */
	if (key >= fake.max_entries)
		return 0;
	if (fake.kind == BEXT_INLINE_ARRAY)
		return fake.base + key * fake.elem_stride;
	if (cpu >= fake.nr_cpus)
		return FALLBACK + key;
	return fake.base + key * fake.elem_stride + cpu * fake.cpu_stride;
}

static int fake_describe(void *user, uint64_t map, struct bext_inline_lookup *out)
{
	describe_calls++;
	assert_ptr_equal(user, &describe_calls);
	if (map != (uintptr_t)&fake) {
		memset(out, 0, sizeof(*out));
		return -ENOENT;
	}
	*out = fake;
	return 0;
}

static int fake_pseudo(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value)
{
	(void)user, (void)next_imm;
	if (src != BEXT_PSEUDO_MAP_IDX && src != BEXT_PSEUDO_MAP_FD)
		return -EINVAL;
	/* imm 0: the fake map; 1: a map the describer does not know */
	*value = imm == 1 ? (uintptr_t)&fake_mem : (uintptr_t)&fake;
	return 0;
}

static struct bext_vm *load_inl(struct prog *pr, bool blinding, bool describer)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .blinding = blinding};
	struct bext_vm *vm = bext_vm__new(&o);
	char err[256];

	assert_non_null(vm);
	assert_int_equal(bext_vm__register_helper(vm, 1, "lookup", fake_lookup), 0);
	assert_int_equal(bext_vm__set_pseudo_resolver(vm, fake_pseudo, NULL), 0);
	if (describer)
		assert_int_equal(bext_vm__set_inline_lookup(vm, fake_describe, &describe_calls), 0);
	if (bext_vm__load(vm, pr->p, pr->n, err, sizeof(err)))
		fail_msg("load: %s", err);
	jit(vm);
	return vm;
}

static void put_map_lddw(struct prog *pr, int reg, int src)
{
	put(pr, BEXT_LD_IMM64_LO(reg, src, 0));
	put(pr, BEXT_LD_IMM64_HI(0));
}

/* out[i] = lookup(fake, keys[i]) for each key, each call right after its map lddw. */
static void build_lookups(struct prog *pr, const uint32_t *keys, size_t n)
{
	put(pr, BEXT_MOV64_REG(6, 1));
	for (size_t i = 0; i < n; i++) {
		put(pr, BEXT_ST_MEM(BEXT_SZ_W, 10, -4, (int32_t)keys[i]));
		/* alternate: lddw straight into r1, or into r3 then r1 = r3 */
		if (i & 1) {
			put_map_lddw(pr, 3, BEXT_PSEUDO_MAP_FD);
			put(pr, BEXT_MOV64_REG(1, 3));
		} else {
			put_map_lddw(pr, 1, BEXT_PSEUDO_MAP_IDX);
		}
		put(pr, BEXT_MOV64_REG(2, 10));
		put(pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
		put(pr, BEXT_CALL_HELPER_INSN(1));
		put(pr, BEXT_STX_MEM(BEXT_SZ_DW, 6, 0, (int16_t)(8 * i)));
	}
	put(pr, BEXT_MOV64_IMM(0, 0));
	put(pr, BEXT_EXIT_INSN());
}

/*
 * Runs vm on the JIT and the interpreter; both must give the helper's
 * pointers. Returns how many JIT results were the fallback marker.
 */
static int check_lookups(struct bext_vm *vm, const uint32_t *keys, size_t n)
{
	uint64_t out[16], ref[16], r0;
	int fallbacks = 0;

	assert_true(n <= 16);
	for (int engine = 0; engine < 2; engine++) {
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(bext_vm__run(vm, engine ? BEXT_ENGINE_JIT : BEXT_ENGINE_INTERP,
					      out, sizeof(out), &r0),
				 0);
		for (size_t i = 0; i < n; i++) {
			uint64_t k = (uintptr_t)&keys[i];

			ref[i] = fake_lookup((uintptr_t)&fake, k, 0, 0, 0);
			if (out[i] != ref[i])
				fail_msg("%s, kind %u stride %llu cpus %u, key %u: got %#llx, "
					 "helper %#llx",
					 engine ? "jit" : "interp", fake.kind,
					 (unsigned long long)fake.elem_stride, fake.nr_cpus,
					 keys[i], (unsigned long long)out[i],
					 (unsigned long long)ref[i]);
			fallbacks += engine && (out[i] & ~0xffffffffull) == FALLBACK;
		}
	}
	return fallbacks;
}

static void pin_to_current_cpu(void)
{
	cpu_set_t set;
	int c = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(c < 0 ? 0 : c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void test_inline_lookup(void **state)
{
	static const uint64_t strides[] = {8, 16, 24, 200, 4096};
	static const uint32_t maxes[] = {1, 7};
	uint32_t keys[9], nk = 0;
	cpu_set_t saved;
	int fallbacks;

	(void)state;
	if (!__rseq_size || rseq_cpu() < 0)
		skip(); /* needs glibc's rseq registration (glibc >= 2.35) */
	sched_getaffinity(0, sizeof(saved), &saved);
	pin_to_current_cpu();
	for (size_t kind = BEXT_INLINE_ARRAY; kind <= BEXT_INLINE_PERCPU_ARRAY; kind++) {
		for (size_t s = 0; s < sizeof(strides) / sizeof(strides[0]); s++) {
			for (size_t m = 0; m < 2; m++) {
				/* per-CPU: enough slots (fast path), then too few (slow path) */
				for (int slots = 0; slots < (kind == BEXT_INLINE_ARRAY ? 1 : 2);
				     slots++) {
					struct prog pr = {0};
					struct bext_vm *vm, *plain;
					uint32_t cpu = (uint32_t)rseq_cpu();

					fake = (struct bext_inline_lookup){
					    .kind = (uint32_t)kind,
					    .max_entries = maxes[m],
					    .base = (uintptr_t)fake_mem,
					    .elem_stride = strides[s],
					};
					if (kind == BEXT_INLINE_PERCPU_ARRAY) {
						fake.nr_cpus = slots ? cpu : cpu + 3;
						fake.cpu_stride = strides[s];
						fake.elem_stride = strides[s] * (cpu + 3);
						fake.cpu_tp_off =
						    __rseq_offset +
						    (int64_t)offsetof(struct rseq, cpu_id);
						if (!fake.nr_cpus)
							continue; /* cpu 0: no slot count below it
								   */
					}
					nk = 0;
					keys[nk++] = 0;
					keys[nk++] = maxes[m] - 1;
					keys[nk++] = maxes[m];
					keys[nk++] = maxes[m] + 1;
					keys[nk++] = 0xffffffffu; /* -1 as u32 */
					keys[nk++] = 0x80000000u;
					keys[nk++] = maxes[m] / 2;
					build_lookups(&pr, keys, nk);
					vm = load_inl(&pr, false, true);
					assert_int_equal(bext_vm__jit_inlined(vm), nk);
					fallbacks = check_lookups(vm, keys, nk);
					/* per-CPU with too few slots: the helper answered in range
					 */
					assert_int_equal(fallbacks, slots ? 3 : 0);
					/* without the describer: same results, helper calls, other
					 * code */
					plain = load_inl(&pr, false, false);
					assert_int_equal(bext_vm__jit_inlined(plain), 0);
					assert_true(bext_vm__jit_size(plain) !=
						    bext_vm__jit_size(vm));
					check_lookups(plain, keys, nk);
					bext_vm__free(plain);
					/* blinding: never inlined */
					plain = load_inl(&pr, true, true);
					assert_int_equal(bext_vm__jit_inlined(plain), 0);
					check_lookups(plain, keys, nk);
					bext_vm__free(plain);
					bext_vm__free(vm);
					free(pr.p);
				}
			}
		}
	}
	sched_setaffinity(0, sizeof(saved), &saved);
}

/*
 * Only calls whose r1 is a map lddw of the same basic block are inlined;
 * everything else keeps the helper call and gives the same results.
 */
static void test_inline_dataflow(void **state)
{
	uint64_t out[4], r0;
	struct bext_vm *vm;
	struct prog pr = {0};

	(void)state;
	fake = (struct bext_inline_lookup){.kind = BEXT_INLINE_ARRAY,
					   .max_entries = 5,
					   .base = (uintptr_t)fake_mem,
					   .elem_stride = 24};

	/* The map pointer kept in callee-saved r7 across a loop: not inlined. */
	put(&pr, BEXT_MOV64_REG(6, 1));
	put_map_lddw(&pr, 7, BEXT_PSEUDO_MAP_IDX);
	put(&pr, BEXT_MOV64_IMM(8, 0));
	/* loop: */
	put(&pr, BEXT_STX_MEM(BEXT_SZ_W, 10, 8, -4));
	put(&pr, BEXT_MOV64_REG(1, 7));
	put(&pr, BEXT_MOV64_REG(2, 10));
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
	put(&pr, BEXT_CALL_HELPER_INSN(1));
	put(&pr, BEXT_MOV64_REG(9, 8));
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_LSH, 9, 2)); /* out[key / 2] */
	put(&pr, BEXT_ALU64_REG(BEXT_ALU_ADD, 9, 6));
	put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 9, 0, 0));
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 8, 2)); /* keys 0, 2, 4, 6 */
	put(&pr, BEXT_JMP_IMM(BEXT_JMP_JLT, 8, 8, -11));
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_EXIT_INSN());
	for (int engine = 0; engine < 2; engine++) {
		vm = load_inl(&pr, false, true);
		assert_int_equal(bext_vm__jit_inlined(vm), 0);
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(bext_vm__run(vm, engine, out, sizeof(out), &r0), 0);
		assert_true(out[0] == (uintptr_t)fake_mem);
		assert_true(out[1] == (uintptr_t)fake_mem + 2 * 24);
		assert_true(out[2] == (uintptr_t)fake_mem + 4 * 24);
		assert_true(out[3] == 0);
		bext_vm__free(vm);
	}
	free(pr.p);

	/* Two paths join between the lddw and the call: not inlined. */
	memset(&pr, 0, sizeof(pr));
	put(&pr, BEXT_MOV64_REG(6, 1));
	put(&pr, BEXT_LDX_MEM(BEXT_SZ_DW, 3, 6, 0));
	put(&pr, BEXT_ST_MEM(BEXT_SZ_W, 10, -4, 1));
	put_map_lddw(&pr, 1, BEXT_PSEUDO_MAP_IDX); /* the fake map */
	put(&pr, BEXT_JMP_IMM(BEXT_JMP_JEQ, 3, 0, 2));
	put_map_lddw(&pr, 1, BEXT_PSEUDO_MAP_IDX);
	pr.p[pr.n - 2].imm = 1;		 /* the unknown map */
	put(&pr, BEXT_MOV64_REG(2, 10)); /* join */
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
	put(&pr, BEXT_CALL_HELPER_INSN(1));
	put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 6, 0, 8));
	/* r1 redefined after its lddw (even to itself): not inlined either */
	put_map_lddw(&pr, 1, BEXT_PSEUDO_MAP_IDX);
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 0));
	put(&pr, BEXT_MOV64_REG(2, 10));
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
	put(&pr, BEXT_CALL_HELPER_INSN(1));
	put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 6, 0, 16));
	/* the unknown map in its own block: the describer says no */
	put_map_lddw(&pr, 1, BEXT_PSEUDO_MAP_IDX);
	pr.p[pr.n - 2].imm = 1;
	put(&pr, BEXT_MOV64_REG(2, 10));
	put(&pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
	put(&pr, BEXT_CALL_HELPER_INSN(1));
	put(&pr, BEXT_STX_MEM(BEXT_SZ_DW, 6, 0, 24));
	put(&pr, BEXT_MOV64_IMM(0, 0));
	put(&pr, BEXT_EXIT_INSN());
	for (int engine = 0; engine < 2; engine++) {
		for (uint64_t path = 0; path < 2; path++) {
			describe_calls = 0;
			vm = load_inl(&pr, false, true);
			assert_int_equal(bext_vm__jit_inlined(vm), 0);
			assert_int_equal(describe_calls, 1); /* asked about the unknown map only */
			memset(out, 0xa5, sizeof(out));
			out[0] = path;
			assert_int_equal(bext_vm__run(vm, engine, out, sizeof(out), &r0), 0);
			assert_true(out[1] == (path ? 0x5eed : (uintptr_t)fake_mem + 24));
			assert_true(out[2] == (uintptr_t)fake_mem + 24);
			assert_true(out[3] == 0x5eed);
			bext_vm__free(vm);
		}
	}
	free(pr.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alu_ops),
	    cmocka_unit_test(test_alu_ops_blinded),
	    cmocka_unit_test(test_shifts_without_bmi2),
	    cmocka_unit_test(test_endian),
	    cmocka_unit_test(test_jumps),
	    cmocka_unit_test(test_jump_distances),
	    cmocka_unit_test(test_loads_stores),
	    cmocka_unit_test(test_atomics),
	    cmocka_unit_test(test_wx),
	    cmocka_unit_test(test_blinding),
	    cmocka_unit_test(test_too_large_and_kfunc),
	    cmocka_unit_test(test_helper_alignment),
	    cmocka_unit_test(test_register_pressure),
	    cmocka_unit_test(test_call_depth),
	    cmocka_unit_test(test_infinite_recursion),
	    cmocka_unit_test(test_callx),
	    cmocka_unit_test(test_unwind),
	    cmocka_unit_test(test_tail_calls),
	    cmocka_unit_test(test_peephole_alu),
	    cmocka_unit_test(test_peephole_branch),
	    cmocka_unit_test(test_callback_jit),
	    cmocka_unit_test(test_callback_after_tail_call),
	    cmocka_unit_test(test_compile_time),
	    cmocka_unit_test(test_inline_lookup),
	    cmocka_unit_test(test_inline_dataflow),
	};

#if !defined(__x86_64__)
	printf("no JIT back end on this architecture\n");
	return 77;
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the eBPF machine: edge cases the conformance suite does not
 * cover, each run on BOTH engines. For the JIT, bext_vm__jit() must succeed
 * (so that the interpreter fallback of bext_vm__run() cannot hide a JIT
 * failure) and the run goes through bext_vm__run(BEXT_ENGINE_JIT), which
 * also reports JIT run-time errors.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <bext/isa.h>
#include <bext/vm.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define LDDW(d, v) BEXT_LD_IMM64_LO(d, 0, v), BEXT_LD_IMM64_HI(v)
#define INSN BEXT_INSN

typedef void (*setup_fn)(struct bext_vm *vm, void *arg);

static const char *engine_name(enum bext_engine e)
{
	return e == BEXT_ENGINE_JIT ? "jit" : "interp";
}

static struct bext_vm *make_vm(const struct bext_insn *p, size_t n, const struct bext_vm_opts *o,
			       setup_fn setup, void *arg)
{
	struct bext_vm *vm = bext_vm__new(o);
	char err[256] = "";
	int ret;

	assert_non_null(vm);
	if (setup)
		setup(vm, arg);
	ret = bext_vm__load(vm, p, n, err, sizeof(err));
	if (ret)
		fail_msg("load failed: %s", err);
	return vm;
}

/* Runs on one engine; for the JIT, compilation must succeed. */
static int run_on(struct bext_vm *vm, enum bext_engine e, void *ctx, size_t len, uint64_t *r0)
{
	char err[256] = "";

	if (e == BEXT_ENGINE_JIT && !bext_vm__jit(vm, err, sizeof(err)))
		fail_msg("JIT cannot compile: %s", err);
	return bext_vm__run(vm, e, ctx, len, r0);
}

static void expect_r0_ex(const struct bext_insn *p, size_t n, setup_fn setup, void *arg, void *ctx,
			 size_t len, uint64_t expect)
{
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		struct bext_vm *vm = make_vm(p, n, NULL, setup, arg);
		uint64_t r0 = 0xdeadbeef;
		int ret = run_on(vm, e, ctx, len, &r0);

		if (ret)
			fail_msg("%s: run failed (%d): %s", engine_name(e), ret,
				 bext_vm__last_error(vm));
		if (r0 != expect)
			fail_msg("%s: r0 = 0x%llx, expected 0x%llx", engine_name(e),
				 (unsigned long long)r0, (unsigned long long)expect);
		bext_vm__free(vm);
	}
}

#define expect_r0(p, ctx, len, v) expect_r0_ex(p, N(p), NULL, NULL, ctx, len, v)

/* The run must fail with err_no on both engines, the message containing msg. */
static void expect_run_error(const struct bext_insn *p, size_t n, setup_fn setup, void *arg,
			     void *ctx, size_t len, int err_no, const char *msg)
{
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		struct bext_vm *vm = make_vm(p, n, NULL, setup, arg);
		uint64_t r0 = 0;
		int ret = run_on(vm, e, ctx, len, &r0);

		if (ret != -err_no)
			fail_msg("%s: run returned %d (r0 0x%llx), expected %d", engine_name(e),
				 ret, (unsigned long long)r0, -err_no);
		if (!strstr(bext_vm__last_error(vm), msg))
			fail_msg("%s: message '%s' lacks '%s'", engine_name(e),
				 bext_vm__last_error(vm), msg);
		bext_vm__free(vm);
	}
}

/* ---- ALU ---------------------------------------------------------------- */

struct alu_case {
	uint8_t code;
	int16_t off;
	uint64_t a;
	int64_t b; /* K forms: the imm (must fit s32); END: the width */
	uint64_t expect;
};

#define A64K(op) (BEXT_CLS_ALU64 | BEXT_ALU_##op | BEXT_SRC_K)
#define A64X(op) (BEXT_CLS_ALU64 | BEXT_ALU_##op | BEXT_SRC_X)
#define A32K(op) (BEXT_CLS_ALU | BEXT_ALU_##op | BEXT_SRC_K)
#define A32X(op) (BEXT_CLS_ALU | BEXT_ALU_##op | BEXT_SRC_X)
#define I64MIN 0x8000000000000000ull

static const struct alu_case alu_cases[] = {
    {A64K(ADD), 0, 0xffffffffffffffffull, 2, 1},
    {A64X(ADD), 0, 0x100000000ull, 0xffffffff, 0x1ffffffffull},
    {A32K(ADD), 0, 0x1ffffffffull, 2, 1},
    {A32X(ADD), 0, 0xffffffff00000005ull, 0x100000001ll, 6},
    {A64K(SUB), 0, 1, 2, 0xffffffffffffffffull},
    {A64X(SUB), 0, 10, 3, 7},
    {A32K(SUB), 0, 1, 2, 0xffffffffull},
    {A32X(SUB), 0, 0x500000000ull, 1, 0xffffffffull},
    {A64K(MUL), 0, 0x100000000ull, -1, 0xffffffff00000000ull},
    {A64X(MUL), 0, I64MIN, -1, I64MIN},
    {A32K(MUL), 0, 0x10000, 0x10000, 0},
    {A32X(MUL), 0, 0x80000000ull, 0xffffffff, 0x80000000ull},
    /* unsigned div/mod, by zero */
    {A64K(DIV), 0, 100, 7, 14},
    {A64X(DIV), 0, 100, 0, 0},
    {A64K(DIV), 0, 0xffffffffffffffffull, -1, 1}, /* imm sign-extended, unsigned divide */
    {A32K(DIV), 0, 0x100000064ull, 7, 14},	  /* high bits of dst ignored */
    {A32X(DIV), 0, 5, 0x100000000ll, 0},	  /* low 32 bits of src are 0 */
    {A64K(MOD), 0, 100, 7, 2},
    {A64X(MOD), 0, 0xffffffff12345678ull, 0, 0xffffffff12345678ull},
    {A32X(MOD), 0, 0xffffffff12345678ull, 0, 0x12345678},
    {A32K(MOD), 0, 100, 7, 2},
    /* signed div/mod corners */
    {A64X(DIV), 1, I64MIN, -1, I64MIN},
    {A64K(DIV), 1, I64MIN, -1, I64MIN},
    {A64X(MOD), 1, I64MIN, -1, 0},
    {A64K(MOD), 1, I64MIN, -1, 0},
    {A64X(DIV), 1, (uint64_t)-7, 2, (uint64_t)-3},
    {A64X(DIV), 1, 7, -2, (uint64_t)-3},
    {A64X(DIV), 1, (uint64_t)-7, -2, 3},
    {A64X(MOD), 1, (uint64_t)-7, 2, (uint64_t)-1},
    {A64X(MOD), 1, 7, -2, 1},
    {A64X(MOD), 1, (uint64_t)-7, -2, (uint64_t)-1},
    {A64X(DIV), 1, (uint64_t)-7, 0, 0},
    {A64X(MOD), 1, (uint64_t)-7, 0, (uint64_t)-7},
    {A64K(DIV), 1, (uint64_t)-7, 0, 0},
    {A32X(DIV), 1, 0x80000000ull, 0xffffffff, 0x80000000ull},
    {A32K(DIV), 1, 0x80000000ull, -1, 0x80000000ull},
    {A32X(MOD), 1, 0x80000000ull, 0xffffffff, 0},
    {A32K(DIV), 1, 0xfffffff9ull, 2, 0xfffffffdull},	     /* -7 / 2 = -3 */
    {A32K(MOD), 1, 0x00000000fffffff9ull, 2, 0xffffffffull}, /* -7 % 2 = -1 */
    {A32X(MOD), 1, 0xabcdef00fffffff9ull, 0, 0xfffffff9ull}, /* x % 0 = low32(x) */
    {A32X(DIV), 1, 0xabcdef00fffffff9ull, 0, 0},
    {A32K(DIV), 1, 0x1fffffff9ull, -2, 3}, /* high bits ignored */
    /* bitwise */
    {A64K(OR), 0, 0xf0, 0x0f, 0xff},
    {A64X(OR), 0, 0xff00000000ull, 1, 0xff00000001ull},
    {A32K(OR), 0, 0xff00000000ull, 1, 1},
    {A32X(OR), 0, 2, 1, 3},
    {A64K(AND), 0, 0xffffffffffffffffull, -2, 0xfffffffffffffffeull},
    {A64X(AND), 0, 0xff0, 0x0ff, 0xf0},
    {A32K(AND), 0, 0xffffffffffffffffull, -1, 0xffffffffull},
    {A32X(AND), 0, 0xff0, 0x0ff, 0xf0},
    {A64K(XOR), 0, 0xff, -1, 0xffffffffffffff00ull},
    {A64X(XOR), 0, 3, 5, 6},
    {A32K(XOR), 0, 0xff, -1, 0xffffff00ull},
    {A32X(XOR), 0, 3, 5, 6},
    /* shifts: amount masked to 63 / 31 */
    {A64K(LSH), 0, 1, 63, I64MIN},
    {A64K(LSH), 0, 1, 65, 2},
    {A32K(RSH), 0, 0x80000000ull, 63, 1},
    {A32K(ARSH), 0, 0x80000000ull, 33, 0xc0000000ull},
    {A64X(LSH), 0, 1, 65, 2},
    {A64X(LSH), 0, 1, 64, 1},
    {A32K(LSH), 0, 1, 31, 0x80000000ull},
    {A32X(LSH), 0, 1, 33, 2},
    {A32X(LSH), 0, 0xffffffff00000001ull, 32, 1},
    {A64K(RSH), 0, I64MIN, 63, 1},
    {A64X(RSH), 0, I64MIN, 127, 1},
    {A32K(RSH), 0, 0xffffffff80000000ull, 31, 1},
    {A32X(RSH), 0, 0x80000000ull, 63, 1},
    {A64K(ARSH), 0, I64MIN, 63, 0xffffffffffffffffull},
    {A64X(ARSH), 0, I64MIN, 64 + 4, 0xf800000000000000ull},
    {A32K(ARSH), 0, 0x80000000ull, 31, 0xffffffffull},
    {A32X(ARSH), 0, 0x80000000ull, 32 + 4, 0xf8000000ull},
    {A32X(ARSH), 0, 0x1700000000ull, 1, 0},
    /* neg ignores src */
    {A64K(NEG), 0, 5, 0, (uint64_t)-5},
    {A64K(NEG), 0, I64MIN, 0, I64MIN},
    {A32K(NEG), 0, 5, 0, 0xfffffffbull},
    {A32K(NEG), 0, 0xffffffff80000000ull, 0, 0x80000000ull},
    /* mov, movsx */
    {A64K(MOV), 0, 7, -1, 0xffffffffffffffffull},
    {A64X(MOV), 0, 7, 0x123456789ll, 0x123456789ull},
    {A32K(MOV), 0, 7, -1, 0xffffffffull},
    {A32X(MOV), 0, 7, 0x123456789ll, 0x23456789ull},
    {A64X(MOV), 8, 0, 0x1ff, 0xffffffffffffffffull},
    {A64X(MOV), 8, 0, 0x17f, 0x7f},
    {A64X(MOV), 16, 0, 0x18000, 0xffffffffffff8000ull},
    {A64X(MOV), 32, 0, 0x180000000ll, 0xffffffff80000000ull},
    {A64X(MOV), 32, 0, 0x7fffffff, 0x7fffffff},
    {A32X(MOV), 8, 0, 0x180, 0xffffff80ull},
    {A32X(MOV), 16, 0, 0xffff8000ll, 0xffff8000ull},
    {A32X(MOV), 16, 0, 0x7fff, 0x7fff},
    /* byte order: le truncates, be swaps, ALU64 bswap swaps */
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 16, 0x7788},
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 32, 0x55667788},
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 64, 0x1122334455667788ull},
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_X, 0, 0x1122334455667788ull, 16, 0x8877},
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_X, 0, 0x1122334455667788ull, 32, 0x88776655},
    {BEXT_CLS_ALU | BEXT_ALU_END | BEXT_SRC_X, 0, 0x1122334455667788ull, 64, 0x8877665544332211ull},
    {BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 16, 0x8877},
    {BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 32, 0x88776655},
    {BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_K, 0, 0x1122334455667788ull, 64,
     0x8877665544332211ull},
};

static void test_alu(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(alu_cases); i++) {
		const struct alu_case *c = &alu_cases[i];
		bool x = BEXT_SRC(c->code) == BEXT_SRC_X && BEXT_OP(c->code) != BEXT_ALU_END;
		struct bext_insn p[] = {
		    LDDW(0, c->a),
		    LDDW(1, (uint64_t)c->b),
		    INSN(c->code, 0, x ? 1 : 0, c->off, x ? 0 : (int32_t)c->b),
		    BEXT_EXIT_INSN(),
		};

		print_message("alu case %zu: code 0x%02x off %d\n", i, c->code, c->off);
		expect_r0(p, NULL, 0, c->expect);
	}
}

/* ALU32 results are zero-extended even when the destination held high bits. */
static void test_alu32_zero_extends(void **state)
{
	struct bext_insn p[] = {
	    LDDW(0, 0xffffffffffffffffull),
	    BEXT_ALU32_IMM(BEXT_ALU_ADD, 0, 0),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_r0(p, NULL, 0, 0xffffffffull);
}

/* ---- loads and stores --------------------------------------------------- */

static void test_loads(void **state)
{
	uint8_t mem[16] = {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
			   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
	static const struct {
		uint8_t code;
		int16_t off;
		uint64_t expect;
	} c[] = {
	    {BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_B, 0, 0x81},
	    {BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_H, 1, 0x8382},
	    {BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_W, 3, 0x87868584},
	    {BEXT_CLS_LDX | BEXT_MODE_MEM | BEXT_SZ_DW, 5, 0x0504030201888786ull}, /* unaligned */
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_B, 0, 0xffffffffffffff81ull},
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_H, 1, 0xffffffffffff8382ull},
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_W, 3, 0xffffffff87868584ull},
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_B, 8, 0x01},
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_H, 8, 0x0201},
	    {BEXT_CLS_LDX | BEXT_MODE_MEMSX | BEXT_SZ_W, 8, 0x04030201},
	};

	(void)state;
	for (size_t i = 0; i < N(c); i++) {
		uint64_t expect = c[i].expect;
		/* r1 moved to the end so a negative offset is used too */
		struct bext_insn p[] = {
		    BEXT_ALU64_IMM(BEXT_ALU_ADD, 1, 16),
		    INSN(c[i].code, 0, 1, (int16_t)(c[i].off - 16), 0),
		    BEXT_EXIT_INSN(),
		};

		print_message("load case %zu\n", i);
		expect_r0(p, mem, sizeof(mem), expect);
	}
}

static void test_stores(void **state)
{
	/* Every store size, imm and reg, into ctx memory; then the stack round trip. */
	struct bext_insn p[] = {
	    BEXT_ST_MEM(BEXT_SZ_B, 1, 0, 0x1ab),   /* truncated: ab */
	    BEXT_ST_MEM(BEXT_SZ_H, 1, 1, 0x1cdef), /* ef cd */
	    BEXT_ST_MEM(BEXT_SZ_W, 1, 3, -2),	   /* fe ff ff ff */
	    BEXT_ST_MEM(BEXT_SZ_DW, 1, 8, -3),	   /* sign-extended imm */
	    LDDW(2, 0x1122334455667788ull),
	    BEXT_STX_MEM(BEXT_SZ_B, 1, 2, 16),
	    BEXT_STX_MEM(BEXT_SZ_H, 1, 2, 17),
	    BEXT_STX_MEM(BEXT_SZ_W, 1, 2, 19),
	    BEXT_STX_MEM(BEXT_SZ_DW, 1, 2, 24),
	    /* stack */
	    BEXT_STX_MEM(BEXT_SZ_DW, 10, 2, -8),
	    BEXT_ST_MEM(BEXT_SZ_W, 10, -12, 0x01020304),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 10, -8),
	    BEXT_LDX_MEM(BEXT_SZ_W, 3, 10, -12),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 3),
	    BEXT_EXIT_INSN(),
	};
	static const uint8_t want[32] = {
	    0xab, 0xef, 0xcd, 0xfe, 0xff, 0xff, 0xff, 0,    0xfd, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0x88, 0x88, 0x77, 0x88, 0x77, 0x66,
	    0x55, 0,	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	};

	(void)state;
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		uint8_t mem[32] = {0};
		struct bext_vm *vm = make_vm(p, N(p), NULL, NULL, NULL);
		uint64_t r0 = 0;

		assert_int_equal(run_on(vm, e, mem, sizeof(mem), &r0), 0);
		assert_int_equal(r0, 0x1122334455667788ull + 0x01020304);
		assert_memory_equal(mem, want, sizeof(want));
		bext_vm__free(vm);
	}
}

/* ---- jumps -------------------------------------------------------------- */

struct jmp_case {
	uint8_t code; /* class | op | src */
	uint64_t a;
	int64_t b;
	bool taken;
};

#define J64K(op) (BEXT_CLS_JMP | BEXT_JMP_##op | BEXT_SRC_K)
#define J64X(op) (BEXT_CLS_JMP | BEXT_JMP_##op | BEXT_SRC_X)
#define J32K(op) (BEXT_CLS_JMP32 | BEXT_JMP_##op | BEXT_SRC_K)
#define J32X(op) (BEXT_CLS_JMP32 | BEXT_JMP_##op | BEXT_SRC_X)
#define NEG1 0xffffffffffffffffull

static const struct jmp_case jmp_cases[] = {
    {J64K(JEQ), NEG1, -1, true},
    {J64K(JEQ), 0xffffffffull, -1, false},
    {J64X(JEQ), 5, 5, true},
    {J32K(JEQ), 0x1ffffffffull, -1, true},
    {J32X(JEQ), 0x100000005ull, 5, true},
    {J32X(JEQ), 4, 5, false},
    {J64K(JNE), 1, 1, false},
    {J64X(JNE), 1, 2, true},
    {J32K(JNE), 0x100000001ull, 1, false},
    {J32X(JNE), 0x100000001ull, 2, true},
    {J64K(JGT), NEG1, 1, true},
    {J64X(JGT), 1, 1, false},
    {J32K(JGT), 0x100000000ull, 1, false},
    {J32X(JGT), 0xffffffffull, 1, true},
    {J64K(JGE), 1, 1, true},
    {J64X(JGE), 0, 1, false},
    {J32K(JGE), 0x100000001ull, 2, false},
    {J32X(JGE), 2, 2, true},
    {J64K(JLT), 1, -1, true},
    {J64X(JLT), 1, 1, false},
    {J32K(JLT), 0x100000000ull, 1, true},
    {J32X(JLT), 2, 1, false},
    {J64K(JLE), 1, 1, true},
    {J64X(JLE), 2, 1, false},
    {J32K(JLE), 0x100000002ull, 2, true},
    {J32X(JLE), 3, 2, false},
    {J64K(JSET), 0x100000000ull, 1, false},
    {J64X(JSET), 0x100000000ull, 0x100000000ll, true},
    {J32K(JSET), 0x100000000ull, -1, false},
    {J32X(JSET), 6, 2, true},
    {J64K(JSGT), NEG1, 1, false},
    {J64X(JSGT), 2, -1, true},
    {J32K(JSGT), 0x80000000ull, 0, false},
    {J32X(JSGT), 0xffffffff00000001ull, 0, true},
    {J64K(JSGE), NEG1, -1, true},
    {J64X(JSGE), NEG1, 0, false},
    {J32K(JSGE), 0x7fffffffull, 0, true},
    {J32X(JSGE), 0xffffffffull, 0, false},
    {J64K(JSLT), NEG1, 0, true},
    {J64X(JSLT), 0, -1, false},
    {J32K(JSLT), 0xffffffffull, 0, true},
    {J32X(JSLT), 0x100000000ull, 0, false},
    {J64K(JSLE), NEG1, -1, true},
    {J64X(JSLE), 1, 0, false},
    {J32K(JSLE), 0x80000000ull, -1, true},
    {J32X(JSLE), 0x100000000ull, 0, true},
};

static void test_jumps(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(jmp_cases); i++) {
		const struct jmp_case *c = &jmp_cases[i];
		bool x = BEXT_SRC(c->code) == BEXT_SRC_X;
		struct bext_insn p[] = {
		    LDDW(2, c->a),	  LDDW(3, (uint64_t)c->b),
		    BEXT_MOV64_IMM(0, 0), INSN(c->code, 2, x ? 3 : 0, 1, x ? 0 : (int32_t)c->b),
		    BEXT_EXIT_INSN(),	  BEXT_MOV64_IMM(0, 1),
		    BEXT_EXIT_INSN(),
		};

		print_message("jump case %zu: code 0x%02x\n", i, c->code);
		expect_r0(p, NULL, 0, c->taken);
	}
}

static void test_ja_ja32_backward(void **state)
{
	/* r0 counts to 5 with a backward ja32 and a forward ja over a trap */
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1),		     /* 1 */
	    BEXT_JMP_IMM(BEXT_JMP_JEQ, 0, 5, 1),	     /* 2 */
	    INSN(BEXT_CLS_JMP32 | BEXT_JMP_JA, 0, 0, 0, -3), /* 3: -> 1 */
	    BEXT_JA(1),					     /* 4 */
	    BEXT_MOV64_IMM(0, 99),			     /* 5: skipped */
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_r0(p, NULL, 0, 5);
}

/* ---- atomics ------------------------------------------------------------ */

struct atomic_case {
	uint8_t size;
	int32_t op;
	uint64_t mem, src, r0;
	uint64_t want_mem, want_reg; /* want_reg: src (fetch/xchg) or r0 (cmpxchg) */
};

#define FETCH BEXT_ATOMIC_FETCH
static const struct atomic_case atomic_cases[] = {
    {BEXT_SZ_DW, BEXT_ATOMIC_ADD, 0xffffffff, 1, 0, 0x100000000ull, 1},
    {BEXT_SZ_DW, BEXT_ATOMIC_ADD | FETCH, 10, 5, 0, 15, 10},
    {BEXT_SZ_DW, BEXT_ATOMIC_OR, 0xf0, 0x0f, 0, 0xff, 0x0f},
    {BEXT_SZ_DW, BEXT_ATOMIC_OR | FETCH, 0xf0, 0x0f, 0, 0xff, 0xf0},
    {BEXT_SZ_DW, BEXT_ATOMIC_AND, 0xff, 0x0f, 0, 0x0f, 0x0f},
    {BEXT_SZ_DW, BEXT_ATOMIC_AND | FETCH, 0xff, 0x0f, 0, 0x0f, 0xff},
    {BEXT_SZ_DW, BEXT_ATOMIC_XOR, 0xff, 0x0f, 0, 0xf0, 0x0f},
    {BEXT_SZ_DW, BEXT_ATOMIC_XOR | FETCH, 0xff, 0x0f, 0, 0xf0, 0xff},
    {BEXT_SZ_DW, BEXT_ATOMIC_XCHG, 0x1111111111ull, 0x22, 0, 0x22, 0x1111111111ull},
    {BEXT_SZ_DW, BEXT_ATOMIC_CMPXCHG, 7, 9, 7, 9, 7},	  /* equal: swapped */
    {BEXT_SZ_DW, BEXT_ATOMIC_CMPXCHG, 7, 9, 8, 7, 7},	  /* not equal */
    {BEXT_SZ_W, BEXT_ATOMIC_ADD, 0xffffffff, 1, 0, 0, 1}, /* wraps in 32 bits */
    {BEXT_SZ_W, BEXT_ATOMIC_ADD | FETCH, 0xfffffffe, 0x100000001ull, 0, 0xffffffff, 0xfffffffe},
    {BEXT_SZ_W, BEXT_ATOMIC_OR | FETCH, 0x80000000, 1, 0, 0x80000001, 0x80000000},
    {BEXT_SZ_W, BEXT_ATOMIC_AND | FETCH, 0x80000001, 1, 0, 1, 0x80000001},
    {BEXT_SZ_W, BEXT_ATOMIC_XOR | FETCH, 0x80000001, 1, 0, 0x80000000, 0x80000001},
    {BEXT_SZ_W, BEXT_ATOMIC_OR, 1, 2, 0, 3, 2},
    {BEXT_SZ_W, BEXT_ATOMIC_AND, 3, 2, 0, 2, 2},
    {BEXT_SZ_W, BEXT_ATOMIC_XOR, 3, 2, 0, 1, 2},
    {BEXT_SZ_W, BEXT_ATOMIC_XCHG, 0x80000000, 0xaaaaaaaa00000005ull, 0, 5, 0x80000000},
    /* W cmpxchg compares the low 32 bits of r0 and zero-extends the old value */
    {BEXT_SZ_W, BEXT_ATOMIC_CMPXCHG, 0x80000000, 3, 0xffffffff80000000ull, 3, 0x80000000},
    {BEXT_SZ_W, BEXT_ATOMIC_CMPXCHG, 0x80000000, 3, 1, 0x80000000, 0x80000000},
};

static void test_atomics(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(atomic_cases); i++) {
		const struct atomic_case *c = &atomic_cases[i];
		bool cmpxchg = c->op == BEXT_ATOMIC_CMPXCHG;
		struct bext_insn p[] = {
		    LDDW(2, c->src),
		    LDDW(0, c->r0),
		    BEXT_ATOMIC(c->size, 1, 2, 8, c->op),
		    cmpxchg ? BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 0) : BEXT_MOV64_REG(0, 2),
		    BEXT_EXIT_INSN(),
		};

		print_message("atomic case %zu: size 0x%x op 0x%x\n", i, c->size, c->op);
		for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
			uint64_t mem[3] = {0x5555555555555555ull, c->mem, 0x6666666666666666ull};
			struct bext_vm *vm = make_vm(p, N(p), NULL, NULL, NULL);
			uint64_t r0 = 0, want = c->want_mem;

			if (c->size == BEXT_SZ_W)
				want = (c->mem & 0xffffffff00000000ull) | (uint32_t)c->want_mem;
			assert_int_equal(run_on(vm, e, mem, sizeof(mem), &r0), 0);
			assert_int_equal(r0, c->want_reg);
			assert_int_equal(mem[1], want);
			assert_int_equal(mem[0], 0x5555555555555555ull);
			assert_int_equal(mem[2], 0x6666666666666666ull);
			bext_vm__free(vm);
		}
	}
}

#define ATOMIC_THREADS 4
#define ATOMIC_ITERS 20000

struct contention {
	struct bext_vm *vm;
	enum bext_engine engine;
	uint64_t *mem;
	int ret;
	uint64_t r0;
};

static void *contention_thread(void *arg)
{
	struct contention *c = arg;

	c->ret = bext_vm__run(c->vm, c->engine, c->mem, 16, &c->r0);
	return NULL;
}

/* Several threads run one vm at once; lock adds on shared memory must not lose updates. */
static void test_atomic_contention(void **state)
{
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(3, ATOMIC_ITERS),
	    BEXT_MOV64_IMM(4, 1),
	    BEXT_MOV64_IMM(0, 0),
	    /* loop: */
	    BEXT_MOV64_IMM(5, 2),
	    BEXT_ATOMIC(BEXT_SZ_DW, 1, 5, 0, BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH),
	    BEXT_ATOMIC(BEXT_SZ_W, 1, 4, 8, BEXT_ATOMIC_ADD),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 5), /* sum of fetched values: only checked >0 */
	    BEXT_ALU64_IMM(BEXT_ALU_SUB, 3, 1),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 3, 0, -6),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		struct bext_vm *vm = make_vm(p, N(p), NULL, NULL, NULL);
		struct contention c[ATOMIC_THREADS];
		pthread_t t[ATOMIC_THREADS];
		uint64_t mem[2] = {0, 0};
		char err[256];

		if (e == BEXT_ENGINE_JIT && !bext_vm__jit(vm, err, sizeof(err)))
			fail_msg("JIT cannot compile: %s", err);
		for (int i = 0; i < ATOMIC_THREADS; i++) {
			c[i] = (struct contention){.vm = vm, .engine = e, .mem = mem};
			assert_int_equal(pthread_create(&t[i], NULL, contention_thread, &c[i]), 0);
		}
		for (int i = 0; i < ATOMIC_THREADS; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(c[i].ret, 0);
			assert_true(c[i].r0 > 0);
		}
		assert_int_equal(mem[0], 2ull * ATOMIC_THREADS * ATOMIC_ITERS);
		assert_int_equal(mem[1], (uint64_t)ATOMIC_THREADS * ATOMIC_ITERS);
		bext_vm__free(vm);
	}
}

/* ---- helpers and calls --------------------------------------------------- */

static uint64_t helper_mix(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return r1 + 10 * r2 + 100 * r3 + 1000 * r4 + 10000 * r5;
}

static uint64_t helper_ret_r1(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r2;
	(void)r3;
	(void)r4;
	(void)r5;
	return r1;
}

static void setup_helpers(struct bext_vm *vm, void *arg)
{
	(void)arg;
	assert_int_equal(bext_vm__register_helper(vm, 1, "mix", helper_mix), 0);
	assert_int_equal(bext_vm__register_helper(vm, 5, "ret_r1", helper_ret_r1), 0);
	assert_int_equal(bext_vm__set_unwind_helper(vm, 5), 0);
}

static void test_helper_args(void **state)
{
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(1, 1),
	    BEXT_MOV64_IMM(2, 2),
	    BEXT_MOV64_IMM(3, 3),
	    BEXT_MOV64_IMM(4, 4),
	    BEXT_MOV64_IMM(5, 5),
	    BEXT_MOV64_IMM(6, 7),
	    BEXT_CALL_HELPER_INSN(1),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 6), /* r6 survives helper calls */
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_r0_ex(p, N(p), setup_helpers, NULL, NULL, 0, 54321 + 7);
}

static void test_helper_registry(void **state)
{
	struct bext_vm *vm = bext_vm__new(NULL);
	char name[8] = "mix";

	(void)state;
	assert_non_null(vm);
	assert_int_equal(bext_vm__register_helper(vm, 1, name, helper_mix), 0);
	name[0] = 'X'; /* the name was copied */
	assert_string_equal(bext_vm__helper_name(vm, 1), "mix");
	assert_null(bext_vm__helper_name(vm, 2));
	assert_int_equal(bext_vm__register_helper(vm, 1, "again", helper_mix), -EEXIST);
	assert_int_equal(bext_vm__register_helper(vm, BEXT_MAX_HELPERS, "big", helper_mix),
			 -EINVAL);
	assert_int_equal(bext_vm__register_helper(vm, 3, "null", NULL), -EINVAL);
	assert_int_equal(bext_vm__set_unwind_helper(vm, BEXT_MAX_HELPERS), -EINVAL);
	bext_vm__free(vm);
	bext_vm__free(NULL);
}

static void test_unwind(void **state)
{
	/* main -> f; f calls helper 5 with r1 = arg: 0 stops everything with r0 = 0 */
	struct bext_insn p[] = {
	    BEXT_MOV64_REG(6, 1),
	    BEXT_MOV64_IMM(1, 0),
	    BEXT_JMP_IMM(BEXT_JMP_JEQ, 6, 0, 1), /* no ctx: r1 = 0 */
	    BEXT_MOV64_IMM(1, 3),
	    BEXT_CALL_LOCAL_INSN(2),
	    BEXT_MOV64_IMM(0, 77),
	    BEXT_EXIT_INSN(),
	    /* f: */
	    BEXT_CALL_HELPER_INSN(5),
	    BEXT_MOV64_IMM(0, 55),
	    BEXT_EXIT_INSN(),
	};
	uint8_t dummy[1];

	(void)state;
	expect_r0_ex(p, N(p), setup_helpers, NULL, NULL, 0, 0);
	expect_r0_ex(p, N(p), setup_helpers, NULL, dummy, 1, 77);
}

static void test_local_call_preserves(void **state)
{
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(6, 6),
	    BEXT_MOV64_IMM(7, 7),
	    BEXT_MOV64_IMM(8, 8),
	    BEXT_MOV64_IMM(9, 9),
	    BEXT_ST_MEM(BEXT_SZ_DW, 10, -8, 1234),
	    BEXT_MOV64_REG(1, 10),    /* r1 = caller's r10 */
	    BEXT_CALL_LOCAL_INSN(10), /* -> 17 */
	    /* r0 = callee result; check r6-r9 and the stack slot */
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 6, 6, 7), /* 7 */
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 7, 7, 6),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 8, 8, 5),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 9, 9, 4),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 10, -8),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 2, 1234, 2), /* 12 */
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1000),
	    BEXT_EXIT_INSN(),
	    BEXT_MOV64_IMM(0, -1), /* 15: failure */
	    BEXT_EXIT_INSN(),
	    /* 17: callee clobbers r6-r9 and its own stack; returns (its r10 != r1) */
	    BEXT_MOV64_IMM(6, 0),
	    BEXT_MOV64_IMM(7, 0),
	    BEXT_MOV64_IMM(8, 0),
	    BEXT_MOV64_IMM(9, 0),
	    BEXT_ST_MEM(BEXT_SZ_DW, 10, -8, 4321),
	    BEXT_MOV64_IMM(0, 1),
	    BEXT_JMP_REG(BEXT_JMP_JNE, 10, 1, 1), /* fresh frame: different r10 */
	    BEXT_MOV64_IMM(0, 2),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, -8), /* caller's slot reachable, intact */
	    BEXT_JMP_IMM(BEXT_JMP_JEQ, 2, 1234, 1),
	    BEXT_MOV64_IMM(0, 3),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_r0(p, NULL, 0, 1001);
}

/* f(n) = n == 0 ? 0 : 1 + f(n - 1), called from main with n: n + 1 callee frames. */
static void recursion_prog(struct bext_insn *p, int n)
{
	struct bext_insn q[] = {
	    BEXT_MOV64_IMM(1, n),
	    BEXT_CALL_LOCAL_INSN(1),
	    BEXT_EXIT_INSN(),
	    /* 3: f */
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_JMP_IMM(BEXT_JMP_JEQ, 1, 0, 4),
	    BEXT_ALU64_IMM(BEXT_ALU_SUB, 1, 1),
	    BEXT_CALL_LOCAL_INSN(-4),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1),
	    BEXT_EXIT_INSN(),
	    BEXT_EXIT_INSN(),
	};

	memcpy(p, q, sizeof(q));
}

static void test_call_depth(void **state)
{
	struct bext_insn p[10];

	(void)state;
	/* n = 6: main + 7 frames = 8 = BEXT_MAX_CALL_DEPTH: allowed */
	recursion_prog(p, BEXT_MAX_CALL_DEPTH - 2);
	expect_r0(p, NULL, 0, BEXT_MAX_CALL_DEPTH - 2);
	/* n = 7: a ninth frame: error, not a crash */
	recursion_prog(p, BEXT_MAX_CALL_DEPTH - 1);
	expect_run_error(p, N(p), NULL, NULL, NULL, 0, E2BIG, "call depth");
	/* unbounded recursion */
	recursion_prog(p, 1000000);
	expect_run_error(p, N(p), NULL, NULL, NULL, 0, E2BIG, "call depth");
}

static void test_callx(void **state)
{
	/* callx to helper 5 (by id in a register), then to a PSEUDO_FUNC function value */
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(1, 40),
	    BEXT_MOV64_IMM(2, 5),
	    INSN(BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X, 2, 0, 0, 0),
	    BEXT_MOV64_REG(6, 0),		      /* 40 */
	    BEXT_LD_IMM64_LO(3, BEXT_PSEUDO_FUNC, 4), /* 4: -> 4 + 1 + 4 = 9 */
	    BEXT_LD_IMM64_HI(0),
	    INSN(BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X, 3, 0, 0, 0),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 6),
	    BEXT_EXIT_INSN(),
	    /* 9: */
	    BEXT_MOV64_IMM(0, 2),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_r0_ex(p, N(p), setup_helpers, NULL, NULL, 0, 42);
}

static void test_callx_bad(void **state)
{
	struct bext_insn wild[] = {
	    LDDW(3, 0x12345678ull),
	    INSN(BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X, 3, 0, 0, 0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn unknown_helper[] = {
	    BEXT_MOV64_IMM(3, 7),
	    INSN(BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X, 3, 0, 0, 0),
	    BEXT_EXIT_INSN(),
	};
	/* a function value plus one instruction: inside the program but not a function */
	struct bext_insn skewed[] = {
	    BEXT_LD_IMM64_LO(3, BEXT_PSEUDO_FUNC, 3), /* -> 4 */
	    BEXT_LD_IMM64_HI(0),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 3, 8),
	    INSN(BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X, 3, 0, 0, 0),
	    BEXT_EXIT_INSN(),
	    BEXT_MOV64_IMM(0, 1),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	expect_run_error(wild, N(wild), setup_helpers, NULL, NULL, 0, EINVAL, "callx");
	expect_run_error(unknown_helper, N(unknown_helper), setup_helpers, NULL, NULL, 0, EINVAL,
			 "callx");
	expect_run_error(skewed, N(skewed), setup_helpers, NULL, NULL, 0, EINVAL, "callx");
}

/* ---- tail calls ----------------------------------------------------------- */

#define MAX_PROGS 4
struct tail_env {
	struct bext_vm *progs[MAX_PROGS];
	unsigned asked;
	uint64_t last_map;
};

static struct bext_vm *tail_resolver(void *user, uint64_t map, uint32_t index)
{
	struct tail_env *env = user;

	env->asked++;
	env->last_map = map;
	return index < MAX_PROGS ? env->progs[index] : NULL;
}

static void setup_tail(struct bext_vm *vm, void *arg)
{
	assert_int_equal(bext_vm__set_tail_call_resolver(vm, tail_resolver, arg), 0);
}

static void tail_env_free(struct tail_env *env)
{
	for (int i = 0; i < MAX_PROGS; i++)
		bext_vm__free(env->progs[i]);
	memset(env, 0, sizeof(*env));
}

/* Loads the programs (JIT-compiled too, so JIT'd callers can enter them). */
static void tail_env_add(struct tail_env *env, int idx, const struct bext_insn *p, size_t n)
{
	char err[256];

	env->progs[idx] = make_vm(p, n, NULL, setup_tail, env);
	if (!bext_vm__jit(env->progs[idx], err, sizeof(err)))
		fail_msg("JIT cannot compile: %s", err);
}

static void run_tail(struct tail_env *env, enum bext_engine e, void *ctx, size_t len,
		     uint64_t expect)
{
	uint64_t r0 = 0;
	int ret = bext_vm__run(env->progs[0], e, ctx, len, &r0);

	if (ret)
		fail_msg("%s: run failed: %s", engine_name(e), bext_vm__last_error(env->progs[0]));
	if (r0 != expect)
		fail_msg("%s: r0 = 0x%llx, expected 0x%llx", engine_name(e), (unsigned long long)r0,
			 (unsigned long long)expect);
}

static void test_tail_call_chain(void **state)
{
	/* prog i adds (i + 1) * 10 to ctx[0] and tail-calls i + 1; prog 2 returns ctx[0] + 1 */
	struct bext_insn hop[][7] = {
	    {BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, 0), BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, 10),
	     BEXT_STX_MEM(BEXT_SZ_DW, 1, 2, 0), BEXT_MOV64_IMM(2, 0x77), BEXT_MOV64_IMM(3, 1),
	     BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL), BEXT_EXIT_INSN()},
	    {BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, 0), BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, 20),
	     BEXT_STX_MEM(BEXT_SZ_DW, 1, 2, 0), BEXT_MOV64_IMM(2, 0x77), BEXT_MOV64_IMM(3, 2),
	     BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL), BEXT_EXIT_INSN()},
	};
	struct bext_insn last[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 1, 0),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1),
	    BEXT_EXIT_INSN(),
	};
	struct tail_env env = {0};

	(void)state;
	tail_env_add(&env, 0, hop[0], 7);
	tail_env_add(&env, 1, hop[1], 7);
	tail_env_add(&env, 2, last, N(last));
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		uint64_t ctx = 0;

		env.asked = 0;
		run_tail(&env, e, &ctx, 8, 31);
		assert_int_equal(ctx, 30);
		assert_int_equal(env.asked, 2);
		assert_int_equal(env.last_map, 0x77);
	}
	tail_env_free(&env);
}

static void test_tail_call_limit_and_missing(void **state)
{
	/* prog 0: ctx[0]++, tail-call itself; when that fails, return r0 + ctx[0] */
	struct bext_insn self[] = {
	    BEXT_MOV64_REG(6, 1),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, 0),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, 1),
	    BEXT_STX_MEM(BEXT_SZ_DW, 1, 2, 0),
	    BEXT_MOV64_IMM(3, 0),
	    BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 6, 0),
	    BEXT_ALU64_IMM(BEXT_ALU_SUB, 0, -1000), /* r0 = -ENOENT + 1000 */
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 2),
	    BEXT_EXIT_INSN(),
	};
	/* tail call to an empty index: continues with r0 = -ENOENT */
	struct bext_insn missing[] = {
	    BEXT_MOV64_IMM(3, 3),
	    BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL),
	    BEXT_EXIT_INSN(),
	};
	/* a tail call from a subprogram fails like a missing program */
	struct bext_insn from_sub[] = {
	    BEXT_CALL_LOCAL_INSN(1), BEXT_EXIT_INSN(),
	    BEXT_MOV64_IMM(3, 2),    BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn ret9[] = {BEXT_MOV64_IMM(0, 9), BEXT_EXIT_INSN()};
	struct tail_env env = {0};

	(void)state;
	tail_env_add(&env, 0, self, N(self));
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		uint64_t ctx = 0;

		/* 1 first run + 33 tail calls; the 34th call fails */
		run_tail(&env, e, &ctx, 8, (uint64_t)-ENOENT + 1000 + 1 + BEXT_MAX_TAIL_CALLS);
		assert_int_equal(ctx, 1 + BEXT_MAX_TAIL_CALLS);
	}
	tail_env_free(&env);

	tail_env_add(&env, 0, missing, N(missing));
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++)
		run_tail(&env, e, NULL, 0, (uint64_t)-ENOENT);
	tail_env_free(&env);

	tail_env_add(&env, 0, from_sub, N(from_sub));
	tail_env_add(&env, 2, ret9, N(ret9));
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++)
		run_tail(&env, e, NULL, 0, (uint64_t)-ENOENT);
	tail_env_free(&env);
}

static void setup_helper12(struct bext_vm *vm, void *arg)
{
	(void)arg;
	assert_int_equal(bext_vm__register_helper(vm, 12, "plain", helper_ret_r1), 0);
}

/* Without a resolver, helper 12 is an ordinary helper. */
static void test_tail_call_helper_without_resolver(void **state)
{
	struct bext_insn p[] = {
	    BEXT_MOV64_IMM(1, 4), BEXT_MOV64_IMM(2, 0),
	    BEXT_MOV64_IMM(3, 0), BEXT_MOV64_IMM(4, 0),
	    BEXT_MOV64_IMM(5, 0), BEXT_CALL_HELPER_INSN(BEXT_HELPER_TAIL_CALL),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm *vm = bext_vm__new(NULL);
	char err[256];

	(void)state;
	/* unregistered and no resolver: rejected */
	assert_int_equal(bext_vm__load(vm, p, N(p), err, sizeof(err)), -ENOENT);
	bext_vm__free(vm);
	expect_r0_ex(p, N(p), setup_helper12, NULL, NULL, 0, 4);
}

/* ---- checked mode ---------------------------------------------------------- */

static int checked_run(const struct bext_insn *p, size_t n, const struct bext_vm_opts *o, void *ctx,
		       size_t len, void *region, size_t region_len, bool writable, uint64_t *r0,
		       char *msg, size_t msg_len, enum bext_engine e)
{
	struct bext_vm *vm = bext_vm__new(o);
	char err[256];
	int ret;

	assert_non_null(vm);
	if (region)
		assert_int_equal(bext_vm__add_region(vm, region, region_len, writable), 0);
	assert_int_equal(bext_vm__load(vm, p, n, err, sizeof(err)), 0);
	ret = bext_vm__run(vm, e, ctx, len, r0);
	snprintf(msg, msg_len, "%s", bext_vm__last_error(vm));
	bext_vm__free(vm);
	return ret;
}

static void test_checked_memory(void **state)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .checked = true};
	uint8_t ctx[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	uint64_t region[2] = {100, 200};
	char msg[256];
	uint64_t r0 = 0;
	/* in bounds: last ctx byte, stack, region read+write (r2 = region address) */
	struct bext_insn ok[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 1, 8),
	    BEXT_ST_MEM(BEXT_SZ_DW, 10, -512, 1),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 3, 10, -512),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 3),
	    LDDW(2, (uint64_t)(uintptr_t)region),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 3, 2, 8),
	    BEXT_STX_MEM(BEXT_SZ_DW, 2, 3, 0),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 3),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn load_past_ctx[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 1, 9),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn store_below_stack[] = {
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_ST_MEM(BEXT_SZ_DW, 10, -520, 1),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn store_region[] = {
	    LDDW(2, (uint64_t)(uintptr_t)region),
	    BEXT_ST_MEM(BEXT_SZ_W, 2, 0, 7),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_insn atomic_wild[] = {
	    LDDW(2, 0x1000ull),
	    BEXT_MOV64_IMM(3, 1),
	    BEXT_ATOMIC(BEXT_SZ_DW, 2, 3, 0, BEXT_ATOMIC_ADD),
	    BEXT_EXIT_INSN(),
	};

	(void)state;
	for (int e = BEXT_ENGINE_INTERP; e <= BEXT_ENGINE_JIT; e++) {
		region[0] = 100;
		assert_int_equal(checked_run(ok, N(ok), &o, ctx, sizeof(ctx), region,
					     sizeof(region), true, &r0, msg, sizeof(msg), e),
				 0);
		assert_int_equal(r0, 0x100f0e0d0c0b0a09ull + 1 + 200);
		assert_int_equal(region[0], 200);

		assert_int_equal(checked_run(load_past_ctx, N(load_past_ctx), &o, ctx, sizeof(ctx),
					     NULL, 0, false, &r0, msg, sizeof(msg), e),
				 -EFAULT);
		assert_non_null(strstr(msg, "insn 0: load of 8 bytes at 0x"));
		assert_non_null(strstr(msg, "outside any region"));

		assert_int_equal(checked_run(store_below_stack, N(store_below_stack), &o, ctx,
					     sizeof(ctx), NULL, 0, false, &r0, msg, sizeof(msg), e),
				 -EFAULT);
		assert_non_null(strstr(msg, "insn 1: store of 8 bytes at 0x"));

		region[0] = 100;
		assert_int_equal(checked_run(store_region, N(store_region), &o, NULL, 0, region,
					     sizeof(region), false, &r0, msg, sizeof(msg), e),
				 -EFAULT);
		assert_non_null(strstr(msg, "insn 2: store of 4 bytes"));
		assert_non_null(strstr(msg, "read-only"));
		assert_int_equal(region[0], 100);
		assert_int_equal(checked_run(store_region, N(store_region), &o, NULL, 0, region,
					     sizeof(region), true, &r0, msg, sizeof(msg), e),
				 0);
		assert_int_equal(region[0], 7);

		assert_int_equal(checked_run(atomic_wild, N(atomic_wild), &o, NULL, 0, NULL, 0,
					     false, &r0, msg, sizeof(msg), e),
				 -EFAULT);
		assert_non_null(strstr(msg, "insn 3: store of 8 bytes at 0x1000"));
	}
}

static void test_checked_stack_of_caller(void **state)
{
	/* a callee may use a pointer to its caller's frame; below its own frame is refused */
	struct bext_vm_opts o = {.sz = sizeof(o), .checked = true};
	struct bext_insn p[] = {
	    BEXT_ST_MEM(BEXT_SZ_DW, 10, -8, 5),
	    BEXT_MOV64_REG(1, 10),
	    BEXT_CALL_LOCAL_INSN(1),
	    BEXT_EXIT_INSN(),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 1, -8),
	    BEXT_EXIT_INSN(),
	};
	char msg[256];
	uint64_t r0 = 0;

	(void)state;
	assert_int_equal(checked_run(p, N(p), &o, NULL, 0, NULL, 0, false, &r0, msg, sizeof(msg),
				     BEXT_ENGINE_INTERP),
			 0);
	assert_int_equal(r0, 5);
}

static void test_checked_budget(void **state)
{
	struct bext_insn loop[] = {BEXT_JA(-1)};
	/* executes exactly 4 instructions */
	struct bext_insn four[] = {
	    BEXT_MOV64_IMM(0, 1),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1),
	    BEXT_ALU64_IMM(BEXT_ALU_ADD, 0, 1),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm_opts o = {.sz = sizeof(o), .checked = true, .insn_budget = 1000};
	char msg[256];
	uint64_t r0 = 0;

	(void)state;
	assert_int_equal(checked_run(loop, N(loop), &o, NULL, 0, NULL, 0, false, &r0, msg,
				     sizeof(msg), BEXT_ENGINE_INTERP),
			 -E2BIG);
	assert_non_null(strstr(msg, "insn 0: instruction budget of 1000 exceeded"));
	/* the JIT engine on a checked vm still checks (interpreter) */
	assert_int_equal(checked_run(loop, N(loop), &o, NULL, 0, NULL, 0, false, &r0, msg,
				     sizeof(msg), BEXT_ENGINE_JIT),
			 -E2BIG);
	o.insn_budget = 4;
	assert_int_equal(checked_run(four, N(four), &o, NULL, 0, NULL, 0, false, &r0, msg,
				     sizeof(msg), BEXT_ENGINE_INTERP),
			 0);
	assert_int_equal(r0, 3);
	o.insn_budget = 3;
	assert_int_equal(checked_run(four, N(four), &o, NULL, 0, NULL, 0, false, &r0, msg,
				     sizeof(msg), BEXT_ENGINE_INTERP),
			 -E2BIG);
	assert_non_null(strstr(msg, "insn 3:"));
}

/* ---- load-time checks -------------------------------------------------------- */

static int pseudo_resolver(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value)
{
	(void)user;
	(void)next_imm;
	if (imm == 666)
		return -ENOENT;
	*value = 0xabcd000000000000ull | (uint64_t)src << 8 | (uint32_t)imm;
	return 0;
}

static void setup_pseudo(struct bext_vm *vm, void *arg)
{
	(void)arg;
	bext_vm__set_pseudo_resolver(vm, pseudo_resolver, NULL);
}

static void expect_load_error(const struct bext_insn *p, size_t n, setup_fn setup, int err_no,
			      const char *msg)
{
	struct bext_vm *vm = bext_vm__new(NULL);
	char err[256] = "";
	int ret;

	assert_non_null(vm);
	if (setup)
		setup(vm, NULL);
	ret = bext_vm__load(vm, p, n, err, sizeof(err));
	if (ret != -err_no || !strstr(err, msg))
		fail_msg("load returned %d '%s', expected %d '%s'", ret, err, -err_no, msg);
	assert_string_equal(bext_vm__last_error(vm), err);
	bext_vm__free(vm);
}

static void test_load_rejects(void **state)
{
	struct bext_insn unknown_op[] = {INSN(0xff, 0, 0, 0, 0), BEXT_EXIT_INSN()};
	struct bext_insn abs_ld[] = {INSN(BEXT_CLS_LD | BEXT_MODE_ABS | BEXT_SZ_W, 0, 0, 0, 0),
				     BEXT_EXIT_INSN()};
	struct bext_insn bad_dst[] = {BEXT_MOV64_IMM(11, 0), BEXT_EXIT_INSN()};
	struct bext_insn bad_src[] = {BEXT_MOV64_IMM(0, 0), BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 12),
				      BEXT_EXIT_INSN()};
	struct bext_insn bad_ldx_src[] = {BEXT_LDX_MEM(BEXT_SZ_W, 0, 13, 0), BEXT_EXIT_INSN()};
	struct bext_insn w_r10_alu[] = {BEXT_ALU64_IMM(BEXT_ALU_ADD, 10, 8), BEXT_EXIT_INSN()};
	struct bext_insn w_r10_ldx[] = {BEXT_LDX_MEM(BEXT_SZ_DW, 10, 1, 0), BEXT_EXIT_INSN()};
	struct bext_insn w_r10_lddw[] = {LDDW(10, 1), BEXT_EXIT_INSN()};
	struct bext_insn w_r10_fetch[] = {
	    BEXT_ATOMIC(BEXT_SZ_DW, 1, 10, 0, BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH),
	    BEXT_EXIT_INSN()};
	struct bext_insn jmp_out[] = {BEXT_JA(1), BEXT_EXIT_INSN()};
	struct bext_insn jmp_neg[] = {BEXT_JMP_IMM(BEXT_JMP_JEQ, 0, 0, -2), BEXT_EXIT_INSN()};
	struct bext_insn jmp_mid_lddw[] = {BEXT_JA(1), LDDW(0, 1), BEXT_EXIT_INSN()};
	struct bext_insn ja32_out[] = {INSN(BEXT_CLS_JMP32 | BEXT_JMP_JA, 0, 0, 0, 5),
				       BEXT_EXIT_INSN()};
	struct bext_insn call_out[] = {BEXT_CALL_LOCAL_INSN(7), BEXT_EXIT_INSN()};
	struct bext_insn call_mid_lddw[] = {BEXT_CALL_LOCAL_INSN(1), LDDW(0, 1), BEXT_EXIT_INSN()};
	struct bext_insn func_out[] = {BEXT_LD_IMM64_LO(1, BEXT_PSEUDO_FUNC, 10),
				       BEXT_LD_IMM64_HI(0), BEXT_EXIT_INSN()};
	struct bext_insn helper_unknown[] = {BEXT_CALL_HELPER_INSN(99), BEXT_EXIT_INSN()};
	struct bext_insn helper_big[] = {BEXT_CALL_HELPER_INSN(100000), BEXT_EXIT_INSN()};
	struct bext_insn kfunc[] = {INSN(BEXT_CLS_JMP | BEXT_JMP_CALL, 0, BEXT_CALL_KFUNC, 0, 1),
				    BEXT_EXIT_INSN()};
	struct bext_insn map_fd[] = {BEXT_LD_IMM64_LO(1, BEXT_PSEUDO_MAP_FD, 3),
				     BEXT_LD_IMM64_HI(0), BEXT_EXIT_INSN()};
	struct bext_insn map_bad[] = {BEXT_LD_IMM64_LO(1, BEXT_PSEUDO_MAP_VALUE, 666),
				      BEXT_LD_IMM64_HI(0), BEXT_EXIT_INSN()};
	struct bext_insn pseudo_unknown[] = {BEXT_LD_IMM64_LO(1, 9, 1), BEXT_LD_IMM64_HI(0),
					     BEXT_EXIT_INSN()};
	struct bext_insn falls_off[] = {BEXT_MOV64_IMM(0, 0)};
	struct bext_insn lddw_last[] = {BEXT_EXIT_INSN(), BEXT_LD_IMM64_LO(0, 0, 1)};
	struct bext_insn lddw_bad_second[] = {BEXT_LD_IMM64_LO(0, 0, 1),
					      INSN(BEXT_CLS_ALU64, 0, 0, 0, 0), BEXT_EXIT_INSN()};
	struct bext_insn ends_with_lddw[] = {BEXT_MOV64_IMM(0, 0), LDDW(0, 1)};
	struct bext_insn bad_width[] = {INSN(BEXT_CLS_ALU | BEXT_ALU_END, 0, 0, 0, 8),
					BEXT_EXIT_INSN()};
	struct bext_insn bswap_x[] = {INSN(BEXT_CLS_ALU64 | BEXT_ALU_END | BEXT_SRC_X, 0, 0, 0, 16),
				      BEXT_EXIT_INSN()};
	struct bext_insn bad_atomic[] = {BEXT_ATOMIC(BEXT_SZ_DW, 1, 2, 0, 0x10), BEXT_EXIT_INSN()};
	struct bext_insn atomic_b[] = {BEXT_ATOMIC(BEXT_SZ_B, 1, 2, 0, BEXT_ATOMIC_ADD),
				       BEXT_EXIT_INSN()};
	struct bext_insn bad_div_off[] = {INSN(A64K(DIV), 0, 0, 2, 1), BEXT_EXIT_INSN()};
	struct bext_insn bad_movsx[] = {INSN(A32X(MOV), 0, 1, 32, 0), BEXT_EXIT_INSN()};
	struct bext_insn jmp32_exit[] = {INSN(BEXT_CLS_JMP32 | BEXT_JMP_EXIT, 0, 0, 0, 0),
					 BEXT_EXIT_INSN()};
	struct bext_vm *vm;
	char err[256];

	(void)state;
	expect_load_error(unknown_op, N(unknown_op), NULL, EINVAL, "insn 0: unknown opcode 0xff");
	expect_load_error(abs_ld, N(abs_ld), NULL, EINVAL, "unknown opcode");
	expect_load_error(bad_dst, N(bad_dst), NULL, EINVAL,
			  "insn 0: bad destination register r11");
	expect_load_error(bad_src, N(bad_src), NULL, EINVAL, "insn 1: bad source register r12");
	expect_load_error(bad_ldx_src, N(bad_ldx_src), NULL, EINVAL, "bad source register r13");
	expect_load_error(w_r10_alu, N(w_r10_alu), NULL, EINVAL, "insn 0: r10 is read-only");
	expect_load_error(w_r10_ldx, N(w_r10_ldx), NULL, EINVAL, "r10 is read-only");
	expect_load_error(w_r10_lddw, N(w_r10_lddw), NULL, EINVAL, "r10 is read-only");
	expect_load_error(w_r10_fetch, N(w_r10_fetch), NULL, EINVAL, "r10 is read-only");
	expect_load_error(jmp_out, N(jmp_out), NULL, EINVAL, "insn 0: jump target 2 out of range");
	expect_load_error(jmp_neg, N(jmp_neg), NULL, EINVAL, "jump target -1 out of range");
	expect_load_error(jmp_mid_lddw, N(jmp_mid_lddw), NULL, EINVAL, "second slot of an lddw");
	expect_load_error(ja32_out, N(ja32_out), NULL, EINVAL, "jump target 6 out of range");
	expect_load_error(call_out, N(call_out), NULL, EINVAL, "call target 8 out of range");
	expect_load_error(call_mid_lddw, N(call_mid_lddw), NULL, EINVAL, "second slot");
	expect_load_error(func_out, N(func_out), NULL, EINVAL, "function target 11 out of range");
	expect_load_error(helper_unknown, N(helper_unknown), NULL, ENOENT,
			  "insn 0: call to unknown helper 99");
	expect_load_error(helper_big, N(helper_big), NULL, EINVAL, "helper id 100000 out of range");
	expect_load_error(kfunc, N(kfunc), NULL, EOPNOTSUPP, "kfunc");
	expect_load_error(map_fd, N(map_fd), NULL, EINVAL, "needs a resolver");
	expect_load_error(map_bad, N(map_bad), setup_pseudo, ENOENT, "cannot resolve");
	expect_load_error(pseudo_unknown, N(pseudo_unknown), setup_pseudo, EINVAL,
			  "unknown lddw pseudo form 9");
	expect_load_error(falls_off, N(falls_off), NULL, EINVAL,
			  "insn 0: last instruction must be exit or ja");
	expect_load_error(lddw_last, N(lddw_last), NULL, EINVAL, "insn 1: lddw without its second");
	expect_load_error(lddw_bad_second, N(lddw_bad_second), NULL, EINVAL,
			  "malformed second slot");
	expect_load_error(ends_with_lddw, N(ends_with_lddw), NULL, EINVAL, "last instruction");
	expect_load_error(bad_width, N(bad_width), NULL, EINVAL, "byte swap width 8");
	expect_load_error(bswap_x, N(bswap_x), NULL, EINVAL, "unknown opcode 0xdf");
	expect_load_error(bad_atomic, N(bad_atomic), NULL, EINVAL, "unknown atomic operation 0x10");
	expect_load_error(atomic_b, N(atomic_b), NULL, EINVAL, "unknown opcode");
	expect_load_error(bad_div_off, N(bad_div_off), NULL, EINVAL, "bad offset 2");
	expect_load_error(bad_movsx, N(bad_movsx), NULL, EINVAL, "bad offset 32 for mov");
	expect_load_error(jmp32_exit, N(jmp32_exit), NULL, EINVAL, "unknown opcode 0x96");
	expect_load_error(unknown_op, 0, NULL, EINVAL, "empty program");

	/* loading twice, and running before loading */
	vm = bext_vm__new(NULL);
	assert_non_null(vm);
	uint64_t r0;
	assert_int_equal(bext_vm__exec(vm, NULL, 0, &r0), -EINVAL);
	assert_null(bext_vm__insns(vm, NULL));
	assert_int_equal(bext_vm__load(vm, falls_off, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(bext_vm__load(vm, jmp_out + 1, 1, err, sizeof(err)), 0);
	assert_int_equal(bext_vm__load(vm, jmp_out + 1, 1, err, sizeof(err)), -EBUSY);
	bext_vm__free(vm);
}

static void test_pseudo_resolved(void **state)
{
	struct bext_insn p[] = {
	    BEXT_LD_IMM64_LO(0, BEXT_PSEUDO_MAP_IDX, 7),
	    BEXT_LD_IMM64_HI(0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm *vm;
	const struct bext_insn *li;
	size_t n;

	(void)state;
	expect_r0_ex(p, N(p), setup_pseudo, NULL, NULL, 0,
		     0xabcd000000000000ull | BEXT_PSEUDO_MAP_IDX << 8 | 7);
	/* the loaded program holds the plain value; the caller's copy is untouched */
	vm = make_vm(p, N(p), NULL, setup_pseudo, NULL);
	li = bext_vm__insns(vm, &n);
	assert_int_equal(n, 3);
	assert_int_equal(li[0].src, 0);
	assert_int_equal((uint32_t)li[1].imm, 0xabcd0000u);
	assert_int_equal(p[0].src, BEXT_PSEUDO_MAP_IDX);
	bext_vm__free(vm);
}

/* Runs are independent: each has its own stack (no state leaks between runs). */
static void test_stack_per_run(void **state)
{
	struct bext_insn p[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 1, 0),
	    BEXT_STX_MEM(BEXT_SZ_DW, 10, 0, -8),
	    BEXT_LDX_MEM(BEXT_SZ_DW, 0, 10, -8),
	    BEXT_EXIT_INSN(),
	};
	uint64_t a = 11, b = 22;

	(void)state;
	expect_r0(p, &a, 8, 11);
	expect_r0(p, &b, 8, 22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alu),
	    cmocka_unit_test(test_alu32_zero_extends),
	    cmocka_unit_test(test_loads),
	    cmocka_unit_test(test_stores),
	    cmocka_unit_test(test_jumps),
	    cmocka_unit_test(test_ja_ja32_backward),
	    cmocka_unit_test(test_atomics),
	    cmocka_unit_test(test_atomic_contention),
	    cmocka_unit_test(test_helper_args),
	    cmocka_unit_test(test_helper_registry),
	    cmocka_unit_test(test_unwind),
	    cmocka_unit_test(test_local_call_preserves),
	    cmocka_unit_test(test_call_depth),
	    cmocka_unit_test(test_callx),
	    cmocka_unit_test(test_callx_bad),
	    cmocka_unit_test(test_tail_call_chain),
	    cmocka_unit_test(test_tail_call_limit_and_missing),
	    cmocka_unit_test(test_tail_call_helper_without_resolver),
	    cmocka_unit_test(test_checked_memory),
	    cmocka_unit_test(test_checked_stack_of_caller),
	    cmocka_unit_test(test_checked_budget),
	    cmocka_unit_test(test_load_rejects),
	    cmocka_unit_test(test_pseudo_resolved),
	    cmocka_unit_test(test_stack_per_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

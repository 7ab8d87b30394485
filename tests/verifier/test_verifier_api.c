/* SPDX-License-Identifier: MIT */
/*
 * Verifier unit tests: the tnum and bounds domains (exact values and
 * randomized soundness: every concrete result lies in the abstract one),
 * the public API (options, log, stats, names), and soundness fuzzing of the
 * whole verifier: random programs it accepts must run under the checked
 * interpreter without a memory fault.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bext/verifier.h>
#include <bext/vm.h>

#include "verifier/tnum.h"
#include "verifier/verifier_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random tnum and a random member of it. */
static struct tnum rnd_tnum(uint64_t *member)
{
	uint64_t mask = rnd() & rnd(), v = rnd() & ~mask;

	if (rnd() % 4 == 0)
		mask &= 0xff;
	*member = v | (rnd() & mask);
	return (struct tnum){v, mask};
}

static bool in_tnum(struct tnum t, uint64_t x)
{
	return (x & ~t.mask) == t.value;
}

static void test_tnum_exact(void **state)
{
	struct tnum t;

	(void)state;
	t = tnum_range(0, 255);
	assert_int_equal(t.value, 0);
	assert_int_equal(t.mask, 0xff);
	t = tnum_range(16, 31);
	assert_int_equal(t.value, 16);
	assert_int_equal(t.mask, 15);
	t = tnum_range(5, 5);
	assert_true(tnum_is_const(t));
	t = tnum_add(tnum_const(3), tnum_range(0, 3));
	assert_true(in_tnum(t, 3) && in_tnum(t, 6));
	t = tnum_and(TNUM_UNKNOWN, tnum_const(0xf0));
	assert_int_equal(t.value, 0);
	assert_int_equal(t.mask, 0xf0);
	t = tnum_or(tnum_range(0, 7), tnum_const(8));
	assert_int_equal(t.value, 8);
	assert_int_equal(t.mask, 7);
	t = tnum_lshift(tnum_range(0, 3), 4);
	assert_int_equal(t.mask, 0x30);
	t = tnum_arshift(tnum_const(0x80000000u), 4, 32);
	assert_int_equal(t.value, 0xf8000000u);
	assert_true(tnum_in(TNUM_UNKNOWN, tnum_const(7)));
	assert_false(tnum_in(tnum_const(7), TNUM_UNKNOWN));
	assert_false(tnum_compatible(tnum_const(1), tnum_const(2)));
	t = tnum_mul(tnum_const(6), tnum_const(7));
	assert_true(tnum_is_const(t));
	assert_int_equal(t.value, 42);
}

static void test_tnum_sound(void **state)
{
	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t x, y;
		struct tnum a = rnd_tnum(&x), b = rnd_tnum(&y);
		unsigned k = rnd() % 64;

		assert_true(in_tnum(tnum_add(a, b), x + y));
		assert_true(in_tnum(tnum_sub(a, b), x - y));
		assert_true(in_tnum(tnum_mul(a, b), x * y));
		assert_true(in_tnum(tnum_and(a, b), x & y));
		assert_true(in_tnum(tnum_or(a, b), x | y));
		assert_true(in_tnum(tnum_xor(a, b), x ^ y));
		assert_true(in_tnum(tnum_neg(a), 0 - x));
		assert_true(in_tnum(tnum_lshift(a, k), x << k));
		assert_true(in_tnum(tnum_rshift(a, k), x >> k));
		assert_true(in_tnum(tnum_arshift(a, k, 64), (uint64_t)((int64_t)x >> k)));
		assert_true(in_tnum(tnum_arshift(a, k % 32, 32),
				    (uint32_t)((int32_t)(uint32_t)x >> (k % 32))));
		assert_true(in_tnum(tnum_cast(a, 4), (uint32_t)x));
		assert_true(in_tnum(tnum_range(x < y ? x : y, x < y ? y : x), x));
	}
}

/* A random abstract scalar containing concrete value *x. */
static void rnd_scalar(struct vreg *r, uint64_t *x)
{
	uint64_t a = rnd(), b = rnd();

	switch (rnd() % 5) {
	case 0:
		a %= 64;
		b %= 64;
		break;
	case 1:
		a = (int64_t)(a % 200) - 100;
		b = (int64_t)(b % 200) - 100;
		break;
	case 2:
		a &= 0xffffffff;
		b &= 0xffffffff;
		break;
	default:
		break;
	}
	reg_mark_unknown(r);
	if (rnd() % 2) {
		int64_t lo = (int64_t)a < (int64_t)b ? (int64_t)a : (int64_t)b;
		int64_t hi = (int64_t)a < (int64_t)b ? (int64_t)b : (int64_t)a;

		r->smin = lo;
		r->smax = hi;
		*x =
		    (uint64_t)lo +
		    rnd() % ((uint64_t)hi - (uint64_t)lo + 1 ? (uint64_t)hi - (uint64_t)lo + 1 : 1);
	} else {
		uint64_t lo = a < b ? a : b, hi = a < b ? b : a;

		r->umin = lo;
		r->umax = hi;
		*x = lo + (hi - lo + 1 ? rnd() % (hi - lo + 1) : rnd());
	}
	if (rnd() % 8 == 0)
		reg_mark_const(r, *x);
	assert_true(reg_sync(r));
}

static bool contains(const struct vreg *r, uint64_t x)
{
	return r->umin <= x && x <= r->umax && r->smin <= (int64_t)x && (int64_t)x <= r->smax &&
	       r->u32min <= (uint32_t)x && (uint32_t)x <= r->u32max && r->s32min <= (int32_t)x &&
	       (int32_t)x <= r->s32max && in_tnum(r->var, x);
}

static uint64_t concrete(uint8_t op, int16_t off, uint64_t x, uint64_t y, bool is64)
{
	if (!is64) {
		uint32_t a = (uint32_t)x, b = (uint32_t)y, r;

		switch (op) {
		case BEXT_ALU_ADD:
			r = a + b;
			break;
		case BEXT_ALU_SUB:
			r = a - b;
			break;
		case BEXT_ALU_MUL:
			r = a * b;
			break;
		case BEXT_ALU_DIV:
			if (off)
				r = !b			 ? 0
				    : (b == 0xffffffffu) ? 0u - a
							 : (uint32_t)((int32_t)a / (int32_t)b);
			else
				r = b ? a / b : 0;
			break;
		case BEXT_ALU_MOD:
			if (off)
				r = !b			 ? a
				    : (b == 0xffffffffu) ? 0
							 : (uint32_t)((int32_t)a % (int32_t)b);
			else
				r = b ? a % b : a;
			break;
		case BEXT_ALU_OR:
			r = a | b;
			break;
		case BEXT_ALU_AND:
			r = a & b;
			break;
		case BEXT_ALU_XOR:
			r = a ^ b;
			break;
		case BEXT_ALU_LSH:
			r = a << (b & 31);
			break;
		case BEXT_ALU_RSH:
			r = a >> (b & 31);
			break;
		case BEXT_ALU_ARSH:
			r = (uint32_t)((int32_t)a >> (b & 31));
			break;
		case BEXT_ALU_NEG:
			r = 0u - a;
			break;
		default:
			r = 0;
		}
		return r;
	}
	switch (op) {
	case BEXT_ALU_ADD:
		return x + y;
	case BEXT_ALU_SUB:
		return x - y;
	case BEXT_ALU_MUL:
		return x * y;
	case BEXT_ALU_DIV:
		if (off)
			return !y ? 0 : (y == ~0ull) ? 0 - x : (uint64_t)((int64_t)x / (int64_t)y);
		return y ? x / y : 0;
	case BEXT_ALU_MOD:
		if (off)
			return !y ? x : (y == ~0ull) ? 0 : (uint64_t)((int64_t)x % (int64_t)y);
		return y ? x % y : x;
	case BEXT_ALU_OR:
		return x | y;
	case BEXT_ALU_AND:
		return x & y;
	case BEXT_ALU_XOR:
		return x ^ y;
	case BEXT_ALU_LSH:
		return x << (y & 63);
	case BEXT_ALU_RSH:
		return x >> (y & 63);
	case BEXT_ALU_ARSH:
		return (uint64_t)((int64_t)x >> (y & 63));
	case BEXT_ALU_NEG:
		return 0 - x;
	default:
		return 0;
	}
}

static void test_alu_sound(void **state)
{
	static const uint8_t ops[] = {BEXT_ALU_ADD, BEXT_ALU_SUB, BEXT_ALU_MUL,	 BEXT_ALU_DIV,
				      BEXT_ALU_MOD, BEXT_ALU_OR,  BEXT_ALU_AND,	 BEXT_ALU_XOR,
				      BEXT_ALU_LSH, BEXT_ALU_RSH, BEXT_ALU_ARSH, BEXT_ALU_NEG};

	(void)state;
	for (int i = 0; i < 300000; i++) {
		struct vreg a, b, r;
		uint64_t x, y, z;
		uint8_t op = ops[rnd() % sizeof(ops)];
		int16_t off = (op == BEXT_ALU_DIV || op == BEXT_ALU_MOD) ? rnd() % 2 : 0;
		bool is64 = rnd() % 2;

		rnd_scalar(&a, &x);
		rnd_scalar(&b, &y);
		assert_true(contains(&a, x));
		r = a;
		assert_int_equal(scalar_alu(&r, &b, op, off, is64), 0);
		z = concrete(op, off, x, y, is64);
		if (!contains(&r, z)) {
			char s1[320], s2[320], s3[320];

			reg_snprint(s1, sizeof(s1), &a);
			reg_snprint(s2, sizeof(s2), &b);
			reg_snprint(s3, sizeof(s3), &r);
			fail_msg(
			    "op %#x off %d is64 %d: %#llx op %#llx = %#llx not in %s (a=%s b=%s)",
			    op, off, is64, (unsigned long long)x, (unsigned long long)y,
			    (unsigned long long)z, s3, s1, s2);
		}
	}
}

static bool cmp_holds(enum cmp_op op, uint64_t x, uint64_t y, bool is32)
{
	if (is32) {
		x = (uint32_t)x;
		y = (uint32_t)y;
	}
	switch (op) {
	case CMP_EQ:
		return x == y;
	case CMP_NE:
		return x != y;
	case CMP_GT:
		return x > y;
	case CMP_GE:
		return x >= y;
	case CMP_SGT:
		return is32 ? (int32_t)x > (int32_t)y : (int64_t)x > (int64_t)y;
	case CMP_SGE:
		return is32 ? (int32_t)x >= (int32_t)y : (int64_t)x >= (int64_t)y;
	case CMP_SET:
		return (x & y) != 0;
	case CMP_NSET:
		return (x & y) == 0;
	}
	return false;
}

static void test_refine_sound(void **state)
{
	(void)state;
	for (int i = 0; i < 300000; i++) {
		struct vreg a, b;
		uint64_t x, y;
		enum cmp_op op = (enum cmp_op)(rnd() % 8);
		bool is32 = rnd() % 2, ok;

		rnd_scalar(&a, &x);
		rnd_scalar(&b, &y);
		if (rnd() % 3 == 0) { /* make equality likely */
			reg_mark_const(&b, x);
			y = x;
		}
		ok = scalar_refine(&a, &b, op, is32);
		if (cmp_holds(op, x, y, is32)) {
			/* the edge is feasible and keeps the concrete pair */
			assert_true(ok);
			assert_true(contains(&a, x));
			assert_true(contains(&b, y));
		}
	}
}

static void test_api_errors(void **state)
{
	struct bext_insn prog[] = {BEXT_MOV64_IMM(0, 0), BEXT_EXIT_INSN()};
	struct bext_verify_opts opts = {.sz = sizeof(opts)};
	struct {
		struct bext_verify_opts o;
		uint64_t extra;
	} big = {.o = {.sz = sizeof(big)}, .extra = 1};
	char log[64];

	(void)state;
	assert_int_equal(bext_verify(prog, 2, NULL, NULL, 0), 0);
	assert_int_equal(bext_verify(NULL, 2, NULL, NULL, 0), -EINVAL);
	opts.prog_type = BEXT_PROG__MAX;
	assert_int_equal(bext_verify(prog, 2, &opts, NULL, 0), -EINVAL);
	opts.prog_type = BEXT_PROG_EXT;
	opts.n_maps = 1;
	assert_int_equal(bext_verify(prog, 2, &opts, NULL, 0), -EINVAL);
	opts.n_maps = 0;
	opts.log_level = 3;
	assert_int_equal(bext_verify(prog, 2, &opts, NULL, 0), -EINVAL);
	opts.sz = 4;
	assert_int_equal(bext_verify(prog, 2, &opts, NULL, 0), -EINVAL);
	/* a newer caller's unknown fields must be zero */
	assert_int_equal(bext_verify(prog, 2, &big.o, NULL, 0), -EINVAL);
	big.extra = 0;
	assert_int_equal(bext_verify(prog, 2, &big.o, NULL, 0), 0);
	/* log buffer untouched content on success at level 0 */
	strcpy(log, "x");
	assert_int_equal(bext_verify(prog, 2, NULL, log, sizeof(log)), 0);
	assert_string_equal(log, "");
}

static void test_log_and_stats(void **state)
{
	/* 0: r2 = *(u64 *)(r10 - 8): uninitialised stack */
	struct bext_insn prog[] = {BEXT_MOV64_IMM(0, 0), BEXT_LDX_MEM(BEXT_SZ_DW, 2, 10, -8),
				   BEXT_EXIT_INSN()};
	struct bext_verify_stats st;
	struct bext_verify_opts opts = {.sz = sizeof(opts), .log_level = 1, .stats = &st};
	char log[4096], tiny[40];
	size_t n;

	(void)state;
	assert_int_equal(bext_verify(prog, 3, &opts, log, sizeof(log)), -EACCES);
	assert_int_equal(st.err_insn, 1);
	assert_string_equal(st.reason, "invalid read from stack off -8+0 size 8 (uninitialised)");
	assert_non_null(strstr(log, "1: (79) ldxdw %r2, [%r10-8]"));
	assert_non_null(strstr(log, "R0=0 R1=ctx(off=0) R10=fp0"));
	n = strlen(log);
	assert_true(n > strlen(st.reason));
	assert_string_equal(log + n - strlen(st.reason) - 1,
			    "invalid read from stack off -8+0 size 8 (uninitialised)\n");
	/* a small buffer keeps the tail, where the reason is */
	assert_int_equal(bext_verify(prog, 3, &opts, tiny, sizeof(tiny)), -EACCES);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_non_null(strstr(tiny, "(uninitialised)\n"));
	/* level 2 prints every instruction */
	opts.log_level = 2;
	assert_int_equal(bext_verify(prog, 3, &opts, log, sizeof(log)), -EACCES);
	assert_non_null(strstr(log, "0: (b7) mov %r0, 0"));
	/* stats on success */
	prog[1] = BEXT_ST_MEM(BEXT_SZ_DW, 10, -24, 1);
	opts.log_level = 0;
	assert_int_equal(bext_verify(prog, 3, &opts, NULL, 0), 0);
	assert_int_equal(st.insns_processed, 3);
	assert_int_equal(st.stack_depth, 32); /* 24 rounded up to 32 */
	assert_int_equal(st.err_insn, -1);
	assert_int_equal(st.max_path_insns, 3);
	assert_false(st.has_loops);
}

/* Level 1 keeps the path that led to the rejection; level 2 has everything. */
static void test_log_path(void **state)
{
	struct bext_insn prog[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, 0),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_JMP_IMM(BEXT_JMP_JGT, 2, 10, 3), /* 2: -> 6 */
	    BEXT_ST_MEM(BEXT_SZ_W, 10, -4, 1),	  /* 3: the safe path */
	    BEXT_MOV64_IMM(0, 1),
	    BEXT_EXIT_INSN(),
	    BEXT_JMP_IMM(BEXT_JMP_JGT, 2, 20, 2), /* 6: -> 9 */
	    BEXT_LDX_MEM(BEXT_SZ_DW, 3, 10, -8),  /* 7: uninitialised */
	    BEXT_EXIT_INSN(),
	    BEXT_MOV64_IMM(0, 2),
	    BEXT_EXIT_INSN(),
	};
	struct bext_verify_stats st;
	struct bext_verify_opts opts = {
	    .sz = sizeof(opts), .ctx_size = 8, .log_level = 1, .stats = &st};
	static char log[1 << 16];
	const char *last;
	size_t n;

	(void)state;
	assert_int_equal(bext_verify(prog, 11, &opts, log, sizeof(log)), -EACCES);
	assert_int_equal(st.err_insn, 7);
	/* the path: 0 1 2 with the state of the edge taken, 6 with its state, 7 */
	assert_non_null(strstr(log, "0: (79) ldxdw %r2, [%r1]\n1: (b7) mov %r0, 0\n"
				    "2: (25) jgt %r2, 10, +3\n"
				    " R0=0 R1=ctx(off=0) R2=scalar(umin=11) R10=fp0\n"
				    "6: (25) jgt %r2, 20, +2\n"
				    " R0=0 R1=ctx(off=0) R2=scalar(smin=11,smax=20,umin=11,umax=20,"
				    "var_off=(0; 0x1f)) R10=fp0\n7: (79) ldxdw %r3, [%r10-8]\n"));
	/* not the safe sibling path */
	assert_null(strstr(log, "3: (62)"));
	assert_null(strstr(log, "4: (b7)"));
	/* the reason is still the last line */
	n = strlen(log);
	last = log + n - strlen(st.reason) - 1;
	assert_string_equal(last, "invalid read from stack off -8+0 size 8 (uninitialised)\n");
	/* level 2: every instruction processed, the safe path included */
	opts.log_level = 2;
	assert_int_equal(bext_verify(prog, 11, &opts, log, sizeof(log)), -EACCES);
	assert_non_null(strstr(log, "4: (b7) mov %r0, 1\n"));
	assert_non_null(strstr(log, "5: exit, path safe\n"));
	assert_non_null(strstr(log, "from 2 to 6:\n"));
	/* the failing insn is the taken edge of the path's last branch: the
	 * state shown is that edge's */
	{
		struct bext_insn p2[] = {
		    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, 0),
		    BEXT_MOV64_IMM(0, 0),
		    BEXT_JMP_IMM(BEXT_JMP_JGT, 2, 10, 1), /* 2: -> 4 */
		    BEXT_EXIT_INSN(),
		    BEXT_LDX_MEM(BEXT_SZ_DW, 3, 10, -8), /* 4: uninitialised */
		    BEXT_EXIT_INSN(),
		};

		opts.log_level = 1;
		assert_int_equal(bext_verify(p2, 6, &opts, log, sizeof(log)), -EACCES);
		assert_non_null(strstr(log, "2: (25) jgt %r2, 10, +1\n"
					    " R0=0 R1=ctx(off=0) R2=scalar(umin=11) R10=fp0\n"
					    "4: (79) ldxdw %r3, [%r10-8]\n"
					    " R0=0 R1=ctx(off=0) R2=scalar(umin=11) R10=fp0\n"
					    "processed"));
	}
	/* a rejection found before the insn is stepped still names it */
	{
		struct bext_insn loop[] = {BEXT_MOV64_IMM(0, 0), BEXT_JA(-1)};

		opts.log_level = 1;
		opts.ctx_size = 0;
		assert_int_equal(bext_verify(loop, 2, &opts, log, sizeof(log)), -EACCES);
		assert_non_null(strstr(log, "1: (05) ja -1\n R0=0"));
		assert_non_null(strstr(log, "unbounded loop at insn 1"));
	}
}

static void test_names(void **state)
{
	enum bext_prog_type t;

	(void)state;
	assert_int_equal(bext_prog_type_from_name("uretprobe", &t), 0);
	assert_int_equal(t, BEXT_PROG_UPROBE);
	assert_int_equal(bext_prog_type_from_name("raw_tp", &t), 0);
	assert_int_equal(t, BEXT_PROG_RAW_SYSCALL);
	assert_int_equal(bext_prog_type_from_name("socket", &t), -EINVAL);
	assert_string_equal(bext_prog_type_name(BEXT_PROG_XDP), "xdp");
	assert_null(bext_prog_type_name(BEXT_PROG__MAX));
	assert_string_equal(bext_helper_name(131), "bpf_ringbuf_reserve");
	assert_string_equal(bext_helper_name(181), "bpf_loop");
	assert_null(bext_helper_name(9999));
}

static void test_section_types(void **state)
{
	static const struct {
		const char *sec;
		enum bext_prog_type t;
		uint32_t ctx_size;
	} cases[] = {
	    {"uprobe/libc.so.6:malloc", BEXT_PROG_UPROBE, 0},
	    {"uretprobe//bin/ls:main", BEXT_PROG_UPROBE, 0},
	    {"kprobe/do_sys_open", BEXT_PROG_UPROBE, 0},
	    {"usdt/app:provider:probe", BEXT_PROG_UPROBE, 0},
	    {"tracepoint/syscalls/sys_enter_openat", BEXT_PROG_TRACEPOINT, 0},
	    {"tp/syscalls/sys_exit_read", BEXT_PROG_TRACEPOINT, 24},
	    {"raw_tp/sys_enter", BEXT_PROG_RAW_SYSCALL, 0},
	    {"raw_tracepoint/sys_exit", BEXT_PROG_RAW_SYSCALL, 0},
	    {"tracepoint/raw_syscalls/sys_enter", BEXT_PROG_RAW_SYSCALL, 0},
	    {"xdp", BEXT_PROG_XDP, 0},
	    {"socket", BEXT_PROG_EXT, 0},
	    {".text", BEXT_PROG_EXT, 0},
	};
	uint32_t size = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(bext_prog_type_from_section(cases[i].sec, &size), cases[i].t);
		assert_int_equal(size, cases[i].ctx_size);
	}
	assert_int_equal(bext_prog_type_from_section(NULL, NULL), BEXT_PROG_EXT);
}

/*
 * Soundness fuzzing: random programs over a 64-byte writable ctx and the
 * stack, with loads/stores at computed offsets, ALU ops and branches. Every
 * accepted program must run under the checked interpreter without a fault.
 */
static void gen_prog(struct bext_insn *p, size_t *n)
{
	size_t i = 0, len = 8 + rnd() % 24, head;
	bool loop = rnd() % 3 == 0;

	/* r6 = ctx, r7 = some ctx word, r8 = fp - 64 with initialised stack */
	p[i++] = BEXT_MOV64_REG(6, 1);
	p[i++] = BEXT_LDX_MEM(BEXT_SZ_DW, 7, 6, (int16_t)(8 * (rnd() % 8)));
	p[i++] = BEXT_MOV64_REG(8, 10);
	p[i++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 8, -64);
	for (int k = 0; k < 8; k++)
		p[i++] = BEXT_ST_MEM(BEXT_SZ_DW, 10, (int16_t)(-8 * (k + 1)), (int32_t)rnd());
	p[i++] = BEXT_MOV64_IMM(0, 0);
	p[i++] = BEXT_MOV64_IMM(9, 0);
	p[i++] = BEXT_MOV64_IMM(5, 0);
	head = i;
	while (i < len + 15) {
		static const uint8_t ops[] = {BEXT_ALU_ADD, BEXT_ALU_SUB, BEXT_ALU_AND,
					      BEXT_ALU_OR,  BEXT_ALU_RSH, BEXT_ALU_LSH,
					      BEXT_ALU_MOD, BEXT_ALU_MUL};
		uint8_t op = ops[rnd() % sizeof(ops)];
		int r = rnd() % 5 ? 9 : 7; /* mostly the bounded r9 */

		switch (rnd() % 7) {
		case 0: /* scalar ALU on r7 */
			p[i++] = BEXT_ALU64_IMM(op, 7,
						(int32_t)(op == BEXT_ALU_LSH || op == BEXT_ALU_RSH
							      ? rnd() % 64
							      : rnd() % 128));
			break;
		case 1: /* r9 = r7 & mask */
			p[i++] = BEXT_MOV64_REG(9, 7);
			p[i++] = BEXT_ALU64_IMM(BEXT_ALU_AND, 9, (int32_t)(rnd() % 64));
			break;
		case 2: /* pointer arithmetic then access through r2 */
			p[i++] = BEXT_MOV64_REG(2, rnd() % 2 ? 6 : 8);
			p[i++] = BEXT_ALU64_REG(BEXT_ALU_ADD, 2, r);
			p[i++] = BEXT_LDX_MEM(BEXT_SZ_B, 0, 2, (int16_t)(rnd() % 6 - 2));
			break;
		case 3: /* store through r2 */
			p[i++] = BEXT_MOV64_REG(2, 6);
			p[i++] = BEXT_ALU64_REG(BEXT_ALU_ADD, 2, r);
			p[i++] = BEXT_ST_MEM(BEXT_SZ_W, 2, (int16_t)(rnd() % 8), 1);
			break;
		case 4: /* a branch that bounds r */
			p[i++] = BEXT_JMP_IMM(rnd() % 2 ? BEXT_JMP_JGT : BEXT_JMP_JSGT, r,
					      (int32_t)(rnd() % 80), (int16_t)(1 + rnd() % 3));
			break;
		case 5: /* 32-bit op */
			p[i++] = BEXT_ALU32_IMM(op == BEXT_ALU_MOD ? BEXT_ALU_AND : op, r,
						(int32_t)(op == BEXT_ALU_LSH || op == BEXT_ALU_RSH
							      ? rnd() % 32
							      : rnd() % 64));
			break;
		default: /* r7 from ctx or stack */
			p[i++] = BEXT_LDX_MEM(rnd() % 2 ? BEXT_SZ_B : BEXT_SZ_W, 7,
					      rnd() % 2 ? 6 : 8, (int16_t)(4 * (rnd() % 14)));
			break;
		}
	}
	/* jumps must land inside: clamp forward targets */
	for (size_t k = 0; k < i; k++)
		if (BEXT_CLASS(p[k].code) == BEXT_CLS_JMP && (int64_t)k + p[k].off + 1 > (int64_t)i)
			p[k].off = (int16_t)(i - k - 1);
	if (loop) { /* run the body a few times: exercises pruning across iterations */
		p[i++] = BEXT_ALU64_IMM(BEXT_ALU_ADD, 5, 1);
		p[i] = BEXT_JMP_IMM(BEXT_JMP_JLT, 5, (int32_t)(2 + rnd() % 6), 0);
		p[i].off = (int16_t)((int64_t)head - (int64_t)i - 1);
		i++;
	}
	p[i++] = BEXT_MOV64_IMM(0, 0);
	p[i++] = BEXT_EXIT_INSN();
	*n = i;
}

static void test_soundness_fuzz(void **state)
{
	struct bext_insn prog[160];
	struct bext_verify_opts opts = {
	    .sz = sizeof(opts), .prog_type = BEXT_PROG_EXT, .ctx_size = 64, .ctx_writable = true};
	struct bext_vm_opts vo = {.sz = sizeof(vo), .checked = true, .insn_budget = 100000};
	int accepted = 0, total = 3000, faults = 0;
	uint8_t ctx[64];

	(void)state;
	if (getenv("VERIFIER_FUZZ_ITERS")) { /* longer runs by hand */
		total = atoi(getenv("VERIFIER_FUZZ_ITERS"));
		rng ^= (uint64_t)total * 0x2545f4914f6cdd1dull;
	}
	{ /* the oracle works: a rejected out-of-bounds read faults when run */
		struct bext_insn bad[] = {BEXT_LDX_MEM(BEXT_SZ_B, 0, 1, 64), BEXT_EXIT_INSN()};
		struct bext_vm *vm = bext_vm__new(&vo);
		uint64_t r0;

		assert_int_equal(bext_verify(bad, 2, &opts, NULL, 0), -EACCES);
		assert_int_equal(bext_vm__load(vm, bad, 2, NULL, 0), 0);
		assert_int_equal(bext_vm__exec(vm, ctx, sizeof(ctx), &r0), -EFAULT);
		bext_vm__free(vm);
	}
	for (int t = 0; t < total; t++) {
		struct bext_vm *vm;
		size_t n;
		char err[256];
		uint64_t r0;
		int rc;

		gen_prog(prog, &n);
		if (bext_verify(prog, n, &opts, NULL, 0))
			continue;
		accepted++;
		vm = bext_vm__new(&vo);
		assert_non_null(vm);
		if (bext_vm__load(vm, prog, n, err, sizeof(err))) {
			bext_vm__free(vm);
			fail_msg("vm refused a verified program: %s", err);
		}
		for (int run = 0; run < 4; run++) {
			for (size_t k = 0; k < sizeof(ctx); k++)
				ctx[k] = (uint8_t)rnd();
			rc = bext_vm__exec(vm, ctx, sizeof(ctx), &r0);
			if (rc == -EFAULT) {
				faults++;
				printf("fault: %s\n", bext_vm__last_error(vm));
				bext_disasm(prog, n, stdout);
			}
		}
		bext_vm__free(vm);
	}
	printf("soundness fuzz: %d of %d random programs accepted, %d faults\n", accepted, total,
	       faults);
	assert_int_equal(faults, 0);
	assert_true(accepted > total / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tnum_exact),	   cmocka_unit_test(test_tnum_sound),
	    cmocka_unit_test(test_alu_sound),	   cmocka_unit_test(test_refine_sound),
	    cmocka_unit_test(test_api_errors),	   cmocka_unit_test(test_log_and_stats),
	    cmocka_unit_test(test_names),	   cmocka_unit_test(test_section_types),
	    cmocka_unit_test(test_soundness_fuzz), cmocka_unit_test(test_log_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

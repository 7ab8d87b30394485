// SPDX-License-Identifier: MIT
/* attach: relocator golden tests, uprobes/uretprobes on real functions, live patching. */
#define _GNU_SOURCE
#include <complex.h>
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cmocka.h>

#include <bext/attach.h>
#include <bext/helpers.h>
#include <bext/vm.h>

#include "attach/attach_internal.h"

#define NOINL __attribute__((noinline, noclone, used))

static struct bext_attachment *att(void *addr, bext_jit_fn fn, enum bext_attach_kind kind,
				   uint64_t cookie, bool ovr)
{
	struct bext_attach_opts o = {
	    .sz = sizeof(o), .kind = kind, .cookie = cookie, .allow_override = ovr};
	char err[256];
	struct bext_attachment *a = bext_attach(addr, fn, &o, err, sizeof(err));

	if (!a)
		fail_msg("attach %p: %s", addr, err);
	return a;
}

/* ---- golden relocator tests --------------------------------------------------------- */

extern uint64_t g_value;
uint64_t g_rip_load(uint64_t), g_short_jmp(uint64_t), g_jcc(uint64_t), g_call(uint64_t),
    g_endbr(uint64_t), g_pushmov(uint64_t), g_tiny(uint64_t), g_branch_in(uint64_t),
    g_undecodable(uint64_t), g_loop(uint64_t), g_add1(uint64_t);
extern const uint8_t g_jcc_zero[];

static _Atomic uint64_t hits;
static _Atomic uint64_t last_rdi;

static uint64_t prog_count(void *ctx, uint64_t len)
{
	const struct bext_pt_regs *r = ctx;

	assert_int_equal(len, sizeof(struct bext_pt_regs));
	last_rdi = r->rdi;
	hits++;
	return 0;
}

typedef uint64_t (*fn1)(uint64_t);

static void check_patched(fn1 f, uint64_t arg, uint64_t want)
{
	fn1 volatile vf = f;
	uint64_t before = hits;

	assert_int_equal(vf(arg), want);
	assert_int_equal(hits, before + 1);
	assert_int_equal(last_rdi, arg);
}

static void test_golden_rip_load(void **state)
{
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;
	int32_t d;
	struct bext_attachment *a;

	(void)state;
	a = att((void *)g_rip_load, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_rip_load, &patch, &plen, &rl, &rlen), 0);
	assert_ptr_equal(patch, (const uint8_t *)g_rip_load);
	assert_int_equal(plen, 7); /* mov g_value(%rip),%rax */
	assert_int_equal(patch[0], 0xe9);
	/* relocated: 48 8b 05 disp32 with the new displacement, then jmp back */
	assert_int_equal(rl[0], 0x48);
	assert_int_equal(rl[1], 0x8b);
	assert_int_equal(rl[2], 0x05);
	memcpy(&d, rl + 3, 4);
	assert_ptr_equal(rl + 7 + d, (const uint8_t *)&g_value);
	assert_int_equal(rl[7], 0xe9);
	memcpy(&d, rl + 8, 4);
	assert_ptr_equal(rl + 12 + d, (const uint8_t *)g_rip_load + 7);
	assert_int_equal(rlen, 12);
	check_patched(g_rip_load, 5, 1005);
	g_value = 2000;
	check_patched(g_rip_load, 5, 2005);
	g_value = 1000;
	assert_int_equal(bext_detach(a), 0);
	assert_int_equal(((const uint8_t *)g_rip_load)[0], 0x48); /* original bytes back */
	assert_int_equal(g_rip_load(1), 1001);
}

static void test_golden_short_jmp(void **state)
{
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;
	int32_t d;
	struct bext_attachment *a;

	(void)state;
	a = att((void *)g_short_jmp, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_short_jmp, &patch, &plen, &rl, &rlen), 0);
	assert_int_equal(plen, 5);     /* jmp rel8 + 3 nops */
	assert_int_equal(rl[0], 0xe9); /* widened to rel32 */
	memcpy(&d, rl + 1, 4);
	assert_ptr_equal(rl + 5 + d, (const uint8_t *)g_short_jmp + 8);
	check_patched(g_short_jmp, 10, 17);
	bext_detach(a);
	assert_int_equal(g_short_jmp(1), 8);
}

static void test_golden_jcc(void **state)
{
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;
	int32_t d;
	struct bext_attachment *a;

	(void)state;
	a = att((void *)g_jcc, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_jcc, &patch, &plen, &rl, &rlen), 0);
	assert_int_equal(plen, 5); /* test %rdi,%rdi; jz rel8 */
	assert_memory_equal(rl, "\x48\x85\xff\x0f\x84", 5);
	memcpy(&d, rl + 5, 4);
	assert_ptr_equal(rl + 9 + d, g_jcc_zero);
	check_patched(g_jcc, 0, 2);
	check_patched(g_jcc, 3, 1);
	bext_detach(a);
}

static void test_golden_call(void **state)
{
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;
	uint32_t lo, hi;
	uint64_t ret;
	int32_t d;
	struct bext_attachment *a;

	(void)state;
	a = att((void *)g_call, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_call, &patch, &plen, &rl, &rlen), 0);
	assert_int_equal(plen, 5);
	/* lea -8(%rsp),%rsp; movl lo,(%rsp); movl hi,4(%rsp); jmp g_add1 */
	assert_memory_equal(rl, "\x48\x8d\x64\x24\xf8\xc7\x04\x24", 8);
	memcpy(&lo, rl + 8, 4);
	assert_memory_equal(rl + 12, "\xc7\x44\x24\x04", 4);
	memcpy(&hi, rl + 16, 4);
	ret = (uint64_t)hi << 32 | lo;
	assert_int_equal(ret, (uint64_t)g_call + 5); /* returns into the original code */
	assert_int_equal(rl[20], 0xe9);
	memcpy(&d, rl + 21, 4);
	assert_ptr_equal(rl + 25 + d, (const uint8_t *)g_add1);
	check_patched(g_call, 4, 15);
	bext_detach(a);
}

static void test_golden_endbr_pushmov(void **state)
{
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;
	struct bext_attachment *a, *b;

	(void)state;
	a = att((void *)g_endbr, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_endbr, &patch, &plen, &rl, &rlen), 0);
	assert_ptr_equal(patch, (const uint8_t *)g_endbr + 4); /* endbr64 stays */
	assert_memory_equal(g_endbr, "\xf3\x0f\x1e\xfa\xe9", 5);
	assert_int_equal(plen, 8); /* push %rbp; mov %rsp,%rbp; lea 3(%rdi),%rax */
	assert_memory_equal(rl, "\x55\x48\x89\xe5\x48\x8d\x47\x03", 8);
	check_patched(g_endbr, 7, 10);
	b = att((void *)g_pushmov, prog_count, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(bext_attach__site_info((void *)g_pushmov, &patch, &plen, &rl, &rlen), 0);
	assert_int_equal(plen, 8); /* push %rbx; mov %rdi,%rbx; lea 5(%rbx),%rax */
	assert_memory_equal(rl, "\x53\x48\x89\xfb\x48\x8d\x43\x05", 8);
	check_patched(g_pushmov, 7, 12);
	bext_detach(a);
	bext_detach(b);
	assert_memory_equal(g_endbr, "\xf3\x0f\x1e\xfa\x55", 5);
}

static void expect_refusal(void *fn, const char *needle)
{
	struct bext_attach_opts o = {.sz = sizeof(o), .kind = BEXT_ATTACH_UPROBE};
	char err[256] = "";
	uint8_t before[8];

	memcpy(before, fn, 8);
	assert_null(bext_attach(fn, prog_count, &o, err, sizeof(err)));
	if (!strstr(err, needle))
		fail_msg("message '%s' lacks '%s'", err, needle);
	assert_memory_equal(before, fn, 8); /* untouched */
}

static void test_golden_refusals(void **state)
{
	(void)state;
	expect_refusal((void *)g_tiny, "too short");
	expect_refusal((void *)g_branch_in, "inside the");
	expect_refusal((void *)g_undecodable, "undecodable");
	expect_refusal((void *)g_loop, "cannot relocate loop");
	expect_refusal((void *)((uint8_t *)g_rip_load + 1),
		       "not an instruction boundary"); /* mid-instruction */
	assert_int_equal(g_loop(3), 2);
}

/* ---- real C functions ------------------------------------------------------------------ */

NOINL int64_t target3(int64_t a, int64_t b, int64_t c)
{
	__asm__ volatile("" ::: "memory");
	return a * 100 + b * 10 + c;
}

static int64_t (*volatile p_target3)(int64_t, int64_t, int64_t) = target3;
static int64_t seen[3];
static uint64_t seen_ip, seen_cookie, seen_rsp_ok;

static uint64_t prog_args(void *ctx, uint64_t len)
{
	const struct bext_pt_regs *r = ctx;
	const struct bext_run_info *ri = bext_helpers__set_run(NULL);

	bext_helpers__set_run(ri);
	(void)len;
	seen[0] = (int64_t)r->rdi; /* PT_REGS_PARM1..3 */
	seen[1] = (int64_t)r->rsi;
	seen[2] = (int64_t)r->rdx;
	seen_ip = ri ? ri->func_ip : 0;
	seen_cookie = ri ? ri->attach_cookie : 0;
	seen_rsp_ok =
	    r->rip == (uint64_t)target3 && r->cs == 0x33 && r->ss == 0x2b && ri->user_regs == r;
	hits++;
	return 0;
}

static void test_uprobe_args(void **state)
{
	struct bext_attachment *a;
	uint64_t h0 = hits;

	(void)state;
	a = att((void *)target3, prog_args, BEXT_ATTACH_UPROBE, 0xc00c1e, false);
	for (int i = 1; i <= 100; i++) {
		assert_int_equal(p_target3(i, -i, 7), i * 100 - i * 10 + 7);
		assert_int_equal(seen[0], i);
		assert_int_equal(seen[1], -i);
		assert_int_equal(seen[2], 7);
	}
	assert_int_equal(hits, h0 + 100);
	assert_int_equal(seen_ip, (uint64_t)target3);
	assert_int_equal(seen_cookie, 0xc00c1e);
	assert_true(seen_rsp_ok);
	assert_int_equal(bext_detach(a), 0);
	p_target3(1, 2, 3);
	assert_int_equal(hits, h0 + 100);
}

static uint64_t ret_vals[64];
static unsigned n_ret;

static uint64_t prog_ret(void *ctx, uint64_t len)
{
	const struct bext_pt_regs *r = ctx;

	(void)len;
	if (n_ret < 64)
		ret_vals[n_ret] = r->rax; /* PT_REGS_RC */
	n_ret++;
	return 0;
}

static void test_uretprobe_values(void **state)
{
	struct bext_attachment *a;

	(void)state;
	n_ret = 0;
	a = att((void *)target3, prog_ret, BEXT_ATTACH_URETPROBE, 0, false);
	for (int i = 0; i < 10; i++)
		assert_int_equal(p_target3(i, 2, 3), i * 100 + 23);
	assert_int_equal(n_ret, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ret_vals[i], (uint64_t)(i * 100 + 23));
	assert_int_equal(bext_attach__shadow_depth(), 0);
	bext_detach(a);
	p_target3(1, 1, 1);
	assert_int_equal(n_ret, 10);
}

NOINL uint64_t fib(uint64_t n);
static uint64_t (*volatile p_fib)(uint64_t) = fib;

/* real recursive calls (through a pointer: no loop conversion of one call) */
NOINL uint64_t fib(uint64_t n)
{
	return n < 2 ? n : p_fib(n - 1) + p_fib(n - 2);
}

static uint64_t fib_calls, fib_sum, fib_entries, fib_max_depth;

static uint64_t prog_fib_ret(void *ctx, uint64_t len)
{
	(void)len;
	fib_calls++;
	fib_sum += ((const struct bext_pt_regs *)ctx)->rax;
	return 0;
}

static uint64_t prog_fib_entry(void *ctx, uint64_t len)
{
	(void)ctx;
	(void)len;
	fib_entries++;
	if (bext_attach__shadow_depth() > fib_max_depth)
		fib_max_depth = bext_attach__shadow_depth();
	return 0;
}

static void ref_fib(uint64_t n, uint64_t *calls, uint64_t *sum)
{
	uint64_t v = fib(n);

	(*calls)++;
	*sum += v;
	if (n >= 2) {
		ref_fib(n - 1, calls, sum);
		ref_fib(n - 2, calls, sum);
	}
}

static void test_uretprobe_recursion(void **state)
{
	struct bext_attachment *r, *e;
	uint64_t want_calls = 0, want_sum = 0;
	uint64_t (*volatile pf)(uint64_t) = fib;

	(void)state;
	ref_fib(15, &want_calls, &want_sum);
	r = att((void *)fib, prog_fib_ret, BEXT_ATTACH_URETPROBE, 0, false);
	e = att((void *)fib, prog_fib_entry, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(pf(15), 610);
	assert_int_equal(fib_calls, want_calls);
	assert_int_equal(fib_entries, want_calls);
	assert_int_equal(fib_sum, want_sum);
	assert_int_equal(fib_max_depth, 14); /* entry programs run before this call's push */
	assert_int_equal(bext_attach__shadow_depth(), 0);
	bext_detach(e);
	bext_detach(r);
	assert_int_equal(pf(10), 55);
	assert_int_equal(fib_calls, want_calls);
}

/* several programs in attach order; uprobe + uretprobe on one patch */
static char order[32];
static unsigned n_order;
#define ORDER_PROG(name, ch)                          \
	static uint64_t name(void *ctx, uint64_t len) \
	{                                             \
		(void)ctx;                            \
		(void)len;                            \
		if (n_order < sizeof(order) - 1)      \
			order[n_order++] = ch;        \
		return 0;                             \
	}
ORDER_PROG(prog_a, 'a')
ORDER_PROG(prog_b, 'b')
ORDER_PROG(prog_c, 'c')
ORDER_PROG(prog_r, 'R')
ORDER_PROG(prog_s, 'S')

static void test_order(void **state)
{
	struct bext_attachment *a, *b, *c, *r, *s;
	const uint8_t *patch, *rl;
	unsigned plen;
	size_t rlen;

	(void)state;
	a = att((void *)target3, prog_a, BEXT_ATTACH_UPROBE, 0, false);
	r = att((void *)target3, prog_r, BEXT_ATTACH_URETPROBE, 0, false);
	b = att((void *)target3, prog_b, BEXT_ATTACH_UPROBE, 0, false);
	s = att((void *)target3, prog_s, BEXT_ATTACH_URETPROBE, 0, false);
	c = att((void *)target3, prog_c, BEXT_ATTACH_UPROBE, 0, false);
	memset(order, 0, sizeof(order));
	n_order = 0;
	p_target3(1, 2, 3);
	assert_string_equal(order, "abcRS");
	bext_detach(b);
	bext_detach(r);
	n_order = 0;
	memset(order, 0, sizeof(order));
	p_target3(1, 2, 3);
	assert_string_equal(order, "acS");
	bext_detach(a);
	bext_detach(c);
	bext_detach(s);
	n_order = 0;
	p_target3(1, 2, 3);
	assert_int_equal(n_order, 0);
	assert_int_equal(bext_attach__site_info((void *)target3, &patch, &plen, &rl, &rlen), 0);
	assert_int_not_equal(patch[0], 0xe9); /* unpatched after the last detach */
}

/* override_return from a JIT-compiled program calling helper 58 */
NOINL int64_t checked_op(int64_t x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static int64_t (*volatile p_checked_op)(int64_t) = checked_op;

static void test_override_return(void **state)
{
	/* if (PT_REGS_PARM1(ctx) == 13) bpf_override_return(ctx, -EACCES); return 0 */
	struct bext_insn prog[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, offsetof(struct bext_pt_regs, rdi)),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 2, 13, 2),
	    BEXT_MOV64_IMM(2, -EACCES),
	    BEXT_CALL_HELPER_INSN(BEXT_ATTACH_OVERRIDE_RETURN_ID),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm *vm = bext_vm__new(NULL);
	struct bext_attachment *a, *u;
	char err[256];
	bext_jit_fn fn;

	(void)state;
	assert_non_null(vm);
	assert_int_equal(bext_vm__register_helper(vm, BEXT_ATTACH_OVERRIDE_RETURN_ID,
						  "bpf_override_return",
						  bext_attach__override_return_helper),
			 0);
	assert_int_equal(bext_vm__load(vm, prog, BEXT_ARRAY_SIZE(prog), err, sizeof(err)), 0);
	fn = bext_vm__jit(vm, err, sizeof(err));
	assert_non_null(fn);

	/* without allow_override the helper refuses */
	a = att((void *)checked_op, fn, BEXT_ATTACH_UPROBE, 0, false);
	assert_int_equal(p_checked_op(13), 14);
	bext_detach(a);

	a = att((void *)checked_op, fn, BEXT_ATTACH_UPROBE, 0, true);
	n_ret = 0;
	u = att((void *)checked_op, prog_ret, BEXT_ATTACH_URETPROBE, 0, false);
	assert_int_equal(p_checked_op(12), 13);
	assert_int_equal(p_checked_op(13), -EACCES);
	assert_int_equal(p_checked_op(14), 15);
	assert_int_equal(n_ret, 3); /* the uretprobe sees the overridden value too */
	assert_int_equal((int64_t)ret_vals[1], -EACCES);
	bext_detach(a);
	bext_detach(u);
	assert_int_equal(p_checked_op(13), 14);
	bext_vm__free(vm);
}

/* a JIT'd program summing PARM1 through an atomic add */
static uint64_t jit_sum, jit_count;

static void test_jit_prog(void **state)
{
	struct bext_insn prog[] = {
	    BEXT_LDX_MEM(BEXT_SZ_DW, 2, 1, offsetof(struct bext_pt_regs, rdi)),
	    BEXT_LD_IMM64_LO(3, 0, (uint64_t)&jit_sum),
	    BEXT_LD_IMM64_HI((uint64_t)&jit_sum),
	    BEXT_ATOMIC(BEXT_SZ_DW, 3, 2, 0, BEXT_ALU_ADD),
	    BEXT_LD_IMM64_LO(3, 0, (uint64_t)&jit_count),
	    BEXT_LD_IMM64_HI((uint64_t)&jit_count),
	    BEXT_MOV64_IMM(2, 1),
	    BEXT_ATOMIC(BEXT_SZ_DW, 3, 2, 0, BEXT_ALU_ADD),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_vm *vm = bext_vm__new(NULL);
	struct bext_attachment *a;
	char err[256];
	bext_jit_fn fn;

	(void)state;
	assert_int_equal(bext_vm__load(vm, prog, BEXT_ARRAY_SIZE(prog), err, sizeof(err)), 0);
	fn = bext_vm__jit(vm, err, sizeof(err));
	assert_non_null(fn);
	a = att((void *)target3, fn, BEXT_ATTACH_UPROBE, 0, false);
	for (int i = 1; i <= 50; i++)
		p_target3(i, 0, 0);
	assert_int_equal(jit_count, 50);
	assert_int_equal(jit_sum, 50 * 51 / 2);
	bext_detach(a);
	bext_vm__free(vm);
}

/* longjmp out of a uretprobe'd function: the stale shadow entry is dropped lazily */
static jmp_buf jb;

NOINL int64_t jumper(int64_t x)
{
	__asm__ volatile("" ::: "memory");
	if (x < 0)
		longjmp(jb, 1);
	return x * 3;
}

static int64_t (*volatile p_jumper)(int64_t) = jumper;

static void test_longjmp(void **state)
{
	struct bext_attachment *a;

	(void)state;
	n_ret = 0;
	a = att((void *)jumper, prog_ret, BEXT_ATTACH_URETPROBE, 0, false);
	if (!setjmp(jb))
		p_jumper(-1);
	assert_int_equal(bext_attach__shadow_depth(), 1); /* stale until the next probed call */
	assert_int_equal(p_jumper(5), 15);
	assert_int_equal(bext_attach__shadow_depth(), 0);
	assert_int_equal(n_ret, 1);
	assert_int_equal(ret_vals[0], 15);
	bext_detach(a);
}

/* ---- symbols ----------------------------------------------------------------------------- */

static void test_resolve(void **state)
{
	void *addr, *m = dlsym(RTLD_DEFAULT, "malloc");
	char err[256];
	Dl_info di;

	(void)state;
	assert_int_equal(bext_attach__resolve(NULL, "target3", 0, &addr, err, sizeof(err)), 0);
	assert_ptr_equal(addr, (void *)target3);
	assert_int_equal(bext_attach__resolve(NULL, "g_jcc", 3, &addr, err, sizeof(err)), 0);
	assert_ptr_equal(addr, (uint8_t *)g_jcc + 3);
	assert_int_equal(
	    bext_attach__resolve(NULL, "no_such_symbol_xyz", 0, &addr, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_symbol_xyz"));
	assert_int_equal(bext_attach__resolve("libc.so.6", "free", 0, &addr, err, sizeof(err)), 0);
	{
		void *h = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);

		assert_ptr_equal(addr, dlsym(h, "free"));
		dlclose(h);
	}
	/* the malloc this process uses (libc's, or a sanitizer's interceptor) */
	assert_true(dladdr(m, &di));
	assert_int_equal(bext_attach__resolve(di.dli_fname, "malloc", 0, &addr, err, sizeof(err)),
			 0);
	assert_ptr_equal(addr, m);
	/* an IFUNC (memcpy in glibc) resolves to the selected implementation */
	assert_int_equal(bext_attach__resolve("libc.so.6", "strlen", 0, &addr, err, sizeof(err)),
			 0);
	{
		void *h = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);

		assert_ptr_equal(addr, dlsym(h, "strlen"));
		dlclose(h);
	}
}

static _Atomic uint64_t malloc_hits;

static uint64_t prog_malloc(void *ctx, uint64_t len)
{
	(void)len;
	if (((const struct bext_pt_regs *)ctx)->rdi == 123457)
		malloc_hits++;
	return 0;
}

static void test_malloc_uprobe(void **state)
{
	void *(*volatile pm)(size_t) = malloc;
	void *m = dlsym(RTLD_DEFAULT, "malloc"), *addr;
	struct bext_attachment *a;
	char err[256];
	Dl_info di;

	(void)state;
	assert_true(dladdr(m, &di));
	assert_int_equal(bext_attach__resolve(di.dli_fname, "malloc", 0, &addr, err, sizeof(err)),
			 0);
	a = att(addr, prog_malloc, BEXT_ATTACH_UPROBE, 0, false);
	for (int i = 0; i < 10; i++)
		free(pm(123457));
	free(pm(10));
	assert_int_equal(malloc_hits, 10);
	bext_detach(a);
	free(pm(123457));
	assert_int_equal(malloc_hits, 10);
}

/* ---- live patching under load ---------------------------------------------------------------- */

#define NTHREADS 8
NOINL uint64_t hot(uint64_t seq, uint64_t tid)
{
	__asm__ volatile("" ::: "memory");
	return seq ^ tid;
}

static uint64_t (*volatile p_hot)(uint64_t, uint64_t) = hot;
static _Atomic int stop, window;
static _Atomic uint64_t last_seq[NTHREADS], errors, win_hits, calls_total;
#define NONE UINT64_MAX

static uint64_t prog_stress(void *ctx, uint64_t len)
{
	const struct bext_pt_regs *r = ctx;
	uint64_t t = r->rsi, prev;

	(void)len;
	if (t >= NTHREADS)
		return 0;
	if (!window) {
		last_seq[t] = NONE;
		return 0;
	}
	prev = last_seq[t];
	if (prev != NONE && r->rdi != prev + 1)
		errors++; /* a lost (gap) or doubled (repeat) hit */
	last_seq[t] = r->rdi;
	win_hits++;
	return 0;
}

static void *stress_thread(void *arg)
{
	uint64_t tid = (uint64_t)(uintptr_t)arg, seq = 0;

	while (!stop) {
		seq++;
		if (p_hot(seq, tid) != (seq ^ tid))
			errors++;
		/* 8 spinning threads on a small machine would starve the patching
		 * thread of CPU time (each patch waits for every thread to run) */
		if ((seq & 1023) == 0)
			usleep(20);
	}
	calls_total += seq;
	return NULL;
}

static void test_stress_attach_detach(void **state)
{
	pthread_t th[NTHREADS];
	struct bext_attach_stats st;
	struct timespec t0, t1;
	int cycles = getenv("ATTACH_STRESS_CYCLES") ? atoi(getenv("ATTACH_STRESS_CYCLES")) : 1000;

	(void)state;
	for (int i = 0; i < NTHREADS; i++)
		last_seq[i] = NONE;
	for (uintptr_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stress_thread, (void *)i), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int c = 0; c < cycles; c++) {
		struct bext_attachment *a =
		    att((void *)hot, prog_stress, BEXT_ATTACH_UPROBE, 0, false);

		for (int i = 0; i < NTHREADS; i++)
			last_seq[i] = NONE;
		window = 1;
		for (volatile int k = 0; k < 2000; k++)
			;
		window = 0;
		assert_int_equal(bext_detach(a), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stop = 1;
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	bext_attach__stats(&st);
	printf("# stress: %d attach/detach cycles with %d threads in %.2f s; %llu calls, %llu "
	       "checked hits, %llu sync timeouts\n",
	       cycles, NTHREADS, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)calls_total, (unsigned long long)win_hits,
	       (unsigned long long)st.sync_timeouts);
	assert_int_equal(errors, 0);
	assert_true(win_hits > 0);
}

/* ---- no EINTR for threads blocked elsewhere while a site is patched --------------------- */

struct blocked {
	int fd; /* pipe read end */
	bool epoll;
	int ret, err; /* what poll/epoll_wait returned */
};

static void *blocked_thread(void *arg)
{
	struct blocked *b = arg;

	if (b->epoll) {
		struct epoll_event ev = {.events = EPOLLIN}, out;
		int ep = epoll_create1(0);

		epoll_ctl(ep, EPOLL_CTL_ADD, b->fd, &ev);
		b->ret = epoll_wait(ep, &out, 1, 20000);
		b->err = errno;
		close(ep);
	} else {
		struct pollfd pfd = {.fd = b->fd, .events = POLLIN};

		b->ret = poll(&pfd, 1, 20000);
		b->err = errno;
	}
	return NULL;
}

static _Atomic int caller_stop;

static void *caller_thread(void *arg)
{
	(void)arg;
	while (!caller_stop)
		p_target3(1, 2, 3);
	return NULL;
}

/*
 * A thread blocked in epoll_wait and one in poll (both return EINTR when a
 * signal interrupts them, SA_RESTART or not) while another thread's function
 * is attached and detached 30 times: they are not signalled (their pc is not
 * in the displaced bytes), so both see their pipe's byte, not EINTR.
 */
static void test_no_eintr_blocked(void **state)
{
	struct blocked b[2] = {{.epoll = true}, {.epoll = false}};
	struct bext_attach_stats st0, st1;
	pthread_t th[2], caller;
	struct timespec t0, t1;
	int pfd[2][2];

	(void)state;
	bext_attach__stats(&st0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(pfd[i]), 0);
		b[i].fd = pfd[i][0];
		assert_int_equal(pthread_create(&th[i], NULL, blocked_thread, &b[i]), 0);
	}
	caller_stop = 0;
	assert_int_equal(pthread_create(&caller, NULL, caller_thread, NULL), 0);
	usleep(100 * 1000); /* both are blocked now */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int c = 0; c < 30; c++) {
		struct bext_attachment *a =
		    att((void *)target3, prog_count, BEXT_ATTACH_UPROBE, 0, false);

		assert_int_equal(bext_detach(a), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	caller_stop = 1;
	pthread_join(caller, NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(write(pfd[i][1], "x", 1), 1);
		pthread_join(th[i], NULL);
		close(pfd[i][0]);
		close(pfd[i][1]);
	}
	bext_attach__stats(&st1);
	printf("# 30 attach+detach cycles (2 threads blocked, 1 calling) in %.1f ms; %llu "
	       "threads not signalled\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6,
	       (unsigned long long)(st1.sync_skipped - st0.sync_skipped));
	if (b[0].ret < 0)
		fail_msg("epoll_wait: %s", strerror(b[0].err));
	if (b[1].ret < 0)
		fail_msg("poll: %s", strerror(b[1].err));
	assert_int_equal(b[0].ret, 1);
	assert_int_equal(b[1].ret, 1);
}

/* ---- hit cost (printed, not asserted) ------------------------------------------------------- */

static uint64_t prog_nop(void *ctx, uint64_t len)
{
	(void)ctx;
	(void)len;
	return 0;
}

static double ns_per_call(int n)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		p_hot((uint64_t)i, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
}

static void test_hit_cost(void **state)
{
	struct bext_attachment *a;
	const int n = 2000000;
	double base, up, upret;

	(void)state;
	ns_per_call(n / 10);
	base = ns_per_call(n);
	a = att((void *)hot, prog_nop, BEXT_ATTACH_UPROBE, 0, false);
	up = ns_per_call(n);
	bext_detach(a);
	a = att((void *)hot, prog_nop, BEXT_ATTACH_URETPROBE, 0, false);
	upret = ns_per_call(n);
	bext_detach(a);
	printf("# hit cost: plain call %.2f ns; with uprobe (empty program) %.2f ns (+%.2f); "
	       "with uretprobe %.2f ns (+%.2f)\n",
	       base, up, up - base, upret, upret - base);
}

/* ---- hit-path modes: what the trampoline skips for JIT'd programs -----------------------------
 */

/* the trampoline's choices (F_* in attach.c) */
#define HF_XMM 1
#define HF_DIRECT 2
#define HF_DISPATCH 4
#define HF_RET_DIRECT 16
#define HF_RUNINFO 32
#define HF_ARM 128
/* with clang or ASan every program is treated as calling C code (attach.c HIT_PATH) */
#if defined(__clang__) || defined(__SANITIZE_ADDRESS__)
#define assert_flags(addr, f) ((void)0)
#else
#define assert_flags(addr, f) assert_int_equal(bext_attach__site_flags(addr), (f))
#endif

NOINL int64_t mode_fn(int64_t x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}
static int64_t (*volatile p_mode_fn)(int64_t) = mode_fn;

NOINL double fsum(double a, double b, double c, double d, double e, double f, double g, double h)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}
static double (*volatile p_fsum)(double, double, double, double, double, double, double,
				 double) = fsum;

static uint64_t mode_count, mode_ip;

static struct bext_vm *jit_vm(const struct bext_insn *insns, size_t n, bool helpers, uint32_t hid,
			      bext_helper_fn hfn, bext_jit_fn *fn)
{
	struct bext_vm *vm = bext_vm__new(NULL);
	char err[256];

	assert_non_null(vm);
	if (hfn)
		assert_int_equal(bext_vm__register_helper(vm, hid, "clobber", hfn), 0);
	if (helpers)
		assert_int_equal(bext_helpers__register_all(vm, NULL), 0);
	assert_int_equal(bext_vm__load(vm, insns, n, err, sizeof(err)), 0);
	*fn = bext_vm__jit(vm, err, sizeof(err));
	assert_non_null(*fn);
	return vm;
}

static struct bext_attachment *att_vm(void *addr, bext_jit_fn fn, enum bext_attach_kind kind,
				      const struct bext_vm *vm)
{
	struct bext_attach_opts o = {.sz = sizeof(o), .kind = kind, .vm = vm};
	char err[256];
	struct bext_attachment *a = bext_attach(addr, fn, &o, err, sizeof(err));

	if (!a)
		fail_msg("attach %p: %s", addr, err);
	return a;
}

static uint64_t h_clobber(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a, (void)b, (void)c, (void)d, (void)e;
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm1, %%xmm1\n\t"
			 "pcmpeqd %%xmm2, %%xmm2\n\tpcmpeqd %%xmm3, %%xmm3\n\t"
			 "pcmpeqd %%xmm4, %%xmm4\n\tpcmpeqd %%xmm5, %%xmm5\n\t"
			 "pcmpeqd %%xmm6, %%xmm6\n\tpcmpeqd %%xmm7, %%xmm7" ::
			     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
	return 0;
}

static void test_hit_path_modes(void **state)
{
	/* no call: counts hits, called straight from the trampoline, no xmm save */
	struct bext_insn count[] = {
	    BEXT_LD_IMM64_LO(3, 0, (uint64_t)&mode_count),
	    BEXT_LD_IMM64_HI((uint64_t)&mode_count),
	    BEXT_MOV64_IMM(2, 1),
	    BEXT_ATOMIC(BEXT_SZ_DW, 3, 2, 0, BEXT_ALU_ADD),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	/* bpf_get_func_ip: needs the run info, so the dispatcher */
	struct bext_insn ip[] = {
	    BEXT_CALL_HELPER_INSN(173),
	    BEXT_LD_IMM64_LO(1, 0, (uint64_t)&mode_ip),
	    BEXT_LD_IMM64_HI((uint64_t)&mode_ip),
	    BEXT_STX_MEM(BEXT_SZ_DW, 1, 0, 0),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	/* a helper that clobbers xmm0-7: direct call, xmm saved around it */
	struct bext_insn clob[] = {
	    BEXT_CALL_HELPER_INSN(1),
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_EXIT_INSN(),
	};
	struct bext_attachment *a, *r;
	struct bext_vm *v1, *v2, *v3;
	bext_jit_fn f1, f2, f3;
	double want;

	(void)state;
	v1 = jit_vm(count, BEXT_ARRAY_SIZE(count), false, 0, NULL, &f1);
	v2 = jit_vm(ip, BEXT_ARRAY_SIZE(ip), true, 0, NULL, &f2);
	v3 = jit_vm(clob, BEXT_ARRAY_SIZE(clob), false, 1, h_clobber, &f3);

	a = att_vm((void *)mode_fn, f1, BEXT_ATTACH_UPROBE, v1);
	assert_flags((void *)mode_fn, HF_DIRECT);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p_mode_fn(i), i * 3 + 1);
	assert_int_equal(mode_count, 100);
	/* a uretprobe too: still called straight, the trampoline arms the return */
	r = att_vm((void *)mode_fn, f1, BEXT_ATTACH_URETPROBE, v1);
	assert_flags((void *)mode_fn, HF_DIRECT | HF_ARM | HF_RET_DIRECT);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p_mode_fn(i), i * 3 + 1);
	assert_int_equal(mode_count, 300);
	assert_int_equal(bext_attach__shadow_depth(), 0);
	bext_detach(r);
	bext_detach(a);
	assert_int_equal(bext_attach__site_flags((void *)mode_fn), 0);
	p_mode_fn(1);
	assert_int_equal(mode_count, 300);

	a = att_vm((void *)mode_fn, f2, BEXT_ATTACH_UPROBE, v2);
	assert_flags((void *)mode_fn, HF_XMM | HF_DISPATCH | HF_RUNINFO);
	p_mode_fn(7);
	assert_int_equal(mode_ip, (uint64_t)mode_fn);
	bext_detach(a);

	want = fsum(1.5, 2.25, -3, 4.125, 5, 6.5, -7.75, 8);
	a = att_vm((void *)fsum, f3, BEXT_ATTACH_UPROBE, v3);
	assert_flags((void *)fsum, HF_XMM | HF_DIRECT);
	for (int i = 0; i < 10; i++)
		assert_true(p_fsum(1.5, 2.25, -3, 4.125, 5, 6.5, -7.75, 8) == want);
	bext_detach(a);
	/* the same clobbering program as a uretprobe: the double result survives */
	r = att_vm((void *)fsum, f3, BEXT_ATTACH_URETPROBE, v3);
	for (int i = 0; i < 10; i++)
		assert_true(p_fsum(1.5, 2.25, -3, 4.125, 5, 6.5, -7.75, 8) == want);
	bext_detach(r);
	bext_vm__free(v1);
	bext_vm__free(v2);
	bext_vm__free(v3);
}

/* longjmp over a uretprobe'd frame into another one: its return finds the stale
 * entry on top of its own (the trampoline's pop leaves that case to C) */
static jmp_buf jb2;

NOINL int64_t jumper_inner(int64_t x)
{
	__asm__ volatile("" ::: "memory");
	longjmp(jb2, (int)x);
}
static int64_t (*volatile p_jumper_inner)(int64_t) = jumper_inner;

NOINL int64_t jumper_outer(int64_t x)
{
	volatile int64_t r = 0;
	int v = setjmp(jb2);

	if (!v)
		r = p_jumper_inner(x); /* never returns */
	else
		r = v * 10;
	return r;
}
static int64_t (*volatile p_jumper_outer)(int64_t) = jumper_outer;

static void test_longjmp_into_probed(void **state)
{
	struct bext_attachment *a, *b;

	(void)state;
	n_ret = 0;
	a = att((void *)jumper_inner, prog_ret, BEXT_ATTACH_URETPROBE, 0, false);
	b = att((void *)jumper_outer, prog_ret, BEXT_ATTACH_URETPROBE, 0, false);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(p_jumper_outer(i), i * 10);
		assert_int_equal(bext_attach__shadow_depth(), 0);
	}
	assert_int_equal(n_ret, 5); /* the outer returns only */
	assert_int_equal(ret_vals[4], 50);
	bext_detach(b);
	bext_detach(a);
}

/* ---- long double results: st0/st1 around programs that call C code ------------------------ */

NOINL long double ld_fn(long double x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3.0L + 0.25L;
}
static long double (*volatile p_ld_fn)(long double) = ld_fn;

NOINL _Complex long double cld_fn(long double re, long double im)
{
	__asm__ volatile("" ::: "memory");
	return re * 2.0L + im * 3.0L * I;
}
static _Complex long double (*volatile p_cld_fn)(long double, long double) = cld_fn;

static unsigned x87_runs;

/* C code as a program uses all 8 x87 registers (as C code may: the ABI says
 * the x87 stack is empty at a call): an occupied st0 would overflow */
static uint64_t prog_x87(void *ctx, uint64_t len)
{
	(void)ctx, (void)len;
	__asm__ volatile("fldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\t"
			 "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\t"
			 "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)" ::
			     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
	x87_runs++;
	return 0;
}

static void test_long_double(void **state)
{
	struct bext_attachment *a, *b, *c;
	_Complex long double z;
	long double want;

	(void)state;
	a = att((void *)ld_fn, prog_x87, BEXT_ATTACH_URETPROBE, 0, false);
	b = att((void *)cld_fn, prog_x87, BEXT_ATTACH_URETPROBE, 0, false);
	c = att((void *)mode_fn, prog_x87, BEXT_ATTACH_URETPROBE, 0, false);
	feclearexcept(FE_ALL_EXCEPT);
	for (int i = 0; i < 20; i++) {
		want = (long double)i / 7.0L * 3.0L + 0.25L;
		assert_true(p_ld_fn((long double)i / 7.0L) == want);
		z = p_cld_fn((long double)i / 3.0L, (long double)-i / 11.0L);
		assert_true(creall(z) == (long double)i / 3.0L * 2.0L);
		assert_true(cimagl(z) == (long double)-i / 11.0L * 3.0L);
		/* empty x87 stack at the return: nothing saved, no exception raised */
		assert_int_equal(p_mode_fn(i), i * 3 + 1);
	}
	assert_int_equal(fetestexcept(FE_INVALID), 0);
	assert_int_equal(x87_runs, 60);
	assert_int_equal(bext_attach__shadow_depth(), 0);
	bext_detach(c);
	bext_detach(b);
	bext_detach(a);
}

/* ---- a thread leaving inside a uretprobe'd function: pthread_exit, pthread_cancel ----------- */

static _Atomic unsigned te_entries, te_returns, te_cleanups, te_inside;
static pthread_key_t te_key;

static uint64_t prog_te_entry(void *ctx, uint64_t len)
{
	(void)ctx, (void)len;
	te_entries++;
	return 0;
}

static uint64_t prog_te_ret(void *ctx, uint64_t len)
{
	(void)ctx, (void)len;
	te_returns++;
	return 0;
}

static int64_t (*volatile p_te_fn)(int64_t, int64_t);

/* depth > 0: recurse; depth 0: exit (mode 0), wait for cancellation (mode 1), return (2) */
NOINL int64_t te_fn(int64_t depth, int64_t mode)
{
	int64_t r;

	__asm__ volatile("" ::: "memory");
	if (depth > 0) {
		r = p_te_fn(depth - 1, mode);
		return r + 1;
	}
	if (mode == 0)
		pthread_exit((void *)(intptr_t)0x5e);
	if (mode == 1) {
		te_inside++;
		for (;;) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL); /* a cancellation point */
		}
	}
	return 100;
}
static int64_t (*volatile p_te_fn)(int64_t, int64_t) = te_fn;

static void te_cleanup(void *arg)
{
	(void)arg;
	te_cleanups++;
	/* during the forced unwind: another uretprobe'd call on this thread */
	if (p_te_fn(2, 2) != 102)
		abort();
}

/* a TLS destructor after bext's: the thread is dead for bext, the probes run nothing */
static void te_key_dtor(void *arg)
{
	(void)arg;
	if (p_te_fn(1, 2) != 101)
		abort();
}

static void *te_thread(void *arg)
{
	int64_t mode = (int64_t)(intptr_t)arg, r;

	pthread_setspecific(te_key, (void *)1);
	pthread_cleanup_push(te_cleanup, NULL);
	r = p_te_fn(3, mode);
	pthread_cleanup_pop(0);
	return (void *)(intptr_t)r;
}

static void test_thread_exit_inside(void **state)
{
	struct bext_attachment *a, *r;
	pthread_t th;
	void *res;

	(void)state;
	a = att((void *)te_fn, prog_te_entry, BEXT_ATTACH_UPROBE, 0, false);
	r = att((void *)te_fn, prog_te_ret, BEXT_ATTACH_URETPROBE, 0, false);
	/* bext's key exists (this thread hit a probe): ours is destroyed after it */
	assert_int_equal(p_te_fn(0, 2), 100);
	assert_int_equal(pthread_key_create(&te_key, te_key_dtor), 0);
	te_entries = te_returns = te_cleanups = 0;
	for (int i = 0; i < 20; i++) {
		/* pthread_exit four uretprobe'd frames deep */
		assert_int_equal(pthread_create(&th, NULL, te_thread, (void *)(intptr_t)0), 0);
		assert_int_equal(pthread_join(th, &res), 0);
		assert_ptr_equal(res, (void *)(intptr_t)0x5e);
		/* pthread_cancel while four frames deep, blocked in nanosleep */
		te_inside = 0;
		assert_int_equal(pthread_create(&th, NULL, te_thread, (void *)(intptr_t)1), 0);
		while (!te_inside)
			sched_yield();
		assert_int_equal(pthread_cancel(th), 0);
		assert_int_equal(pthread_join(th, &res), 0);
		assert_ptr_equal(res, PTHREAD_CANCELED);
	}
	/* per thread: 4 entries before leaving, 3 in the cleanup handler (whose
	 * 3 returns run), nothing from the key destructor (dead thread) */
	assert_int_equal(te_cleanups, 40);
	assert_int_equal(te_entries, 40 * 7);
	assert_int_equal(te_returns, 40 * 3);
	/* a thread that returns normally, and this one: unaffected */
	te_entries = te_returns = 0;
	assert_int_equal(pthread_create(&th, NULL, te_thread, (void *)(intptr_t)2), 0);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_ptr_equal(res, (void *)(intptr_t)103);
	assert_int_equal(te_entries, 4);
	assert_int_equal(te_returns, 4);
	assert_int_equal(p_te_fn(5, 2), 105);
	assert_int_equal(te_returns, 10);
	assert_int_equal(bext_attach__shadow_depth(), 0);
	pthread_key_delete(te_key);
	bext_detach(r);
	bext_detach(a);
}

/* ---- recursion guard: a hit inside a program is skipped and counted -------------------------- */

NOINL int64_t inner_fn(int64_t x)
{
	__asm__ volatile("" ::: "memory");
	return x * 5 + 2;
}
static int64_t (*volatile p_inner_fn)(int64_t) = inner_fn;
static uint64_t inner_hits, outer_hits;

static uint64_t prog_inner(void *ctx, uint64_t len)
{
	(void)ctx, (void)len;
	inner_hits++;
	return 0;
}

static uint64_t prog_outer_calls_inner(void *ctx, uint64_t len)
{
	(void)ctx, (void)len;
	outer_hits++;
	assert_int_equal(p_inner_fn(1), 7); /* probed, but we are inside a probe */
	return 0;
}

static void test_nested_skipped(void **state)
{
	struct bext_attachment *i, *o, *ir;
	struct bext_attach_stats s0, s1;

	(void)state;
	i = att((void *)inner_fn, prog_inner, BEXT_ATTACH_UPROBE, 0, false);
	ir = att((void *)inner_fn, prog_inner, BEXT_ATTACH_URETPROBE, 0, false);
	o = att((void *)mode_fn, prog_outer_calls_inner, BEXT_ATTACH_UPROBE, 0, false);
	bext_attach__stats(&s0);
	for (int k = 0; k < 10; k++)
		assert_int_equal(p_mode_fn(k), k * 3 + 1);
	bext_attach__stats(&s1);
	assert_int_equal(outer_hits, 10);
	assert_int_equal(inner_hits, 0);
	assert_int_equal(s1.nested - s0.nested, 10);
	for (int k = 0; k < 5; k++)
		assert_int_equal(p_inner_fn(k), k * 5 + 2);
	assert_int_equal(inner_hits, 10); /* entry + return, 5 calls */
	bext_detach(o);
	bext_detach(ir);
	bext_detach(i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_rip_load),
	    cmocka_unit_test(test_golden_short_jmp),
	    cmocka_unit_test(test_golden_jcc),
	    cmocka_unit_test(test_golden_call),
	    cmocka_unit_test(test_golden_endbr_pushmov),
	    cmocka_unit_test(test_golden_refusals),
	    cmocka_unit_test(test_uprobe_args),
	    cmocka_unit_test(test_uretprobe_values),
	    cmocka_unit_test(test_uretprobe_recursion),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_override_return),
	    cmocka_unit_test(test_jit_prog),
	    cmocka_unit_test(test_longjmp),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_malloc_uprobe),
	    cmocka_unit_test(test_stress_attach_detach),
	    cmocka_unit_test(test_no_eintr_blocked),
	    cmocka_unit_test(test_hit_path_modes),
	    cmocka_unit_test(test_nested_skipped),
	    cmocka_unit_test(test_longjmp_into_probed),
	    cmocka_unit_test(test_long_double),
	    cmocka_unit_test(test_thread_exit_inside),
	    cmocka_unit_test(test_hit_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

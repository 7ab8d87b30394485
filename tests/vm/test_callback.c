/* SPDX-License-Identifier: MIT */
/*
 * bext_vm__call_func(): helpers written in C that call back into the running
 * program (as bpf_loop and bpf_for_each_map_elem do), on the interpreter,
 * the checked interpreter and the JIT: results, the callback's access to the
 * caller's stack, nesting and the call-depth limit across it, errors inside
 * callbacks, bad function values, and calls outside any run.
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

#include <bext/isa.h>
#include <bext/vm.h>

enum mode { M_INTERP, M_CHECKED, M_JIT, M_COUNT };

static const char *const mode_name[M_COUNT] = {"interp", "checked", "jit"};

#define H_LOOP 181
#define H_BAD 190   /* calls back with a value the test chooses */
#define H_OTHER 191 /* calls back with r1 as the vm argument's function */

/* bpf_loop-like: for i < r1: r0 = cb(i, ctx); stop when r0 != 0. Returns the count. */
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

/* Calls back with fn + r2 (a corrupted value), returns the status. */
static uint64_t h_bad(uint64_t fn, uint64_t delta, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint64_t r0 = 0x5555;
	int err;

	(void)r3;
	(void)r4;
	(void)r5;
	err = bext_vm__call_func(NULL, fn + delta, 1, 2, 3, 4, 5, &r0);
	/* *ret stays untouched on an error */
	return err ? (uint64_t)(int64_t)err * 0x10000 + r0 : r0;
}

static struct bext_vm *other_vm; /* a vm that is not the running one */

static uint64_t h_other(uint64_t fn, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint64_t r0 = 0;

	(void)r2;
	(void)r3;
	(void)r4;
	(void)r5;
	return (uint64_t)(int64_t)bext_vm__call_func(other_vm, fn, 0, 0, 0, 0, 0, &r0);
}

static struct bext_vm *load(const char *text, enum mode m)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .checked = m == M_CHECKED};
	struct bext_vm *vm = bext_vm__new(&o);
	struct bext_insn *p;
	size_t n;
	char err[256];

	assert_non_null(vm);
	assert_int_equal(bext_vm__register_helper(vm, H_LOOP, "loop", h_loop), 0);
	assert_int_equal(bext_vm__register_helper(vm, H_BAD, "bad", h_bad), 0);
	assert_int_equal(bext_vm__register_helper(vm, H_OTHER, "other", h_other), 0);
	if (bext_asm(text, &p, &n, err, sizeof(err)))
		fail_msg("asm: %s", err);
	if (bext_vm__load(vm, p, n, err, sizeof(err)))
		fail_msg("load: %s", err);
	free(p);
	if (m == M_JIT && !bext_vm__jit(vm, err, sizeof(err)))
		fail_msg("jit: %s", err);
	return vm;
}

static int run(struct bext_vm *vm, enum mode m, uint64_t *r0)
{
	return bext_vm__run(vm, m == M_JIT ? BEXT_ENGINE_JIT : BEXT_ENGINE_INTERP, NULL, 0, r0);
}

/* Runs text on every engine: status 0 and r0 == expect. */
static void expect_all(const char *text, uint64_t expect)
{
	for (int m = 0; m < M_COUNT; m++) {
		struct bext_vm *vm = load(text, (enum mode)m);
		uint64_t r0 = 0xdead;
		int ret = run(vm, (enum mode)m, &r0);

		if (ret)
			fail_msg("%s: run failed (%d): %s", mode_name[m], ret,
				 bext_vm__last_error(vm));
		if (r0 != expect)
			fail_msg("%s: r0 = 0x%llx (%lld), expected 0x%llx (%lld)", mode_name[m],
				 (unsigned long long)r0, (long long)r0, (unsigned long long)expect,
				 (long long)expect);
		bext_vm__free(vm);
	}
}

/*
 * bpf_loop(10, cb, &sum on the caller's stack): the callback adds i to the
 * caller's stack slot and keeps r6-r9 and its own frame to itself. r0 =
 * iterations << 32 | sum, and r6-r9/the caller's frame survive.
 */
static const char loop_prog[] = "mov %r6, 0\n"
				"stxdw [%r10-8], %r6\n"
				"mov %r6, 1111\n"
				"mov %r7, 2222\n"
				"mov %r8, 3333\n"
				"mov %r9, 4444\n"
				"stdw [%r10-16], 77\n"
				"mov %r1, 10\n"
				"lddw %r2, func cb\n"
				"mov %r3, %r10\n"
				"add %r3, -8\n"
				"mov %r4, 0\n"
				"call 181\n"
				"lsh %r0, 32\n"
				"ldxdw %r1, [%r10-8]\n"
				"add %r0, %r1\n"
				"jne %r6, 1111, bad\n"
				"jne %r7, 2222, bad\n"
				"jne %r8, 3333, bad\n"
				"jne %r9, 4444, bad\n"
				"ldxdw %r1, [%r10-16]\n"
				"jne %r1, 77, bad\n"
				"exit\n"
				"bad:\n"
				"mov %r0, -1\n"
				"exit\n"
				"cb:\n"
				"mov %r6, 9\n"
				"mov %r7, 9\n"
				"mov %r8, 9\n"
				"mov %r9, 9\n"
				"stdw [%r10-16], 5\n"
				"ldxdw %r3, [%r2+0]\n"
				"add %r3, %r1\n"
				"stxdw [%r2+0], %r3\n"
				"mov %r0, 0\n"
				"exit\n";

static void test_loop(void **state)
{
	(void)state;
	expect_all(loop_prog, (10ull << 32) | 45);
}

/* The callback stops the loop by returning 1 at i == 3. */
static void test_loop_break(void **state)
{
	static const char text[] = "stdw [%r10-8], 0\n"
				   "mov %r1, 100\n"
				   "lddw %r2, func cb\n"
				   "mov %r3, %r10\n"
				   "add %r3, -8\n"
				   "mov %r4, 0\n"
				   "call 181\n"
				   "ldxdw %r1, [%r10-8]\n"
				   "lsh %r0, 32\n"
				   "add %r0, %r1\n"
				   "exit\n"
				   "cb:\n"
				   "ldxdw %r3, [%r2+0]\n"
				   "add %r3, 1\n"
				   "stxdw [%r2+0], %r3\n"
				   "mov %r0, 0\n"
				   "jne %r1, 3, out\n"
				   "mov %r0, 1\n"
				   "out:\n"
				   "exit\n";

	(void)state;
	expect_all(text, (4ull << 32) | 4);
}

/*
 * Nesting: the callback calls the loop helper on itself, one level deeper
 * each time, counting levels in ctx[0] and keeping the first negative
 * status in ctx[1]. The loop is first called at depth d + 1 (d + 1 local
 * calls), so callbacks use depths d+2 .. 7: 6 - d levels, then -E2BIG.
 */
static void nested(int d)
{
	char text[4096];
	size_t len = 0;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "call local f1\nexit\n");
	for (int i = 1; i <= d; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"f%d:\ncall local f%d\nexit\n", i, i + 1);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"f%d:\n"
				"stdw [%%r10-16], 0\n"
				"stdw [%%r10-8], 0\n"
				"mov %%r1, 1\n"
				"lddw %%r2, func cb\n"
				"mov %%r3, %%r10\n"
				"add %%r3, -16\n"
				"mov %%r4, 0\n"
				"call 181\n"
				"ldxdw %%r0, [%%r10-16]\n"
				"ldxdw %%r1, [%%r10-8]\n"
				"lsh %%r1, 8\n"
				"add %%r0, %%r1\n"
				"exit\n"
				"cb:\n"
				"mov %%r6, %%r2\n"
				"ldxdw %%r3, [%%r6+0]\n"
				"add %%r3, 1\n"
				"stxdw [%%r6+0], %%r3\n"
				"mov %%r1, 1\n"
				"lddw %%r2, func cb\n"
				"mov %%r3, %%r6\n"
				"mov %%r4, 0\n"
				"call 181\n"
				"jsge %%r0, 0, ok\n"
				"ldxdw %%r1, [%%r6+8]\n"
				"jne %%r1, 0, ok\n"
				"stxdw [%%r6+8], %%r0\n"
				"ok:\n"
				"mov %%r0, 1\n"
				"exit\n",
				d + 1);
	/* levels + (-E2BIG << 8) */
	expect_all(text, (uint64_t)(6 - d) + ((uint64_t)(int64_t)-E2BIG << 8));
}

static void test_nested_depth(void **state)
{
	(void)state;
	nested(0);
	nested(1);
	nested(4);
	nested(5); /* one callback level, the 8th frame: its own loop call fails */
}

/* At depth 7 (8 frames in use) a callback itself is one frame too many. */
static void test_depth_full(void **state)
{
	char text[4096];
	size_t len = 0;

	(void)state;
	len += (size_t)snprintf(text + len, sizeof(text) - len, "call local f1\nexit\n");
	for (int i = 1; i < 7; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"f%d:\ncall local f%d\nexit\n", i, i + 1);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"f7:\nmov %%r1, 3\nlddw %%r2, func cb\nmov %%r3, 0\nmov %%r4, 0\n"
				"call 181\nexit\ncb:\nmov %%r0, 0\nexit\n");
	expect_all(text, (uint64_t)(int64_t)-E2BIG);
}

/* An error inside a callback (unbounded recursion) ends the callback only. */
static void test_error_inside(void **state)
{
	static const char text[] = "mov %r1, 2\n"
				   "lddw %r2, func cb\n"
				   "mov %r3, 0\n"
				   "mov %r4, 0\n"
				   "call 181\n"
				   "add %r0, 1000\n"
				   "exit\n"
				   "cb:\n"
				   "call local rec\n"
				   "exit\n"
				   "rec:\n"
				   "call local rec\n"
				   "exit\n";

	(void)state;
	expect_all(text, (uint64_t)(1000 - E2BIG));
}

/* Values that are no function of the running program: -EINVAL, never called. */
static void test_bad_values(void **state)
{
	static const char tmpl[] = "lddw %%r1, func cb\n"
				   "lddw %%r2, %lld\n"
				   "call 190\n"
				   "exit\n"
				   "cb:\n"
				   "mov %%r0, %%r1\n"
				   "add %%r0, %%r5\n"
				   "exit\n"
				   "mov %%r0, 99\n"
				   "exit\n";
	/* delta added to the function value */
	static const long long deltas[] = {1, 8, 16, -8, 0x100000, -(1ll << 40), 4096};
	char text[512];

	(void)state;
	/* delta 0: the real function, r0 = r1 + r5 = 6 */
	snprintf(text, sizeof(text), tmpl, 0ll);
	expect_all(text, 6);
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		snprintf(text, sizeof(text), tmpl, deltas[i]);
		expect_all(text, (uint64_t)(int64_t)-EINVAL * 0x10000 + 0x5555);
	}
	/* a helper id and 0 are not function values either */
	expect_all("mov %r1, 0\nmov %r2, 181\ncall 190\nexit\n",
		   (uint64_t)(int64_t)-EINVAL * 0x10000 + 0x5555);
	expect_all("mov %r1, 0\nmov %r2, 0\ncall 190\nexit\n",
		   (uint64_t)(int64_t)-EINVAL * 0x10000 + 0x5555);
}

/* A function value of another vm (another program) is rejected. */
static void test_foreign_value(void **state)
{
	static const char text[] = "lddw %r1, func cb\ncall 191\nexit\ncb:\nmov %r0, 7\nexit\n";

	(void)state;
	for (int m = 0; m < M_COUNT; m++) {
		struct bext_vm *a = load(text, (enum mode)m);
		struct bext_vm *b = load(text, (enum mode)m);
		uint64_t r0 = 0;

		/* b's helper passes vm = a, which is not running: -EINVAL */
		other_vm = a;
		assert_int_equal(run(b, (enum mode)m, &r0), 0);
		assert_int_equal((int64_t)r0, -EINVAL);
		/* vm = NULL: the running one (b): r0 = 0 from the callback status */
		other_vm = NULL;
		assert_int_equal(run(b, (enum mode)m, &r0), 0);
		assert_int_equal(r0, 0);
		bext_vm__free(a);
		bext_vm__free(b);
	}
}

static void test_outside_run(void **state)
{
	struct bext_vm *vm = load(loop_prog, M_INTERP);
	uint64_t r0 = 3;
	const struct bext_insn *insns = bext_vm__insns(vm, NULL);

	(void)state;
	assert_null(bext_vm__current());
	assert_int_equal(bext_vm__call_func(NULL, (uint64_t)(uintptr_t)insns, 0, 0, 0, 0, 0, &r0),
			 -ENOENT);
	assert_int_equal(bext_vm__call_func(vm, 0, 0, 0, 0, 0, 0, &r0), -ENOENT);
	assert_int_equal(r0, 3);
	bext_vm__free(vm);
}

/* The checked interpreter still refuses a callback's stray accesses. */
static void test_checked_fault(void **state)
{
	static const char text[] = "mov %r1, 1\n"
				   "lddw %r2, func cb\n"
				   "mov %r3, %r10\n"
				   "add %r3, -8\n"
				   "mov %r4, 0\n"
				   "call 181\n"
				   "exit\n"
				   "cb:\n"
				   "ldxdw %r0, [%r2-512]\n" /* below the caller's frame 0 */
				   "exit\n";
	struct bext_vm *vm = load(text, M_CHECKED);
	uint64_t r0 = 0;

	(void)state;
	assert_int_equal(run(vm, M_CHECKED, &r0), 0);
	assert_int_equal((int64_t)r0, -EFAULT);
	bext_vm__free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loop),	  cmocka_unit_test(test_loop_break),
	    cmocka_unit_test(test_nested_depth),  cmocka_unit_test(test_depth_full),
	    cmocka_unit_test(test_error_inside),  cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_foreign_value), cmocka_unit_test(test_outside_run),
	    cmocka_unit_test(test_checked_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * attach: probed code that is unloaded. A library with probes is dlclose'd,
 * another library (different code) is mapped where it was; bext must never
 * write there: neither through bext_attach__unload (the sites are forgotten)
 * nor when the unload went unseen (a plain dlclose: detach finds the bytes
 * changed and writes nothing). A new attach at the same address probes the
 * new code.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <bext/attach.h>

#include "attach/attach_internal.h"

#define CHECK_LEN 16

typedef long (*fn_t)(long);

static _Atomic uint64_t hits, rets;
static bool skipped;

static uint64_t prog_count(void *ctx, uint64_t len)
{
	(void)ctx;
	(void)len;
	hits++;
	return 0;
}

static uint64_t prog_ret(void *ctx, uint64_t len)
{
	(void)ctx;
	(void)len;
	rets++;
	return 0;
}

static struct bext_attachment *att(void *addr, bext_jit_fn fn, enum bext_attach_kind kind)
{
	struct bext_attach_opts o = {.sz = sizeof(o), .kind = kind};
	char err[256];
	struct bext_attachment *a = bext_attach(addr, fn, &o, err, sizeof(err));

	if (!a)
		fail_msg("attach %p: %s", addr, err);
	return a;
}

static fn_t load(const char *path, void **h)
{
	fn_t f;

	*h = dlopen(path, RTLD_NOW);
	if (!*h)
		fail_msg("dlopen %s: %s", path, dlerror());
	f = (fn_t)dlsym(*h, "unload_fn");
	assert_non_null(f);
	return f;
}

static int do_dlclose(void *h)
{
	return dlclose(h);
}

/* Library B loaded where A's unload_fn was (old); skips when it lands elsewhere. */
static fn_t load_b_at(uintptr_t old, void **h)
{
	fn_t f = load(LIB_B, h);

	if ((uintptr_t)f != old) {
		print_message("libbext_unload_b.so landed at %p, not %p: cannot check\n", (void *)f,
			      (void *)old);
		dlclose(*h);
		skipped = true;
		skip();
	}
	return f;
}

static void test_unload_forgets(void **state)
{
	struct bext_attachment *a, *r;
	uint8_t before[CHECK_LEN];
	unsigned forgot = 99;
	void *h, *h2;
	fn_t f, g;

	(void)state;
	f = load(LIB_A, &h);
	a = att((void *)f, prog_count, BEXT_ATTACH_UPROBE);
	r = att((void *)f, prog_ret, BEXT_ATTACH_URETPROBE);
	hits = rets = 0;
	assert_int_equal(f(3), 22);
	assert_int_equal(hits, 1);
	assert_int_equal(rets, 1);
	assert_false(bext_attach__forgotten(a));

	/* still referenced: nothing unloaded, nothing forgotten */
	assert_non_null(dlopen(LIB_A, RTLD_NOW | RTLD_NOLOAD));
	assert_int_equal(bext_attach__unload(do_dlclose, h, 1000, &forgot), 0);
	assert_int_equal(forgot, 0);
	assert_false(bext_attach__forgotten(a));
	assert_int_equal(f(3), 22);
	assert_int_equal(hits, 2);

	assert_int_equal(bext_attach__unload(do_dlclose, h, 1000, &forgot), 0);
	assert_int_equal(forgot, 1);
	assert_true(bext_attach__forgotten(a));
	assert_true(bext_attach__forgotten(r));
	assert_null(dlopen(LIB_A, RTLD_NOW | RTLD_NOLOAD));

	g = load_b_at((uintptr_t)f, &h2);
	memcpy(before, (const void *)g, CHECK_LEN);
	assert_int_equal(g(3), 17);
	assert_int_equal(bext_detach(r), 0);
	assert_int_equal(bext_detach(a), 0);
	assert_memory_equal((const void *)g, before, CHECK_LEN);
	assert_int_equal(g(4), 22);
	assert_int_equal(hits, 2);

	/* the new code at the same address is probed afresh */
	a = att((void *)g, prog_count, BEXT_ATTACH_UPROBE);
	assert_int_equal(g(4), 22);
	assert_int_equal(hits, 3);
	assert_int_equal(bext_detach(a), 0);
	assert_memory_equal((const void *)g, before, CHECK_LEN);
	assert_int_equal(dlclose(h2), 0);
}

/* The unload went unseen (plain dlclose): detach checks the bytes first. */
static void test_unseen_unload(void **state)
{
	struct bext_attachment *a, *b;
	uint8_t before[CHECK_LEN];
	void *h, *h2;
	fn_t f, g;

	(void)state;
	f = load(LIB_A, &h);
	a = att((void *)f, prog_count, BEXT_ATTACH_UPROBE);
	hits = 0;
	assert_int_equal(f(1), 8);
	assert_int_equal(hits, 1);
	assert_int_equal(dlclose(h), 0);
	g = load_b_at((uintptr_t)f, &h2);
	memcpy(before, (const void *)g, CHECK_LEN);
	/* an attach at the same address sees other bytes: a new site */
	b = att((void *)g, prog_count, BEXT_ATTACH_UPROBE);
	assert_true(bext_attach__forgotten(a));
	assert_int_equal(g(1), 7);
	assert_int_equal(hits, 2);
	assert_int_equal(bext_detach(b), 0);
	assert_memory_equal((const void *)g, before, CHECK_LEN);
	assert_int_equal(bext_detach(a), 0);
	assert_memory_equal((const void *)g, before, CHECK_LEN);
	assert_int_equal(dlclose(h2), 0);

	/* and a detach with nothing attached meanwhile */
	f = load(LIB_A, &h);
	a = att((void *)f, prog_count, BEXT_ATTACH_UPROBE);
	assert_int_equal(dlclose(h), 0);
	g = load_b_at((uintptr_t)f, &h2);
	memcpy(before, (const void *)g, CHECK_LEN);
	assert_int_equal(bext_detach(a), 0);
	assert_memory_equal((const void *)g, before, CHECK_LEN);
	assert_int_equal(g(2), 12);
	assert_int_equal(dlclose(h2), 0);
}

/* forget_range on an unmapped range; an unload from inside an unload runs at once. */
static int nested_cb(void *arg)
{
	unsigned forgot = 7;

	return bext_attach__unload(do_dlclose, arg, 10, &forgot) + (int)forgot;
}

static void test_forget_range_nested(void **state)
{
	struct bext_attachment *a;
	uint8_t before[CHECK_LEN];
	unsigned forgot = 0;
	void *h;
	fn_t f;

	(void)state;
	f = load(LIB_A, &h);
	a = att((void *)f, prog_count, BEXT_ATTACH_UPROBE);
	assert_int_equal(bext_attach__forget_range(0, 4096), 0);
	assert_false(bext_attach__forgotten(a));
	/* the nested call runs dlclose at once (its count is 0: the outer one counts) */
	assert_int_equal(bext_attach__unload(nested_cb, h, 1000, &forgot), 0);
	assert_int_equal(forgot, 1);
	assert_true(bext_attach__forgotten(a));
	assert_int_equal(bext_attach__forget_range((uintptr_t)f, (uintptr_t)f + 1), 0);
	assert_int_equal(bext_detach(a), 0);

	/* an explicit forget (the caller knows the code is going): the jmp
	 * stays, nothing is written, not even by the detach */
	f = load(LIB_A, &h);
	a = att((void *)f, prog_count, BEXT_ATTACH_UPROBE);
	memcpy(before, (const void *)f, CHECK_LEN);
	assert_int_equal(((const uint8_t *)f)[0], 0xe9);
	assert_int_equal(bext_attach__forget_range((uintptr_t)f, (uintptr_t)f + 1), 1);
	assert_true(bext_attach__forgotten(a));
	assert_int_equal(bext_detach(a), 0);
	assert_memory_equal((const void *)f, before, CHECK_LEN);
	assert_int_equal(dlclose(h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unload_forgets),
	    cmocka_unit_test(test_unseen_unload),
	    cmocka_unit_test(test_forget_range_nested),
	};

	int r = cmocka_run_group_tests(tests, NULL, NULL);

	return r == 0 && skipped ? 77 : r;
}

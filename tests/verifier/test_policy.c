/* SPDX-License-Identifier: MIT */
/* Policy objects: deny by default, grants, merging of ctx ranges, budgets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <bext/policy.h>

static void test_deny_by_default(void **state)
{
	struct bext_policy *p = bext_policy__new();

	(void)state;
	assert_non_null(p);
	assert_false(bext_policy__helper_allowed(p, 1));
	assert_false(bext_policy__ctx_readable(p, 0, 1));
	assert_false(bext_policy__ctx_writable(p, 0, 1));
	assert_null(bext_policy__host_func(p, 300));
	assert_int_equal(bext_policy__insn_budget(p), 0);
	assert_int_equal(bext_policy__mem_budget(p), 0);
	bext_policy__free(p);
	bext_policy__free(NULL);
}

static void test_helpers(void **state)
{
	struct bext_policy *p = bext_policy__new();

	(void)state;
	assert_int_equal(bext_policy__allow_helper(p, 5), 0);
	assert_true(bext_policy__helper_allowed(p, 5));
	assert_false(bext_policy__helper_allowed(p, 6));
	assert_int_equal(bext_policy__allow_helper(p, 512), -EINVAL);
	assert_int_equal(bext_policy__allow_all_helpers(p), 0);
	assert_true(bext_policy__helper_allowed(p, 6));
	assert_int_equal(bext_policy__deny_helper(p, 36), 0);
	assert_false(bext_policy__helper_allowed(p, 36));
	assert_true(bext_policy__helper_allowed(p, 35));
	assert_int_equal(bext_policy__allow_helper(p, 36), 0);
	assert_true(bext_policy__helper_allowed(p, 36));
	assert_false(bext_policy__helper_allowed(NULL, 1));
	bext_policy__free(p);
}

static void test_host_funcs(void **state)
{
	struct bext_policy *p = bext_policy__new();
	const struct bext_host_func *f;

	(void)state;
	assert_int_equal(bext_policy__allow_host_func(p, 400, "nginxTime", 2), 0);
	assert_int_equal(bext_policy__allow_host_func(p, 400, "again", 1), -EEXIST);
	assert_int_equal(bext_policy__allow_host_func(p, 401, "toomany", 6), -EINVAL);
	f = bext_policy__host_func(p, 400);
	assert_non_null(f);
	assert_string_equal(f->name, "nginxTime");
	assert_int_equal(f->nargs, 2);
	assert_null(bext_policy__host_func(p, 401));
	bext_policy__free(p);
}

static void test_ctx_ranges(void **state)
{
	struct bext_policy *p = bext_policy__new();

	(void)state;
	assert_int_equal(bext_policy__allow_ctx_read(p, 0, 0), -EINVAL);
	assert_int_equal(bext_policy__allow_ctx_read(p, 8, 8), 0);  /* [8,16) */
	assert_int_equal(bext_policy__allow_ctx_read(p, 24, 8), 0); /* [24,32) */
	assert_true(bext_policy__ctx_readable(p, 8, 8));
	assert_true(bext_policy__ctx_readable(p, 12, 4));
	assert_false(bext_policy__ctx_readable(p, 12, 8));
	assert_false(bext_policy__ctx_readable(p, 16, 8));
	assert_false(bext_policy__ctx_writable(p, 8, 8));
	assert_int_equal(bext_policy__allow_ctx_read(p, 16, 8), 0); /* bridges: [8,32) */
	assert_true(bext_policy__ctx_readable(p, 8, 24));
	assert_false(bext_policy__ctx_readable(p, 4, 8));
	assert_int_equal(bext_policy__allow_ctx_read(p, 0, 40), 0); /* swallows all */
	assert_true(bext_policy__ctx_readable(p, 0, 40));
	assert_false(bext_policy__ctx_readable(p, 36, 8));
	assert_int_equal(bext_policy__allow_ctx_write(p, 0xfffffff0u, 16), 0);
	assert_true(bext_policy__ctx_writable(p, 0xfffffff8u, 8));
	bext_policy__free(p);
}

static void test_budgets(void **state)
{
	struct bext_policy *p = bext_policy__new();

	(void)state;
	bext_policy__set_insn_budget(p, 10000);
	bext_policy__set_mem_budget(p, 2u << 20);
	assert_int_equal(bext_policy__insn_budget(p), 10000);
	assert_int_equal(bext_policy__mem_budget(p), 2u << 20);
	bext_policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deny_by_default), cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_host_funcs),	    cmocka_unit_test(test_ctx_ranges),
	    cmocka_unit_test(test_budgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

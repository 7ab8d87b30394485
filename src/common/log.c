/* SPDX-License-Identifier: MIT */
/*
 * The one diagnostics channel (libbpf_set_print style). Components call
 * bext_pr(); nothing else in the library prints.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common_internal.h"

static int print_nothing(enum bext_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static bext_print_fn print_fn = print_nothing;

bext_print_fn bext_set_print(bext_print_fn fn)
{
	bext_print_fn old = print_fn;

	print_fn = fn ? fn : print_nothing;
	return old;
}

int bext_print_stderr(enum bext_print_level level, const char *fmt, va_list ap)
{
	if (level > BEXT_WARN && !getenv("BEXT_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bext_pr(enum bext_print_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_fn(level, fmt, ap);
	va_end(ap);
}

/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by every component. */
#ifndef BEXT_COMMON_INTERNAL_H
#define BEXT_COMMON_INTERNAL_H

#include <bext/common.h>

#define BEXT_HIDDEN __attribute__((visibility("hidden")))

__attribute__((format(printf, 2, 3))) BEXT_HIDDEN void bext_pr(enum bext_print_level level,
							       const char *fmt, ...);

#define pr_warn(...) bext_pr(BEXT_WARN, "bext: " __VA_ARGS__)
#define pr_info(...) bext_pr(BEXT_INFO, "bext: " __VA_ARGS__)
#define pr_debug(...) bext_pr(BEXT_DEBUG, "bext: " __VA_ARGS__)

#define BEXT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif

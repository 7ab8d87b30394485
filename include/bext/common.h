/* SPDX-License-Identifier: MIT */
/*
 * bext/common.h - what every part of bext shares: the export macro and the
 * single diagnostics channel. The library never writes to the host's stderr
 * on its own: messages go to the print callback, which by default prints
 * warnings and errors to stderr only in bext's own tools (see bext_set_print).
 */
#ifndef BEXT_COMMON_H
#define BEXT_COMMON_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BEXT_API
#define BEXT_API __attribute__((visibility("default")))
#endif

enum bext_print_level {
	BEXT_WARN = 0,
	BEXT_INFO = 1,
	BEXT_DEBUG = 2,
};

typedef int (*bext_print_fn)(enum bext_print_level level, const char *fmt, va_list ap);

/*
 * Sets the print callback and returns the previous one. NULL silences bext.
 * The default callback discards everything: a host process hears nothing
 * from bext unless someone asks. bext's tools install bext_print_stderr.
 */
BEXT_API bext_print_fn bext_set_print(bext_print_fn fn);
/* A ready-made callback printing warnings (and info when BEXT_VERBOSE is set) to stderr. */
BEXT_API int bext_print_stderr(enum bext_print_level level, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_COMMON_H */

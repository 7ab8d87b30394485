/* SPDX-License-Identifier: MIT */
/* helpers_internal.h - shared between the helper files of src/helpers. */
#ifndef BEXT_HELPERS_INTERNAL_H
#define BEXT_HELPERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bext/helpers.h>

#include "common/common_internal.h"

/* Safe copies of host memory (safemem.c): never fault, -EFAULT on a bad range. */
BEXT_HIDDEN long bext_safe_read(void *dst, const void *src, size_t n);
BEXT_HIDDEN long bext_safe_write(void *dst, const void *src, size_t n);
/*
 * Copies a NUL-terminated string of at most @n bytes (NUL included) from
 * @src; the result is always terminated when n > 0. Returns the length
 * copied including the NUL, or -EFAULT (dst[0] = 0 then).
 */
BEXT_HIDDEN long bext_safe_read_str(char *dst, const char *src, size_t n);

/* Cached per thread, reset in a forked child (helpers.c). */
BEXT_HIDDEN pid_t bext_helpers_pid(void);
BEXT_HIDDEN pid_t bext_helpers_tid(void);

/* printk.c */
/*
 * Formats like bpf_snprintf: @fmt (NUL terminated within fmt_size), @args
 * the u64 arguments. Writes at most out_size bytes (terminated when
 * out_size > 0). Returns the full length including the NUL, or -EINVAL.
 */
BEXT_HIDDEN long bext_bprintf(char *out, size_t out_size, const char *fmt, uint32_t fmt_size,
			      const uint64_t *args, uint32_t nr_args);
BEXT_HIDDEN void bext_trace_emit(const char *msg, size_t len);

/* Helper functions implemented outside helpers.c. */
#define HELPER(name) \
	BEXT_HIDDEN uint64_t name(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
HELPER(bext_h_trace_printk);
HELPER(bext_h_trace_vprintk);
HELPER(bext_h_snprintf);

#endif

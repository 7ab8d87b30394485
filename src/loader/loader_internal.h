/* SPDX-License-Identifier: MIT */
/* The loader's private interface between loader.c and target.c. */
#ifndef BEXT_LOADER_INTERNAL_H
#define BEXT_LOADER_INTERNAL_H

#include <stddef.h>

#include <bext/loader.h>

#include "common/common_internal.h"

/*
 * bext_probe_target__from_section() with the reason in @why (may be NULL):
 * what is wrong with a malformed section ("no ':FUNC' after the path ...",
 * "negative offset '-8'", "offset '...' does not fit in 64 bits", ...).
 * Same return values.
 */
BEXT_HIDDEN int bext_loader_parse_section(const char *sec, struct bext_probe_target *t, char *why,
					  size_t len);
/*
 * For an absolute PATH: a regular ELF file that defines FUNC (.symtab or
 * .dynsym), OFF inside FUNC when its size is known. 0 for bare names (the
 * agent resolves them), else -errno of stat/open, -EINVAL (not a regular
 * file, offset past the end), -ENOEXEC (not ELF), -ENOENT (no such symbol),
 * with the reason in @why.
 */
BEXT_HIDDEN int bext_loader_check_target(const struct bext_probe_target *t, char *why, size_t len);

#endif

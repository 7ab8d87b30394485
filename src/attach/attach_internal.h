/* SPDX-License-Identifier: MIT */
/* attach: private declarations (sites, dispatchers, symbol lookup). */
#ifndef BEXT_ATTACH_INTERNAL_H
#define BEXT_ATTACH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/attach.h>

#include "arch/x86_64/patch_x86_64.h"
#include "common/common_internal.h"

#define BEXT_SHADOW_DEPTH 256u

/* Per-thread hit-path state (attach.c), initial-exec TLS. */
struct bext_tls;

/* Function containing addr in a loaded object: start and size from .symtab/.dynsym. */
BEXT_HIDDEN int bext_attach__find_func(const void *addr, uint64_t *start, uint64_t *size,
				       char *name, size_t name_len);

/* Called from bext_uret_tramp (tramp_x86_64.S). */
BEXT_HIDDEN void *bext_attach__ret_pop_slow(struct bext_pt_regs *regs);
BEXT_HIDDEN void bext_attach__ret_dispatch(struct bext_pt_regs *regs, const void *progs);

/*
 * Installs bext's signal handlers now (SIGTRAP, the broadcast signal) and
 * returns the broadcast signal's number, or a negative errno. A thread that
 * blocks signals (the agent's watcher) must leave SIGTRAP and this one
 * unblocked: patching waits for every thread to take the broadcast signal,
 * and a blocked SIGTRAP at an int3 kills the process.
 */
BEXT_HIDDEN int bext_attach__signals(void);

/* Test/introspection hooks (internal). */
struct bext_attach_stats {
	uint64_t shadow_overflows; /* uretprobe calls not probed: shadow stack full */
	uint64_t sync_timeouts;	   /* thread syncs that gave up waiting */
	uint64_t nested;	   /* hits skipped: the thread was inside a probe already */
	unsigned sites;		   /* sites ever created */
	uint64_t sync_skipped;	   /* threads not signalled at an install: blocked elsewhere */
};
BEXT_HIDDEN void bext_attach__stats(struct bext_attach_stats *st);
/* Hit-path flags of the program set attached at addr (F_* in attach.c), -ENOENT. */
BEXT_HIDDEN int bext_attach__site_flags(const void *addr);
/* Current depth of this thread's uretprobe shadow stack. */
BEXT_HIDDEN unsigned bext_attach__shadow_depth(void);
/* Patch bytes of the site at addr (for golden tests): patch address, length,
 * and the trampoline's relocated code. Returns 0 or -ENOENT. */
BEXT_HIDDEN int bext_attach__site_info(const void *addr, const uint8_t **patch, unsigned *patch_len,
				       const uint8_t **reloc, size_t *reloc_len);

#endif

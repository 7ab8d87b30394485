/* SPDX-License-Identifier: MIT */
/*
 * loader_shim.h - a bext map behind a fake "map fd", so unmodified libbpf
 * code can use it. This is the seed of libbext-loader.so (docs: DESIGN.md,
 * "loader"): for now it lives with the tests and only covers what libbpf's
 * ring buffer consumer needs (bpf(BPF_OBJ_GET_INFO_BY_FD), mmap of the ring,
 * epoll on the fd).
 *
 * The fake fd is an eventfd, so epoll_ctl/epoll_wait work on it unchanged;
 * "the kernel's wake-up" is a write of 1 to it (loader_shim_signal), and
 * loader_shim_drain resets it (epoll on an eventfd is level-triggered, as a
 * kernel ring buffer fd is while data is available).
 */
#ifndef BEXT_TESTS_LOADER_SHIM_H
#define BEXT_TESTS_LOADER_SHIM_H

#include <stdint.h>

#include <bext/map.h>
#include <bext/store.h>

/* Returns a new fake fd standing for map @m of store @s, or -errno. */
int loader_shim_add_map(struct bext_store *s, struct bext_map *m);
/* Forgets and closes @fd (mappings already made stay valid). */
void loader_shim_remove(int fd);
/* Producer side: the wake-up a kernel ring buffer would send (eventfd += 1). */
int loader_shim_signal(int fd);
/* Consumer side: resets the eventfd counter (non-blocking). */
void loader_shim_drain(int fd);

/* What the shim saw, for tests. */
struct loader_shim_stats {
	unsigned info_calls;   /* BPF_OBJ_GET_INFO_BY_FD answered for a fake fd */
	unsigned mmaps;	       /* fake-fd mmaps answered */
	unsigned mmap_errors;  /* fake-fd mmaps refused */
	unsigned live_regions; /* fake-fd mappings not unmapped yet */
};
void loader_shim_stats(struct loader_shim_stats *st);

#endif

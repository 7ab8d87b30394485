/* SPDX-License-Identifier: MIT */
/*
 * bext/store.h - the object store: a directory in shared memory (default
 * /dev/shm/bext, or $BEXT_STORE, or opts->path) holding a registry of maps,
 * programs and links that many processes use at once.
 *
 * Objects have kernel-like ids (positive, increasing, never reused while the
 * store exists) and a reference count kept in shared memory. Creating an
 * object gives the caller one reference (think "pinned by its creator");
 * bext_store__obj_put() drops it. A program holds a reference on each map it
 * uses, a link on its program: when a count drops to zero the object is
 * removed and its own references are dropped in turn. Processes that already
 * mapped a removed map keep valid memory until they close it.
 *
 * Every call is safe against concurrent callers in other processes, and a
 * process killed at any point never leaves the registry wedged or corrupt
 * (see docs/STORE.md).
 *
 * Errors: int functions return 0 (or an id) or a negative errno; pointer
 * functions return NULL and set errno.
 */
#ifndef BEXT_STORE_H
#define BEXT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bext/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bext_store;

enum bext_obj_kind {
	BEXT_OBJ_MAP = 1,
	BEXT_OBJ_PROG = 2,
	BEXT_OBJ_LINK = 3,
};

struct bext_store_opts {
	size_t sz; /* sizeof(struct bext_store_opts) */
	/* Store directory; NULL: $BEXT_STORE, else /dev/shm/bext. Created if missing. */
	const char *path;
	/* Size of the object table when this call creates the store (default 4096). */
	uint32_t max_objects;
	/* Permission bits for files this call creates (default 0600; dir gets +x). */
	uint32_t mode;
	/*
	 * Open an existing store only: create neither the directory nor the
	 * registry; ENOENT when either is missing (read-only tools: a mistyped
	 * path must not leave an empty store behind).
	 */
	bool no_create;
};

/*
 * Opens (creating if needed, unless opts->no_create) a store. Fails with
 * EPROTO (and a message through the print callback) when the registry was
 * written with another layout version, EBADMSG when it is not a bext
 * registry at all, ENOENT (no_create) when there is no store at the path.
 */
BEXT_API struct bext_store *bext_store__open(const struct bext_store_opts *opts);
/*
 * Liveness: an open store holds a shared flock(2) on its registry file until
 * bext_store__close() or process death. bext_store__remove_unused() (`bext
 * gc`) takes the exclusive lock without waiting: -EBUSY when some process has
 * the store open; otherwise it unlinks every segment, the logs kept in the
 * store (`*.log`: the agents' log, trace_printk output), the registry and
 * the directory (kept if it holds other files: -ENOTEMPTY), reporting how many
 * object segments and bytes it removed. -ENOENT when there is no store.
 * @path NULL: $BEXT_STORE, else /dev/shm/bext.
 */
BEXT_API int bext_store__remove_unused(const char *path, uint32_t *nr_objects, uint64_t *bytes);
/* Unmaps; objects stay in the store. Accepts NULL. */
BEXT_API void bext_store__close(struct bext_store *s);
BEXT_API const char *bext_store__path(const struct bext_store *s);

struct bext_obj_info {
	uint32_t id;
	uint32_t kind; /* enum bext_obj_kind */
	uint32_t type; /* BPF_MAP_TYPE_* / BPF_PROG_TYPE_* / link attach type */
	uint32_t refcnt;
	uint32_t key_size, value_size, max_entries, flags; /* maps */
	uint32_t creator_pid;
	uint64_t seg_size; /* bytes of its segment file */
	uint64_t created_ns;
	char name[16];
};

/* Next live object with id > @start_id (0 starts), like BPF_MAP_GET_NEXT_ID. -ENOENT at end. */
BEXT_API int bext_store__next_id(struct bext_store *s, uint32_t start_id, uint32_t *next_id);
/* Fills @info for live object @id; -ENOENT when there is none. */
BEXT_API int bext_store__obj_info(struct bext_store *s, uint32_t id, struct bext_obj_info *info);
/* Takes / drops a reference. Dropping the last removes the object. -ENOENT if not live. */
BEXT_API int bext_store__obj_get(struct bext_store *s, uint32_t id);
BEXT_API int bext_store__obj_put(struct bext_store *s, uint32_t id);

/* Programs: a table entry plus a blob (instructions etc.) and map references. */
struct bext_prog_create_opts {
	size_t sz;
	const char *name;
	uint32_t prog_type; /* BPF_PROG_TYPE_* */
	const void *insns;  /* struct bpf_insn[insn_cnt] */
	uint32_t insn_cnt;
	const char *license;
	const char *attach_hint; /* e.g. libbpf section name; may be NULL */
	const uint32_t *map_ids; /* maps the program uses: it holds a reference on each */
	uint32_t nr_maps;
};
/* Returns the new program's id or -errno (-ENOENT if a map id is not live). */
BEXT_API int bext_store__create_prog(struct bext_store *s, const struct bext_prog_create_opts *o);

struct bext_prog_data {
	uint32_t prog_type;
	uint32_t insn_cnt;
	void *insns; /* malloc'd, insn_cnt * 8 bytes */
	char license[64];
	char attach_hint[256];
	uint32_t nr_maps;
	uint32_t *map_ids; /* malloc'd */
};
/* Reads a program's blob; free with bext_prog_data__free(). */
BEXT_API int bext_store__prog_read(struct bext_store *s, uint32_t id, struct bext_prog_data *d);
BEXT_API void bext_prog_data__free(struct bext_prog_data *d);

struct bext_link_create_opts {
	size_t sz;
	uint32_t prog_id; /* the link holds a reference on it */
	uint32_t attach_type;
	const char *target; /* e.g. "uprobe:/usr/bin/app:func" */
	int32_t pid;	    /* -1: any process */
	uint64_t cookie;
};
BEXT_API int bext_store__create_link(struct bext_store *s, const struct bext_link_create_opts *o);

struct bext_link_data {
	uint32_t prog_id;
	uint32_t attach_type;
	int32_t pid;
	uint64_t cookie;
	char target[512];
};
BEXT_API int bext_store__link_read(struct bext_store *s, uint32_t id, struct bext_link_data *d);

/*
 * The file that holds object @id's data ("<store dir>/obj-<id>"), for
 * messages. 0, or -ENAMETOOLONG when it does not fit @len.
 */
BEXT_API int bext_store__obj_seg_path(const struct bext_store *s, uint32_t id, char *buf,
				      size_t len);
/*
 * Checks that live object @id's segment file is whole: present, of the size
 * the registry recorded, its header naming this object. Returns 0, -ENOENT
 * when @id is not live, -EBADMSG when the segment is missing or corrupt,
 * with a description naming the file in @why (may be NULL), e.g. "segment
 * /dev/shm/bext/obj-4 is corrupt: 0 bytes, the registry says 5631". A map's
 * own header is checked by bext_store__map_by_id() (EBADMSG too).
 */
BEXT_API int bext_store__obj_check(struct bext_store *s, uint32_t id, char *why, size_t why_len);

/*
 * The generation word changes on every table change (object created or
 * removed, refcount change). Watchers read it, scan, then wait for a change:
 * bext_store__wait_generation() returns 0 once the word differs from @seen
 * (maybe spuriously early), -ETIMEDOUT after @timeout_ms (< 0: forever).
 */
BEXT_API uint32_t bext_store__generation(const struct bext_store *s);
BEXT_API int bext_store__wait_generation(struct bext_store *s, uint32_t seen, int timeout_ms);
/* The word itself, for callers that futex-wait on it themselves (FUTEX_WAIT, not private). */
BEXT_API const uint32_t *bext_store__generation_word(const struct bext_store *s);

/*
 * Consistency check of the registry (takes the lock): counts of live objects,
 * refcounts equal to references held plus creator references cannot be known,
 * so it checks structure: states, unique ids, segment files present for live
 * objects and absent for free ones. Returns 0 or -EUCLEAN with pr_warn messages.
 */
BEXT_API int bext_store__check(struct bext_store *s);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_STORE_H */

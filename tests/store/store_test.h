/* SPDX-License-Identifier: MIT */
/* Small shared helpers for the store and map tests (plain C: they fork a lot). */
#ifndef BEXT_STORE_TEST_H
#define BEXT_STORE_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bext/map.h>
#include <bext/store.h>

#include "store/store_internal.h" /* registry entries and segment headers, for reference checks */

static int test_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failures++;                                                         \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                    \
	do {                                                                              \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		if (_a != _b) {                                                           \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);                      \
			test_failures++;                                                  \
		}                                                                         \
	} while (0)

/* Fatal: stop the test (child processes use _exit codes instead). */
#define REQUIRE(cond)                                                                       \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s (errno %d)\n", __FILE__, \
				__LINE__, #cond, errno);                                    \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

static char test_store_dir[128];

static inline int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline void test_store_cleanup(void)
{
	if (test_store_dir[0])
		nftw(test_store_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* A fresh store directory under /dev/shm, removed at exit. */
static inline const char *test_store_path(const char *tag)
{
	snprintf(test_store_dir, sizeof(test_store_dir), "/dev/shm/bext-test-%s-%d", tag, getpid());
	test_store_cleanup();
	atexit(test_store_cleanup);
	return test_store_dir;
}

static inline struct bext_store *test_store_open(const char *tag, uint32_t max_objects)
{
	struct bext_store_opts o = {
	    .sz = sizeof(o), .path = test_store_path(tag), .max_objects = max_objects};
	struct bext_store *s = bext_store__open(&o);

	REQUIRE(s);
	return s;
}

static inline struct bext_store *test_store_reopen(void)
{
	struct bext_store_opts o = {.sz = sizeof(o), .path = test_store_dir};

	return bext_store__open(&o);
}

static inline int test_mk_map(struct bext_store *s, uint32_t type, uint32_t ks, uint32_t vs,
			      uint32_t max, uint32_t flags)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "t",
					 .map_type = type,
					 .key_size = ks,
					 .value_size = vs,
					 .max_entries = max,
					 .map_flags = flags};

	return bext_store__create_map(s, &o);
}

/* ---- reference accounting (store internals) ---------------------------------------------- */

/* The registry entry of a live (or dying) object, NULL if none. */
static inline struct bext_reg_entry *test_entry_of(struct bext_store *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->hdr->max_objects; i++)
		if (s->entries[i].state != BEXT_OBJ_FREE && s->entries[i].id == id)
			return &s->entries[i];
	return NULL;
}

/* How many slot references of live objects (program arrays, map in map) hold @id. */
static inline uint32_t test_slot_refs_on(struct bext_store *s, uint32_t id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];
		struct bext_seg_hdr sh;
		uint32_t *slots;
		char path[256];
		int fd;

		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != BEXT_OBJ_LIVE)
			continue;
		snprintf(path, sizeof(path), "%s/obj-%u", bext_store__path(s), e->id);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (pread(fd, &sh, sizeof(sh), 0) == (ssize_t)sizeof(sh) && sh.nr_slot_refs &&
		    (slots = calloc(sh.nr_slot_refs, 4)) != NULL) {
			size_t len = (size_t)sh.nr_slot_refs * 4;

			if (pread(fd, slots, len, (off_t)sh.slot_refs_off8 * 8) == (ssize_t)len)
				for (uint32_t k = 0; k < sh.nr_slot_refs; k++)
					n += slots[k] == id;
			free(slots);
		}
		close(fd);
	}
	return n;
}

/*
 * Live object @id's reference count must be exactly its user references +
 * the slot references holding it + @others (programs, links). Returns
 * whether it was.
 */
#define TEST_CHECK_REFS(s, id, others)                                                           \
	({                                                                                       \
		struct bext_reg_entry *_e = test_entry_of((s), (id));                            \
		uint32_t _want = _e ? _e->urefcnt + test_slot_refs_on((s), (id)) + (others) : 0; \
		CHECK(_e != NULL);                                                               \
		if (_e)                                                                          \
			CHECK_EQ(_e->refcnt, _want);                                             \
		_e && _e->refcnt == _want;                                                       \
	})

static inline int test_result(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

#endif

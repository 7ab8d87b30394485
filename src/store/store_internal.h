/* SPDX-License-Identifier: MIT */
/*
 * store_internal.h - shared-memory layouts of the object store and the
 * cross-process lock primitives the maps build on.
 *
 * Everything declared "shared" here lives in files under the store directory
 * and is mapped by many processes at different addresses: no pointers, only
 * offsets and ids; every layout is pinned with static_assert. Changing any of
 * them means bumping BEXT_STORE_LAYOUT_VERSION.
 */
#ifndef BEXT_STORE_INTERNAL_H
#define BEXT_STORE_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>

#include <bext/store.h>
#include "common/common_internal.h"

#define BEXT_STORE_MAGIC 0x524f545354584542ULL /* "BEXTSTOR" */
#define BEXT_SEG_MAGIC 0x0047455354584542ULL   /* "BEXTSEG\0" */
/* 2: registry entries count user references (urefcnt, obj_flags); slot intents */
#define BEXT_STORE_LAYOUT_VERSION 2
#define BEXT_STORE_DEFAULT_DIR "/dev/shm/bext"
#define BEXT_STORE_DEFAULT_MAX_OBJECTS 4096
#define BEXT_SEG_PAYLOAD_ALIGN 4096

/* Life cycle of a registry entry (the state word publishes the entry). */
enum bext_obj_state {
	BEXT_OBJ_FREE = 0,
	BEXT_OBJ_CREATING = 1, /* written by the registry-lock holder, not visible yet */
	BEXT_OBJ_LIVE = 2,
	BEXT_OBJ_DYING = 3, /* refcnt hit 0: dropping its references, then FREE */
};

/* Shared: one registry table entry. */
struct bext_reg_entry {
	uint32_t state; /* enum bext_obj_state; written last on creation */
	uint32_t id;
	uint32_t kind; /* enum bext_obj_kind */
	uint32_t refcnt;
	uint32_t creator_pid;
	uint32_t refs_dropped; /* DYING: how many of the segment's refs were already put */
	uint32_t type;	       /* map type / prog type / link attach type */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t flags;
	/*
	 * User references (the kernel's "uref": fds and pins): the creator's and
	 * those of bext_store__obj_get(), a part of refcnt. References objects
	 * hold on objects (a program on its maps, a link on its program, slot
	 * references) are not user references.
	 */
	uint32_t urefcnt;
	uint64_t seg_size;
	uint64_t created_ns; /* CLOCK_REALTIME */
	char name[16];
	uint32_t obj_flags; /* BEXT_OBJF_* */
	uint8_t reserved[44];
};
static_assert(sizeof(struct bext_reg_entry) == 128, "registry entry layout");
static_assert(offsetof(struct bext_reg_entry, seg_size) == 48, "registry entry layout");
static_assert(offsetof(struct bext_reg_entry, name) == 64, "registry entry layout");
static_assert(offsetof(struct bext_reg_entry, urefcnt) == 44, "registry entry layout");
static_assert(offsetof(struct bext_reg_entry, obj_flags) == 80, "registry entry layout");

/*
 * When the last user reference goes, the object's slot references are
 * dropped and emptied (a program array, as the kernel clears one when its
 * last fd or pin goes), and while it has no user reference its slots take
 * no new one (bext_store_set_slot_ref: -EPERM). This breaks the cycle
 * program -> its program array -> program.
 */
#define BEXT_OBJF_UREF_CLEARS_SLOTS 1u

/* Shared: the registry header, at offset 0 of <dir>/registry. */
struct bext_reg_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t hdr_size;
	uint32_t entry_size;
	uint32_t max_objects;
	uint32_t generation; /* futex word: bumped on every table change */
	uint32_t next_id;
	uint32_t nr_live;
	uint32_t recoveries; /* times the lock was recovered from a dead owner */
	uint64_t entries_off;
	uint64_t total_size;
	uint8_t reserved0[8];
	union {
		pthread_mutex_t lock; /* robust, process-shared: every structural change */
		uint8_t lock_space[64];
	};
	uint8_t reserved[128];
};
static_assert(sizeof(pthread_mutex_t) <= 64, "pthread_mutex_t fits its slot");
static_assert(offsetof(struct bext_reg_hdr, generation) == 24, "registry header layout");
static_assert(offsetof(struct bext_reg_hdr, lock) == 64, "registry header layout");
static_assert(sizeof(struct bext_reg_hdr) == 256, "registry header layout");

/*
 * Shared: a slot reference change in progress (bext_store_set_slot_ref), in
 * the registry header's reserved area after the redo log. Valid from the
 * redo batch that takes the new reference to the batch that drops the old
 * one; the next lock holder after a crash finishes it.
 */
struct bext_slot_intent {
	uint32_t valid;
	uint32_t owner_id;
	uint32_t idx;
	uint32_t old_id;
	uint32_t new_id;
	uint32_t reserved;
};
#define BEXT_SLOT_INTENT_OFF 64 /* in bext_reg_hdr.reserved */
static_assert(BEXT_SLOT_INTENT_OFF + sizeof(struct bext_slot_intent) <=
		  sizeof(((struct bext_reg_hdr *)0)->reserved),
	      "slot intent fits the header");

/* Shared: the start of every object segment (<dir>/obj-<id>). */
struct bext_seg_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t kind;
	uint32_t id;
	uint32_t nr_refs; /* ids of objects this one holds a reference on */
	uint64_t refs_off;
	uint64_t payload_off; /* BEXT_SEG_PAYLOAD_ALIGN aligned */
	uint64_t payload_size;
	uint64_t seg_size;
	/*
	 * Slot references (zero in segments written before they existed): an
	 * array of nr_slot_refs u32 object ids inside the payload, at
	 * slot_refs_off8 * 8 from the segment start, 0 = empty. Each non-zero
	 * slot holds one reference, changed only by bext_store_set_slot_ref()
	 * and dropped when the object is removed (map-in-map contents).
	 */
	uint32_t nr_slot_refs;
	uint32_t slot_refs_off8;
};
static_assert(sizeof(struct bext_seg_hdr) == 64, "segment header layout");
static_assert(offsetof(struct bext_seg_hdr, nr_slot_refs) == 56, "segment header layout");

/* In-process handle. */
struct bext_store {
	char *dir;
	int dir_fd;
	int reg_fd;
	struct bext_reg_hdr *hdr;
	size_t map_size;
	struct bext_reg_entry *entries;
};

/* What a component (maps) hands the store to create one object. */
struct bext_obj_desc {
	enum bext_obj_kind kind;
	uint32_t type, key_size, value_size, max_entries, flags;
	const char *name;
	const uint32_t *refs; /* objects the new one takes a reference on (must be LIVE) */
	uint32_t nr_refs;
	uint64_t payload_size;
	/* Slot references (see struct bext_seg_hdr): start empty, 8-aligned offset in the payload.
	 */
	uint32_t nr_slot_refs;
	uint64_t slot_refs_off;
	/* BEXT_OBJF_UREF_CLEARS_SLOTS and such, kept in the registry entry. */
	uint32_t obj_flags;
	/* Fills the zeroed payload; runs with the registry lock held. */
	int (*init)(void *payload, uint64_t size, void *ctx);
	void *ctx;
};

BEXT_HIDDEN int bext_store_create_obj(struct bext_store *s, const struct bext_obj_desc *d);
/*
 * Opens object @id of @kind for reading and writing; returns an fd (O_CLOEXEC)
 * on the whole segment and fills @e with a copy of the entry, or -errno.
 */
BEXT_HIDDEN int bext_store_open_obj_fd(struct bext_store *s, uint32_t id, enum bext_obj_kind kind,
				       struct bext_reg_entry *e);
/*
 * Stores @new_id (0: empties) in slot @idx of @slots, live object
 * @owner_id's slot reference array as the caller mapped it, and returns the
 * id it held in *@old (0 if none). Under the registry lock, it takes a
 * reference on @new_id (-EBADF unless it is a live object of @kind) and
 * drops the old id's (which may remove it); when the owner is no longer
 * live (removed while still mapped somewhere) the slot changes without
 * references. No crash window: the change is recorded as an
 * intent in the registry (owner, index, old and new id) in the same redo
 * batch that takes the new reference, and the old reference is dropped in
 * the same batch that clears the intent, so a process killed anywhere in
 * between is finished by the next lock holder: no reference leaks, none is
 * dropped twice. Also -EPERM when @new_id != 0 and the owner has
 * BEXT_OBJF_UREF_CLEARS_SLOTS and no user reference left.
 */
BEXT_HIDDEN int bext_store_set_slot_ref(struct bext_store *s, uint32_t owner_id, uint32_t *slots,
					uint32_t idx, uint32_t new_id, enum bext_obj_kind kind,
					uint32_t *old);
/*
 * Empties, each through an intent as above (one registry lock hold for all),
 * the non-zero slots among @slots[0..@nr) for which @stale(@ctx, idx) says
 * so. @stale runs with the registry lock held and must take no other lock;
 * it is how an owner drops the references of slots no element stands for
 * any more (hash of maps: an element a dead writer left behind, back on a
 * freelist). Because every writer changes a slot only under the registry
 * lock, a slot that @stale judged stale cannot be one a writer is setting.
 * Returns the number of slots emptied, or -errno.
 */
BEXT_HIDDEN int bext_store_sweep_slot_refs(struct bext_store *s, uint32_t owner_id, uint32_t *slots,
					   uint32_t nr, bool (*stale)(void *ctx, uint32_t idx),
					   void *ctx);
BEXT_HIDDEN int bext_store_find_by_name(struct bext_store *s, enum bext_obj_kind kind,
					const char *name, uint32_t *id);

/* ---- thread ids and liveness ---------------------------------------------- */

/*
 * The calling thread's kernel tid, cached (reset in the child after fork).
 * The cache is an initial-exec TLS variable so the hot paths read it with one
 * %fs-relative load, also inside libbext-agent.so (a general-dynamic access
 * calls __tls_get_addr each time). 4 bytes of glibc's static TLS surplus is
 * all a dlopen()ed agent needs for it.
 */
#define BEXT_TLS_IE __attribute__((tls_model("initial-exec")))
extern BEXT_HIDDEN __thread uint32_t bext_cached_tid BEXT_TLS_IE;
BEXT_HIDDEN uint32_t bext_tid_slow(void);

static inline uint32_t bext_tid(void)
{
	uint32_t t = bext_cached_tid;

	return __builtin_expect(t != 0, 1) ? t : bext_tid_slow();
}
/* True when no live (non-zombie) task has id @tid. */
BEXT_HIDDEN bool bext_task_dead(uint32_t tid);

/* ---- cross-process spinlock with dead-owner takeover ------------------------
 *
 * The lock word holds the owner's tid (0 = free). A waiter spins, then yields,
 * and every so often checks whether the owner is still alive; if the owner
 * died, the waiter takes the lock over and bext_shm_lock() returns 1 so the
 * caller repairs what the owner may have left half-done. Each critical
 * section protected by such a lock is written so that every intermediate
 * state is repairable (single-store publication, owner marks on elements).
 * All processes sharing a store must share one pid namespace.
 */
BEXT_HIDDEN int bext_shm_lock_slow(uint32_t *w, uint32_t me);

static inline int bext_shm_lock(uint32_t *w)
{
	uint32_t me = bext_tid(), exp = 0;

	if (__atomic_compare_exchange_n(w, &exp, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	return bext_shm_lock_slow(w, me);
}

static inline bool bext_shm_trylock(uint32_t *w)
{
	uint32_t exp = 0;

	return __atomic_compare_exchange_n(w, &exp, bext_tid(), false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void bext_shm_unlock(uint32_t *w)
{
	__atomic_store_n(w, 0, __ATOMIC_RELEASE);
}

BEXT_HIDDEN int bext_futex_wait(uint32_t *w, uint32_t val, int timeout_ms);
BEXT_HIDDEN void bext_futex_wake(uint32_t *w, int nr);

#endif

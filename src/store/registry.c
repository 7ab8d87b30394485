/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the object table in shared memory.
 *
 * <dir>/registry holds struct bext_reg_hdr followed by max_objects entries.
 * <dir>/obj-<id> is one segment per object, sized exactly at creation.
 *
 * Locking: hdr->lock (robust, process-shared pthread mutex) serialises every
 * structural change: entry states, refcounts, next_id, segment files. It is
 * never held while a map's own locks are held (map locks live in the map
 * segments and are independent), so there is no lock order to get wrong.
 *
 * Crash safety: an entry is written while FREE/CREATING and made visible by a
 * single store of state = LIVE. Any change touching more than one word (taking
 * or dropping a reference together with a progress counter) goes through the
 * redo log in the header: the writes are recorded, the log is marked valid,
 * the writes are applied, the log is cleared. The writes are absolute values,
 * so replaying them after the lock holder died is idempotent. When the mutex
 * comes back EOWNERDEAD we replay the log, turn CREATING entries into DYING
 * (or FREE) and finish all DYING entries, then mark the mutex consistent.
 *
 * Slot references changed through bext_store_set_slot_ref() (program arrays,
 * map-in-map), emptied on removal or swept (bext_store_sweep_slot_refs) record an intent (owner,
 * slot, old id, new id) in the header, valid from the batch that takes the new reference to the
 * batch that drops the old one; recovery finishes it. User references (urefcnt, part of refcnt: the
 * creator's and bext_store__obj_get's) let a program array be emptied when its last one goes;
 * recovery finishes that too (any such object left with urefcnt 0 and non-empty slots).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

/* Redo log kept in the header's reserved area. */
struct bext_redo {
	uint32_t valid;
	uint32_t n;
	struct {
		uint32_t off; /* byte offset from the registry base */
		uint32_t val;
	} w[6];
};
static_assert(sizeof(struct bext_redo) <= sizeof(((struct bext_reg_hdr *)0)->reserved),
	      "redo log fits the header");

static_assert(sizeof(struct bext_redo) <= BEXT_SLOT_INTENT_OFF, "slot intent after the redo log");

struct prog_blob {
	uint32_t prog_type;
	uint32_t insn_cnt;
	char license[64];
	char attach_hint[256];
	/* struct bpf_insn insns[insn_cnt] follow */
};
static_assert(sizeof(struct prog_blob) == 328, "program blob layout");

struct link_blob {
	uint32_t prog_id;
	uint32_t attach_type;
	int32_t pid;
	uint32_t reserved;
	uint64_t cookie;
	char target[512];
};
static_assert(sizeof(struct link_blob) == 536, "link blob layout");

/* ---- tids, liveness, futex, spinlock slow path ------------------------------ */

BEXT_HIDDEN __thread uint32_t bext_cached_tid BEXT_TLS_IE;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void tid_atfork_child(void)
{
	bext_cached_tid = 0;
}

static void tid_atfork_register(void)
{
	pthread_atfork(NULL, NULL, tid_atfork_child);
}

uint32_t bext_tid_slow(void)
{
	pthread_once(&atfork_once, tid_atfork_register);
	bext_cached_tid = (uint32_t)syscall(SYS_gettid);
	return bext_cached_tid;
}

bool bext_task_dead(uint32_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	if (tid == 0 || tid > INT_MAX)
		return true;
	if (kill((pid_t)tid, 0) < 0 && errno == ESRCH)
		return true;
	/* A killed process stays a zombie until reaped: count that as dead. */
	snprintf(path, sizeof(path), "/proc/%u/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return false;
	return p[2] == 'Z' || p[2] == 'X';
}

int bext_shm_lock_slow(uint32_t *w, uint32_t me)
{
	unsigned int spins = 0;

	for (;;) {
		uint32_t owner = __atomic_load_n(w, __ATOMIC_RELAXED);

		if (owner == 0) {
			if (__atomic_compare_exchange_n(w, &owner, me, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return 0;
			continue;
		}
		if (owner == me) {
			/* We died holding it in a previous life (tid reuse) or a bug. */
			pr_warn("shm lock already held by this thread (tid %u)\n", me);
			return 1;
		}
		spins++;
		if (spins < 128) {
			__builtin_ia32_pause();
			continue;
		}
		sched_yield();
		if ((spins & 255) == 0 && bext_task_dead(owner)) {
			if (__atomic_compare_exchange_n(w, &owner, me, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				pr_info("took over a lock from dead task %u\n", owner);
				return 1;
			}
		}
	}
}

int bext_futex_wait(uint32_t *w, uint32_t val, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	long r;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tp = &ts;
	}
	r = syscall(SYS_futex, w, FUTEX_WAIT, val, tp, NULL, 0);
	if (r < 0) {
		if (errno == ETIMEDOUT || errno == EINTR)
			return -errno;
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
	return 0;
}

void bext_futex_wake(uint32_t *w, int nr)
{
	syscall(SYS_futex, w, FUTEX_WAKE, nr, NULL, NULL, 0);
}

/* ---- registry lock and redo log -------------------------------------------- */

static struct bext_redo *redo_of(struct bext_store *s)
{
	return (struct bext_redo *)s->hdr->reserved;
}

static struct bext_slot_intent *intent_of(struct bext_store *s)
{
	return (struct bext_slot_intent *)(s->hdr->reserved + BEXT_SLOT_INTENT_OFF);
}

static uint32_t off_of(struct bext_store *s, const uint32_t *field)
{
	return (uint32_t)((const char *)field - (const char *)s->hdr);
}

/* Records, then applies, a set of absolute 32-bit writes as one unit. */
struct redo_batch {
	uint32_t n;
	uint32_t *field[6];
	uint32_t val[6];
};

static void batch_add(struct redo_batch *b, uint32_t *field, uint32_t val)
{
	b->field[b->n] = field;
	b->val[b->n] = val;
	b->n++;
}

static void redo_apply(struct bext_store *s)
{
	struct bext_redo *r = redo_of(s);
	uint32_t i;

	for (i = 0; i < r->n && i < BEXT_ARRAY_SIZE(r->w); i++) {
		if (r->w[i].off + 4 > s->map_size)
			continue;
		__atomic_store_n((uint32_t *)((char *)s->hdr + r->w[i].off), r->w[i].val,
				 __ATOMIC_RELEASE);
	}
	__atomic_store_n(&r->valid, 0, __ATOMIC_RELEASE);
}

static void batch_commit(struct bext_store *s, struct redo_batch *b)
{
	struct bext_redo *r = redo_of(s);
	uint32_t i;

	for (i = 0; i < b->n; i++) {
		r->w[i].off = off_of(s, b->field[i]);
		r->w[i].val = b->val[i];
	}
	r->n = b->n;
	__atomic_store_n(&r->valid, 1, __ATOMIC_RELEASE);
	redo_apply(s);
}

static void bump_generation(struct bext_store *s)
{
	__atomic_add_fetch(&s->hdr->generation, 1, __ATOMIC_RELEASE);
	bext_futex_wake(&s->hdr->generation, INT_MAX);
}

static void seg_name(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, "obj-%u", id);
}

static struct bext_reg_entry *find_slot(struct bext_store *s, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state != BEXT_OBJ_FREE && e->id == id)
			return e;
	}
	return NULL;
}

static int read_seg_refs(struct bext_store *s, uint32_t id, uint32_t **refs, uint32_t *nr)
{
	struct bext_seg_hdr sh;
	char name[32];
	int fd, err = 0;

	*refs = NULL;
	*nr = 0;
	seg_name(name, sizeof(name), id);
	fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &sh, sizeof(sh), 0) != sizeof(sh) || sh.magic != BEXT_SEG_MAGIC ||
	    sh.nr_refs > 65536) {
		err = -EBADMSG;
		goto out;
	}
	if (sh.nr_refs) {
		size_t len = sh.nr_refs * sizeof(uint32_t);

		*refs = malloc(len);
		if (!*refs) {
			err = -ENOMEM;
			goto out;
		}
		if (pread(fd, *refs, len, (off_t)sh.refs_off) != (ssize_t)len) {
			free(*refs);
			*refs = NULL;
			err = -EBADMSG;
			goto out;
		}
	}
	*nr = sh.nr_refs;
out:
	close(fd);
	return err;
}

/* Adds to @b the writes that drop one reference on @id (none if it holds none). */
static void batch_drop_ref(struct bext_store *s, struct redo_batch *b, uint32_t id)
{
	struct bext_reg_entry *t = id ? find_slot(s, id) : NULL;

	if (!t || t->state != BEXT_OBJ_LIVE || t->refcnt == 0)
		return;
	batch_add(b, &t->refcnt, t->refcnt - 1);
	if (t->refcnt == 1) {
		batch_add(b, &t->refs_dropped, 0);
		batch_add(b, &t->state, BEXT_OBJ_DYING);
	}
}

/* Maps the slot reference array of object @id's segment (NULL: none). */
static uint32_t *map_slots(struct bext_store *s, uint32_t id, void **map, uint64_t *len,
			   uint32_t *nr)
{
	struct bext_seg_hdr sh;
	char name[32];
	uint64_t off = 0;
	void *p;
	int fd;

	*map = NULL;
	*nr = 0;
	seg_name(name, sizeof(name), id);
	fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (pread(fd, &sh, sizeof(sh), 0) != sizeof(sh) || sh.magic != BEXT_SEG_MAGIC ||
	    !sh.nr_slot_refs)
		goto out;
	off = (uint64_t)sh.slot_refs_off8 * 8;
	*len = off + (uint64_t)sh.nr_slot_refs * 4;
	if (*len > sh.seg_size)
		goto out;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	*map = p;
	*nr = sh.nr_slot_refs;
out:
	close(fd);
	return *map ? (uint32_t *)((char *)*map + off) : NULL;
}

/*
 * Records the change of slot @idx of @owner from @old to @new and takes the
 * reference on @new, as one redo batch. Lock held; @new checked live.
 */
static void intent_begin(struct bext_store *s, uint32_t owner, uint32_t idx, uint32_t old,
			 uint32_t new)
{
	struct bext_slot_intent *in = intent_of(s);
	struct redo_batch b = {0};

	batch_add(&b, &in->owner_id, owner);
	batch_add(&b, &in->idx, idx);
	batch_add(&b, &in->old_id, old);
	batch_add(&b, &in->new_id, new);
	batch_add(&b, &in->valid, 1);
	if (new) {
		struct bext_reg_entry *t = find_slot(s, new);

		batch_add(&b, &t->refcnt, t->refcnt + 1);
	}
	batch_commit(s, &b);
}

/*
 * Finishes a valid intent: the slot goes from old to new (a compare-exchange:
 * repeating it is harmless; a slot a hash-of-maps writer changed in between
 * had its old id taken out without a put, as that writer only puts for a
 * live owner), then one batch drops the old reference and clears the intent.
 * @slots: the owner's slots as the caller mapped them, NULL: map them here.
 */
static void intent_finish(struct bext_store *s, uint32_t *slots)
{
	struct bext_slot_intent *in = intent_of(s);
	struct redo_batch b = {0};
	uint32_t nr = UINT32_MAX;
	uint64_t len = 0;
	void *map = NULL;

	if (!slots)
		slots = map_slots(s, in->owner_id, &map, &len, &nr);
	if (slots && in->idx < nr) {
		uint32_t exp = in->old_id;

		__atomic_compare_exchange_n(&slots[in->idx], &exp, in->new_id, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	if (map)
		munmap(map, len);
	batch_drop_ref(s, &b, in->old_id);
	batch_add(&b, &in->valid, 0);
	batch_commit(s, &b);
}

/*
 * Empties the slot references of object @id (DYING, or a program array
 * whose last user reference went), each through an intent, so a repeat
 * after a crash drops exactly what is left. Lock held.
 */
static void drop_slot_refs(struct bext_store *s, uint32_t id)
{
	uint32_t *slots, nr, i;
	uint64_t len = 0;
	void *map;

	slots = map_slots(s, id, &map, &len, &nr);
	if (!slots)
		return;
	for (i = 0; i < nr; i++) {
		uint32_t ref = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);

		if (!ref)
			continue;
		intent_begin(s, id, i, ref, 0);
		intent_finish(s, slots);
	}
	munmap(map, len);
}

/* Whether live entry @e has no user reference left but still holds slot references. */
static bool uref_gone_with_slots(struct bext_store *s, struct bext_reg_entry *e)
{
	uint32_t *slots, nr, i;
	uint64_t len = 0;
	bool any = false;
	void *map;

	if (e->state != BEXT_OBJ_LIVE || !(e->obj_flags & BEXT_OBJF_UREF_CLEARS_SLOTS) ||
	    e->urefcnt)
		return false;
	slots = map_slots(s, e->id, &map, &len, &nr);
	for (i = 0; slots && i < nr && !any; i++)
		any = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE) != 0;
	if (map)
		munmap(map, len);
	return any;
}

/* Removes every DYING entry, dropping the references it holds. Lock held. */
static void reap_dying(struct bext_store *s)
{
	bool again = true;

	while (again) {
		uint32_t i;

		again = false;
		for (i = 0; i < s->hdr->max_objects; i++) {
			struct bext_reg_entry *e = &s->entries[i];
			uint32_t *refs, nr, k;
			char name[32];

			if (e->state != BEXT_OBJ_DYING)
				continue;
			again = true;
			if (read_seg_refs(s, e->id, &refs, &nr) < 0)
				nr = 0; /* missing segment: refs were all dropped already */
			for (k = e->refs_dropped; k < nr; k++) {
				struct bext_reg_entry *t = find_slot(s, refs[k]);
				struct redo_batch b = {0};

				if (t && t->state == BEXT_OBJ_LIVE && t->refcnt > 0) {
					batch_add(&b, &t->refcnt, t->refcnt - 1);
					if (t->refcnt == 1) {
						batch_add(&b, &t->refs_dropped, 0);
						batch_add(&b, &t->state, BEXT_OBJ_DYING);
					}
				}
				batch_add(&b, &e->refs_dropped, k + 1);
				batch_commit(s, &b);
			}
			free(refs);
			drop_slot_refs(s, e->id);
			seg_name(name, sizeof(name), e->id);
			unlinkat(s->dir_fd, name, 0);
			__atomic_store_n(&e->state, BEXT_OBJ_FREE, __ATOMIC_RELEASE);
			__atomic_sub_fetch(&s->hdr->nr_live, 1, __ATOMIC_RELAXED);
			bump_generation(s);
		}
	}
}

/* Called with the mutex taken over from a dead owner. */
static void recover(struct bext_store *s)
{
	uint32_t i, live = 0;

	pr_warn("store %s: recovering registry after a process died holding its lock\n", s->dir);
	if (__atomic_load_n(&redo_of(s)->valid, __ATOMIC_ACQUIRE))
		redo_apply(s);
	if (__atomic_load_n(&intent_of(s)->valid, __ATOMIC_ACQUIRE))
		intent_finish(s, NULL);
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];
		char name[32];

		switch (e->state) {
		case BEXT_OBJ_FREE:
		case BEXT_OBJ_LIVE:
		case BEXT_OBJ_DYING:
			break;
		case BEXT_OBJ_CREATING:
			/* refs_dropped counts references taken so far (from the end). */
			if (e->refs_dropped) {
				uint32_t *refs, nr;
				struct redo_batch b = {0};

				if (read_seg_refs(s, e->id, &refs, &nr) == 0 &&
				    nr >= e->refs_dropped) {
					free(refs);
					batch_add(&b, &e->refs_dropped, nr - e->refs_dropped);
					batch_add(&b, &e->state, BEXT_OBJ_DYING);
					batch_commit(s, &b);
					break; /* counted live below; reap_dying uncounts it */
				}
				free(refs);
			}
			seg_name(name, sizeof(name), e->id);
			unlinkat(s->dir_fd, name, 0);
			e->state = BEXT_OBJ_FREE;
			break;
		default:
			pr_warn("store: entry %u has bad state %u, freeing it\n", i, e->state);
			e->state = BEXT_OBJ_FREE;
			break;
		}
		if (e->state == BEXT_OBJ_LIVE || e->state == BEXT_OBJ_DYING)
			live++;
	}
	s->hdr->nr_live = live;
	reap_dying(s);
	/* a program array whose last user reference went, killed while emptying it */
	for (i = 0; i < s->hdr->max_objects; i++) {
		if (uref_gone_with_slots(s, &s->entries[i])) {
			drop_slot_refs(s, s->entries[i].id);
			reap_dying(s);
		}
	}
	s->hdr->recoveries++;
	bump_generation(s);
}

static int reg_lock(struct bext_store *s)
{
	int r = pthread_mutex_lock(&s->hdr->lock);

	if (r == EOWNERDEAD) {
		recover(s);
		pthread_mutex_consistent(&s->hdr->lock);
		return 0;
	}
	if (r) {
		pr_warn("store %s: registry lock failed: %s\n", s->dir, strerror(r));
		return -r;
	}
	return 0;
}

static void reg_unlock(struct bext_store *s)
{
	pthread_mutex_unlock(&s->hdr->lock);
}

/* ---- open / close -------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
	char *tmp = strdup(path), *p;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			err = -errno;
			goto out;
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		err = -errno;
out:
	free(tmp);
	return err;
}

static size_t reg_size(uint32_t max_objects)
{
	size_t sz =
	    sizeof(struct bext_reg_hdr) + (size_t)max_objects * sizeof(struct bext_reg_entry);

	return (sz + 4095) & ~(size_t)4095;
}

/* Builds a complete registry under a temporary name, then links it in place. */
static int create_registry(struct bext_store *s, uint32_t max_objects, mode_t mode)
{
	pthread_mutexattr_t ma;
	struct bext_reg_hdr *h;
	char tmp[64];
	size_t sz = reg_size(max_objects);
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "registry.tmp.%d.%u", getpid(), bext_tid());
	fd = openat(s->dir_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)sz) < 0) {
		err = -errno;
		goto out_unlink;
	}
	err = -posix_fallocate(fd, 0, (off_t)sz); /* every page now: see the segments */
	if (err)
		goto out_unlink;
	h = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		err = -errno;
		goto out_unlink;
	}
	h->magic = BEXT_STORE_MAGIC;
	h->layout_version = BEXT_STORE_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->entry_size = sizeof(struct bext_reg_entry);
	h->max_objects = max_objects;
	h->next_id = 1;
	h->entries_off = sizeof(*h);
	h->total_size = sz;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&h->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	munmap(h, sz);
	if (linkat(s->dir_fd, tmp, s->dir_fd, "registry", 0) < 0 && errno != EEXIST)
		err = -errno;
out_unlink:
	unlinkat(s->dir_fd, tmp, 0);
	close(fd);
	return err;
}

static int map_registry(struct bext_store *s)
{
	struct bext_reg_hdr h;
	struct stat st;
	void *p;

	if (fstat(s->reg_fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(h) || pread(s->reg_fd, &h, sizeof(h), 0) != sizeof(h)) {
		pr_warn("store %s: registry is truncated\n", s->dir);
		return -EBADMSG;
	}
	if (h.magic != BEXT_STORE_MAGIC) {
		pr_warn("store %s: registry has a bad magic, not a bext store\n", s->dir);
		return -EBADMSG;
	}
	if (h.layout_version != BEXT_STORE_LAYOUT_VERSION) {
		pr_warn("store %s: registry layout version %u, this bext speaks version %u; "
			"use a matching bext or another store (BEXT_STORE)\n",
			s->dir, h.layout_version, BEXT_STORE_LAYOUT_VERSION);
		return -EPROTO;
	}
	if (h.hdr_size != sizeof(struct bext_reg_hdr) ||
	    h.entry_size != sizeof(struct bext_reg_entry) ||
	    h.entries_off != sizeof(struct bext_reg_hdr) || h.total_size != (uint64_t)st.st_size ||
	    h.total_size < reg_size(h.max_objects)) {
		pr_warn("store %s: registry header is inconsistent\n", s->dir);
		return -EBADMSG;
	}
	p = mmap(NULL, h.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->reg_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->hdr = p;
	s->map_size = h.total_size;
	s->entries = (struct bext_reg_entry *)((char *)p + h.entries_off);
	return 0;
}

struct bext_store *bext_store__open(const struct bext_store_opts *opts)
{
	const char *path = opts && opts->path ? opts->path : getenv("BEXT_STORE");
	uint32_t max_objects =
	    opts && opts->max_objects ? opts->max_objects : BEXT_STORE_DEFAULT_MAX_OBJECTS;
	mode_t mode = opts && opts->mode ? opts->mode : 0600;
	/* no_create arrived after the first release of the options: honour it only if passed */
	bool no_create = opts &&
			 opts->sz >= offsetof(struct bext_store_opts, no_create) + sizeof(bool) &&
			 opts->no_create;
	struct bext_store *s;
	int err, tries, reopen_tries = 0;

	if (!path || !*path)
		path = BEXT_STORE_DEFAULT_DIR;
	if (max_objects > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->dir_fd = s->reg_fd = -1;
	s->dir = strdup(path);
	if (!s->dir) {
		err = -ENOMEM;
		goto err_free;
	}
again:
	err = no_create ? 0 : mkdir_p(path, mode | ((mode & 0444) >> 2));
	if (err) {
		pr_warn("store %s: cannot create directory: %s\n", path, strerror(-err));
		goto err_free;
	}
	s->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		err = -errno;
		goto err_free;
	}
	for (tries = 0; tries < 4; tries++) {
		s->reg_fd = openat(s->dir_fd, "registry", O_RDWR | O_CLOEXEC);
		if (s->reg_fd >= 0)
			break;
		if (errno != ENOENT || no_create) {
			err = -errno;
			goto err_free;
		}
		err = create_registry(s, max_objects, mode);
		if (err)
			goto err_free;
	}
	if (s->reg_fd < 0) {
		err = -ENOENT;
		goto err_free;
	}
	/*
	 * Liveness for `bext gc`: every open store holds a shared flock on its
	 * registry until closed (the kernel drops it when the process dies).
	 * gc removes a store only if it gets the exclusive lock. If gc removed
	 * the store while we waited, our registry is unlinked: start over.
	 */
	if (flock(s->reg_fd, LOCK_SH) < 0) {
		err = -errno;
		goto err_free;
	}
	{
		struct stat a, b;

		if (fstat(s->reg_fd, &a) < 0 || fstatat(s->dir_fd, "registry", &b, 0) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(s->reg_fd);
			s->reg_fd = -1;
			close(s->dir_fd);
			s->dir_fd = -1;
			if (++reopen_tries > 8) {
				err = -EAGAIN;
				goto err_free;
			}
			goto again;
		}
	}
	err = map_registry(s);
	if (err)
		goto err_free;
	return s;
err_free:
	bext_store__close(s);
	errno = -err;
	return NULL;
}

void bext_store__close(struct bext_store *s)
{
	if (!s)
		return;
	if (s->hdr)
		munmap(s->hdr, s->map_size);
	if (s->reg_fd >= 0)
		close(s->reg_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->dir);
	free(s);
}

int bext_store__remove_unused(const char *path, uint32_t *nr_objects, uint64_t *bytes)
{
	struct dirent *de;
	uint32_t n = 0;
	uint64_t total = 0;
	int dfd, rfd, err = 0;
	DIR *d;

	if (!path || !*path)
		path = getenv("BEXT_STORE");
	if (!path || !*path)
		path = BEXT_STORE_DEFAULT_DIR;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rfd = openat(dfd, "registry", O_RDWR | O_CLOEXEC);
	if (rfd < 0) {
		err = errno == ENOENT ? -ENOENT : -errno;
		close(dfd);
		return err;
	}
	if (flock(rfd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out;
	}
	d = fdopendir(dup(dfd));
	if (!d) {
		err = -errno;
		goto out;
	}
	/* Segments first, the registry last: a half-removed store is still recognisable. */
	while ((de = readdir(d))) {
		unsigned int id;
		struct stat st;

		size_t len = strlen(de->d_name);

		/* segments, registries being built, and the logs kept here (agent.log, trace.log)
		 */
		if (sscanf(de->d_name, "obj-%u", &id) != 1 &&
		    strncmp(de->d_name, "registry.tmp.", 13) != 0 &&
		    !(len > 4 && !strcmp(de->d_name + len - 4, ".log")))
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) == 0 && de->d_name[0] == 'o') {
			n++;
			total += (uint64_t)st.st_size;
		}
		if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (!err && unlinkat(dfd, "registry", 0) < 0)
		err = -errno;
	if (!err && rmdir(path) < 0 && errno != ENOENT)
		err = -errno; /* other files in the directory: leave it */
	if (nr_objects)
		*nr_objects = n;
	if (bytes)
		*bytes = total;
out:
	close(rfd);
	close(dfd);
	return err;
}

const char *bext_store__path(const struct bext_store *s)
{
	return s->dir;
}

int bext_store_set_slot_ref(struct bext_store *s, uint32_t owner_id, uint32_t *slots, uint32_t idx,
			    uint32_t new_id, enum bext_obj_kind kind, uint32_t *old)
{
	struct bext_reg_entry *o, *t;
	uint32_t prev;
	int err;

	*old = 0;
	err = reg_lock(s);
	if (err)
		return err;
	o = find_slot(s, owner_id);
	if (!o || o->state != BEXT_OBJ_LIVE) {
		/* an orphan (removed, still mapped here): ids without references */
		*old = __atomic_exchange_n(&slots[idx], new_id, __ATOMIC_ACQ_REL);
		goto out;
	}
	if (new_id) {
		t = find_slot(s, new_id);
		if (!t || t->state != BEXT_OBJ_LIVE || t->kind != (uint32_t)kind) {
			err = -EBADF;
			goto out;
		}
		if (t->refcnt == UINT32_MAX) {
			err = -EOVERFLOW;
			goto out;
		}
		if ((o->obj_flags & BEXT_OBJF_UREF_CLEARS_SLOTS) && !o->urefcnt) {
			err = -EPERM; /* no user reference: it would never be emptied */
			goto out;
		}
	}
	prev = __atomic_load_n(&slots[idx], __ATOMIC_ACQUIRE);
	*old = prev;
	if (!prev && !new_id)
		goto out;
	intent_begin(s, owner_id, idx, prev, new_id);
	intent_finish(s, slots);
	reap_dying(s);
	bump_generation(s);
out:
	reg_unlock(s);
	return err;
}

int bext_store_sweep_slot_refs(struct bext_store *s, uint32_t owner_id, uint32_t *slots,
			       uint32_t nr, bool (*stale)(void *ctx, uint32_t idx), void *ctx)
{
	struct bext_reg_entry *o;
	uint32_t i;
	int err, n = 0;

	err = reg_lock(s);
	if (err)
		return err;
	o = find_slot(s, owner_id);
	for (i = 0; i < nr; i++) {
		uint32_t ref = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);

		if (!ref || !stale(ctx, i))
			continue;
		if (!o || o->state != BEXT_OBJ_LIVE) {
			/* an orphan's slots hold no references (its removal dropped them) */
			__atomic_compare_exchange_n(&slots[i], &ref, 0, false, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
			continue;
		}
		intent_begin(s, owner_id, i, ref, 0);
		intent_finish(s, slots);
		n++;
	}
	if (n) {
		reap_dying(s);
		bump_generation(s);
	}
	reg_unlock(s);
	return n;
}

/* ---- object creation ------------------------------------------------------------- */

int bext_store_create_obj(struct bext_store *s, const struct bext_obj_desc *d)
{
	uint64_t refs_end = sizeof(struct bext_seg_hdr) + (uint64_t)d->nr_refs * 4;
	uint64_t payload_off =
	    (refs_end + BEXT_SEG_PAYLOAD_ALIGN - 1) & ~(uint64_t)(BEXT_SEG_PAYLOAD_ALIGN - 1);
	uint64_t seg_size = payload_off + d->payload_size;
	struct bext_reg_entry *e = NULL;
	struct bext_seg_hdr *sh;
	struct timespec ts;
	char name[32];
	uint32_t i, id;
	void *seg;
	int fd, err;

	if (d->nr_refs > 65536 || d->payload_size > (1ULL << 40))
		return -E2BIG;
	if (d->nr_slot_refs &&
	    ((d->slot_refs_off & 7) ||
	     d->slot_refs_off + (uint64_t)d->nr_slot_refs * 4 > d->payload_size ||
	     (payload_off + d->slot_refs_off) / 8 > UINT32_MAX))
		return -EINVAL;
	err = reg_lock(s);
	if (err)
		return err;
	for (i = 0; i < d->nr_refs; i++) {
		struct bext_reg_entry *t = find_slot(s, d->refs[i]);

		if (!t || t->state != BEXT_OBJ_LIVE) {
			err = -ENOENT;
			goto out_unlock;
		}
	}
	for (i = 0; i < s->hdr->max_objects; i++) {
		if (s->entries[i].state == BEXT_OBJ_FREE) {
			e = &s->entries[i];
			break;
		}
	}
	if (!e) {
		err = -ENOSPC;
		goto out_unlock;
	}
	id = s->hdr->next_id;
	if (id == 0 || id > INT_MAX) {
		err = -ENOSPC;
		goto out_unlock;
	}
	s->hdr->next_id = id + 1;
	/* While FREE nobody reads the entry: fill it, then claim it as CREATING. */
	clock_gettime(CLOCK_REALTIME, &ts);
	e->id = id;
	e->kind = d->kind;
	e->refcnt = 1;
	e->urefcnt = 1; /* the creator's reference is a user reference */
	e->obj_flags = d->obj_flags;
	e->creator_pid = (uint32_t)getpid();
	e->refs_dropped = 0;
	e->type = d->type;
	e->key_size = d->key_size;
	e->value_size = d->value_size;
	e->max_entries = d->max_entries;
	e->flags = d->flags;
	e->seg_size = seg_size;
	e->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	memset(e->name, 0, sizeof(e->name));
	if (d->name)
		strncpy(e->name, d->name, sizeof(e->name) - 1);
	__atomic_store_n(&e->state, BEXT_OBJ_CREATING, __ATOMIC_RELEASE);

	seg_name(name, sizeof(name), id);
	fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out_free_entry;
	}
	if (ftruncate(fd, (off_t)seg_size) < 0) {
		err = -errno;
		goto out_close;
	}
	/*
	 * Every page now, not at first touch: a program storing into a page of
	 * a sparse file on a full tmpfs would get SIGBUS inside the host. So a
	 * map that does not fit fails here, with ENOSPC, as the kernel fails
	 * the creation of a map it cannot allocate.
	 */
	err = -posix_fallocate(fd, 0, (off_t)seg_size);
	if (err)
		goto out_close;
	seg = mmap(NULL, seg_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (seg == MAP_FAILED) {
		err = -errno;
		goto out_close;
	}
	sh = seg;
	sh->magic = BEXT_SEG_MAGIC;
	sh->layout_version = BEXT_STORE_LAYOUT_VERSION;
	sh->kind = d->kind;
	sh->id = id;
	sh->nr_refs = d->nr_refs;
	sh->refs_off = sizeof(*sh);
	sh->payload_off = payload_off;
	sh->payload_size = d->payload_size;
	sh->seg_size = seg_size;
	if (d->nr_slot_refs) {
		sh->nr_slot_refs = d->nr_slot_refs;
		sh->slot_refs_off8 = (uint32_t)((payload_off + d->slot_refs_off) / 8);
	}
	if (d->nr_refs)
		memcpy((char *)seg + sh->refs_off, d->refs, d->nr_refs * sizeof(uint32_t));
	err = d->init ? d->init((char *)seg + payload_off, d->payload_size, d->ctx) : 0;
	munmap(seg, seg_size);
	if (err)
		goto out_close;
	close(fd);
	/* Take references last to first; refs_dropped counts how many we hold. */
	for (i = d->nr_refs; i-- > 0;) {
		struct bext_reg_entry *t = find_slot(s, d->refs[i]);
		struct redo_batch b = {0};

		batch_add(&b, &t->refcnt, t->refcnt + 1);
		batch_add(&b, &e->refs_dropped, d->nr_refs - i);
		batch_commit(s, &b);
	}
	e->refs_dropped = 0;
	__atomic_add_fetch(&s->hdr->nr_live, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, BEXT_OBJ_LIVE, __ATOMIC_RELEASE);
	bump_generation(s);
	reg_unlock(s);
	return (int)id;

out_close:
	close(fd);
	unlinkat(s->dir_fd, name, 0);
out_free_entry:
	__atomic_store_n(&e->state, BEXT_OBJ_FREE, __ATOMIC_RELEASE);
out_unlock:
	reg_unlock(s);
	return err;
}

int bext_store_open_obj_fd(struct bext_store *s, uint32_t id, enum bext_obj_kind kind,
			   struct bext_reg_entry *out)
{
	struct bext_reg_entry *e;
	char name[32];
	int fd, err;

	err = reg_lock(s);
	if (err)
		return err;
	e = find_slot(s, id);
	if (!e || e->state != BEXT_OBJ_LIVE || e->kind != (uint32_t)kind) {
		err = -ENOENT;
		goto out;
	}
	seg_name(name, sizeof(name), id);
	fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("store: segment of live object %u is missing: %s\n", id, strerror(errno));
		goto out;
	}
	if (out)
		*out = *e;
	err = fd;
out:
	reg_unlock(s);
	return err;
}

int bext_store_find_by_name(struct bext_store *s, enum bext_obj_kind kind, const char *name,
			    uint32_t *id)
{
	uint32_t i, best = 0;
	int err;

	err = reg_lock(s);
	if (err)
		return err;
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state == BEXT_OBJ_LIVE && e->kind == (uint32_t)kind &&
		    strncmp(e->name, name, sizeof(e->name)) == 0 && (!best || e->id < best))
			best = e->id;
	}
	reg_unlock(s);
	if (!best)
		return -ENOENT;
	*id = best;
	return 0;
}

/* ---- queries and references ------------------------------------------------------ */

int bext_store__next_id(struct bext_store *s, uint32_t start_id, uint32_t *next_id)
{
	uint32_t i, best = 0;
	int err;

	err = reg_lock(s);
	if (err)
		return err;
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state == BEXT_OBJ_LIVE && e->id > start_id && (!best || e->id < best))
			best = e->id;
	}
	reg_unlock(s);
	if (!best)
		return -ENOENT;
	*next_id = best;
	return 0;
}

int bext_store__obj_info(struct bext_store *s, uint32_t id, struct bext_obj_info *info)
{
	struct bext_reg_entry *e;
	int err;

	err = reg_lock(s);
	if (err)
		return err;
	e = find_slot(s, id);
	if (!e || e->state != BEXT_OBJ_LIVE) {
		err = -ENOENT;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	info->id = e->id;
	info->kind = e->kind;
	info->type = e->type;
	info->refcnt = e->refcnt;
	info->key_size = e->key_size;
	info->value_size = e->value_size;
	info->max_entries = e->max_entries;
	info->flags = e->flags;
	info->creator_pid = e->creator_pid;
	info->seg_size = e->seg_size;
	info->created_ns = e->created_ns;
	memcpy(info->name, e->name, sizeof(info->name));
	info->name[sizeof(info->name) - 1] = 0;
out:
	reg_unlock(s);
	return err;
}

int bext_store__obj_get(struct bext_store *s, uint32_t id)
{
	struct bext_reg_entry *e;
	int err;

	err = reg_lock(s);
	if (err)
		return err;
	e = find_slot(s, id);
	if (!e || e->state != BEXT_OBJ_LIVE) {
		err = -ENOENT;
	} else if (e->refcnt == UINT32_MAX) {
		err = -EOVERFLOW;
	} else {
		struct redo_batch b = {0};

		batch_add(&b, &e->refcnt, e->refcnt + 1);
		batch_add(&b, &e->urefcnt, e->urefcnt + 1);
		batch_commit(s, &b);
		bump_generation(s);
	}
	reg_unlock(s);
	return err;
}

int bext_store__obj_put(struct bext_store *s, uint32_t id)
{
	struct bext_reg_entry *e;
	int err;

	err = reg_lock(s);
	if (err)
		return err;
	e = find_slot(s, id);
	if (!e || e->state != BEXT_OBJ_LIVE || e->refcnt == 0) {
		err = -ENOENT;
	} else {
		struct redo_batch b = {0};

		/* a user reference; one put too many takes an object's reference instead */
		if (e->urefcnt)
			batch_add(&b, &e->urefcnt, e->urefcnt - 1);
		batch_drop_ref(s, &b, id);
		batch_commit(s, &b);
		/* the last user reference of a program array: empty it (cycle break) */
		if (e->state == BEXT_OBJ_LIVE && !e->urefcnt &&
		    (e->obj_flags & BEXT_OBJF_UREF_CLEARS_SLOTS))
			drop_slot_refs(s, id);
		reap_dying(s);
		bump_generation(s);
	}
	reg_unlock(s);
	return err;
}

uint32_t bext_store__generation(const struct bext_store *s)
{
	return __atomic_load_n(&s->hdr->generation, __ATOMIC_ACQUIRE);
}

const uint32_t *bext_store__generation_word(const struct bext_store *s)
{
	return &s->hdr->generation;
}

int bext_store__wait_generation(struct bext_store *s, uint32_t seen, int timeout_ms)
{
	int r;

	if (bext_store__generation(s) != seen)
		return 0;
	r = bext_futex_wait(&s->hdr->generation, seen, timeout_ms);
	return r == -EINTR ? 0 : r; /* a signal: the caller looks again, as on a wake-up */
}

/* ---- programs and links ---------------------------------------------------------- */

struct blob_init_ctx {
	const void *a;
	size_t alen;
	const void *b;
	size_t blen;
};

static int blob_init(void *payload, uint64_t size, void *ctx)
{
	struct blob_init_ctx *c = ctx;

	if (c->alen + c->blen > size)
		return -EFAULT;
	memcpy(payload, c->a, c->alen);
	if (c->blen)
		memcpy((char *)payload + c->alen, c->b, c->blen);
	return 0;
}

int bext_store__create_prog(struct bext_store *s, const struct bext_prog_create_opts *o)
{
	struct bext_obj_desc d = {0};
	struct blob_init_ctx c;
	struct prog_blob pb = {0};

	if (!o || o->sz < offsetof(struct bext_prog_create_opts, nr_maps) + sizeof(uint32_t) ||
	    (!o->insns && o->insn_cnt) || (!o->map_ids && o->nr_maps))
		return -EINVAL;
	if (o->insn_cnt > 1000000)
		return -E2BIG;
	pb.prog_type = o->prog_type;
	pb.insn_cnt = o->insn_cnt;
	if (o->license)
		strncpy(pb.license, o->license, sizeof(pb.license) - 1);
	if (o->attach_hint)
		strncpy(pb.attach_hint, o->attach_hint, sizeof(pb.attach_hint) - 1);
	c = (struct blob_init_ctx){&pb, sizeof(pb), o->insns, (size_t)o->insn_cnt * 8};
	d.kind = BEXT_OBJ_PROG;
	d.type = o->prog_type;
	d.name = o->name;
	d.refs = o->map_ids;
	d.nr_refs = o->nr_maps;
	d.payload_size = sizeof(pb) + (uint64_t)o->insn_cnt * 8;
	d.init = blob_init;
	d.ctx = &c;
	return bext_store_create_obj(s, &d);
}

int bext_store__create_link(struct bext_store *s, const struct bext_link_create_opts *o)
{
	struct bext_obj_desc d = {0};
	struct blob_init_ctx c;
	struct link_blob lb = {0};

	if (!o || o->sz < offsetof(struct bext_link_create_opts, cookie) + sizeof(uint64_t))
		return -EINVAL;
	lb.prog_id = o->prog_id;
	lb.attach_type = o->attach_type;
	lb.pid = o->pid;
	lb.cookie = o->cookie;
	if (o->target)
		strncpy(lb.target, o->target, sizeof(lb.target) - 1);
	c = (struct blob_init_ctx){&lb, sizeof(lb), NULL, 0};
	d.kind = BEXT_OBJ_LINK;
	d.type = o->attach_type;
	d.refs = &o->prog_id;
	d.nr_refs = 1;
	d.payload_size = sizeof(lb);
	d.init = blob_init;
	d.ctx = &c;
	return bext_store_create_obj(s, &d);
}

/* Reads the payload of a live object of @kind into a malloc'd buffer. */
static int read_payload(struct bext_store *s, uint32_t id, enum bext_obj_kind kind, void **buf,
			uint64_t *len, uint32_t **refs, uint32_t *nr_refs)
{
	struct bext_seg_hdr sh;
	int fd, err = 0;

	*buf = NULL;
	fd = bext_store_open_obj_fd(s, id, kind, NULL);
	if (fd < 0)
		return fd;
	if (pread(fd, &sh, sizeof(sh), 0) != sizeof(sh) || sh.magic != BEXT_SEG_MAGIC ||
	    sh.payload_size > (1ULL << 32) || sh.nr_refs > 65536) {
		err = -EBADMSG;
		goto out;
	}
	*buf = malloc(sh.payload_size ? sh.payload_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	if (pread(fd, *buf, sh.payload_size, (off_t)sh.payload_off) != (ssize_t)sh.payload_size) {
		err = -EBADMSG;
		goto out;
	}
	*len = sh.payload_size;
	if (refs) {
		*refs = malloc(sh.nr_refs * sizeof(uint32_t) + 1);
		if (!*refs) {
			err = -ENOMEM;
			goto out;
		}
		if (pread(fd, *refs, sh.nr_refs * 4, (off_t)sh.refs_off) !=
		    (ssize_t)sh.nr_refs * 4) {
			free(*refs);
			*refs = NULL;
			err = -EBADMSG;
			goto out;
		}
		*nr_refs = sh.nr_refs;
	}
out:
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return err;
}

int bext_store__prog_read(struct bext_store *s, uint32_t id, struct bext_prog_data *d)
{
	struct prog_blob *pb;
	uint64_t len;
	void *buf;
	int err;

	memset(d, 0, sizeof(*d));
	err = read_payload(s, id, BEXT_OBJ_PROG, &buf, &len, &d->map_ids, &d->nr_maps);
	if (err)
		return err;
	pb = buf;
	if (len < sizeof(*pb) || len - sizeof(*pb) < (uint64_t)pb->insn_cnt * 8) {
		err = -EBADMSG;
		goto err_free;
	}
	d->prog_type = pb->prog_type;
	d->insn_cnt = pb->insn_cnt;
	memcpy(d->license, pb->license, sizeof(d->license));
	d->license[sizeof(d->license) - 1] = 0;
	memcpy(d->attach_hint, pb->attach_hint, sizeof(d->attach_hint));
	d->attach_hint[sizeof(d->attach_hint) - 1] = 0;
	d->insns = malloc((size_t)pb->insn_cnt * 8 + 1);
	if (!d->insns) {
		err = -ENOMEM;
		goto err_free;
	}
	memcpy(d->insns, pb + 1, (size_t)pb->insn_cnt * 8);
	free(buf);
	return 0;
err_free:
	free(buf);
	bext_prog_data__free(d);
	return err;
}

void bext_prog_data__free(struct bext_prog_data *d)
{
	if (!d)
		return;
	free(d->insns);
	free(d->map_ids);
	d->insns = NULL;
	d->map_ids = NULL;
}

int bext_store__link_read(struct bext_store *s, uint32_t id, struct bext_link_data *d)
{
	struct link_blob *lb;
	uint64_t len;
	void *buf;
	int err;

	err = read_payload(s, id, BEXT_OBJ_LINK, &buf, &len, NULL, NULL);
	if (err)
		return err;
	lb = buf;
	if (len < sizeof(*lb)) {
		free(buf);
		return -EBADMSG;
	}
	memset(d, 0, sizeof(*d));
	d->prog_id = lb->prog_id;
	d->attach_type = lb->attach_type;
	d->pid = lb->pid;
	d->cookie = lb->cookie;
	memcpy(d->target, lb->target, sizeof(d->target));
	d->target[sizeof(d->target) - 1] = 0;
	free(buf);
	return 0;
}

/* ---- one object's segment ------------------------------------------------------------ */

int bext_store__obj_seg_path(const struct bext_store *s, uint32_t id, char *buf, size_t len)
{
	int n;

	if (!s || !buf || !len)
		return -EINVAL;
	n = snprintf(buf, len, "%s/obj-%u", s->dir, id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * What a reader relies on before it maps or reads a segment: the file is
 * there, has the size the registry recorded, and its header names this
 * object. The payload itself is the kind's business (maps check theirs).
 */
int bext_store__obj_check(struct bext_store *s, uint32_t id, char *why, size_t why_len)
{
	struct bext_reg_entry *e, ent;
	struct bext_seg_hdr sh;
	struct stat st;
	char name[32], path[4200];
	char dummy[1];
	int fd, err;

	if (!why || !why_len) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	why[0] = 0;
	if (!s)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/obj-%u", s->dir, id);
	err = reg_lock(s);
	if (err)
		return err;
	e = find_slot(s, id);
	if (!e || e->state != BEXT_OBJ_LIVE) {
		reg_unlock(s);
		snprintf(why, why_len, "no object %u", id);
		return -ENOENT;
	}
	ent = *e;
	seg_name(name, sizeof(name), id);
	fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	reg_unlock(s);
	if (fd < 0) {
		snprintf(why, why_len, "segment %s is %s", path,
			 err == -ENOENT ? "missing" : strerror(-err));
		return err == -ENOENT ? -EBADMSG : err;
	}
	err = -EBADMSG;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		snprintf(why, why_len, "segment %s: %s", path, strerror(errno));
	} else if ((uint64_t)st.st_size != ent.seg_size) {
		snprintf(why, why_len, "segment %s is corrupt: %lld bytes, the registry says %llu",
			 path, (long long)st.st_size, (unsigned long long)ent.seg_size);
	} else if (pread(fd, &sh, sizeof(sh), 0) != (ssize_t)sizeof(sh) ||
		   sh.magic != BEXT_SEG_MAGIC) {
		snprintf(why, why_len, "segment %s is corrupt: no segment header", path);
	} else if (sh.id != id || sh.kind != ent.kind ||
		   sh.layout_version != BEXT_STORE_LAYOUT_VERSION) {
		snprintf(why, why_len,
			 "segment %s is corrupt: its header says object %u kind %u version %u",
			 path, sh.id, sh.kind, sh.layout_version);
	} else if (sh.payload_off > ent.seg_size ||
		   sh.payload_size > ent.seg_size - sh.payload_off || sh.refs_off > ent.seg_size ||
		   (uint64_t)sh.nr_refs * 4 > ent.seg_size - sh.refs_off) {
		snprintf(why, why_len,
			 "segment %s is corrupt: payload or references out of the file", path);
	} else {
		err = 0;
	}
	close(fd);
	return err;
}

/* ---- consistency check --------------------------------------------------------------- */

int bext_store__check(struct bext_store *s)
{
	uint32_t i, j, live = 0;
	int err, bad = 0;

	err = reg_lock(s);
	if (err)
		return err;
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];
		char name[32];
		struct stat st;
		bool present;

		if (e->state == BEXT_OBJ_FREE)
			continue;
		if (e->state != BEXT_OBJ_LIVE) {
			pr_warn("check: entry %u (id %u) in state %u outside the lock\n", i, e->id,
				e->state);
			bad++;
			continue;
		}
		live++;
		if (e->id == 0 || e->id >= s->hdr->next_id) {
			pr_warn("check: entry %u has id %u outside [1, %u)\n", i, e->id,
				s->hdr->next_id);
			bad++;
		}
		if (e->refcnt == 0) {
			pr_warn("check: live object %u has refcnt 0\n", e->id);
			bad++;
		}
		if (e->urefcnt > e->refcnt) {
			pr_warn("check: object %u has %u user references but refcnt %u\n", e->id,
				e->urefcnt, e->refcnt);
			bad++;
		}
		if (uref_gone_with_slots(s, e)) {
			pr_warn(
			    "check: object %u has no user reference but holds slot references\n",
			    e->id);
			bad++;
		}
		for (j = i + 1; j < s->hdr->max_objects; j++) {
			if (s->entries[j].state != BEXT_OBJ_FREE && s->entries[j].id == e->id) {
				pr_warn("check: id %u appears twice\n", e->id);
				bad++;
			}
		}
		seg_name(name, sizeof(name), e->id);
		present = fstatat(s->dir_fd, name, &st, 0) == 0;
		if (!present || (uint64_t)st.st_size != e->seg_size) {
			pr_warn("check: segment of object %u missing or wrong size\n", e->id);
			bad++;
		}
	}
	if (live != s->hdr->nr_live) {
		pr_warn("check: %u live objects but nr_live says %u\n", live, s->hdr->nr_live);
		bad++;
	}
	/* Segment files without a live entry are leftovers. */
	{
		DIR *d;
		struct dirent *de;
		int dfd = dup(s->dir_fd);

		d = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (d) {
			rewinddir(d);
			while ((de = readdir(d))) {
				unsigned int id;
				struct bext_reg_entry *e;

				if (sscanf(de->d_name, "obj-%u", &id) != 1)
					continue;
				e = find_slot(s, id);
				if (!e || e->state != BEXT_OBJ_LIVE) {
					pr_warn("check: stray segment %s\n", de->d_name);
					bad++;
				}
			}
			closedir(d);
		} else if (dfd >= 0) {
			close(dfd);
		}
	}
	reg_unlock(s);
	return bad ? -EUCLEAN : 0;
}

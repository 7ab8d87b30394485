/* SPDX-License-Identifier: MIT */
/*
 * hashtab.c - BPF_MAP_TYPE_{HASH,PERCPU_HASH,LRU_HASH,LRU_PERCPU_HASH}.
 *
 * Data: [buckets][freelists][elements]. All elements are preallocated
 * (max_entries + nr_cpus spares so that replacing a key in a full map works,
 * as the kernel's extra elements); a key count enforces max_entries.
 *
 *   bucket   { lock (owner tid), head }         head/next: elem index + 1, or
 *   freelist { lock, head } x nr_cpus           NULLS|bucket at a chain's end
 *   element  { next, fl_next, hash, state, lru_ref, pad, key, value(s) }
 *
 * Locking order: bucket lock -> (victim bucket, trylock only) -> freelist lock.
 * Lookups take no lock: they walk `next` with acquire loads; an element that
 * is freed and reused while a reader stands on it leads the reader into
 * another chain, which ends on another bucket's NULLS marker, and the reader
 * restarts (the kernel's hlist_nulls idea). Like the kernel's preallocated
 * maps, a pointer returned by lookup may see its element reused after a
 * concurrent delete.
 *
 * Updates of an existing key in a (non-per-CPU) map link a fully written new
 * element before unlinking the old one, so readers never see a torn value;
 * 4- and 8-byte values (no spin lock) are instead stored in place with one
 * atomic store under an element pin, without the bucket lock ("pins" below).
 * Per-CPU maps update their slots in place (as the kernel).
 *
 * Crash safety. Element state: FREE (in a freelist), LINKED, PIN | tid
 * (linked, an in-place writer is storing into it), or the tid of the thread
 * moving it. Every list change is a single store, and state
 * changes are ordered so that:
 *  - a freelist lock taken over from a dead owner is repaired by marking every
 *    element on the list FREE (the dead pop had not unlinked it yet);
 *  - a bucket lock taken over from a dead owner is repaired by marking every
 *    element on the chain LINKED and unlinking later duplicates of a key (a
 *    replace that died between link-new and unlink-old);
 *  - an element left in flight by a dead thread (popped but not linked,
 *    unlinked but not freed) is found by reclaim_dead(), which runs when the
 *    freelists run dry, and is linked-marked or freed again.
 * The key count may be off by one per crash inside a bucket critical section.
 */
#include <stdio.h>
#include <stdlib.h>

#include "maps_internal.h"

#define NULLS_BIT 0x80000000u
#define ELEM_FREE 0u
#define ELEM_LINKED 0xffffffffu
/* ELEM_PIN | tid: linked, held by a lock-free in-place writer (tids < 2^22) */
#define ELEM_PIN 0x80000000u
#define FL_END 0u
#define HTAB_ELEM_HDR 24u
#define HTAB_LINE 64u

struct htab_bucket {
	uint32_t lock;
	uint32_t head;
};
static_assert(sizeof(struct htab_bucket) == 8, "bucket layout");

struct htab_freelist {
	uint32_t lock;
	uint32_t head;
	uint8_t pad[56];
};
static_assert(sizeof(struct htab_freelist) == 64, "freelist layout");

struct htab_elem {
	uint32_t next;
	uint32_t fl_next;
	uint32_t hash;
	uint32_t state;
	uint32_t lru_ref;
	uint32_t pad;
	uint8_t key[];
};
static_assert(sizeof(struct htab_elem) == HTAB_ELEM_HDR, "element layout");

static bool type_lru(uint32_t t)
{
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool type_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int htab_check_attr(const struct bext_map_create_opts *o)
{
	bool lru = type_lru(o->map_type), percpu = type_percpu(o->map_type);
	uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
			   BEXT_ACCESS_FLAGS | BPF_F_ZERO_SEED;

	if (o->map_flags & ~allowed)
		return -EINVAL;
	if ((o->map_flags & BPF_F_NO_COMMON_LRU) && !lru)
		return -EINVAL;
	if (lru && (o->map_flags & BPF_F_NO_PREALLOC))
		return -BEXT_ENOTSUPP;
	if (o->max_entries == 0 || o->key_size == 0 || o->value_size == 0)
		return -EINVAL;
	/* recent kernels dropped the MAX_BPF_STACK key limit: only the element size counts */
	if ((uint64_t)o->key_size + o->value_size >= BEXT_KMALLOC_MAX - 64)
		return -E2BIG;
	if (percpu && round_up8(o->value_size) > BEXT_PCPU_MIN_UNIT)
		return -E2BIG;
	if (o->max_entries > (1u << 30))
		return -E2BIG;
	return 0;
}

static uint32_t roundup_pow2(uint32_t x)
{
	uint32_t r = 1;

	while (r < x)
		r <<= 1;
	return r;
}

static uint64_t htab_layout(struct bext_map_hdr *h)
{
	struct htab_shared *hs = &h->h;
	uint64_t vsz = round_up8(h->value_size);

	if (type_percpu(h->map_type))
		vsz *= h->nr_cpus;
	hs->n_buckets = roundup_pow2(h->max_entries);
	hs->elem_size = HTAB_ELEM_HDR + round_up8(h->key_size) + (uint32_t)vsz;
	/*
	 * Elements of up to a cache line get a whole line each (they start
	 * 64-aligned: elems_off is): no element straddles two lines and no two
	 * elements share one, so an update moves exactly one line between CPUs.
	 */
	if (hs->elem_size <= HTAB_LINE)
		hs->elem_size = HTAB_LINE;
	hs->nr_elems = h->max_entries + h->nr_cpus;
	hs->nr_freelists = h->nr_cpus;
	hs->seed = (h->map_flags & BPF_F_ZERO_SEED) ? 0 : bext_random_seed();
	hs->buckets_off = 0;
	hs->freelists_off = ((uint64_t)hs->n_buckets * sizeof(struct htab_bucket) + 63) & ~63ULL;
	hs->elems_off =
	    hs->freelists_off + (uint64_t)hs->nr_freelists * sizeof(struct htab_freelist);
	return hs->elems_off + (uint64_t)hs->nr_elems * hs->elem_size;
}

static void htab_init(struct bext_map_hdr *h, uint8_t *data)
{
	struct htab_shared *hs = &h->h;
	struct htab_bucket *b = (struct htab_bucket *)(data + hs->buckets_off);
	struct htab_freelist *fl = (struct htab_freelist *)(data + hs->freelists_off);
	uint32_t i;

	for (i = 0; i < hs->n_buckets; i++)
		b[i].head = NULLS_BIT | i;
	/*
	 * Each freelist gets a contiguous run of elements, popped in index
	 * order: keys a CPU inserts sit next to each other, not interleaved
	 * with another CPU's, so two CPUs updating their own keys share no
	 * cache line, not even through the adjacent-line prefetcher.
	 */
	for (i = hs->nr_elems; i-- > 0;) {
		struct htab_elem *e =
		    (struct htab_elem *)(data + hs->elems_off + (uint64_t)i * hs->elem_size);
		struct htab_freelist *f = &fl[(uint64_t)i * hs->nr_freelists / hs->nr_elems];

		e->next = NULLS_BIT | 0x7fffffffu;
		e->fl_next = f->head;
		e->state = ELEM_FREE;
		f->head = i + 1;
	}
}

static void hom_open_sweep(struct bext_map *m);

static int htab_open(struct bext_map *m, int fd)
{
	struct htab_shared *hs = &m->hdr->h;

	(void)fd;
	if (hs->n_buckets == 0 || (hs->n_buckets & (hs->n_buckets - 1)) ||
	    hs->elems_off + (uint64_t)hs->nr_elems * hs->elem_size > m->hdr->data_size ||
	    hs->nr_freelists == 0)
		return -EBADMSG;
	m->h.bucket_mask = hs->n_buckets - 1;
	m->h.elem_size = hs->elem_size;
	m->h.nr_elems = hs->nr_elems;
	m->h.seed = hs->seed;
	m->h.buckets = (struct htab_bucket *)(m->data + hs->buckets_off);
	m->h.freelists = (struct htab_freelist *)(m->data + hs->freelists_off);
	m->h.elems = m->data + hs->elems_off;
	m->h.nr_freelists = hs->nr_freelists;
	m->h.lru = type_lru(m->type);
	m->h.percpu = type_percpu(m->type);
	m->h.inplace =
	    !m->h.percpu && !m->hdr->has_spin_lock && (m->value_size == 8 || m->value_size == 4);
	m->h.refslots = NULL;
	if (m->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		uint64_t off = bext_hom_refslots_off(hs);

		/* maps created before element slot references existed have none */
		if (off + (uint64_t)hs->nr_elems * 4 <= m->hdr->data_size) {
			m->h.refslots = (uint32_t *)(m->data + off);
			hom_open_sweep(m);
		}
	}
	return 0;
}

static inline struct htab_elem *elem_at(struct bext_map *m, uint32_t ref)
{
	return (struct htab_elem *)(m->h.elems + (uint64_t)(ref - 1) * m->h.elem_size);
}

static inline uint32_t elem_ref(struct bext_map *m, struct htab_elem *e)
{
	return (uint32_t)(((uint8_t *)e - m->h.elems) / m->h.elem_size) + 1;
}

static inline bool ref_valid(struct bext_map *m, uint32_t ref)
{
	return ref >= 1 && ref <= m->h.nr_elems;
}

static inline void *elem_value(struct bext_map *m, struct htab_elem *e)
{
	return e->key + round_up8(m->key_size);
}

static inline void *elem_cpu_value(struct bext_map *m, struct htab_elem *e, uint32_t cpu)
{
	return (uint8_t *)elem_value(m, e) + (uint64_t)cpu * m->value_stride;
}

static inline uint32_t htab_hash(struct bext_map *m, const void *key)
{
	/* constant lengths let the compiler unroll the common key sizes */
	switch (m->key_size) {
	case 4:
		return bext_hash_bytes(key, 4, m->h.seed);
	case 8:
		return bext_hash_bytes(key, 8, m->h.seed);
	case 16:
		return bext_hash_bytes(key, 16, m->h.seed);
	default:
		return bext_hash_bytes(key, m->key_size, m->h.seed);
	}
}

static inline bool key_eq(const struct bext_map *m, const void *a, const void *b)
{
	switch (m->key_size) {
	case 4:
		return !memcmp(a, b, 4);
	case 8:
		return !memcmp(a, b, 8);
	default:
		return !memcmp(a, b, m->key_size);
	}
}

/* ---- pins: lock-free in-place updates --------------------------------------------
 * An in-place writer (4/8-byte values, existing key) does not take the bucket
 * lock, so it never waits for a holder that was preempted (or descheduled by
 * other load): it walks the chain comparing hashes, pins the element whose
 * hash matches (state LINKED -> PIN|tid with a CAS), checks that it still
 * holds the key, stores the value atomically and unpins (state LINKED
 * again). Elements of other keys are only read, never pinned, so CPUs
 * updating their own keys write no line in common even where their keys
 * share a chain. Anything unusual (an element not LINKED, a chain longer
 * than 8, a walk led into another chain by a reuse) sends it to the locked
 * path. Everyone who takes a
 * linked element out of its chain (delete, replace, eviction, batch delete, duplicate repair) first
 * claims it with elem_claim(), which waits while a pin is held, so a pinned
 * element is never unlinked or reused under its writer. A pin of a dead task
 * is taken over by elem_claim() and turned back into LINKED by
 * reclaim_dead(); repair_bucket() leaves pins alone.
 */
static inline bool st_pinned(uint32_t st)
{
	return st != ELEM_LINKED && (st & ELEM_PIN);
}

/* The task an in-flight state names (the pinner for a pin). */
static inline uint32_t st_owner(uint32_t st)
{
	return st_pinned(st) ? st & ~ELEM_PIN : st;
}

/* Takes a linked element (its bucket locked by the caller) for unlinking: state = @me. */
static void elem_claim(struct htab_elem *e, uint32_t me)
{
	unsigned int spins = 0;

	for (;;) {
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

		if (!st_pinned(st)) {
			if (__atomic_compare_exchange_n(&e->state, &st, me, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				return;
			continue;
		}
		if (++spins < 128) {
			__builtin_ia32_pause();
			continue;
		}
		sched_yield();
		if ((spins & 255) == 0 && bext_task_dead(st_owner(st)) &&
		    __atomic_compare_exchange_n(&e->state, &st, me, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return;
	}
}

static inline uint32_t value_u32(const void *value)
{
	uint32_t v;

	memcpy(&v, value, 4);
	return v;
}

/* ---- freelists ---------------------------------------------------------------------- */

static void repair_freelist(struct bext_map *m, struct htab_freelist *f)
{
	uint32_t ref = f->head, steps = 0;
	uint32_t *prevp = &f->head;

	while (ref != FL_END) {
		struct htab_elem *e;

		if (!ref_valid(m, ref) || ++steps > m->h.nr_elems) {
			pr_warn("map %u: freelist corrupt, truncating\n", m->id);
			*prevp = FL_END;
			return;
		}
		e = elem_at(m, ref);
		e->state = ELEM_FREE;
		prevp = &e->fl_next;
		ref = e->fl_next;
	}
}

static void fl_lock(struct bext_map *m, struct htab_freelist *f)
{
	if (bext_shm_lock(&f->lock))
		repair_freelist(m, f);
}

/* Pops a free element, marked as ours (state = tid). */
static struct htab_elem *fl_pop_one(struct bext_map *m, struct htab_freelist *f, uint32_t me)
{
	struct htab_elem *e = NULL;
	uint32_t ref;

	if (__atomic_load_n(&f->head, __ATOMIC_RELAXED) == FL_END)
		return NULL;
	fl_lock(m, f);
	ref = f->head;
	if (ref != FL_END && ref_valid(m, ref)) {
		e = elem_at(m, ref);
		__atomic_store_n(&e->state, me, __ATOMIC_RELAXED);
		__atomic_store_n(&f->head, e->fl_next, __ATOMIC_RELEASE);
	}
	bext_shm_unlock(&f->lock);
	return e;
}

/* The calling CPU's freelist (nr_freelists == nr_cpus: no division normally). */
static inline uint32_t fl_home(struct bext_map *m)
{
	uint32_t c = bext_cur_cpu(m);

	return __builtin_expect(c < m->h.nr_freelists, 1) ? c : c % m->h.nr_freelists;
}

/*
 * Pops a free element, starting with the calling CPU's list. With @keep the
 * list the element came from stays locked and is returned there, so a
 * replace can give the old element back under the same lock (one lock round
 * trip instead of two).
 */
static struct htab_elem *fl_pop(struct bext_map *m, struct htab_freelist **keep)
{
	uint32_t me = bext_tid(), n = m->h.nr_freelists, idx = fl_home(m), i;

	for (i = 0; i < n; i++, idx = idx + 1 == n ? 0 : idx + 1) {
		struct htab_freelist *f = &m->h.freelists[idx];
		struct htab_elem *e;

		if (!keep) {
			e = fl_pop_one(m, f, me);
			if (e)
				return e;
			continue;
		}
		if (__atomic_load_n(&f->head, __ATOMIC_RELAXED) == FL_END)
			continue;
		fl_lock(m, f);
		if (f->head != FL_END && ref_valid(m, f->head)) {
			e = elem_at(m, f->head);
			__atomic_store_n(&e->state, me, __ATOMIC_RELAXED);
			__atomic_store_n(&f->head, e->fl_next, __ATOMIC_RELEASE);
			*keep = f;
			return e;
		}
		bext_shm_unlock(&f->lock);
	}
	return NULL;
}

/* Gives @e (state: our tid, on no list) back to @f, which the caller has locked. */
static void fl_push_locked(struct bext_map *m, struct htab_freelist *f, struct htab_elem *e)
{
	e->fl_next = f->head;
	__atomic_store_n(&f->head, elem_ref(m, e), __ATOMIC_RELEASE);
	__atomic_store_n(&e->state, ELEM_FREE, __ATOMIC_RELEASE);
}

static void fl_push(struct bext_map *m, struct htab_elem *e)
{
	struct htab_freelist *f = &m->h.freelists[fl_home(m)];

	fl_lock(m, f);
	e->fl_next = f->head;
	__atomic_store_n(&f->head, elem_ref(m, e), __ATOMIC_RELEASE);
	__atomic_store_n(&e->state, ELEM_FREE, __ATOMIC_RELEASE);
	bext_shm_unlock(&f->lock);
}

static bool on_some_freelist(struct bext_map *m, uint32_t ref)
{
	uint32_t i;

	for (i = 0; i < m->h.nr_freelists; i++) {
		struct htab_freelist *f = &m->h.freelists[i];
		uint32_t r, steps = 0;
		bool found = false;

		fl_lock(m, f);
		for (r = f->head; r != FL_END && ref_valid(m, r) && steps <= m->h.nr_elems;
		     r = elem_at(m, r)->fl_next, steps++) {
			if (r == ref) {
				found = true;
				break;
			}
		}
		bext_shm_unlock(&f->lock);
		if (found)
			return true;
	}
	return false;
}

/* ---- buckets -------------------------------------------------------------------------- */

static void repair_bucket(struct bext_map *m, struct htab_bucket *b, uint32_t bidx)
{
	uint32_t *prevp = &b->head, ref, steps = 0, me = bext_tid();

	pr_info("map %u: repairing bucket %u after its lock owner died\n", m->id, bidx);
	while (!((ref = *prevp) & NULLS_BIT)) {
		struct htab_elem *e, *x;
		uint32_t r2;
		bool dup = false;

		if (!ref_valid(m, ref) || ++steps > m->h.nr_elems) {
			*prevp = NULLS_BIT | bidx;
			return;
		}
		e = elem_at(m, ref);
		/* Is this key already present earlier in the chain? */
		for (r2 = b->head; r2 != ref; r2 = x->next) {
			x = elem_at(m, r2);
			if (x->hash == e->hash && key_eq(m, x->key, e->key)) {
				dup = true;
				break;
			}
		}
		if (dup) {
			elem_claim(e, me);
			__atomic_store_n(prevp, e->next, __ATOMIC_RELEASE);
			fl_push(m, e);
			continue;
		}
		if (!st_pinned(__atomic_load_n(&e->state, __ATOMIC_ACQUIRE)))
			e->state = ELEM_LINKED;
		prevp = &e->next;
	}
	if ((ref & ~NULLS_BIT) != bidx)
		*prevp = NULLS_BIT | bidx;
}

static struct htab_bucket *bucket_lock(struct bext_map *m, uint32_t hash)
{
	uint32_t bidx = hash & m->h.bucket_mask;
	struct htab_bucket *b = &m->h.buckets[bidx];

	if (bext_shm_lock(&b->lock))
		repair_bucket(m, b, bidx);
	return b;
}

/* Finds @key in a locked bucket; *prevp_out gets the link pointing at it. */
static struct htab_elem *bucket_find(struct bext_map *m, struct htab_bucket *b, uint32_t hash,
				     const void *key, uint32_t **prevp_out)
{
	uint32_t *prevp = &b->head, ref;

	while (!((ref = *prevp) & NULLS_BIT)) {
		struct htab_elem *e = elem_at(m, ref);

		if (e->hash == hash && key_eq(m, e->key, key)) {
			if (prevp_out)
				*prevp_out = prevp;
			return e;
		}
		prevp = &e->next;
	}
	return NULL;
}

static uint32_t *bucket_prev_of(struct bext_map *m, struct htab_bucket *b, struct htab_elem *t)
{
	uint32_t *prevp = &b->head, ref, steps = 0;

	while (!((ref = *prevp) & NULLS_BIT) && steps++ <= m->h.nr_elems) {
		struct htab_elem *e = elem_at(m, ref);

		if (e == t)
			return prevp;
		prevp = &e->next;
	}
	return NULL;
}

/* ---- lookup ---------------------------------------------------------------------------- */

static struct htab_elem *htab_find_hashed(struct bext_map *m, const void *key, uint32_t hash)
{
	uint32_t bidx = hash & m->h.bucket_mask, ref, steps;
	int restarts = 0;

again:
	steps = 0;
	ref = __atomic_load_n(&m->h.buckets[bidx].head, __ATOMIC_ACQUIRE);
	while (!(ref & NULLS_BIT)) {
		struct htab_elem *e;

		if (!ref_valid(m, ref) || ++steps > m->h.nr_elems)
			goto restart;
		e = elem_at(m, ref);
		if (e->hash == hash && key_eq(m, e->key, key))
			return e;
		ref = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
	}
	if ((ref & ~NULLS_BIT) == bidx)
		return NULL;
restart:
	/* We were led into another chain by a concurrent reuse: start over. */
	if (++restarts < 1000)
		goto again;
	return NULL;
}

static struct htab_elem *htab_find_lockless(struct bext_map *m, const void *key)
{
	return htab_find_hashed(m, key, htab_hash(m, key));
}

static void *htab_lookup(struct bext_map *m, const void *key)
{
	struct htab_elem *e = htab_find_lockless(m, key);

	if (!e)
		return NULL;
	if (m->h.lru && !__atomic_load_n(&e->lru_ref, __ATOMIC_RELAXED))
		__atomic_store_n(&e->lru_ref, 1, __ATOMIC_RELAXED);
	if (m->h.percpu)
		return elem_cpu_value(m, e, bext_cur_cpu(m));
	return elem_value(m, e);
}

static void *htab_lookup_percpu(struct bext_map *m, const void *key, uint32_t cpu)
{
	struct htab_elem *e;

	if (!m->h.percpu)
		return NULL;
	e = htab_find_lockless(m, key);
	return e ? elem_cpu_value(m, e, cpu) : NULL;
}

static void copy_out(struct bext_map *m, struct htab_elem *e, void *value)
{
	uint32_t cpu;

	if (!m->h.percpu) {
		memcpy(value, elem_value(m, e), m->value_size);
		return;
	}
	for (cpu = 0; cpu < m->nr_cpus; cpu++)
		memcpy((uint8_t *)value + cpu * m->value_stride, elem_cpu_value(m, e, cpu),
		       m->value_stride);
}

static int htab_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	struct htab_bucket *b;
	struct htab_elem *e;
	uint32_t hash = htab_hash(m, key);

	/* The syscall path copies under the bucket lock: no torn values. */
	b = bucket_lock(m, hash);
	e = bucket_find(m, b, hash, key, NULL);
	if (e) {
		if (m->h.lru)
			__atomic_store_n(&e->lru_ref, 1, __ATOMIC_RELAXED);
		copy_out(m, e, value);
	}
	bext_shm_unlock(&b->lock);
	return e ? 0 : -ENOENT;
}

/* Takes one unit of the key count if below max_entries. */
static bool count_try_inc(struct bext_map *m)
{
	uint32_t c = __atomic_load_n(&m->hdr->h.count, __ATOMIC_RELAXED);

	do {
		if (c >= m->max_entries)
			return false;
	} while (!__atomic_compare_exchange_n(&m->hdr->h.count, &c, c + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/* Never below zero, whatever a crash left behind. */
static void count_dec(struct bext_map *m)
{
	uint32_t c = __atomic_load_n(&m->hdr->h.count, __ATOMIC_RELAXED);

	do {
		if (c == 0)
			return;
	} while (!__atomic_compare_exchange_n(&m->hdr->h.count, &c, c - 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

/* ---- allocation, LRU eviction, reclaim --------------------------------------------------- */

/*
 * CLOCK sweep over all elements: a looked-up element gets a second chance
 * (lru_ref cleared), others are evicted. Called with @own (bucket of the
 * caller) locked; other buckets are only try-locked, so no lock order issue.
 * @keep is never evicted (the element the caller is replacing).
 */
static struct htab_elem *lru_evict(struct bext_map *m, struct htab_bucket *own,
				   struct htab_elem *keep)
{
	uint32_t tries, limit = 3 * m->h.nr_elems + 64, me = bext_tid();

	for (tries = 0; tries < limit; tries++) {
		uint32_t idx =
		    __atomic_fetch_add(&m->hdr->h.clock_hand, 1, __ATOMIC_RELAXED) % m->h.nr_elems;
		struct htab_elem *e = elem_at(m, idx + 1);
		struct htab_bucket *vb;
		uint32_t *prevp;

		if (e == keep || __atomic_load_n(&e->state, __ATOMIC_RELAXED) != ELEM_LINKED)
			continue;
		if (__atomic_load_n(&e->lru_ref, __ATOMIC_RELAXED)) {
			__atomic_store_n(&e->lru_ref, 0, __ATOMIC_RELAXED);
			continue;
		}
		vb = &m->h.buckets[e->hash & m->h.bucket_mask];
		if (vb != own && !bext_shm_trylock(&vb->lock))
			continue;
		prevp = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == ELEM_LINKED
			    ? bucket_prev_of(m, vb, e)
			    : NULL;
		if (prevp) {
			uint32_t exp = ELEM_LINKED;

			/* a pinned element is being written: not a victim now */
			if (!__atomic_compare_exchange_n(&e->state, &exp, me, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				prevp = NULL;
		}
		if (prevp) {
			__atomic_store_n(prevp, e->next, __ATOMIC_RELEASE);
			count_dec(m);
		}
		if (vb != own)
			bext_shm_unlock(&vb->lock);
		if (prevp)
			return e;
	}
	return NULL;
}

/*
 * Elements whose state names a dead thread were in flight when it died:
 * mark them LINKED if they are on their chain, else give them back. Must not
 * be called with a bucket lock held.
 */
static uint32_t reclaim_dead(struct bext_map *m)
{
	uint32_t i, n = 0;

	for (i = 1; i <= m->h.nr_elems; i++) {
		struct htab_elem *e = elem_at(m, i);
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		struct htab_bucket *b;

		if (st == ELEM_FREE || st == ELEM_LINKED || !bext_task_dead(st_owner(st)))
			continue;
		b = bucket_lock(m, e->hash);
		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != st) {
			bext_shm_unlock(&b->lock);
			continue;
		}
		if (bucket_prev_of(m, b, e)) {
			/* linked (a dead pinner's element, or a dead inserter's) */
			__atomic_compare_exchange_n(&e->state, &st, ELEM_LINKED, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
			bext_shm_unlock(&b->lock);
			continue;
		}
		bext_shm_unlock(&b->lock);
		if (on_some_freelist(m, i)) {
			__atomic_compare_exchange_n(&e->state, &st, ELEM_FREE, false,
						    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
			continue;
		}
		if (__atomic_compare_exchange_n(&e->state, &st, bext_tid(), false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			fl_push(m, e);
			n++;
		}
	}
	if (n)
		pr_info("map %u: reclaimed %u elements left in flight by dead processes\n", m->id,
			n);
	return n;
}

/* ---- update / delete ------------------------------------------------------------------- */

static void fill_value(struct bext_map *m, struct htab_elem *e, const void *value, bool all_cpus,
		       bool fresh)
{
	uint32_t cpu, me;

	if (!m->h.percpu) {
		memcpy(elem_value(m, e), value, m->value_size);
		return;
	}
	if (all_cpus) {
		/* the kernel copies round_up(value_size, 8) bytes per CPU */
		for (cpu = 0; cpu < m->nr_cpus; cpu++)
			memcpy(elem_cpu_value(m, e, cpu),
			       (const uint8_t *)value + cpu * m->value_stride, m->value_stride);
		return;
	}
	me = bext_cur_cpu(m);
	for (cpu = 0; cpu < m->nr_cpus; cpu++) {
		if (cpu == me)
			memcpy(elem_cpu_value(m, e, cpu), value, m->value_size);
		else if (fresh)
			memset(elem_cpu_value(m, e, cpu), 0, m->value_stride);
	}
}

/*
 * Recounts linked keys. A crash can leave the count one too high (taken
 * before linking, or unlinked before giving it back); this runs when the map
 * looks full, so such drift never costs capacity for long. Every count change
 * happens under the bucket lock of the key it is for (taken before linking,
 * given back after unlinking, both before unlocking), so with all bucket
 * locks held (in index order; others only ever trylock a second bucket) no
 * thread is between a count change and its chain change, and the recount is
 * exact. Without that, a concurrent insert could be missed and the count end
 * up low, letting the map hold more than max_entries keys.
 */
static void recount(struct bext_map *m)
{
	uint32_t i, n = 0;

	for (i = 0; i <= m->h.bucket_mask; i++) {
		struct htab_bucket *b = &m->h.buckets[i];
		uint32_t ref, steps = 0;

		if (bext_shm_lock(&b->lock))
			repair_bucket(m, b, i);
		for (ref = b->head; !(ref & NULLS_BIT) && steps <= m->h.nr_elems;
		     ref = elem_at(m, ref)->next)
			steps++;
		n += steps;
	}
	__atomic_store_n(&m->hdr->h.count, n, __ATOMIC_RELAXED);
	for (i = 0; i <= m->h.bucket_mask; i++)
		bext_shm_unlock(&m->h.buckets[i].lock);
}

/* A 4- or 8-byte value in one atomic store: readers see the old or the new value. */
static inline void store_inplace(struct bext_map *m, struct htab_elem *e, const void *value)
{
	if (m->value_size == 8) {
		uint64_t v;

		memcpy(&v, value, 8);
		__atomic_store_n((uint64_t *)elem_value(m, e), v, __ATOMIC_RELAXED);
	} else {
		uint32_t v;

		memcpy(&v, value, 4);
		__atomic_store_n((uint32_t *)elem_value(m, e), v, __ATOMIC_RELAXED);
	}
}

/* The lock-free in-place update (see "pins" above); false: do it under the lock. */
static bool update_pinned(struct bext_map *m, const void *key, const void *value, uint32_t hash)
{
	uint32_t bidx = hash & m->h.bucket_mask, me = ELEM_PIN | bext_tid(), steps = 0;
	uint32_t ref = __atomic_load_n(&m->h.buckets[bidx].head, __ATOMIC_ACQUIRE);

	while (!(ref & NULLS_BIT) && ref_valid(m, ref) && ++steps <= 8) {
		struct htab_elem *e = elem_at(m, ref);
		uint32_t exp = ELEM_LINKED;
		bool match;

		/* another key's element is only read: writing it would pull its line away */
		if (__atomic_load_n(&e->hash, __ATOMIC_RELAXED) != hash) {
			ref = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
			continue;
		}
		if (!__atomic_compare_exchange_n(&e->state, &exp, me, false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			return false;
		match = e->hash == hash && key_eq(m, e->key, key);
		if (match) {
			store_inplace(m, e, value);
		}
		ref = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
		__atomic_store_n(&e->state, ELEM_LINKED, __ATOMIC_RELEASE);
		if (match)
			return true;
	}
	return false;
}

/*
 * Links the filled element @e (ours, bucket @b locked) into the chain: at
 * the head, or replacing @old (linked at *@old_prevp): @e goes in right
 * before it, then @old is claimed and leaves, so readers always find the
 * key. @old is then unlinked and ours.
 */
static void link_elem(struct bext_map *m, struct htab_bucket *b, struct htab_elem *e,
		      struct htab_elem *old, uint32_t *old_prevp)
{
	if (old) {
		e->next = elem_ref(m, old);
		__atomic_store_n(old_prevp, elem_ref(m, e), __ATOMIC_RELEASE);
		elem_claim(old, bext_tid());
		__atomic_store_n(&e->next, old->next, __ATOMIC_RELEASE);
	} else {
		e->next = b->head;
		__atomic_store_n(&b->head, elem_ref(m, e), __ATOMIC_RELEASE);
	}
	__atomic_store_n(&e->state, ELEM_LINKED, __ATOMIC_RELEASE);
}

/* ---- hash of maps: element slot references ------------------------------------------------
 *
 * m->h.refslots (hash of maps made since slot references exist): element i's
 * slot holds a store reference on the inner map id its value holds while it
 * is linked. A slot changes only through bext_store_set_slot_ref() (an intent
 * under the registry lock, finished by the next lock holder if the writer
 * dies inside it) and only while the writer owns the element, never under a
 * map lock (the registry lock never nests in one):
 *  - insert / replace: pop e, set its slot to the new id (the reference
 *    exists before anyone can see e), link e (a replace links it before the
 *    old element and unlinks that one, as for other value sizes: an in-place
 *    store could not change value and slot together), then empty the slot of
 *    the element that left and free it;
 *  - delete (also batches): unlink and claim, empty the slot, free.
 * So a linked element's slot always references its value. A writer killed
 * between the steps leaves an element in flight whose slot may hold a
 * reference nothing stands for: reclaim_dead() gives the element back
 * (FREE), then hom_sweep() empties every FREE element's slot (one registry
 * lock hold, each through an intent). The sweep runs when the map looks full
 * and when a process opens the map; removing the outer map drops all slots
 * anyway. Nothing is dropped twice, and nothing outlives the next sweep.
 */
static int hom_slot_set(struct bext_map *m, struct htab_elem *e, uint32_t id)
{
	uint32_t old;

	return bext_store_set_slot_ref(m->store, m->id, m->h.refslots, elem_ref(m, e) - 1, id,
				       BEXT_OBJ_MAP, &old);
}

/* Registry lock held: slot @idx belongs to an element on a freelist (no writer owns it). */
static bool hom_slot_stale(void *ctx, uint32_t idx)
{
	struct bext_map *m = ctx;

	return __atomic_load_n(&elem_at(m, idx + 1)->state, __ATOMIC_ACQUIRE) == ELEM_FREE;
}

/* Gives back the references free elements' slots still hold (dead writers'). */
static void hom_sweep(struct bext_map *m)
{
	uint32_t i;

	for (i = 0; i < m->h.nr_elems; i++)
		if (__atomic_load_n(&m->h.refslots[i], __ATOMIC_RELAXED) && hom_slot_stale(m, i))
			break;
	if (i == m->h.nr_elems)
		return;
	if (bext_store_sweep_slot_refs(m->store, m->id, m->h.refslots, m->h.nr_elems,
				       hom_slot_stale, m) > 0)
		pr_info("map %u: gave back inner map references left by dead writers\n", m->id);
}

/* At open: what dead writers left (elements in flight, their slots) goes now, not when full. */
static void hom_open_sweep(struct bext_map *m)
{
	reclaim_dead(m);
	hom_sweep(m);
}

/* Dead writers' leftovers when the map looks full: elements in flight, the count, slots. */
static void hom_reclaim(struct bext_map *m)
{
	reclaim_dead(m);
	recount(m);
	hom_sweep(m);
}

/* The error an update gets when no element is free: the kernel's order. */
static long hom_full_error(struct bext_map *m, const void *key, uint32_t hash, uint64_t flags)
{
	struct htab_bucket *b = bucket_lock(m, hash);
	struct htab_elem *old = bucket_find(m, b, hash, key, NULL);

	bext_shm_unlock(&b->lock);
	if (old && (flags & BPF_NOEXIST))
		return -EEXIST;
	if (!old && (flags & BPF_EXIST))
		return -ENOENT;
	return -E2BIG;
}

static long hom_update(struct bext_map *m, const void *key, const void *value, uint64_t flags)
{
	uint32_t hash = htab_hash(m, key), *old_prevp = NULL;
	bool repaired = false;
	struct htab_elem *old, *e;
	struct htab_bucket *b;
	long err;

retry:
	e = fl_pop(m, NULL);
	if (!e) {
		if (!repaired) {
			repaired = true;
			hom_reclaim(m);
			goto retry;
		}
		return hom_full_error(m, key, hash, flags);
	}
	/* the reference the element will stand for, taken before it is linked */
	err = hom_slot_set(m, e, value_u32(value));
	if (err) {
		fl_push(m, e); /* slot unchanged: if it still holds an id, the sweep drops it */
		return err;
	}
	e->hash = hash;
	e->lru_ref = 0;
	memcpy(e->key, key, m->key_size);
	memcpy(elem_value(m, e), value, 4);
	b = bucket_lock(m, hash);
	old = bucket_find(m, b, hash, key, &old_prevp);
	if (old && (flags & BPF_NOEXIST))
		err = -EEXIST;
	else if (!old && (flags & BPF_EXIST))
		err = -ENOENT;
	else if (!old && !count_try_inc(m)) /* taken before linking, as in htab_update */
		err = -E2BIG;
	if (err) {
		bext_shm_unlock(&b->lock);
		hom_slot_set(m, e, 0);
		fl_push(m, e);
		if (err == -E2BIG && !repaired) {
			repaired = true;
			hom_reclaim(m);
			goto retry;
		}
		return err;
	}
	link_elem(m, b, e, old, old_prevp);
	bext_shm_unlock(&b->lock);
	if (old) {
		hom_slot_set(m, old, 0); /* unlinked and ours */
		fl_push(m, old);
	}
	return 0;
}

static long htab_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
			bool all_cpus)
{
	uint32_t hash, *old_prevp = NULL;
	struct htab_elem *old, *e = NULL;
	struct htab_freelist *fl = NULL;
	struct htab_bucket *b;
	bool repaired = false, counted = false;
	long err = 0;

	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if ((flags & BPF_F_LOCK) && !m->has_lock)
		return -EINVAL;
	if (__builtin_expect(m->h.refslots != NULL, 0))
		return hom_update(m, key, value, flags);
	hash = htab_hash(m, key);
	if (m->h.inplace && !(flags & (BPF_NOEXIST | BPF_F_LOCK)) &&
	    update_pinned(m, key, value, hash))
		return 0;
retry:
	b = bucket_lock(m, hash);
	old = bucket_find(m, b, hash, key, &old_prevp);
	if (old && (flags & BPF_NOEXIST)) {
		err = -EEXIST;
		goto out_unlock;
	}
	if (!old && (flags & BPF_EXIST)) {
		err = -ENOENT;
		goto out_unlock;
	}
	if (old && (flags & BPF_F_LOCK)) {
		/* BPF_F_LOCK: the existing value is updated in place under its lock */
		bext_copy_value_locked(m, elem_value(m, old), value, false);
		goto out_unlock;
	}
	if (old && m->h.inplace && !(flags & BPF_F_LOCK)) {
		/*
		 * A 4- or 8-byte value is replaced by one atomic store: readers see
		 * the old or the new value, never a mix, which is all the
		 * new-element-then-unlink dance below guarantees. Under the bucket
		 * lock so the element cannot be deleted and reused meanwhile.
		 */
		store_inplace(m, old, value);
		goto out_unlock;
	}
	if (old && m->h.percpu) {
		/* in place, as the kernel does for per-CPU values */
		fill_value(m, old, value, all_cpus, false);
		if (m->h.lru)
			__atomic_store_n(&old->lru_ref, 1, __ATOMIC_RELAXED);
		goto out_unlock;
	}
	if (!old) {
		/* the count is taken before linking: a crash can only leave it high */
		counted = count_try_inc(m);
		if (!counted && m->h.lru) {
			e = lru_evict(m, b, NULL);
			counted = e && count_try_inc(m);
		}
		if (!counted)
			goto out_full;
	}
	if (!e)
		e = fl_pop(m, old ? &fl : NULL); /* a replace keeps the list locked for old */
	if (!e && m->h.lru) {
		e = lru_evict(m, b, old);
		/* the victim may have been old's predecessor in our chain */
		if (e && old)
			bucket_find(m, b, hash, key, &old_prevp);
	}
	if (!e)
		goto out_full;
	e->hash = hash;
	e->lru_ref = 0;
	memcpy(e->key, key, m->key_size);
	fill_value(m, e, value, all_cpus, true);
	if (m->has_lock)
		memset((uint8_t *)elem_value(m, e) + m->lock_off, 0, 4); /* a fresh, free lock */
	link_elem(m, b, e, old, old_prevp);
	if (fl) {
		/* old is unlinked and ours: straight onto the list we still hold */
		fl_push_locked(m, fl, old);
		bext_shm_unlock(&fl->lock);
		bext_shm_unlock(&b->lock);
		return 0;
	}
	bext_shm_unlock(&b->lock);
	if (old)
		fl_push(m, old);
	return 0;

out_full:
	if (counted)
		count_dec(m); /* under the bucket lock, as every count change (recount) */
	bext_shm_unlock(&b->lock);
	if (e)
		fl_push(m, e);
	if (!repaired) {
		/* maybe dead processes left elements in flight or the count high */
		repaired = true;
		reclaim_dead(m);
		recount(m);
		e = NULL;
		counted = false;
		goto retry;
	}
	return m->h.lru ? -ENOMEM : -E2BIG;
out_unlock:
	bext_shm_unlock(&b->lock);
	return err;
}

static int htab_delete_common(struct bext_map *m, const void *key, void *value)
{
	uint32_t hash = htab_hash(m, key), *prevp;
	struct htab_bucket *b;
	struct htab_elem *e;

	b = bucket_lock(m, hash);
	e = bucket_find(m, b, hash, key, &prevp);
	if (!e) {
		bext_shm_unlock(&b->lock);
		return -ENOENT;
	}
	elem_claim(e, bext_tid()); /* no in-place writer may still hold it */
	if (value)
		copy_out(m, e, value);
	__atomic_store_n(prevp, e->next, __ATOMIC_RELEASE);
	count_dec(m); /* after unlinking, before unlocking (recount) */
	bext_shm_unlock(&b->lock);
	if (__builtin_expect(m->h.refslots != NULL, 0))
		hom_slot_set(m, e, 0); /* e is ours now */
	fl_push(m, e);
	return 0;
}

static long htab_delete(struct bext_map *m, const void *key)
{
	return htab_delete_common(m, key, NULL);
}

static int htab_lookup_and_delete(struct bext_map *m, const void *key, void *value)
{
	return htab_delete_common(m, key, value);
}

/*
 * Kernel order: the element after @key in its chain, else the first element
 * of the following non-empty buckets; a missing (or NULL) key restarts from
 * the first element of the table.
 */
static int htab_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	uint32_t bidx = 0, hash;
	struct htab_bucket *b;
	struct htab_elem *e;

	if (key) {
		hash = htab_hash(m, key);
		bidx = hash & m->h.bucket_mask;
		b = bucket_lock(m, hash);
		e = bucket_find(m, b, hash, key, NULL);
		if (e && !(e->next & NULLS_BIT)) {
			memcpy(next_key, elem_at(m, e->next)->key, m->key_size);
			bext_shm_unlock(&b->lock);
			return 0;
		}
		bext_shm_unlock(&b->lock);
		bidx = e ? bidx + 1 : 0;
	}
	for (; bidx <= m->h.bucket_mask; bidx++) {
		b = &m->h.buckets[bidx];
		if (__atomic_load_n(&b->head, __ATOMIC_ACQUIRE) & NULLS_BIT)
			continue;
		if (bext_shm_lock(&b->lock))
			repair_bucket(m, b, bidx);
		if (!(b->head & NULLS_BIT)) {
			memcpy(next_key, elem_at(m, b->head)->key, m->key_size);
			bext_shm_unlock(&b->lock);
			return 0;
		}
		bext_shm_unlock(&b->lock);
	}
	return -ENOENT;
}

/*
 * BPF_MAP_LOOKUP(_AND_DELETE)_BATCH, the kernel's way: the token is a bucket
 * index; whole buckets are returned (a bucket that does not fit in what is
 * left of *count ends the call, with -ENOSPC if nothing was returned); the
 * walk past the last bucket returns -ENOENT.
 */
static int htab_lookup_batch(struct bext_map *m, const void *in_batch, void *out_batch, void *keys,
			     void *values, uint32_t *count, uint64_t elem_flags, bool del)
{
	uint32_t max = *count, batch = 0, total = 0, nb = m->h.bucket_mask + 1;
	size_t vsz = m->h.percpu ? (size_t)m->value_stride * m->nr_cpus : m->value_size;
	int ret = 0;

	if (!max)
		return 0;
	*count = 0;
	if (in_batch)
		memcpy(&batch, in_batch, sizeof(batch));
	if (batch >= nb)
		return -ENOENT;
	for (;;) {
		struct htab_bucket *b = &m->h.buckets[batch];
		uint32_t cnt = 0, ref, detached = 0;

		if (!(__atomic_load_n(&b->head, __ATOMIC_ACQUIRE) & NULLS_BIT)) {
			if (bext_shm_lock(&b->lock))
				repair_bucket(m, b, batch);
			for (ref = b->head; !(ref & NULLS_BIT); ref = elem_at(m, ref)->next)
				cnt++;
			if (cnt > max - total) {
				if (total == 0)
					ret = -ENOSPC;
				bext_shm_unlock(&b->lock);
				break;
			}
			cnt = 0;
			for (ref = b->head; !(ref & NULLS_BIT);
			     ref = elem_at(m, ref)->next, cnt++) {
				struct htab_elem *e = elem_at(m, ref);
				uint8_t *v = (uint8_t *)values + (size_t)(total + cnt) * vsz;

				memcpy((uint8_t *)keys + (size_t)(total + cnt) * m->key_size,
				       e->key, m->key_size);
				if (elem_flags & BPF_F_LOCK)
					bext_copy_value_locked(m, v, elem_value(m, e), true);
				else
					copy_out(m, e, v);
				if (m->has_lock)
					memset(v + m->lock_off, 0, 4);
				if (del)
					elem_claim(e, bext_tid());
			}
			if (del && cnt) {
				/* the whole chain leaves with one store; freed after unlock */
				detached = b->head;
				__atomic_store_n(&b->head, NULLS_BIT | batch, __ATOMIC_RELEASE);
				for (uint32_t i = 0; i < cnt; i++)
					count_dec(m); /* before unlocking (recount) */
			}
			bext_shm_unlock(&b->lock);
			while (detached && !(detached & NULLS_BIT)) {
				struct htab_elem *e = elem_at(m, detached);

				detached = e->next;
				if (__builtin_expect(m->h.refslots != NULL, 0))
					hom_slot_set(m, e, 0);
				fl_push(m, e);
			}
			total += cnt;
		}
		batch++;
		if (batch >= nb) {
			ret = -ENOENT;
			break;
		}
	}
	memcpy(out_batch, &batch, sizeof(batch));
	*count = total;
	return ret;
}

static long htab_nr_entries(struct bext_map *m)
{
	return __atomic_load_n(&m->hdr->h.count, __ATOMIC_RELAXED);
}

/* Structural check; meant for a quiescent map (tests, gc). */
static int htab_check(struct bext_map *m)
{
	uint32_t n = m->h.nr_elems, i, linked = 0, freed = 0, inflight = 0, bad = 0;
	uint8_t *seen = calloc(n + 1, 1);

	if (!seen)
		return -ENOMEM;
	for (i = 0; i <= m->h.bucket_mask; i++) {
		uint32_t ref = m->h.buckets[i].head, steps = 0;

		while (!(ref & NULLS_BIT)) {
			struct htab_elem *e;

			if (!ref_valid(m, ref) || seen[ref] || ++steps > n) {
				pr_warn("check map %u: bucket %u: bad or repeated element %u\n",
					m->id, i, ref);
				bad++;
				break;
			}
			seen[ref] = 1;
			e = elem_at(m, ref);
			if ((e->hash & m->h.bucket_mask) != i || e->hash != htab_hash(m, e->key)) {
				pr_warn("check map %u: element %u in the wrong bucket\n", m->id,
					ref);
				bad++;
			}
			if (e->state != ELEM_LINKED)
				inflight++;
			if (bucket_find(m, &m->h.buckets[i], e->hash, e->key, NULL) != e) {
				pr_warn("check map %u: duplicate key in bucket %u\n", m->id, i);
				bad++;
			}
			linked++;
			ref = e->next;
		}
		if (!bad && (ref & ~NULLS_BIT) != i) {
			pr_warn("check map %u: bucket %u ends on marker %u\n", m->id, i,
				ref & ~NULLS_BIT);
			bad++;
		}
	}
	for (i = 0; i < m->h.nr_freelists; i++) {
		uint32_t ref = m->h.freelists[i].head, steps = 0;

		while (ref != FL_END) {
			if (!ref_valid(m, ref) || seen[ref] || ++steps > n) {
				pr_warn("check map %u: freelist %u: bad or repeated element %u\n",
					m->id, i, ref);
				bad++;
				break;
			}
			seen[ref] = 2;
			freed++;
			ref = elem_at(m, ref)->fl_next;
		}
	}
	for (i = 1; i <= n; i++)
		if (!seen[i])
			inflight++;
	if (linked > m->max_entries + 1) {
		pr_warn("check map %u: %u keys linked, max_entries %u\n", m->id, linked,
			m->max_entries);
		bad++;
	}
	pr_info("check map %u: %u linked, %u free, %u in flight, count %u\n", m->id, linked, freed,
		inflight, m->hdr->h.count);
	free(seen);
	return bad ? -EUCLEAN : 0;
}

/*
 * Bucket by bucket, without locks (the lookup walk): an element reused under
 * us can lead into another chain, whose NULLS marker ends this bucket early.
 */
static long htab_for_each(struct bext_map *m, bext_map_elem_fn fn, void *ctx)
{
	uint32_t b, cpu = m->h.percpu ? bext_cur_cpu(m) : 0;
	long n = 0;

	for (b = 0; b <= m->h.bucket_mask; b++) {
		uint32_t ref = __atomic_load_n(&m->h.buckets[b].head, __ATOMIC_ACQUIRE), steps = 0;

		while (!(ref & NULLS_BIT) && ref_valid(m, ref) && steps++ < m->h.nr_elems) {
			struct htab_elem *e = elem_at(m, ref);
			void *v = m->h.percpu ? elem_cpu_value(m, e, cpu) : elem_value(m, e);

			n++;
			if (fn(ctx, m, e->key, v))
				return n;
			ref = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
		}
	}
	return n;
}

const struct bext_map_ops bext_htab_ops = {
    .for_each = htab_for_each,
    .check_attr = htab_check_attr,
    .layout = htab_layout,
    .init = htab_init,
    .open = htab_open,
    .lookup = htab_lookup,
    .update = htab_update,
    .delete = htab_delete,
    .lookup_copy = htab_lookup_copy,
    .get_next_key = htab_get_next_key,
    .lookup_and_delete = htab_lookup_and_delete,
    .lookup_percpu = htab_lookup_percpu,
    .check = htab_check,
    .lookup_batch = htab_lookup_batch,
    .nr_entries = htab_nr_entries,
    .batch_ops = BATCH_LOOKUP | BATCH_LOOKUP_DEL | BATCH_UPDATE | BATCH_DELETE,
};

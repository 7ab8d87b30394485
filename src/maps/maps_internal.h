/* SPDX-License-Identifier: MIT */
/*
 * maps_internal.h - shared map header, the per-process map handle and the
 * ops table each map type implements (one file per type family).
 */
#ifndef BEXT_MAPS_INTERNAL_H
#define BEXT_MAPS_INTERNAL_H

#include <linux/bpf.h>
#include <sched.h>
#include <string.h>
#include <sys/rseq.h>

#include <bext/map.h>
#include "store/store_internal.h"

#define BEXT_MAP_MAGIC 0x0050414d54584542ULL /* "BEXTMAP\0" */
#define BEXT_MAP_HDR_SIZE 256
/* The kernel's internal "not supported" errno, which bpf(2) really returns. */
#define BEXT_ENOTSUPP 524
#define BEXT_KMALLOC_MAX (1u << 22)
#define BEXT_PCPU_MIN_UNIT 32768u
#define BEXT_MAX_BPF_STACK 512u

#define round_up8(x) (((x) + 7u) & ~7u)

struct htab_shared {
	uint32_t n_buckets; /* power of two */
	uint32_t elem_size;
	uint32_t nr_elems; /* max_entries + nr_cpus spares */
	uint32_t seed;
	uint32_t nr_freelists;
	uint32_t count;	     /* keys linked (atomic) */
	uint32_t clock_hand; /* LRU sweep position (atomic) */
	uint32_t reserved;
	uint64_t buckets_off; /* from data */
	uint64_t freelists_off;
	uint64_t elems_off;
};

struct queue_shared {
	uint32_t lock;
	uint32_t head; /* next slot written */
	uint32_t tail; /* oldest slot */
	uint32_t size; /* max_entries + 1 slots */
};

struct bloom_shared {
	uint32_t nr_hashes;
	uint32_t seed;
	uint64_t bit_mask; /* nr_bits - 1 */
};

struct ringbuf_shared {
	uint32_t lock;	   /* producers */
	uint32_t wake_seq; /* futex word the consumer sleeps on */
	uint32_t waiters;  /* consumers sleeping */
	uint32_t reserved;
	uint64_t size;	   /* data bytes, power of two, page multiple */
	uint64_t area_off; /* consumer page, from the payload start */
};

struct lpm_shared {
	uint32_t lock;	    /* writers (owner tid) */
	uint32_t n_entries; /* non-intermediate nodes */
	uint32_t nr_nodes;  /* node pool size */
	uint32_t node_size;
	uint32_t root;	    /* node index + 1, 0 = empty */
	uint32_t free_head; /* node index + 1 */
	uint32_t data_size; /* key_size - 4 */
	uint32_t max_prefixlen;
	uint32_t bump; /* nodes handed out from the pool's start */
	uint32_t reserved;
	uint64_t nodes_off; /* from data */
};

struct perf_shared {
	uint32_t data_pages; /* per ring, power of two */
	uint32_t page_size;
	uint64_t ring_size; /* bytes per ring: one meta page + data pages */
	uint64_t ctl_off;   /* per-ring control blocks (lock, lost), from data */
	uint64_t rings_off; /* page aligned, from the payload start */
	/* wake-ups, as the ring buffer's (zero in maps made before they existed: fine) */
	uint32_t wake_seq; /* futex word consumers sleep on */
	uint32_t waiters;  /* consumers sleeping */
};

/* Shared: at the start of every map payload. */
struct bext_map_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;
	uint32_t nr_cpus;
	uint32_t frozen;
	uint64_t map_extra;
	uint64_t data_off; /* from the payload start */
	uint64_t data_size;
	char name[16];
	union {
		struct htab_shared h;
		struct queue_shared q;
		struct bloom_shared b;
		struct ringbuf_shared r;
		struct lpm_shared l;
		struct perf_shared p;
		uint8_t space[128];
	};
	/* Zero in maps created before these existed, which is their meaning there. */
	uint32_t has_spin_lock;
	uint32_t spin_lock_off;
	uint32_t inner_map_id; /* map-in-map template */
	uint32_t wlock;	       /* map-in-map writers (owner tid) */
	/* map-in-map: the template's attributes, copied at creation */
	uint32_t inner_type, inner_key_size, inner_value_size, inner_max_entries, inner_flags;
	/* BTF blob at data_off + round_up(data_size, 8) (0 bytes: none) and its type ids */
	uint32_t btf_size;
	uint32_t btf_key_type_id, btf_value_type_id;
};
static_assert(offsetof(struct bext_map_hdr, btf_size) == 244, "map header layout");
static_assert(sizeof(struct lpm_shared) <= 128, "lpm shared fits");
static_assert(sizeof(struct perf_shared) <= 128, "perf shared fits");
static_assert(offsetof(struct bext_map_hdr, has_spin_lock) == 208, "map header layout");
static_assert(sizeof(struct htab_shared) <= 128, "htab shared fits");
static_assert(offsetof(struct bext_map_hdr, h) == 80, "map header layout");
static_assert(sizeof(struct bext_map_hdr) == BEXT_MAP_HDR_SIZE, "map header layout");

struct bext_map;

struct bext_map_ops {
	/* Kernel-equivalent attribute checks (type-specific part). */
	int (*check_attr)(const struct bext_map_create_opts *o);
	/* Fills the type's part of @h (already holding the common fields); returns data bytes. */
	uint64_t (*layout)(struct bext_map_hdr *h);
	/* Initialises zeroed shared memory once, at creation. */
	void (*init)(struct bext_map_hdr *h, uint8_t *data);
	/* Per-process setup after mapping (optional). */
	int (*open)(struct bext_map *m, int fd);
	void (*close)(struct bext_map *m);

	void *(*lookup)(struct bext_map *m, const void *key);
	long (*update)(struct bext_map *m, const void *key, const void *value, uint64_t flags,
		       bool all_cpus);
	long (*delete)(struct bext_map *m, const void *key);
	/* Syscall lookup (copy); default: lookup() + memcpy of value_size. */
	int (*lookup_copy)(struct bext_map *m, const void *key, void *value);
	int (*get_next_key)(struct bext_map *m, const void *key, void *next_key);
	int (*lookup_and_delete)(struct bext_map *m, const void *key, void *value);
	long (*push)(struct bext_map *m, const void *value, uint64_t flags);
	long (*pop)(struct bext_map *m, void *value);
	long (*peek)(struct bext_map *m, void *value);
	void *(*lookup_percpu)(struct bext_map *m, const void *key, uint32_t cpu);
	int (*check)(struct bext_map *m);
	/* Kernel-style per-bucket batch walk (hash maps); NULL: no such batch. */
	int (*lookup_batch)(struct bext_map *m, const void *in_batch, void *out_batch, void *keys,
			    void *values, uint32_t *count, uint64_t elem_flags, bool del);
	long (*nr_entries)(struct bext_map *m);
	/* bpf_for_each_map_elem (NULL: the kernel does not iterate this type). */
	long (*for_each)(struct bext_map *m, bext_map_elem_fn fn, void *ctx);
	/* Which kernel batch commands exist for the type (BATCH_* bits). */
	uint32_t batch_ops;
};

#define BATCH_LOOKUP 1u
#define BATCH_LOOKUP_DEL 2u
#define BATCH_UPDATE 4u
#define BATCH_DELETE 8u

/*
 * Per-process cache of inner-map handles of a map-in-map: an open-addressing
 * table read without a lock (an entry's handle is written before its id, with
 * release); misses, inserts and growth take the mutex. A grown table replaces
 * the old one, which stays allocated (readers may still probe it) until the
 * outer handle is closed.
 */
struct mim_ent {
	uint32_t id;
	struct bext_map *m;
};
struct mim_tab {
	uint32_t mask; /* capacity - 1, power of two */
	uint32_t n;
	struct mim_tab *retired; /* the table this one replaced */
	struct mim_ent ents[];
};
struct mim_cache {
	pthread_mutex_t lock;
	struct mim_tab *tab;
};

/* Per-process handle. */
struct bext_map {
	const struct bext_map_ops *ops;
	bext_map_lookup_fn lookup_fn;
	struct bext_map_hdr *hdr;
	uint8_t *data;
	void *seg;
	size_t seg_len;
	uint32_t id, type, key_size, value_size, max_entries, flags, nr_cpus;
	uint32_t value_stride; /* round_up(value_size, 8) */
	char name[16];
	struct bext_store *store; /* the store it was opened from (map-in-map lookups) */
	struct mim_cache *mim;
	bool has_lock;
	uint32_t lock_off;
	union {
		struct {
			uint32_t bucket_mask;
			uint32_t elem_size;
			uint32_t nr_elems;
			uint32_t seed;
			struct htab_bucket *buckets;
			struct htab_freelist *freelists;
			uint8_t *elems;
			uint32_t nr_freelists;
			bool lru, percpu;
			/* values of 4 or 8 bytes without a lock: replaced by one atomic store */
			bool inplace;
			/* hash of maps: element i's slot reference (NULL: none kept) */
			uint32_t *refslots;
		} h;
		struct {
			uint8_t *nodes;
			uint32_t node_size, nr_nodes, data_size, max_prefixlen;
		} l;
		struct {
			uint8_t *rings;
			uint64_t ring_size;
			uint32_t data_pages, page_size;
		} p;
		struct {
			void *area; /* consumer page; data mapped twice after the producer page */
			size_t area_len;
			uint64_t mask;
			uint64_t *consumer_pos, *producer_pos;
			uint8_t *data;
		} rb;
	};
};

extern const struct bext_map_ops bext_array_ops, bext_percpu_array_ops;
extern const struct bext_map_ops bext_htab_ops;
extern const struct bext_map_ops bext_queue_ops, bext_stack_ops;
extern const struct bext_map_ops bext_bloom_ops;
extern const struct bext_map_ops bext_ringbuf_ops;
extern const struct bext_map_ops bext_lpm_ops;
extern const struct bext_map_ops bext_perf_array_ops;
extern const struct bext_map_ops bext_array_of_maps_ops, bext_hash_of_maps_ops;

/* Hash of maps: where the element slot references start in the data (8-aligned). */
static inline uint64_t bext_hom_refslots_off(const struct htab_shared *hs)
{
	return (hs->elems_off + (uint64_t)hs->nr_elems * hs->elem_size + 7) & ~7ULL;
}

/* Map-in-map: checks the template @inner_id and records it in @h (map_in_map.c). */
BEXT_HIDDEN int bext_mim_prepare(struct bext_store *s, uint32_t inner_id, struct bext_map_hdr *h);

/* Value copies that respect a bpf_spin_lock field (map.c). */
BEXT_HIDDEN void bext_copy_value(struct bext_map *m, void *dst, const void *src);
BEXT_HIDDEN void bext_copy_value_locked(struct bext_map *m, void *dst, const void *src,
					bool to_user);
extern const struct bext_map_ops bext_prog_array_ops;
extern const struct bext_map_ops bext_stack_trace_ops;

/*
 * The CPU the calling thread runs on right now. glibc >= 2.35 registers an
 * rseq area per thread; its cpu_id field (kept current by the kernel on
 * every migration) is read straight from the thread pointer +
 * __rseq_offset: one load, no call. Without rseq (__rseq_size 0, e.g.
 * GLIBC_TUNABLES=glibc.pthread.rseq=0, or cpu_id negative: registration
 * failed) sched_getcpu() answers. The value may be stale a moment later (the
 * thread can migrate at any time): callers treat it as a sharding hint only.
 */
static inline uint32_t bext_cpu_now(void)
{
	int c;

	if (__builtin_expect(__rseq_size != 0, 1)) {
		const struct rseq *rs =
		    (const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		int32_t id = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);

		if (__builtin_expect(id >= 0, 1))
			return (uint32_t)id;
	}
	c = sched_getcpu();
	return c < 0 ? 0 : (uint32_t)c;
}

static inline uint32_t bext_cur_cpu(const struct bext_map *m)
{
	uint32_t c = bext_cpu_now();

	/* no division in the common case (CPU ids below the possible count) */
	return __builtin_expect(c < m->nr_cpus, 1) ? c : c % m->nr_cpus;
}

/* Flags accepted at creation (kernel's *_CREATE_FLAG_MASK equivalents). */
#define BEXT_ACCESS_FLAGS (BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)

/* The hash of keys in shared memory: every process must compute the same value. */
static inline uint32_t bext_hash_bytes(const void *key, uint32_t len, uint32_t seed)
{
	const uint8_t *p = key;
	uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL), v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		h = (h ^ w) * 0x94d049bb133111ebULL;
		h ^= h >> 29;
		p += 4;
		len -= 4;
	}
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

BEXT_HIDDEN uint32_t bext_random_seed(void);

#endif

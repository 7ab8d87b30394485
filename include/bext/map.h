/* SPDX-License-Identifier: MIT */
/*
 * bext/map.h - maps in the object store, with the kernel's semantics.
 *
 * Map types, flags and error codes are the kernel UAPI's (linux/bpf.h):
 * BPF_MAP_TYPE_{ARRAY,PERCPU_ARRAY,HASH,PERCPU_HASH,LRU_HASH,LRU_PERCPU_HASH,
 * QUEUE,STACK,BLOOM_FILTER,RINGBUF,LPM_TRIE,PERF_EVENT_ARRAY,ARRAY_OF_MAPS,
 * HASH_OF_MAPS}; BPF_ANY / BPF_NOEXIST / BPF_EXIST / BPF_F_LOCK.
 *
 * Two families of calls:
 *  - bext_map__lookup_elem() & co. behave like the bpf(2) syscall commands:
 *    values are copied; for per-CPU maps the value buffer holds
 *    libbpf_num_possible_cpus() slots of round_up(value_size, 8) bytes.
 *  - bext_map__helper_*() behave like the eBPF helpers a program calls:
 *    lookup returns a pointer into the shared segment (valid while the
 *    handle is open), per-CPU maps act on the calling CPU's slot only.
 *
 * A struct bext_map is a per-process handle (its own mapping of the map's
 * segment); it may be used by many threads at once.
 */
#ifndef BEXT_MAP_H
#define BEXT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bext/common.h>
#include <bext/store.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bext_map;

struct bext_map_create_opts {
	size_t sz;	  /* sizeof(struct bext_map_create_opts) */
	const char *name; /* up to 15 characters are kept */
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;
	uint64_t map_extra; /* bloom filter: low 4 bits = number of hashes */
	/*
	 * bext-specific attributes (the kernel takes these from BTF or fds).
	 * ARRAY_OF_MAPS / HASH_OF_MAPS: id of a live map used as the template
	 * for inner maps (the kernel's inner_map_fd).
	 */
	uint32_t inner_map_id;
	/*
	 * The value holds a struct bpf_spin_lock (4 bytes, 4-aligned) at
	 * spin_lock_off: enables BPF_F_LOCK (ARRAY and HASH only, as the kernel).
	 */
	bool has_spin_lock;
	uint32_t spin_lock_off;
	/* PERF_EVENT_ARRAY: data pages of each ring (power of two; 0 means 8). */
	uint32_t perf_ring_pages;
	/*
	 * BTF for `bext dump` (optional, as the kernel's btf_fd + type ids): a
	 * raw BTF blob (copied into the map's segment) and the key and value
	 * type ids in it. Checked as the kernel does: the blob must parse and
	 * the types' sizes equal key_size / value_size, else -EINVAL. A type id
	 * of 0 leaves that side without a type.
	 */
	const void *btf;
	uint32_t btf_size;
	uint32_t btf_key_type_id;
	uint32_t btf_value_type_id;
};

/*
 * Creates a map in the store and returns its id (> 0) or a negative errno:
 * -EINVAL for attributes the kernel rejects with EINVAL (sizes, flags),
 * -E2BIG where the kernel says E2BIG, -EOPNOTSUPP for map types bext does not
 * implement yet, -ENOSPC when the object table is full.
 * The caller holds the creation reference (drop it with bext_store__obj_put).
 */
BEXT_API int bext_store__create_map(struct bext_store *s, const struct bext_map_create_opts *o);
/* Opens a handle on a live map; NULL + errno (ENOENT, EBADMSG...). */
BEXT_API struct bext_map *bext_store__map_by_id(struct bext_store *s, uint32_t id);
/* Lowest-id live map called @name. */
BEXT_API struct bext_map *bext_store__map_by_name(struct bext_store *s, const char *name);
/* Unmaps the handle (the map stays in the store). Accepts NULL. */
BEXT_API void bext_map__close(struct bext_map *m);

BEXT_API uint32_t bext_map__id(const struct bext_map *m);
BEXT_API uint32_t bext_map__type(const struct bext_map *m);
BEXT_API uint32_t bext_map__key_size(const struct bext_map *m);
BEXT_API uint32_t bext_map__value_size(const struct bext_map *m);
BEXT_API uint32_t bext_map__max_entries(const struct bext_map *m);
BEXT_API uint32_t bext_map__flags(const struct bext_map *m);
BEXT_API const char *bext_map__name(const struct bext_map *m);
/* Number of per-CPU slots (libbpf_num_possible_cpus()) and bytes of a syscall value. */
BEXT_API uint32_t bext_map__nr_cpus(const struct bext_map *m);
BEXT_API size_t bext_map__syscall_value_size(const struct bext_map *m);

/* bpf(2)-like operations (BPF_MAP_LOOKUP_ELEM etc.). */
BEXT_API int bext_map__lookup_elem(struct bext_map *m, const void *key, void *value);
BEXT_API int bext_map__update_elem(struct bext_map *m, const void *key, const void *value,
				   uint64_t flags);
BEXT_API int bext_map__delete_elem(struct bext_map *m, const void *key);
/* NULL or missing @key gives the first key (as the kernel); -ENOENT after the last. */
BEXT_API int bext_map__get_next_key(struct bext_map *m, const void *key, void *next_key);
/* Hash maps: copy then delete; queue/stack: pop (@key must be NULL). */
BEXT_API int bext_map__lookup_and_delete_elem(struct bext_map *m, const void *key, void *value);
/*
 * BPF_MAP_LOOKUP_ELEM with flags (0 or BPF_F_LOCK: copy under the value's
 * bpf_spin_lock; -EINVAL if the map has none). The spin lock word is zeroed
 * in the copy, as the kernel does.
 */
BEXT_API int bext_map__lookup_elem_flags(struct bext_map *m, const void *key, void *value,
					 uint64_t flags);
/* BPF_MAP_FREEZE: later bext_map__update/delete_elem fail with -EPERM. */
BEXT_API int bext_map__freeze(struct bext_map *m);

/*
 * Batch operations, as BPF_MAP_*_BATCH. @count is in/out: at most *count
 * elements on entry, the number processed on return (also on error).
 * Tokens (@in_batch NULL = start, @out_batch = where to resume): hash maps use
 * a 4-byte bucket index, other maps the last key processed (key_size bytes);
 * give out_batch room for max(4, key_size) bytes. Returns 0, or -ENOENT when
 * the whole map has been walked (elements may still have been returned),
 * -ENOSPC when the next hash bucket alone needs more than *count slots
 * (nothing returned), -EINVAL for bad flags, -ENOTSUPP (524) for map types
 * the kernel has no such batch operation for, -EPERM on a frozen map for the
 * writing ones. Per-CPU values use the syscall layout.
 */
struct bext_map_batch_opts {
	size_t sz;
	uint64_t elem_flags; /* 0 or BPF_F_LOCK */
	uint64_t flags;	     /* must be 0 */
};
BEXT_API int bext_map__lookup_batch(struct bext_map *m, const void *in_batch, void *out_batch,
				    void *keys, void *values, uint32_t *count,
				    const struct bext_map_batch_opts *opts);
BEXT_API int bext_map__lookup_and_delete_batch(struct bext_map *m, const void *in_batch,
					       void *out_batch, void *keys, void *values,
					       uint32_t *count,
					       const struct bext_map_batch_opts *opts);
BEXT_API int bext_map__update_batch(struct bext_map *m, const void *keys, const void *values,
				    uint32_t *count, const struct bext_map_batch_opts *opts);
BEXT_API int bext_map__delete_batch(struct bext_map *m, const void *keys, uint32_t *count,
				    const struct bext_map_batch_opts *opts);

/*
 * Elements in use: hash maps and LPM tries their key count, queue/stack their
 * fill, array-of-maps the slots holding a map, arrays max_entries; -EOPNOTSUPP
 * where the notion does not apply (bloom filter, ring buffers, perf arrays).
 */
BEXT_API long bext_map__nr_entries(struct bext_map *m);
/* The map's spin lock offset (BPF_F_LOCK), or -ENOENT if its values have none. */
BEXT_API int bext_map__spin_lock_off(const struct bext_map *m);
/*
 * The map's BTF blob and key/value type ids, when it was created with them
 * (pointers into the segment, valid while the handle is open); -ENOENT if not.
 */
BEXT_API int bext_map__btf(const struct bext_map *m, const void **btf, uint32_t *size,
			   uint32_t *key_type_id, uint32_t *value_type_id);

/* Inner map template id of a map-in-map, 0 for other maps. */
BEXT_API uint32_t bext_map__inner_map_id(const struct bext_map *m);

/*
 * bpf_spin_lock / bpf_spin_unlock on a 4-byte lock word inside a map value
 * (cross-process; the holder's tid is kept in the word, a dead holder's lock
 * is taken over).
 */
BEXT_API void bext_spin_lock(void *lock);
BEXT_API void bext_spin_unlock(void *lock);

/* Helper-like operations (what JIT'd programs call). */
/*
 * For ARRAY_OF_MAPS / HASH_OF_MAPS the result is the inner map's struct
 * bext_map * (a handle this outer handle opens once and caches), or NULL.
 */
BEXT_API void *bext_map__helper_lookup(struct bext_map *m, const void *key);
BEXT_API long bext_map__helper_update(struct bext_map *m, const void *key, const void *value,
				      uint64_t flags);
BEXT_API long bext_map__helper_delete(struct bext_map *m, const void *key);
BEXT_API long bext_map__helper_push(struct bext_map *m, const void *value, uint64_t flags);
BEXT_API long bext_map__helper_pop(struct bext_map *m, void *value);
BEXT_API long bext_map__helper_peek(struct bext_map *m, void *value);
/* bpf_map_lookup_percpu_elem: @cpu's slot of a per-CPU map (NULL if cpu >= nr_cpus). */
BEXT_API void *bext_map__helper_lookup_percpu(struct bext_map *m, const void *key, uint32_t cpu);

/*
 * The fast path for a code generator: the lookup function and its first
 * argument, so a JIT can emit a direct call (no dispatch through this file).
 * For ARRAY (not per-CPU) maps also the value base and stride so lookups can
 * be inlined: value(i) = base + i * stride for i < max_entries.
 */
typedef void *(*bext_map_lookup_fn)(struct bext_map *m, const void *key);
BEXT_API bext_map_lookup_fn bext_map__lookup_fn(const struct bext_map *m);
BEXT_API int bext_map__array_base(const struct bext_map *m, void **base, uint32_t *stride);

/*
 * bpf_for_each_map_elem: calls @fn for each element with pointers to the key
 * and to the value in the map (per-CPU maps: the calling CPU's slot), until
 * @fn returns non-zero. Hash maps are walked bucket by bucket without locks
 * (as the kernel under RCU: concurrent changes may be seen or not).
 * Returns the number of elements passed to @fn (the one that stopped the walk
 * included), or -EINVAL for map types the kernel does not iterate (only the
 * array and hash families).
 */
typedef long (*bext_map_elem_fn)(void *ctx, struct bext_map *m, const void *key, void *value);
BEXT_API long bext_map__for_each_elem(struct bext_map *m, bext_map_elem_fn fn, void *ctx);

/* The CPU slot the calling thread uses for per-CPU maps right now. */
BEXT_API uint32_t bext_map__current_cpu(const struct bext_map *m);

/*
 * Structural self-check (hash maps: every element linked once, in its own
 * bucket, no duplicate keys, free + linked + in-flight == max_entries).
 * Returns 0 or -EUCLEAN and reports through the print callback. Meant for
 * tests and `bext gc`; run it when no other process is changing the map.
 */
BEXT_API int bext_map__check(struct bext_map *m);

/* ---- stack trace maps (BPF_MAP_TYPE_STACK_TRACE) ---------------------------------
 * Key: a stack id (u32); value: value_size / 8 instruction pointers (u64),
 * zero-filled after the last frame on lookup. Updates are -EINVAL (stacks
 * come from bpf_get_stackid); delete of an id >= the bucket count is -E2BIG.
 */
/*
 * bpf_get_stackid's map half: stores @ips (@nr frames, skipping already
 * done; more than value_size / 8 are cut) under the id their hash picks and
 * returns the id. Another stack already there: -EEXIST unless
 * BPF_F_REUSE_STACKID (replace); BPF_F_FAST_STACK_CMP: an equal hash counts
 * as the same stack. -EFAULT for nr == 0, -EINVAL for other flags or maps.
 */
BEXT_API long bext_stackmap__get_id(struct bext_map *m, const uint64_t *ips, uint32_t nr,
				    uint64_t flags);

/* ---- ring buffers (BPF_MAP_TYPE_RINGBUF) -------------------------------------
 * Kernel layout: consumer page, producer page, then the data area mapped twice
 * back to back; records carry an 8-byte header whose length word has
 * BPF_RINGBUF_BUSY_BIT and BPF_RINGBUF_DISCARD_BIT.
 */
/* bpf_ringbuf_reserve: NULL when there is no room (or size is bad). */
BEXT_API void *bext_ringbuf__reserve(struct bext_map *m, uint64_t size, uint64_t flags);
/* bpf_ringbuf_submit / discard (flags: BPF_RB_NO_WAKEUP / BPF_RB_FORCE_WAKEUP). */
BEXT_API void bext_ringbuf__submit(struct bext_map *m, void *data, uint64_t flags);
BEXT_API void bext_ringbuf__discard(struct bext_map *m, void *data, uint64_t flags);
/* bpf_ringbuf_output: -EAGAIN when full (as the kernel), -EINVAL on bad flags. */
BEXT_API long bext_ringbuf__output(struct bext_map *m, const void *data, uint64_t size,
				   uint64_t flags);
/* bpf_ringbuf_query: BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS. */
BEXT_API uint64_t bext_ringbuf__query(struct bext_map *m, uint64_t flags);

/* Consumer side (one consumer per ring at a time). */
typedef int (*bext_ringbuf_sample_fn)(void *ctx, void *data, size_t size);
/*
 * Consumes available records, calling @fn for each submitted one (discarded
 * ones are skipped). If there are none, waits up to @timeout_ms (< 0 forever)
 * for a producer's wake-up. Returns the number of records consumed, or a
 * negative error (a negative return of @fn stops and is passed on); -EINTR
 * when a signal handler ran while it waited (as libbpf's ring_buffer__poll).
 */
BEXT_API int bext_ringbuf__poll(struct bext_map *m, bext_ringbuf_sample_fn fn, void *ctx,
				int timeout_ms);
/* Consumes without waiting. */
BEXT_API int bext_ringbuf__consume(struct bext_map *m, bext_ringbuf_sample_fn fn, void *ctx);
/*
 * The kernel-layout area: base of the consumer page; the producer page is at
 * base + page size, data at base + 2 * page size, mapped twice.
 */
BEXT_API void *bext_ringbuf__area(struct bext_map *m);

/* ---- perf event arrays (BPF_MAP_TYPE_PERF_EVENT_ARRAY) -------------------------
 * bext keeps one ring per index inside the map (the kernel keeps a perf event
 * fd per index; its ring belongs to the event). Each ring has the kernel perf
 * mmap layout: a struct perf_event_mmap_page (data_head at 1024, data_tail at
 * 1032, data_offset, data_size) then 2^n data pages; records are
 * PERF_RECORD_SAMPLE { header; u32 size; raw data } padded to 8 bytes, and
 * PERF_RECORD_LOST { header; u64 id; u64 lost } after drops.
 */
/*
 * bpf_perf_event_output: @flags & BPF_F_INDEX_MASK picks the ring,
 * BPF_F_CURRENT_CPU the calling CPU's. -EINVAL for other flag bits, -E2BIG for
 * an index >= max_entries, -ENOSPC when the ring is full (counted as lost).
 */
BEXT_API long bext_perf_event_output(struct bext_map *m, uint64_t flags, const void *data,
				     uint64_t size);
typedef void (*bext_perf_sample_fn)(void *ctx, int idx, void *data, uint32_t size);
typedef void (*bext_perf_lost_fn)(void *ctx, int idx, uint64_t lost);
/* Consumes every ring (one consumer at a time); returns records seen or -errno. */
BEXT_API int bext_perf__consume(struct bext_map *m, bext_perf_sample_fn sample,
				bext_perf_lost_fn lost, void *ctx);
/*
 * The same, rings in index order, stopping after @max samples (0: no limit);
 * each record is consumed as it is passed on, so what is left stays for the
 * next call. Returns the records consumed (samples and lost records).
 */
BEXT_API int bext_perf__consume_n(struct bext_map *m, uint64_t max, bext_perf_sample_fn sample,
				  bext_perf_lost_fn lost, void *ctx);
/*
 * bext_perf__consume_n(), and if there was nothing, waits up to @timeout_ms
 * (< 0 forever) for an output into any ring of the map (a wake-up that
 * crosses processes), then consumes what came. Returns the records consumed
 * (0: nothing came in time), -EINTR when a signal handler ran while it
 * waited, or -errno.
 */
BEXT_API int bext_perf__poll(struct bext_map *m, uint64_t max, bext_perf_sample_fn sample,
			     bext_perf_lost_fn lost, void *ctx, int timeout_ms);
/* Ring @idx's perf_event_mmap_page (data follows it); *len gets its mapping size. */
BEXT_API void *bext_perf__ring(struct bext_map *m, uint32_t idx, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_MAP_H */

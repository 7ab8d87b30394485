/* SPDX-License-Identifier: MIT */
/*
 * perf_event_array.c - BPF_MAP_TYPE_PERF_EVENT_ARRAY as bext-owned rings.
 *
 * The kernel map holds one perf event fd per index and bpf_perf_event_output
 * writes into that event's ring. bext has no perf events, so the map owns one
 * ring per index, each in the kernel's perf mmap layout:
 *
 *   page 0       struct perf_event_mmap_page (data_head @1024, data_tail @1032,
 *                data_offset = page size, data_size)
 *   pages 1..n   data, 2^k pages, records wrap around (not mapped twice)
 *
 * Records: PERF_RECORD_SAMPLE { perf_event_header; u32 size; u8 raw[size] }
 * where 4 + size is a multiple of 8 (raw is zero-padded and size includes the
 * padding, as the kernel's PERF_SAMPLE_RAW), and PERF_RECORD_LOST
 * { header; u64 id = 0; u64 lost } emitted before the next sample that fits
 * after drops. A consumer that knows the perf ring protocol (libbpf's
 * perf_buffer reads exactly this) can read a ring from bext_perf__ring().
 *
 * Producers of one ring serialise on a per-ring lock (userspace threads are
 * not pinned to CPUs); the single consumer publishes data_tail.
 *
 * Values: the u32 the loader stores (the kernel's perf event fd) is kept per
 * index and only used to answer delete with ENOENT for empty slots; output
 * works on every index whether or not a value was stored (the kernel returns
 * ENOENT for an empty slot and EOPNOTSUPP for another CPU's event: bext does
 * neither).
 */
#include <linux/perf_event.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "maps_internal.h"

#define PERF_MAX_INDEX 4096u

struct perf_ctl {
	uint32_t lock;
	uint32_t value; /* what update_elem stored (an fd number in the kernel) */
	uint64_t lost;	/* samples dropped since the last LOST record */
	uint64_t lost_total;
	uint8_t pad[40];
};
static_assert(sizeof(struct perf_ctl) == 64, "perf ctl layout");
static_assert(offsetof(struct perf_event_mmap_page, data_head) == 1024, "perf mmap page");

struct perf_sample_hdr {
	struct perf_event_header h;
	uint32_t size;
};

struct perf_lost_rec {
	struct perf_event_header h;
	uint64_t id;
	uint64_t lost;
};

static int perf_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS | BPF_F_PRESERVE_ELEMS;

	if (o->key_size != 4 || o->value_size != 4 || o->max_entries == 0 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	if (o->max_entries > PERF_MAX_INDEX)
		return -E2BIG;
	return 0;
}

static uint64_t perf_layout(struct bext_map_hdr *h)
{
	struct perf_shared *p = &h->p;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), ctl_end;

	if (p->data_pages == 0 || p->data_pages > (1u << 16))
		return 0;
	p->page_size = (uint32_t)page;
	p->ring_size = (1 + (uint64_t)p->data_pages) * page;
	p->ctl_off = 0;
	ctl_end = h->data_off + (uint64_t)h->max_entries * sizeof(struct perf_ctl);
	p->rings_off = (ctl_end + page - 1) / page * page; /* from the payload start */
	return p->rings_off - h->data_off + (uint64_t)h->max_entries * p->ring_size;
}

static void perf_init(struct bext_map_hdr *h, uint8_t *data)
{
	uint8_t *rings = data - h->data_off + h->p.rings_off;
	uint32_t i;

	for (i = 0; i < h->max_entries; i++) {
		struct perf_event_mmap_page *pg =
		    (struct perf_event_mmap_page *)(rings + (uint64_t)i * h->p.ring_size);

		pg->version = 0;
		pg->data_offset = h->p.page_size;
		pg->data_size = (uint64_t)h->p.data_pages * h->p.page_size;
	}
}

static int perf_open(struct bext_map *m, int fd)
{
	struct perf_shared *p = &m->hdr->p;

	(void)fd;
	if (p->rings_off + (uint64_t)m->max_entries * p->ring_size >
	    m->hdr->data_off + m->hdr->data_size)
		return -EBADMSG;
	m->p.rings = (uint8_t *)m->hdr + p->rings_off;
	m->p.ring_size = p->ring_size;
	m->p.data_pages = p->data_pages;
	m->p.page_size = p->page_size;
	return 0;
}

static inline struct perf_ctl *ctl_of(struct bext_map *m, uint32_t idx)
{
	return (struct perf_ctl *)(m->data + m->hdr->p.ctl_off) + idx;
}

static inline struct perf_event_mmap_page *page_of(struct bext_map *m, uint32_t idx)
{
	return (struct perf_event_mmap_page *)(m->p.rings + (uint64_t)idx * m->p.ring_size);
}

/* Copies into the ring at position @pos (wrapping). */
static void ring_write(uint8_t *base, uint64_t size, uint64_t pos, const void *src, uint64_t len)
{
	uint64_t off = pos & (size - 1), first = size - off < len ? size - off : len;

	memcpy(base + off, src, first);
	if (len > first)
		memcpy(base, (const uint8_t *)src + first, len - first);
}

static void ring_zero(uint8_t *base, uint64_t size, uint64_t pos, uint64_t len)
{
	static const uint8_t zeros[8];

	while (len) {
		uint64_t n = len < 8 ? len : 8;

		ring_write(base, size, pos, zeros, n);
		pos += n;
		len -= n;
	}
}

static void ring_read(const uint8_t *base, uint64_t size, uint64_t pos, void *dst, uint64_t len)
{
	uint64_t off = pos & (size - 1), first = size - off < len ? size - off : len;

	memcpy(dst, base + off, first);
	if (len > first)
		memcpy((uint8_t *)dst + first, base, len - first);
}

long bext_perf_event_output(struct bext_map *m, uint64_t flags, const void *data, uint64_t size)
{
	uint64_t idx = flags & BPF_F_INDEX_MASK, head, tail, dsize, raw, rec;
	struct perf_event_mmap_page *pg;
	struct perf_sample_hdr sh;
	struct perf_ctl *c;
	uint8_t *base;
	long err = 0;

	if (m->type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -EINVAL;
	if (flags & ~(uint64_t)BPF_F_INDEX_MASK)
		return -EINVAL;
	if (idx == BPF_F_CURRENT_CPU)
		idx = bext_cur_cpu(m);
	if (idx >= m->max_entries)
		return -E2BIG;
	raw = (size + 4 + 7) / 8 * 8 - 4;
	rec = sizeof(sh) + raw;
	if (rec > 0xffff)
		return -E2BIG; /* a perf record's size is 16 bits */
	c = ctl_of(m, (uint32_t)idx);
	pg = page_of(m, (uint32_t)idx);
	base = (uint8_t *)pg + m->p.page_size;
	dsize = (uint64_t)m->p.data_pages * m->p.page_size;
	bext_shm_lock(&c->lock); /* the ring is re-derived from head/tail: nothing to repair */
	head = pg->data_head;
	tail = __atomic_load_n(&pg->data_tail, __ATOMIC_ACQUIRE);
	if (c->lost) {
		struct perf_lost_rec lr = {.h = {.type = PERF_RECORD_LOST, .size = sizeof(lr)},
					   .lost = c->lost};

		if (dsize - (head - tail) < sizeof(lr) + rec) {
			c->lost++;
			c->lost_total++;
			err = -ENOSPC;
			goto out;
		}
		ring_write(base, dsize, head, &lr, sizeof(lr));
		head += sizeof(lr);
		c->lost = 0;
	}
	if (dsize - (head - tail) < rec) {
		c->lost++;
		c->lost_total++;
		err = -ENOSPC;
		goto out;
	}
	sh.h.type = PERF_RECORD_SAMPLE;
	sh.h.misc = 0;
	sh.h.size = (uint16_t)rec;
	sh.size = (uint32_t)raw;
	ring_write(base, dsize, head, &sh, sizeof(sh));
	ring_write(base, dsize, head + sizeof(sh), data, size);
	ring_zero(base, dsize, head + sizeof(sh) + size, raw - size);
	head += rec;
out:
	__atomic_store_n(&pg->data_head, head, __ATOMIC_SEQ_CST);
	bext_shm_unlock(&c->lock);
	/* the seq_cst store above and this load pair with bext_perf__poll's waiters/recheck */
	if (!err && __atomic_load_n(&m->hdr->p.waiters, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&m->hdr->p.wake_seq, 1, __ATOMIC_SEQ_CST);
		bext_futex_wake(&m->hdr->p.wake_seq, 1 << 30);
	}
	return err;
}

int bext_perf__consume_n(struct bext_map *m, uint64_t max, bext_perf_sample_fn sample,
			 bext_perf_lost_fn lost, void *ctx)
{
	uint64_t dsize = (uint64_t)m->p.data_pages * m->p.page_size, samples = 0;
	uint8_t *buf;
	uint32_t i;
	int n = 0;

	if (m->type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -EINVAL;
	buf = malloc(0x10000); /* a record's size is 16 bits */
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < m->max_entries && (!max || samples < max); i++) {
		struct perf_event_mmap_page *pg = page_of(m, i);
		uint8_t *base = (uint8_t *)pg + m->p.page_size;
		uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
		uint64_t tail = pg->data_tail;

		while (tail < head && (!max || samples < max)) {
			struct perf_event_header h;

			ring_read(base, dsize, tail, &h, sizeof(h));
			if (h.size < sizeof(h) || h.size > head - tail) {
				tail = head; /* corrupt: skip what is there */
				break;
			}
			ring_read(base, dsize, tail, buf, h.size);
			if ((h.type == PERF_RECORD_SAMPLE &&
			     (h.size < sizeof(struct perf_sample_hdr) ||
			      ((struct perf_sample_hdr *)buf)->size >
				  h.size - sizeof(struct perf_sample_hdr))) ||
			    (h.type == PERF_RECORD_LOST && h.size < sizeof(struct perf_lost_rec))) {
				tail = head; /* corrupt: skip what is there */
				break;
			}
			tail += h.size;
			/* consumed before it is passed on: a stop leaves only the rest */
			__atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
			if (h.type == PERF_RECORD_SAMPLE) {
				struct perf_sample_hdr *sh = (struct perf_sample_hdr *)buf;

				samples++;
				if (sample)
					sample(ctx, (int)i, buf + sizeof(*sh), sh->size);
			} else if (h.type == PERF_RECORD_LOST && lost) {
				lost(ctx, (int)i, ((struct perf_lost_rec *)buf)->lost);
			}
			n++;
		}
		__atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
	}
	free(buf);
	return n;
}

int bext_perf__consume(struct bext_map *m, bext_perf_sample_fn sample, bext_perf_lost_fn lost,
		       void *ctx)
{
	return bext_perf__consume_n(m, 0, sample, lost, ctx);
}

int bext_perf__poll(struct bext_map *m, uint64_t max, bext_perf_sample_fn sample,
		    bext_perf_lost_fn lost, void *ctx, int timeout_ms)
{
	struct perf_shared *p = &m->hdr->p;
	uint32_t seq;
	int n, err;

	n = bext_perf__consume_n(m, max, sample, lost, ctx);
	if (n != 0 || timeout_ms == 0)
		return n;
	/* advertise, then look again: an output after the look sees us waiting */
	__atomic_add_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	seq = __atomic_load_n(&p->wake_seq, __ATOMIC_SEQ_CST);
	n = bext_perf__consume_n(m, max, sample, lost, ctx);
	if (n != 0) {
		__atomic_sub_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
		return n;
	}
	err = bext_futex_wait(&p->wake_seq, seq, timeout_ms);
	__atomic_sub_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	n = bext_perf__consume_n(m, max, sample, lost, ctx);
	if (n != 0)
		return n;
	return err == -EINTR ? -EINTR : 0;
}

void *bext_perf__ring(struct bext_map *m, uint32_t idx, size_t *len)
{
	if (m->type != BPF_MAP_TYPE_PERF_EVENT_ARRAY || idx >= m->max_entries) {
		errno = EINVAL;
		return NULL;
	}
	if (len)
		*len = m->p.ring_size;
	return page_of(m, idx);
}

static long perf_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
			bool all_cpus)
{
	uint32_t idx = *(const uint32_t *)key;

	(void)all_cpus;
	if (flags != BPF_ANY)
		return -EINVAL;
	if (idx >= m->max_entries)
		return -E2BIG;
	memcpy(&ctl_of(m, idx)->value, value, 4);
	return 0;
}

static long perf_delete(struct bext_map *m, const void *key)
{
	uint32_t idx = *(const uint32_t *)key;

	if (idx >= m->max_entries)
		return -EINVAL;
	return __atomic_exchange_n(&ctl_of(m, idx)->value, 0, __ATOMIC_ACQ_REL) ? 0 : -ENOENT;
}

static int perf_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	(void)m;
	(void)key;
	(void)value;
	return -BEXT_ENOTSUPP; /* the kernel has no syscall lookup for perf event arrays */
}

static int perf_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	return bext_array_ops.get_next_key(m, key, next_key);
}

const struct bext_map_ops bext_perf_array_ops = {
    .check_attr = perf_check_attr,
    .layout = perf_layout,
    .init = perf_init,
    .open = perf_open,
    .update = perf_update,
    .delete = perf_delete,
    .lookup_copy = perf_lookup_copy,
    .get_next_key = perf_get_next_key,
};

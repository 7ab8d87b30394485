/* SPDX-License-Identifier: MIT */
/*
 * ringbuf.c - BPF_MAP_TYPE_RINGBUF in the kernel's layout.
 *
 * Payload: [map header page][consumer page][producer page][data: size bytes]
 * Each process maps consumer page + producer page + data, then the data again
 * right after, so a record that wraps is still contiguous in memory:
 *
 *   area: | consumer_pos | producer_pos | data 0..size | data 0..size (alias) |
 *
 * Records: 8-byte header { u32 len (BUSY 1<<31, DISCARD 1<<30), u32 second },
 * payload, padded to 8 bytes. Positions only grow; offset = pos & (size - 1).
 * The kernel keeps the header's page offset in `second`; bext keeps the
 * producer's tid there while the record is BUSY (libbpf ignores the word) so
 * a consumer can discard the record of a producer that died before
 * submitting, instead of stalling forever.
 *
 * Producers serialise reserve() on a cross-process lock (as the kernel's
 * spinlock); submit/discard are lock-free. The consumer sleeps on a futex
 * word (wake_seq) and advertises it in `waiters`; a producer wakes it only
 * when someone sleeps (no syscall otherwise). Both sides use full fences
 * between "publish" and "check the other side", so no wake-up is lost.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "maps_internal.h"

#define RB_PAGE 4096u
#define RB_HDR_SZ 8u

struct rb_hdr {
	uint32_t len;
	uint32_t owner; /* kernel: pg_off */
};

static int rb_check_attr(const struct bext_map_create_opts *o)
{
	if (o->key_size != 0 || o->value_size != 0 || (o->map_flags & ~BPF_F_NUMA_NODE))
		return -EINVAL;
	if (o->max_entries < RB_PAGE || (o->max_entries & (o->max_entries - 1)) ||
	    (o->max_entries % RB_PAGE))
		return -EINVAL;
	return 0;
}

static uint64_t rb_layout(struct bext_map_hdr *h)
{
	h->data_off = RB_PAGE; /* the header keeps page 0 of the payload */
	h->r.size = h->max_entries;
	h->r.area_off = RB_PAGE;
	return 2 * RB_PAGE + (uint64_t)h->max_entries;
}

static int rb_open(struct bext_map *m, int fd)
{
	struct bext_seg_hdr *sh = m->seg;
	uint64_t size = m->hdr->r.size, file_off = sh->payload_off + m->hdr->r.area_off;
	size_t len = 2 * RB_PAGE + 2 * size;
	uint8_t *base, *p;

	if (size == 0 || (size & (size - 1)) || size % RB_PAGE ||
	    m->hdr->r.area_off + 2 * RB_PAGE + size > sh->payload_size)
		return -EBADMSG;
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	p = mmap(base, 2 * RB_PAGE + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)file_off);
	if (p == MAP_FAILED)
		goto err;
	p = mmap(base + 2 * RB_PAGE + size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, (off_t)(file_off + 2 * RB_PAGE));
	if (p == MAP_FAILED)
		goto err;
	m->rb.area = base;
	m->rb.area_len = len;
	m->rb.mask = size - 1;
	m->rb.consumer_pos = (uint64_t *)base;
	m->rb.producer_pos = (uint64_t *)(base + RB_PAGE);
	m->rb.data = base + 2 * RB_PAGE;
	m->lookup_fn = NULL;
	return 0;
err:
	munmap(base, len);
	return -errno;
}

static void rb_close(struct bext_map *m)
{
	if (m->rb.area)
		munmap(m->rb.area, m->rb.area_len);
}

void *bext_ringbuf__area(struct bext_map *m)
{
	return m->type == BPF_MAP_TYPE_RINGBUF ? m->rb.area : NULL;
}

void *bext_ringbuf__reserve(struct bext_map *m, uint64_t size, uint64_t flags)
{
	struct ringbuf_shared *r = &m->hdr->r;
	uint64_t len, cons, prod;
	struct rb_hdr *h;

	if (m->type != BPF_MAP_TYPE_RINGBUF || flags)
		return NULL;
	if (size > (UINT32_MAX >> 2))
		return NULL;
	len = (size + RB_HDR_SZ + 7) & ~7ULL;
	if (len > m->rb.mask + 1)
		return NULL;
	bext_shm_lock(&r->lock);
	cons = __atomic_load_n(m->rb.consumer_pos, __ATOMIC_ACQUIRE);
	prod = *m->rb.producer_pos;
	if (prod + len - cons > m->rb.mask + 1) {
		bext_shm_unlock(&r->lock);
		return NULL;
	}
	h = (struct rb_hdr *)(m->rb.data + (prod & m->rb.mask));
	h->owner = bext_tid();
	__atomic_store_n(&h->len, (uint32_t)size | BPF_RINGBUF_BUSY_BIT, __ATOMIC_RELAXED);
	__atomic_store_n(m->rb.producer_pos, prod + len, __ATOMIC_RELEASE);
	bext_shm_unlock(&r->lock);
	return h + 1;
}

static void rb_commit(struct bext_map *m, void *data, uint64_t flags, bool discard)
{
	struct rb_hdr *h = (struct rb_hdr *)data - 1;
	uint32_t len = __atomic_load_n(&h->len, __ATOMIC_RELAXED) & ~BPF_RINGBUF_BUSY_BIT;
	struct ringbuf_shared *r = &m->hdr->r;

	if (discard)
		len |= BPF_RINGBUF_DISCARD_BIT;
	if (flags & BPF_RB_NO_WAKEUP) {
		/* no waiter check follows: a release store publishes the record */
		__atomic_store_n(&h->len, len, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&h->len, len, __ATOMIC_SEQ_CST);
	/* seq_cst store above + this load pair with the consumer's waiters/recheck */
	if (__atomic_load_n(&r->waiters, __ATOMIC_SEQ_CST) || (flags & BPF_RB_FORCE_WAKEUP)) {
		__atomic_add_fetch(&r->wake_seq, 1, __ATOMIC_SEQ_CST);
		bext_futex_wake(&r->wake_seq, 1 << 30);
	}
}

void bext_ringbuf__submit(struct bext_map *m, void *data, uint64_t flags)
{
	rb_commit(m, data, flags, false);
}

void bext_ringbuf__discard(struct bext_map *m, void *data, uint64_t flags)
{
	rb_commit(m, data, flags, true);
}

long bext_ringbuf__output(struct bext_map *m, const void *data, uint64_t size, uint64_t flags)
{
	void *p;

	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return -EINVAL;
	p = bext_ringbuf__reserve(m, size, 0);
	if (!p)
		return -EAGAIN;
	memcpy(p, data, size);
	rb_commit(m, p, flags, false);
	return 0;
}

uint64_t bext_ringbuf__query(struct bext_map *m, uint64_t flags)
{
	uint64_t cons = __atomic_load_n(m->rb.consumer_pos, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(m->rb.producer_pos, __ATOMIC_ACQUIRE);

	switch (flags) {
	case BPF_RB_AVAIL_DATA:
		return prod - cons;
	case BPF_RB_RING_SIZE:
		return m->rb.mask + 1;
	case BPF_RB_CONS_POS:
		return cons;
	case BPF_RB_PROD_POS:
		return prod;
	default:
		return 0;
	}
}

/* Returns records consumed, or a negative callback result. *stalled: BUSY head. */
static int rb_consume(struct bext_map *m, bext_ringbuf_sample_fn fn, void *ctx, bool *stalled)
{
	uint64_t cons = *m->rb.consumer_pos, prod;
	int n = 0, err;

	*stalled = false;
	for (;;) {
		prod = __atomic_load_n(m->rb.producer_pos, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		while (cons < prod) {
			struct rb_hdr *h = (struct rb_hdr *)(m->rb.data + (cons & m->rb.mask));
			uint32_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
			uint32_t sz = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

			if (len & BPF_RINGBUF_BUSY_BIT) {
				*stalled = true;
				return n;
			}
			cons += (sz + RB_HDR_SZ + 7) & ~7ULL;
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				err = fn ? fn(ctx, h + 1, sz) : 0;
				if (err < 0) {
					__atomic_store_n(m->rb.consumer_pos, cons,
							 __ATOMIC_RELEASE);
					return err;
				}
				n++;
			}
			__atomic_store_n(m->rb.consumer_pos, cons, __ATOMIC_RELEASE);
		}
	}
	return n;
}

/* A BUSY record at the consumer position whose producer died: discard it. */
static void rb_unstall(struct bext_map *m)
{
	uint64_t cons = *m->rb.consumer_pos;
	struct rb_hdr *h = (struct rb_hdr *)(m->rb.data + (cons & m->rb.mask));
	uint32_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);

	if ((len & BPF_RINGBUF_BUSY_BIT) && bext_task_dead(h->owner))
		__atomic_compare_exchange_n(&h->len, &len,
					    (len & ~BPF_RINGBUF_BUSY_BIT) | BPF_RINGBUF_DISCARD_BIT,
					    false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int bext_ringbuf__consume(struct bext_map *m, bext_ringbuf_sample_fn fn, void *ctx)
{
	bool stalled;

	if (m->type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	return rb_consume(m, fn, ctx, &stalled);
}

int bext_ringbuf__poll(struct bext_map *m, bext_ringbuf_sample_fn fn, void *ctx, int timeout_ms)
{
	struct ringbuf_shared *r = &m->hdr->r;
	bool stalled;
	int n;

	if (m->type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	n = rb_consume(m, fn, ctx, &stalled);
	if (n != 0)
		return n;
	for (;;) {
		uint32_t seq;
		int wait_ms = timeout_ms, err;

		__atomic_add_fetch(&r->waiters, 1, __ATOMIC_SEQ_CST);
		seq = __atomic_load_n(&r->wake_seq, __ATOMIC_SEQ_CST);
		n = rb_consume(m, fn, ctx, &stalled);
		if (n != 0) {
			__atomic_sub_fetch(&r->waiters, 1, __ATOMIC_SEQ_CST);
			return n;
		}
		/* a BUSY head may belong to a dead producer: look again soon */
		if (stalled && (wait_ms < 0 || wait_ms > 20))
			wait_ms = 20;
		err = bext_futex_wait(&r->wake_seq, seq, wait_ms);
		__atomic_sub_fetch(&r->waiters, 1, __ATOMIC_SEQ_CST);
		if (stalled)
			rb_unstall(m);
		n = rb_consume(m, fn, ctx, &stalled);
		if (n != 0)
			return n;
		if (err == -ETIMEDOUT) {
			if (wait_ms == timeout_ms)
				return 0;
			if (timeout_ms >= 0) {
				timeout_ms -= wait_ms;
				if (timeout_ms <= 0)
					return 0;
			}
		} else if (err < 0) {
			return err;
		}
	}
}

const struct bext_map_ops bext_ringbuf_ops = {
    .check_attr = rb_check_attr,
    .layout = rb_layout,
    .open = rb_open,
    .close = rb_close,
};

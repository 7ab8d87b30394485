/* SPDX-License-Identifier: MIT */
/*
 * queue_stack.c - BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK.
 *
 * A ring of max_entries + 1 value slots with head (next slot to write) and
 * tail (oldest slot), under one cross-process lock. Each operation writes the
 * slot first and publishes it with one store of head or tail, so a holder
 * that dies mid-way leaves either the old or the new state (the lock is taken
 * over by the next caller; nothing to repair).
 */
#include "maps_internal.h"

static int qs_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS;

	if (o->max_entries == 0 || o->key_size != 0 || o->value_size == 0 ||
	    (o->map_flags & ~allowed))
		return -EINVAL;
	if (o->value_size > BEXT_KMALLOC_MAX)
		return -E2BIG;
	if (o->max_entries > (1u << 30))
		return -E2BIG;
	return 0;
}

static uint64_t qs_layout(struct bext_map_hdr *h)
{
	h->q.size = h->max_entries + 1;
	return (uint64_t)h->q.size * round_up8(h->value_size);
}

static inline uint8_t *slot(struct bext_map *m, uint32_t i)
{
	return m->data + (uint64_t)i * m->value_stride;
}

static long qs_push(struct bext_map *m, const void *value, uint64_t flags)
{
	struct queue_shared *q = &m->hdr->q;
	uint32_t head, next;

	if ((flags & BPF_NOEXIST) || flags > BPF_EXIST)
		return -EINVAL;
	bext_shm_lock(&q->lock);
	head = q->head;
	next = head + 1 >= q->size ? 0 : head + 1;
	if (next == q->tail) {
		if (!(flags & BPF_EXIST)) {
			bext_shm_unlock(&q->lock);
			return -E2BIG;
		}
		/* full and BPF_EXIST: drop the oldest element (both types, as the kernel) */
		__atomic_store_n(&q->tail, q->tail + 1 >= q->size ? 0 : q->tail + 1,
				 __ATOMIC_RELEASE);
	}
	memcpy(slot(m, head), value, m->value_size);
	__atomic_store_n(&q->head, next, __ATOMIC_RELEASE);
	bext_shm_unlock(&q->lock);
	return 0;
}

static long qs_take(struct bext_map *m, void *value, bool stack, bool remove)
{
	struct queue_shared *q = &m->hdr->q;
	uint32_t idx;

	bext_shm_lock(&q->lock);
	if (q->head == q->tail) {
		bext_shm_unlock(&q->lock);
		return -ENOENT;
	}
	if (stack) {
		idx = q->head == 0 ? q->size - 1 : q->head - 1;
		memcpy(value, slot(m, idx), m->value_size);
		if (remove)
			__atomic_store_n(&q->head, idx, __ATOMIC_RELEASE);
	} else {
		idx = q->tail;
		memcpy(value, slot(m, idx), m->value_size);
		if (remove)
			__atomic_store_n(&q->tail, idx + 1 >= q->size ? 0 : idx + 1,
					 __ATOMIC_RELEASE);
	}
	bext_shm_unlock(&q->lock);
	return 0;
}

static long queue_pop(struct bext_map *m, void *v)
{
	return qs_take(m, v, false, true);
}
static long queue_peek(struct bext_map *m, void *v)
{
	return qs_take(m, v, false, false);
}
static long stack_pop(struct bext_map *m, void *v)
{
	return qs_take(m, v, true, true);
}
static long stack_peek(struct bext_map *m, void *v)
{
	return qs_take(m, v, true, false);
}

const struct bext_map_ops bext_queue_ops = {
    .check_attr = qs_check_attr,
    .layout = qs_layout,
    .push = qs_push,
    .pop = queue_pop,
    .peek = queue_peek,
};

const struct bext_map_ops bext_stack_ops = {
    .check_attr = qs_check_attr,
    .layout = qs_layout,
    .push = qs_push,
    .pop = stack_pop,
    .peek = stack_peek,
};

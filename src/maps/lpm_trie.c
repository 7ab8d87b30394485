/* SPDX-License-Identifier: MIT */
/*
 * lpm_trie.c - BPF_MAP_TYPE_LPM_TRIE (longest-prefix match).
 *
 * Key: struct { u32 prefixlen; u8 data[key_size - 4]; }, bits counted from
 * the most significant bit of data[0] (network order), as the kernel.
 *
 * Data: a pool of nodes { child[2], prefixlen, flags, data, value }. A node
 * is a real entry or an intermediate one (IM: created where two prefixes
 * fork; it always has two children). Each node's prefix is a prefix of its
 * children's; a child is chosen by the first bit after the parent's prefix.
 * The tree shape follows the kernel's insertion and deletion rules exactly,
 * so get_next_key returns the kernel's post-order.
 *
 * Pool: 2 * max_entries + 2 nodes (max_entries entries, fewer than
 * max_entries IM nodes, one node being replaced); handed out by a bump index,
 * then from a free list, so pages are only touched as nodes are used.
 *
 * Concurrency: one writer lock (owner tid). Writers build a node completely
 * and publish it with one store into its parent's child word (or the root);
 * helper lookups walk without a lock (a node freed and reused under a
 * reader can give it a stale answer, bounded by the depth limit). A writer
 * that dies leaves the old or the new tree plus at most a leaked node: the
 * next writer, taking the lock over, rebuilds the free list and the entry
 * count from what is reachable.
 */
#include <stdlib.h>

#include "maps_internal.h"

#define LPM_NODE_IM 1u
#define LPM_NODE_HDR 16u
#define LPM_DATA_MAX 256u

struct lpm_node {
	uint32_t child[2]; /* node index + 1 */
	uint32_t prefixlen;
	uint32_t flags;
	uint8_t data[];
};
static_assert(sizeof(struct lpm_node) == LPM_NODE_HDR, "lpm node layout");

#define L_BUMP(m) ((m)->hdr->l.bump)

static int lpm_check_attr(const struct bext_map_create_opts *o)
{
	uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BEXT_ACCESS_FLAGS;

	if (o->max_entries == 0 || !(o->map_flags & BPF_F_NO_PREALLOC) ||
	    (o->map_flags & ~allowed) || o->key_size < 4 + 1 || o->key_size > 4 + LPM_DATA_MAX ||
	    o->value_size < 1 || o->value_size > BEXT_KMALLOC_MAX - LPM_DATA_MAX - 64)
		return -EINVAL;
	if (o->max_entries > (1u << 28))
		return -E2BIG;
	return 0;
}

static uint64_t lpm_layout(struct bext_map_hdr *h)
{
	struct lpm_shared *l = &h->l;

	l->data_size = h->key_size - 4;
	l->max_prefixlen = l->data_size * 8;
	l->node_size = LPM_NODE_HDR + round_up8(l->data_size) + round_up8(h->value_size);
	l->nr_nodes = 2 * h->max_entries + 2;
	l->nodes_off = 0;
	return (uint64_t)l->nr_nodes * l->node_size;
}

static int lpm_open(struct bext_map *m, int fd)
{
	struct lpm_shared *l = &m->hdr->l;

	(void)fd;
	if (l->data_size != m->key_size - 4 ||
	    l->nodes_off + (uint64_t)l->nr_nodes * l->node_size > m->hdr->data_size)
		return -EBADMSG;
	m->l.nodes = m->data + l->nodes_off;
	m->l.node_size = l->node_size;
	m->l.nr_nodes = l->nr_nodes;
	m->l.data_size = l->data_size;
	m->l.max_prefixlen = l->max_prefixlen;
	return 0;
}

static inline struct lpm_node *node_at(struct bext_map *m, uint32_t ref)
{
	if (ref == 0 || ref > m->l.nr_nodes)
		return NULL;
	return (struct lpm_node *)(m->l.nodes + (uint64_t)(ref - 1) * m->l.node_size);
}

static inline uint32_t node_ref(struct bext_map *m, struct lpm_node *n)
{
	return (uint32_t)(((uint8_t *)n - m->l.nodes) / m->l.node_size) + 1;
}

static inline void *node_value(struct bext_map *m, struct lpm_node *n)
{
	return n->data + round_up8(m->l.data_size);
}

static inline uint32_t bit_at(const uint8_t *data, uint32_t idx)
{
	return (data[idx / 8] >> (7 - idx % 8)) & 1;
}

static inline uint32_t ld(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static inline void st(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
}

/* Bits of @key matching @n, at most min(n->prefixlen, key prefixlen). */
static uint32_t prefix_match(struct bext_map *m, const struct lpm_node *n, uint32_t plen,
			     const uint8_t *kdata)
{
	uint32_t limit = n->prefixlen < plen ? n->prefixlen : plen, i, len = 0;

	for (i = 0; i < m->l.data_size && len < limit; i++) {
		uint8_t x = n->data[i] ^ kdata[i];

		if (x) {
			len += (uint32_t)__builtin_clz(x) - 24;
			break;
		}
		len += 8;
	}
	return len < limit ? len : limit;
}

/* ---- node pool (writer lock held) -------------------------------------------------- */

static struct lpm_node *node_alloc(struct bext_map *m)
{
	struct lpm_shared *l = &m->hdr->l;
	struct lpm_node *n;

	if (l->free_head) {
		n = node_at(m, l->free_head);
		if (!n) {
			l->free_head = 0;
			return NULL;
		}
		l->free_head = n->child[0];
	} else if (L_BUMP(m) < m->l.nr_nodes) {
		n = node_at(m, ++L_BUMP(m));
	} else {
		return NULL;
	}
	n->child[0] = n->child[1] = 0;
	n->flags = 0;
	return n;
}

static void node_free(struct bext_map *m, struct lpm_node *n)
{
	n->child[0] = m->hdr->l.free_head;
	n->child[1] = 0;
	m->hdr->l.free_head = node_ref(m, n);
}

/* Marks nodes reachable from the root; returns non-IM count, or -1 if the shape is bad. */
static long walk_mark(struct bext_map *m, uint32_t ref, uint8_t *seen, uint32_t depth)
{
	struct lpm_node *n = node_at(m, ref);
	long a, b;

	if (!ref)
		return 0;
	if (!n || seen[ref] || depth > m->l.max_prefixlen + 1)
		return -1;
	seen[ref] = 1;
	a = walk_mark(m, n->child[0], seen, depth + 1);
	b = walk_mark(m, n->child[1], seen, depth + 1);
	if (a < 0 || b < 0)
		return -1;
	return a + b + !(n->flags & LPM_NODE_IM);
}

/* After taking the lock over from a dead writer: free list and count from reachability. */
static void lpm_repair(struct bext_map *m)
{
	struct lpm_shared *l = &m->hdr->l;
	uint8_t *seen = calloc(m->l.nr_nodes + 1, 1);
	uint32_t i;
	long cnt;

	if (!seen)
		return;
	pr_info("map %u: repairing LPM trie after its writer died\n", m->id);
	cnt = walk_mark(m, l->root, seen, 0);
	if (cnt < 0) {
		pr_warn("map %u: LPM trie structure is corrupt; emptying it\n", m->id);
		memset(seen, 0, m->l.nr_nodes + 1);
		l->root = 0;
		cnt = 0;
	}
	l->free_head = 0;
	if (L_BUMP(m) > m->l.nr_nodes)
		L_BUMP(m) = m->l.nr_nodes;
	for (i = L_BUMP(m); i >= 1; i--)
		if (!seen[i])
			node_free(m, node_at(m, i));
	l->n_entries = (uint32_t)cnt;
	free(seen);
}

static void lpm_lock(struct bext_map *m)
{
	if (bext_shm_lock(&m->hdr->l.lock))
		lpm_repair(m);
}

static void lpm_unlock(struct bext_map *m)
{
	bext_shm_unlock(&m->hdr->l.lock);
}

/* ---- lookup -------------------------------------------------------------------------- */

static struct lpm_node *lpm_find_longest(struct bext_map *m, const void *key)
{
	uint32_t plen = *(const uint32_t *)key, steps = 0;
	const uint8_t *kdata = (const uint8_t *)key + 4;
	struct lpm_node *n, *found = NULL;

	if (plen > m->l.max_prefixlen)
		return NULL;
	for (n = node_at(m, ld(&m->hdr->l.root)); n && steps <= m->l.max_prefixlen + 1; steps++) {
		uint32_t len = prefix_match(m, n, plen, kdata);

		if (len == m->l.max_prefixlen)
			return n;
		if (len < n->prefixlen)
			break;
		if (!(ld(&n->flags) & LPM_NODE_IM))
			found = n;
		n = node_at(m, ld(&n->child[bit_at(kdata, n->prefixlen)]));
	}
	return found;
}

static void *lpm_lookup(struct bext_map *m, const void *key)
{
	struct lpm_node *n = lpm_find_longest(m, key);

	return n ? node_value(m, n) : NULL;
}

static int lpm_lookup_copy(struct bext_map *m, const void *key, void *value)
{
	struct lpm_node *n;

	lpm_lock(m);
	n = lpm_find_longest(m, key);
	if (n)
		memcpy(value, node_value(m, n), m->value_size);
	lpm_unlock(m);
	return n ? 0 : -ENOENT;
}

/* ---- update / delete -------------------------------------------------------------- */

static long add_check(struct bext_map *m, uint64_t flags)
{
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (m->hdr->l.n_entries >= m->max_entries)
		return -ENOSPC;
	m->hdr->l.n_entries++;
	return 0;
}

static long lpm_update(struct bext_map *m, const void *key, const void *value, uint64_t flags,
		       bool all_cpus)
{
	uint32_t plen = *(const uint32_t *)key, *slot, len = 0;
	const uint8_t *kdata = (const uint8_t *)key + 4;
	struct lpm_node *nw, *n, *im;
	long err = 0;

	(void)all_cpus;
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (plen > m->l.max_prefixlen)
		return -EINVAL;
	lpm_lock(m);
	nw = node_alloc(m);
	if (!nw) {
		err = -ENOMEM;
		goto out;
	}
	nw->prefixlen = plen;
	memcpy(nw->data, kdata, m->l.data_size);
	memcpy(node_value(m, nw), value, m->value_size);

	slot = &m->hdr->l.root;
	while ((n = node_at(m, *slot))) {
		len = prefix_match(m, n, plen, kdata);
		if (n->prefixlen != len || n->prefixlen == plen)
			break;
		slot = &n->child[bit_at(kdata, n->prefixlen)];
	}
	if (!n) {
		err = add_check(m, flags);
		if (!err)
			st(slot, node_ref(m, nw));
		goto out;
	}
	if (n->prefixlen == len) {
		/* same prefix: the new node takes the old one's place and children */
		if (!(n->flags & LPM_NODE_IM)) {
			if (flags == BPF_NOEXIST)
				err = -EEXIST;
		} else {
			err = add_check(m, flags);
		}
		if (err)
			goto out;
		nw->child[0] = n->child[0];
		nw->child[1] = n->child[1];
		st(slot, node_ref(m, nw));
		node_free(m, n);
		nw = NULL;
		goto out_ok;
	}
	err = add_check(m, flags);
	if (err)
		goto out;
	if (len == plen) {
		/* the new prefix is a prefix of n: n hangs below it */
		nw->child[bit_at(n->data, len)] = node_ref(m, n);
		st(slot, node_ref(m, nw));
		goto out_ok;
	}
	im = node_alloc(m);
	if (!im) {
		m->hdr->l.n_entries--;
		err = -ENOMEM;
		goto out;
	}
	im->prefixlen = len;
	im->flags = LPM_NODE_IM;
	memcpy(im->data, n->data, m->l.data_size);
	if (bit_at(kdata, len)) {
		im->child[0] = node_ref(m, n);
		im->child[1] = node_ref(m, nw);
	} else {
		im->child[0] = node_ref(m, nw);
		im->child[1] = node_ref(m, n);
	}
	st(slot, node_ref(m, im));
out_ok:
	lpm_unlock(m);
	return 0;
out:
	if (err && nw)
		node_free(m, nw);
	lpm_unlock(m);
	return err;
}

static long lpm_delete(struct bext_map *m, const void *key)
{
	uint32_t plen = *(const uint32_t *)key, *trim, *trim2, len = 0;
	const uint8_t *kdata = (const uint8_t *)key + 4;
	struct lpm_node *n, *parent = NULL;
	long err = 0;

	if (plen > m->l.max_prefixlen)
		return -EINVAL;
	lpm_lock(m);
	trim = trim2 = &m->hdr->l.root;
	while ((n = node_at(m, *trim))) {
		len = prefix_match(m, n, plen, kdata);
		if (n->prefixlen != len || n->prefixlen == plen)
			break;
		parent = n;
		trim2 = trim;
		trim = &n->child[bit_at(kdata, n->prefixlen)];
	}
	if (!n || n->prefixlen != plen || n->prefixlen != len || (n->flags & LPM_NODE_IM)) {
		err = -ENOENT;
		goto out;
	}
	if (m->hdr->l.n_entries)
		m->hdr->l.n_entries--;
	if (n->child[0] && n->child[1]) {
		st(&n->flags, n->flags | LPM_NODE_IM);
		goto out;
	}
	if (parent && (parent->flags & LPM_NODE_IM) && !n->child[0] && !n->child[1]) {
		/* drop the IM parent too: its other child takes its place */
		st(trim2, parent->child[node_at(m, parent->child[0]) == n ? 1 : 0]);
		node_free(m, parent);
		node_free(m, n);
		goto out;
	}
	st(trim, n->child[0] ? n->child[0] : n->child[1]);
	node_free(m, n);
out:
	lpm_unlock(m);
	return err;
}

/* ---- iteration: the kernel's post-order --------------------------------------------- */

static void copy_key(struct bext_map *m, struct lpm_node *n, void *next_key)
{
	*(uint32_t *)next_key = n->prefixlen;
	memcpy((uint8_t *)next_key + 4, n->data, m->l.data_size);
}

static int lpm_get_next_key(struct bext_map *m, const void *key, void *next_key)
{
	uint32_t plen = key ? *(const uint32_t *)key : 0, len = 0, root, sp = 0;
	const uint8_t *kdata = key ? (const uint8_t *)key + 4 : NULL;
	struct lpm_node **stack = NULL, *n, *next = NULL, *search;
	int err = 0;

	lpm_lock(m);
	root = m->hdr->l.root;
	search = node_at(m, root);
	if (!search) {
		err = -ENOENT;
		goto out;
	}
	if (!key || plen > m->l.max_prefixlen)
		goto leftmost;
	stack = malloc(sizeof(*stack) * (m->l.max_prefixlen + 2));
	if (!stack) {
		err = -ENOMEM;
		goto out;
	}
	for (n = search; n && sp <= m->l.max_prefixlen + 1;) {
		stack[sp++] = n;
		len = prefix_match(m, n, plen, kdata);
		if (n->prefixlen != len || n->prefixlen == plen)
			break;
		n = node_at(m, n->child[bit_at(kdata, n->prefixlen)]);
	}
	if (!n || n->prefixlen != plen || n->prefixlen != len || (n->flags & LPM_NODE_IM))
		goto leftmost;
	/* the node after n in post-order */
	n = stack[sp - 1];
	while (sp > 1) {
		struct lpm_node *p = stack[sp - 2];

		if (node_at(m, p->child[0]) == n) {
			search = node_at(m, p->child[1]);
			if (search)
				goto leftmost;
		}
		if (!(p->flags & LPM_NODE_IM)) {
			next = p;
			goto copy;
		}
		n = p;
		sp--;
	}
	err = -ENOENT;
	goto out;
leftmost:
	for (n = search; n;) {
		if (n->flags & LPM_NODE_IM) {
			n = node_at(m, n->child[0]);
		} else {
			next = n;
			n = node_at(m, n->child[0]);
			if (!n)
				n = node_at(m, next->child[1]);
		}
	}
copy:
	if (next)
		copy_key(m, next, next_key);
	else
		err = -ENOENT;
out:
	lpm_unlock(m);
	free(stack);
	return err;
}

static long lpm_nr_entries(struct bext_map *m)
{
	return __atomic_load_n(&m->hdr->l.n_entries, __ATOMIC_RELAXED);
}

static int lpm_check(struct bext_map *m)
{
	uint8_t *seen = calloc(m->l.nr_nodes + 1, 1);
	long cnt;
	int bad = 0;

	if (!seen)
		return -ENOMEM;
	cnt = walk_mark(m, m->hdr->l.root, seen, 0);
	if (cnt < 0 || (uint32_t)cnt != m->hdr->l.n_entries) {
		pr_warn("check map %u: trie has %ld reachable entries, count says %u\n", m->id, cnt,
			m->hdr->l.n_entries);
		bad++;
	}
	free(seen);
	return bad ? -EUCLEAN : 0;
}

const struct bext_map_ops bext_lpm_ops = {
    .check_attr = lpm_check_attr,
    .layout = lpm_layout,
    .open = lpm_open,
    .lookup = lpm_lookup,
    .update = lpm_update,
    .delete = lpm_delete,
    .lookup_copy = lpm_lookup_copy,
    .get_next_key = lpm_get_next_key,
    .nr_entries = lpm_nr_entries,
    .check = lpm_check,
    .batch_ops = BATCH_LOOKUP | BATCH_UPDATE | BATCH_DELETE,
};

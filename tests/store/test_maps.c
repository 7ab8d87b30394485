/* SPDX-License-Identifier: MIT */
/*
 * Map semantics, checked against real kernel maps where the kernel is
 * available: the same attributes and the same random operation sequences
 * go to bext and to bpf(2), and return codes and values must agree.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdbool.h>

#include "store_test.h"

static bool have_kernel;
static struct bext_store *S;

static int kmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
		uint64_t extra)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags, .map_extra = extra);
	int fd = bpf_map_create(type, "t", ks, vs, max, &o);

	return fd < 0 ? -errno : fd;
}

static struct bext_map *bmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	int id = test_mk_map(S, type, ks, vs, max, flags);
	struct bext_map *m;

	REQUIRE(id > 0);
	m = bext_store__map_by_id(S, id);
	REQUIRE(m);
	bext_store__obj_put(S, id); /* the handle keeps the memory */
	return m;
}

static uint32_t rnd(void)
{
	static uint64_t x = 88172645463325252ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (uint32_t)x;
}

/* Creation attribute checks: error codes equal to the kernel's. */
static void test_create_attrs(void)
{
	static const struct {
		uint32_t type, ks, vs, max, flags;
		uint64_t extra;
	} c[] = {
	    {BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_ARRAY, 8, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_ARRAY, 4, 0, 4, 0, 0},
	    {BPF_MAP_TYPE_ARRAY, 4, 8, 0, 0, 0},
	    {BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_NO_PREALLOC, 0},
	    {BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_MMAPABLE, 0},
	    {BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, 1},
	    {BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4, BPF_F_MMAPABLE, 0},
	    {BPF_MAP_TYPE_PERCPU_ARRAY, 4, 40000, 4, 0, 0},
	    {BPF_MAP_TYPE_HASH, 4, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_HASH, 0, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_HASH, 4, 0, 4, 0, 0},
	    {BPF_MAP_TYPE_HASH, 4, 8, 0, 0, 0},
	    {BPF_MAP_TYPE_HASH, 600, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_COMMON_LRU, 0},
	    {BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_MMAPABLE, 0},
	    {BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_PREALLOC, 0},
	    {BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, BPF_F_NO_PREALLOC, 0},
	    {BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, BPF_F_NO_COMMON_LRU, 0},
	    {BPF_MAP_TYPE_PERCPU_HASH, 4, 40000, 4, 0, 0},
	    {BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_QUEUE, 4, 8, 4, 0, 0},
	    {BPF_MAP_TYPE_STACK, 0, 0, 4, 0, 0},
	    {BPF_MAP_TYPE_STACK, 0, 8, 0, 0, 0},
	    {BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 100, 0, 0},
	    {BPF_MAP_TYPE_BLOOM_FILTER, 4, 8, 100, 0, 0},
	    {BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 100, 0, 3},
	    {BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 100, 0, 16},
	    {BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, 0},
	    {BPF_MAP_TYPE_RINGBUF, 0, 0, 12288, 0, 0},
	    {BPF_MAP_TYPE_RINGBUF, 4, 0, 4096, 0, 0},
	    {BPF_MAP_TYPE_RINGBUF, 0, 0, 1000, 0, 0},
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct bext_map_create_opts o = {.sz = sizeof(o),
						 .map_type = c[i].type,
						 .key_size = c[i].ks,
						 .value_size = c[i].vs,
						 .max_entries = c[i].max,
						 .map_flags = c[i].flags,
						 .map_extra = c[i].extra};
		int b = bext_store__create_map(S, &o), k;

		if (b > 0)
			bext_store__obj_put(S, b);
		if (!have_kernel)
			continue;
		k = kmap(c[i].type, c[i].ks, c[i].vs, c[i].max, c[i].flags, c[i].extra);
		if (k >= 0)
			close(k);
		if ((b > 0) != (k >= 0) || (b < 0 && b != k)) {
			fprintf(stderr, "create case %u (type %u): bext %d, kernel %d\n", i,
				c[i].type, b, k);
			test_failures++;
		}
	}
}

/* ARRAY: random ops against the kernel, get_next_key included. */
static void test_array(void)
{
	struct bext_map *m = bmap(BPF_MAP_TYPE_ARRAY, 4, 12, 8, 0);
	int kfd = have_kernel ? kmap(BPF_MAP_TYPE_ARRAY, 4, 12, 8, 0, 0) : -1;
	uint8_t bv[12], kv[12];
	int i;
	void *base;
	uint32_t stride, k0 = 2;

	/* helper lookup returns the value in place; base/stride agree */
	CHECK_EQ(bext_map__array_base(m, &base, &stride), 0);
	CHECK_EQ(stride, 16);
	CHECK(bext_map__helper_lookup(m, &k0) == (uint8_t *)base + 2 * 16);
	k0 = 8;
	CHECK(bext_map__helper_lookup(m, &k0) == NULL);
	CHECK(bext_map__lookup_fn(m)(m, &k0) == NULL);

	for (i = 0; i < 3000; i++) {
		uint32_t key = rnd() % 10, op = rnd() % 4, nk_b = 77, nk_k = 77;
		uint64_t flags = rnd() % 4;
		int rb, rk = 0;

		memset(bv, (int)rnd(), sizeof(bv));
		memcpy(kv, bv, sizeof(kv));
		switch (op) {
		case 0:
			rb = bext_map__update_elem(m, &key, bv, flags);
			if (kfd >= 0)
				rk = bpf_map_update_elem(kfd, &key, kv, flags);
			break;
		case 1:
			rb = bext_map__lookup_elem(m, &key, bv);
			if (kfd >= 0) {
				rk = bpf_map_lookup_elem(kfd, &key, kv);
				if (rb == 0 && rk == 0)
					CHECK(!memcmp(bv, kv, sizeof(bv)));
			}
			break;
		case 2:
			rb = bext_map__delete_elem(m, &key);
			if (kfd >= 0)
				rk = bpf_map_delete_elem(kfd, &key);
			break;
		default:
			rb = bext_map__get_next_key(m, (rnd() & 1) ? &key : NULL, &nk_b);
			if (kfd >= 0) {
				rk = bpf_map_get_next_key(kfd, (i & 1) ? &key : NULL, &nk_k);
				rb = bext_map__get_next_key(m, (i & 1) ? &key : NULL, &nk_b);
				if (rb == 0 && rk == 0)
					CHECK_EQ(nk_b, nk_k);
			}
			break;
		}
		if (kfd >= 0 && rb != rk) {
			fprintf(stderr, "array op %u key %u flags %llu: bext %d kernel %d\n", op,
				key, (unsigned long long)flags, rb, rk);
			test_failures++;
		}
	}
	/* without a kernel, the fixed facts */
	k0 = 1;
	CHECK_EQ(bext_map__update_elem(m, &k0, bv, BPF_NOEXIST), -EEXIST);
	CHECK_EQ(bext_map__update_elem(m, &k0, bv, BPF_EXIST), 0);
	k0 = 8;
	CHECK_EQ(bext_map__update_elem(m, &k0, bv, BPF_ANY), -E2BIG);
	CHECK_EQ(bext_map__lookup_elem(m, &k0, bv), -ENOENT);
	CHECK_EQ(bext_map__delete_elem(m, &k0), -EINVAL);
	k0 = 7;
	CHECK_EQ(bext_map__get_next_key(m, &k0, &stride), -ENOENT);
	CHECK_EQ(bext_map__freeze(m), 0);
	CHECK_EQ(bext_map__update_elem(m, &k0, bv, BPF_ANY), -EPERM);
	CHECK_EQ(bext_map__lookup_elem(m, &k0, bv), 0);
	CHECK_EQ(bext_map__helper_update(m, &k0, bv, BPF_ANY), 0); /* programs still may */
	if (kfd >= 0) {
		CHECK_EQ(bpf_map_freeze(kfd), 0);
		CHECK_EQ(bpf_map_update_elem(kfd, &k0, kv, BPF_ANY), -EPERM);
		close(kfd);
	}
	bext_map__close(m);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Per-CPU maps: syscall values are ncpus slots of round_up(vs, 8); helpers act on this CPU. */
static void test_percpu(uint32_t type)
{
	struct bext_map *m = bmap(type, 4, 4, 4, 0);
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus(), key = 1, c, v;
	size_t sz = bext_map__syscall_value_size(m);
	uint64_t *vals = calloc(ncpu, 8), *kvals = calloc(ncpu, 8);
	cpu_set_t old;
	int kfd = have_kernel ? kmap(type, 4, 4, 4, 0, 0) : -1;

	REQUIRE(vals && kvals);
	CHECK_EQ(bext_map__nr_cpus(m), ncpu);
	CHECK_EQ(sz, 8 * ncpu);
	for (c = 0; c < ncpu; c++)
		vals[c] = 0xabcd00000000ULL | (100 + c); /* high bytes must not leak in */
	CHECK_EQ(bext_map__update_elem(m, &key, vals, BPF_ANY), 0);
	memset(vals, 0xff, sz);
	CHECK_EQ(bext_map__lookup_elem(m, &key, vals), 0);
	for (c = 0; c < ncpu; c++)
		CHECK_EQ(vals[c],
			 0xabcd00000000ULL | (100 + c)); /* 8 bytes per slot, as the kernel */
	if (kfd >= 0) {
		for (c = 0; c < ncpu; c++)
			kvals[c] = 0xabcd00000000ULL | (100 + c);
		CHECK_EQ(bpf_map_update_elem(kfd, &key, kvals, BPF_ANY), 0);
		memset(kvals, 0xff, sz);
		CHECK_EQ(bpf_map_lookup_elem(kfd, &key, kvals), 0);
		CHECK(!memcmp(vals, kvals, sz));
		close(kfd);
	}
	/* helpers: the slot of the CPU we run on */
	sched_getaffinity(0, sizeof(old), &old);
	for (c = 0; c < ncpu && c < 2; c++) {
		uint32_t *p;

		pin_cpu((int)c);
		CHECK_EQ(bext_map__current_cpu(m), c);
		p = bext_map__helper_lookup(m, &key);
		REQUIRE(p);
		CHECK_EQ(*p, 100 + c);
		v = 500 + c;
		CHECK_EQ(bext_map__helper_update(m, &key, &v, BPF_EXIST), 0);
		CHECK(bext_map__helper_lookup_percpu(m, &key, c) == p);
	}
	sched_setaffinity(0, sizeof(old), &old);
	CHECK(bext_map__helper_lookup_percpu(m, &key, ncpu) == NULL);
	CHECK_EQ(bext_map__lookup_elem(m, &key, vals), 0);
	for (c = 0; c < ncpu; c++)
		CHECK_EQ(vals[c] & 0xffffffff, c < 2 ? 500 + c : 100 + c);
	if (type == BPF_MAP_TYPE_PERCPU_HASH) {
		/* a new key through the helper: this CPU's slot set, others zero */
		key = 3;
		pin_cpu(0);
		v = 9;
		CHECK_EQ(bext_map__helper_update(m, &key, &v, BPF_NOEXIST), 0);
		sched_setaffinity(0, sizeof(old), &old);
		CHECK_EQ(bext_map__lookup_elem(m, &key, vals), 0);
		CHECK_EQ(vals[0], 9);
		for (c = 1; c < ncpu; c++)
			CHECK_EQ(vals[c], 0);
		/* kernel agrees on a helper-less view: syscall update of a new key */
	}
	free(vals);
	free(kvals);
	bext_map__close(m);
}

/* HASH family: random ops against the kernel (small max_entries: E2BIG paths too). */
static void test_hash_vs_kernel(uint32_t type)
{
	struct bext_map *m = bmap(type, 8, 16, 8, 0);
	/* LRU eviction choices differ from the kernel's (see test_lru): no comparison */
	int kfd = have_kernel && type != BPF_MAP_TYPE_LRU_HASH ? kmap(type, 8, 16, 8, 0, 0) : -1;
	int i;

	for (i = 0; i < 5000; i++) {
		uint64_t key = rnd() % 14 * 0x100000001ULL, flags = rnd() % 4, nk;
		uint8_t bv[16 * 64], kv[16 * 64]; /* per-CPU: 16 bytes per possible CPU */
		size_t vsz = bext_map__syscall_value_size(m);
		uint32_t op = rnd() % 5;
		int rb, rk = 0;

		memset(bv, (int)rnd(), sizeof(bv));
		memcpy(kv, bv, sizeof(kv));
		switch (op) {
		case 0:
		case 1:
			rb = bext_map__update_elem(m, &key, bv, flags);
			if (kfd >= 0)
				rk = bpf_map_update_elem(kfd, &key, kv, flags);
			break;
		case 2:
			rb = bext_map__lookup_elem(m, &key, bv);
			if (kfd >= 0) {
				rk = bpf_map_lookup_elem(kfd, &key, kv);
				if (!rb && !rk)
					CHECK(!memcmp(bv, kv, vsz));
			}
			break;
		case 3:
			rb = bext_map__delete_elem(m, &key);
			if (kfd >= 0)
				rk = bpf_map_delete_elem(kfd, &key);
			break;
		default:
			rb = bext_map__lookup_and_delete_elem(m, &key, bv);
			if (kfd >= 0) {
				rk = bpf_map_lookup_and_delete_elem(kfd, &key, kv);
				if (!rb && !rk)
					CHECK(!memcmp(bv, kv, vsz));
			}
			break;
		}
		if (kfd >= 0 && rb != rk) {
			fprintf(stderr, "hash type %u op %u flags %llu: bext %d kernel %d\n", type,
				op, (unsigned long long)flags, rb, rk);
			test_failures++;
			break;
		}
		(void)nk;
	}
	if (kfd >= 0 && type == BPF_MAP_TYPE_HASH) {
		/* same key sets by iteration; a missing key restarts from the first */
		uint64_t k, prev, missing = 0xdeadULL, first_b, first_k, t;
		int nb = 0, nk2 = 0, r;
		uint8_t v[16];

		for (r = bext_map__get_next_key(m, NULL, &k); r == 0;
		     prev = k, r = bext_map__get_next_key(m, &prev, &k)) {
			CHECK_EQ(bpf_map_lookup_elem(kfd, &k, v), 0);
			nb++;
		}
		CHECK_EQ(r, -ENOENT);
		for (r = bpf_map_get_next_key(kfd, NULL, &k); r == 0;
		     prev = k, r = bpf_map_get_next_key(kfd, &prev, &k))
			nk2++;
		CHECK_EQ(nb, nk2);
		if (nb) {
			CHECK_EQ(bext_map__get_next_key(m, NULL, &first_b), 0);
			CHECK_EQ(bext_map__get_next_key(m, &missing, &t), 0);
			CHECK_EQ(t, first_b);
			CHECK_EQ(bpf_map_get_next_key(kfd, NULL, &first_k), 0);
			CHECK_EQ(bpf_map_get_next_key(kfd, &missing, &t), 0);
			CHECK_EQ(t, first_k);
		}
	}
	CHECK_EQ(bext_map__check(m), 0);
	if (kfd >= 0)
		close(kfd);
	bext_map__close(m);
}

/* Iteration while deleting the current key keeps going (restart from first). */
static void test_hash_iter_delete(void)
{
	struct bext_map *m = bmap(BPF_MAP_TYPE_HASH, 4, 4, 64, 0);
	uint32_t k, v = 1, n = 0, cur;
	int r;

	for (k = 0; k < 50; k++)
		CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_NOEXIST), 0);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_EXIST), -ENOENT);
	/* the classic "delete while iterating" loop drains the map */
	r = bext_map__get_next_key(m, NULL, &cur);
	while (r == 0) {
		uint32_t nxt;
		int r2 = bext_map__get_next_key(m, &cur, &nxt);

		CHECK_EQ(bext_map__delete_elem(m, &cur), 0);
		n++;
		if (r2 != 0)
			break;
		cur = nxt;
		r = 0;
	}
	CHECK_EQ(n, 50);
	CHECK_EQ(bext_map__get_next_key(m, NULL, &cur), -ENOENT);
	/* full map: E2BIG for a new key; replacing an existing one works */
	for (k = 0; k < 64; k++)
		CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), 0);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), -E2BIG);
	k = 5;
	v = 55;
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), 0);
	CHECK_EQ(*(uint32_t *)bext_map__helper_lookup(m, &k), 55);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, 4 /* BPF_F_LOCK */), -EINVAL);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, 8), -EINVAL);
	CHECK_EQ(bext_map__check(m), 0);
	bext_map__close(m);
}

/* LRU: a full map evicts; recently used keys survive. */
static void test_lru(uint32_t type)
{
	const uint32_t max = 128;
	struct bext_map *m = bmap(type, 4, 8, max, 0);
	uint64_t *v = calloc(bext_map__nr_cpus(m), 8);
	uint32_t k, n = 0, cur;
	int r;

	REQUIRE(v);
	for (k = 0; k < max; k++)
		CHECK_EQ(bext_map__update_elem(m, &k, v, BPF_NOEXIST), 0);
	for (k = 0; k < max / 2; k++)
		CHECK(bext_map__helper_lookup(m, &k) != NULL);
	for (k = 1000; k < 1000 + max / 2; k++)
		CHECK_EQ(bext_map__update_elem(m, &k, v, BPF_NOEXIST), 0);
	for (k = 0; k < max / 2; k++)
		CHECK_EQ(bext_map__lookup_elem(m, &k, v), 0); /* referenced keys kept */
	for (k = 1000; k < 1000 + max / 2; k++)
		CHECK_EQ(bext_map__lookup_elem(m, &k, v), 0);
	for (r = bext_map__get_next_key(m, NULL, &cur); r == 0;
	     r = bext_map__get_next_key(m, &cur, &cur))
		n++;
	CHECK_EQ(n, max);
	CHECK_EQ(bext_map__check(m), 0);
	free(v);
	bext_map__close(m);
}

/* QUEUE/STACK vs kernel. */
static void test_queue_stack(uint32_t type)
{
	struct bext_map *m = bmap(type, 0, 4, 5, 0);
	int kfd = have_kernel ? kmap(type, 0, 4, 5, 0, 0) : -1;
	uint32_t v, kv, k = 0;
	int i;

	for (i = 0; i < 3000; i++) {
		uint32_t op = rnd() % 4, val = rnd();
		uint64_t flags = rnd() % 3 == 0 ? rnd() % 4 : 0;
		int rb, rk = 0;

		v = kv = val;
		if (op == 0) {
			rb = bext_map__update_elem(m, NULL, &v, flags);
			if (kfd >= 0)
				rk = bpf_map_update_elem(kfd, NULL, &kv, flags);
		} else if (op == 1) {
			rb = bext_map__lookup_and_delete_elem(m, NULL, &v);
			if (kfd >= 0)
				rk = bpf_map_lookup_and_delete_elem(kfd, NULL, &kv);
		} else if (op == 2) {
			rb = bext_map__lookup_elem(m, NULL, &v);
			if (kfd >= 0)
				rk = bpf_map_lookup_elem(kfd, NULL, &kv);
		} else {
			rb = bext_map__delete_elem(m, &k);
			if (kfd >= 0)
				rk = bpf_map_delete_elem(kfd, &k);
		}
		if (kfd >= 0 && (rb != rk || (rb == 0 && op != 0 && v != kv))) {
			fprintf(stderr,
				"queue/stack %u op %u flags %llu: bext %d/%u kernel %d/%u\n", type,
				op, (unsigned long long)flags, rb, v, rk, kv);
			test_failures++;
			break;
		}
	}
	if (kfd >= 0) {
		CHECK_EQ(bext_map__get_next_key(m, NULL, &v), bpf_map_get_next_key(kfd, NULL, &kv));
		close(kfd);
	}
	/* fixed facts: order and overwrite */
	while (bext_map__helper_pop(m, &v) == 0)
		;
	for (v = 1; v <= 5; v++)
		CHECK_EQ(bext_map__helper_push(m, &v, BPF_ANY), 0);
	CHECK_EQ(bext_map__helper_push(m, &v, BPF_ANY), -E2BIG);
	CHECK_EQ(bext_map__helper_push(m, &v, BPF_NOEXIST), -EINVAL);
	CHECK_EQ(bext_map__helper_push(m, &v, BPF_EXIST), 0); /* drops the oldest (1) */
	CHECK_EQ(bext_map__helper_peek(m, &v), 0);
	CHECK_EQ(v, type == BPF_MAP_TYPE_QUEUE ? 2 : 6);
	CHECK_EQ(bext_map__helper_pop(m, &v), 0);
	CHECK_EQ(v, type == BPF_MAP_TYPE_QUEUE ? 2 : 6);
	bext_map__close(m);
}

static void test_bloom(void)
{
	struct bext_map *m = bmap(BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 1000, 0);
	int kfd = have_kernel ? kmap(BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 1000, 0, 0) : -1;
	uint64_t v, fp = 0;

	for (v = 0; v < 1000; v++)
		CHECK_EQ(bext_map__update_elem(m, NULL, &v, BPF_ANY), 0);
	for (v = 0; v < 1000; v++)
		CHECK_EQ(bext_map__lookup_elem(m, NULL, &v), 0); /* no false negatives */
	for (v = 1000000; v < 1010000; v++)
		fp += bext_map__lookup_elem(m, NULL, &v) == 0;
	CHECK(fp < 500); /* ~1% expected with 5 hashes */
	CHECK_EQ(bext_map__update_elem(m, NULL, &v, BPF_EXIST), -EINVAL);
	CHECK_EQ(bext_map__delete_elem(m, &v), -EINVAL);
	if (kfd >= 0) {
		CHECK_EQ(bpf_map_update_elem(kfd, NULL, &v, BPF_EXIST), -EINVAL);
		CHECK_EQ(bpf_map_delete_elem(kfd, &v), -EINVAL);
		CHECK_EQ(bext_map__get_next_key(m, NULL, &v), bpf_map_get_next_key(kfd, NULL, &v));
		close(kfd);
	}
	bext_map__close(m);
}

int main(void)
{
	int probe = kmap(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0);

	have_kernel = probe >= 0;
	if (probe >= 0)
		close(probe);
	else
		printf("kernel eBPF maps unavailable (%d): comparisons skipped\n", probe);
	S = test_store_open("maps", 1024);
	test_create_attrs();
	test_array();
	test_percpu(BPF_MAP_TYPE_PERCPU_ARRAY);
	test_percpu(BPF_MAP_TYPE_PERCPU_HASH);
	test_hash_vs_kernel(BPF_MAP_TYPE_HASH);
	test_hash_vs_kernel(BPF_MAP_TYPE_PERCPU_HASH);
	test_hash_vs_kernel(BPF_MAP_TYPE_LRU_HASH);
	test_hash_iter_delete();
	test_lru(BPF_MAP_TYPE_LRU_HASH);
	test_lru(BPF_MAP_TYPE_LRU_PERCPU_HASH);
	test_queue_stack(BPF_MAP_TYPE_QUEUE);
	test_queue_stack(BPF_MAP_TYPE_STACK);
	test_bloom();
	CHECK_EQ(bext_store__check(S), 0);
	bext_store__close(S);
	if (test_result("test_maps"))
		return 1;
	if (!have_kernel) {
		printf("SKIP: kernel comparisons not run\n");
		return 77;
	}
	return 0;
}

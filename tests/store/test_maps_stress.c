/* SPDX-License-Identifier: MIT */
/*
 * 4 processes for ~2 s on one store: each owns a key range of a hash map it
 * inserts/replaces/deletes in (and checks its own view), all atomically add
 * into shared array, hash and per-CPU counters; totals must be exact.
 */
#include <linux/bpf.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test.h"

#define NPROC 4
#define RANGE 200

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int child(int idx, int arr_id, int hash_id, int pcpu_id, int pch_id, uint64_t *iters_out)
{
	struct bext_store *s = test_store_reopen();
	struct bext_map *arr, *h, *pc, *pch;
	uint64_t iters = 0, shadow[RANGE] = {0};
	uint32_t zero = 0, ckey = 0xffffffffu;
	double end = now() + 1.5;

	if (!s)
		return 2;
	arr = bext_store__map_by_id(s, arr_id);
	h = bext_store__map_by_id(s, hash_id);
	pc = bext_store__map_by_id(s, pcpu_id);
	pch = bext_store__map_by_id(s, pch_id);
	if (!arr || !h || !pc || !pch)
		return 3;
	while (now() < end) {
		for (int j = 0; j < 256; j++, iters++) {
			uint32_t k = idx * RANGE + (uint32_t)(iters * 7 % RANGE),
				 slot = k - idx * RANGE;
			uint64_t v = iters + 1, out;
			uint64_t *p;

			/* own range: insert / replace / delete, checked against a shadow */
			if (iters % 3 == 2) {
				int r = bext_map__delete_elem(h, &k);

				if (r != (shadow[slot] ? 0 : -ENOENT))
					return 10;
				shadow[slot] = 0;
			} else {
				if (bext_map__update_elem(h, &k, &v, BPF_ANY))
					return 11;
				shadow[slot] = v;
			}
			if (shadow[slot] && (bext_map__lookup_elem(h, &k, &out) || out != v))
				return 12;
			/* shared counters */
			p = bext_map__helper_lookup(arr, &zero);
			if (!p)
				return 13;
			__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
			p = bext_map__helper_lookup(pc, &zero);
			if (!p)
				return 14;
			__atomic_fetch_add(p, 1, __ATOMIC_RELAXED); /* this CPU's slot */
			p = bext_map__helper_lookup(h, &ckey);
			if (!p)
				return 15;
			__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
			p = bext_map__helper_lookup(pch, &zero);
			if (!p)
				return 16;
			__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
		}
	}
	*iters_out = iters;
	return 0;
}

int main(void)
{
	struct bext_store *s = test_store_open("stress", 64);
	int arr_id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int hash_id = test_mk_map(s, BPF_MAP_TYPE_HASH, 4, 8, NPROC * RANGE + 1, 0);
	int pcpu_id = test_mk_map(s, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 0);
	int pch_id = test_mk_map(s, BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 4, 0);
	struct bext_map *arr, *h, *pc, *pch;
	uint64_t total = 0, v, *pv, zero64 = 0, ncpu;
	uint32_t zero = 0, ckey = 0xffffffffu;
	int pfd[2], i, st;

	REQUIRE(arr_id > 0 && hash_id > 0 && pcpu_id > 0 && pch_id > 0);
	h = bext_store__map_by_id(s, hash_id);
	pch = bext_store__map_by_id(s, pch_id);
	REQUIRE(h && pch);
	ncpu = bext_map__nr_cpus(pch);
	pv = calloc(ncpu, 8);
	REQUIRE(pv);
	REQUIRE(bext_map__update_elem(h, &ckey, &zero64, BPF_NOEXIST) == 0);
	REQUIRE(bext_map__update_elem(pch, &zero, pv, BPF_NOEXIST) == 0);
	REQUIRE(pipe(pfd) == 0);
	for (i = 0; i < NPROC; i++) {
		if (fork() == 0) {
			uint64_t it = 0;
			int r = child(i, arr_id, hash_id, pcpu_id, pch_id, &it);

			if (write(pfd[1], &it, 8) != 8)
				r = 4;
			_exit(r);
		}
	}
	for (i = 0; i < NPROC; i++) {
		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "child failed: status %d\n", st);
			test_failures++;
		}
	}
	for (i = 0; i < NPROC; i++) {
		uint64_t it = 0;

		if (read(pfd[0], &it, 8) == 8)
			total += it;
	}
	printf("%llu iterations in all\n", (unsigned long long)total);
	CHECK(total > 0);
	arr = bext_store__map_by_id(s, arr_id);
	pc = bext_store__map_by_id(s, pcpu_id);
	REQUIRE(arr && pc);
	CHECK_EQ(bext_map__lookup_elem(arr, &zero, &v), 0);
	CHECK_EQ(v, total);
	CHECK_EQ(bext_map__lookup_elem(h, &ckey, &v), 0);
	CHECK_EQ(v, total);
	CHECK_EQ(bext_map__lookup_elem(pc, &zero, pv), 0);
	v = 0;
	for (i = 0; i < (int)ncpu; i++)
		v += pv[i];
	CHECK_EQ(v, total);
	CHECK_EQ(bext_map__lookup_elem(pch, &zero, pv), 0);
	v = 0;
	for (i = 0; i < (int)ncpu; i++)
		v += pv[i];
	CHECK_EQ(v, total);
	/* structure intact; each process's final view is what the map holds */
	CHECK_EQ(bext_map__check(h), 0);
	bext_map__close(arr);
	bext_map__close(pc);
	bext_map__close(pch);
	bext_map__close(h);
	CHECK_EQ(bext_store__check(s), 0);
	free(pv);
	bext_store__close(s);
	return test_result("test_maps_stress");
}

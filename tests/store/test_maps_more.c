/* SPDX-License-Identifier: MIT */
/*
 * LPM trie, batch operations, lookup_and_delete, map-in-map, perf event
 * arrays and BPF_F_LOCK. Where the kernel can answer, the same operations go
 * to bext and to bpf(2) and return codes, keys and values must agree.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test.h"

#define ENOTSUPP_K 524

static bool have_kernel;
static struct bext_store *S;

static int kmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd = bpf_map_create(type, "t", ks, vs, max, &o);

	return fd < 0 ? -errno : fd;
}

static struct bext_map *open_put(int id)
{
	struct bext_map *m;

	REQUIRE(id > 0);
	m = bext_store__map_by_id(S, id);
	REQUIRE(m);
	bext_store__obj_put(S, id);
	return m;
}

static struct bext_map *bmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	return open_put(test_mk_map(S, type, ks, vs, max, flags));
}

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)rs;
}

/* ---- LPM trie ------------------------------------------------------------------------ */

static void test_lpm_attrs(void)
{
	static const struct {
		uint32_t ks, vs, max, flags;
	} c[] = {
	    {8, 4, 16, BPF_F_NO_PREALLOC},
	    {8, 4, 16, 0},
	    {4, 4, 16, BPF_F_NO_PREALLOC},
	    {5, 4, 16, BPF_F_NO_PREALLOC},
	    {260, 4, 16, BPF_F_NO_PREALLOC},
	    {261, 4, 16, BPF_F_NO_PREALLOC},
	    {8, 0, 16, BPF_F_NO_PREALLOC},
	    {8, 4, 0, BPF_F_NO_PREALLOC},
	    {8, 4, 16, BPF_F_NO_PREALLOC | BPF_F_MMAPABLE},
	    {8, 4, 16, BPF_F_NO_PREALLOC | BPF_F_RDONLY},
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int b = test_mk_map(S, BPF_MAP_TYPE_LPM_TRIE, c[i].ks, c[i].vs, c[i].max,
				    c[i].flags),
		    k;

		if (b > 0)
			bext_store__obj_put(S, b);
		if (!have_kernel) {
			CHECK(i == 0 || i == 3 || i == 4 || i == 9 ? b > 0 : b == -EINVAL);
			continue;
		}
		k = kmap(BPF_MAP_TYPE_LPM_TRIE, c[i].ks, c[i].vs, c[i].max, c[i].flags);
		if (k >= 0)
			close(k);
		if ((b > 0) != (k >= 0) || (b < 0 && b != k)) {
			fprintf(stderr, "lpm create case %u: bext %d, kernel %d\n", i, b, k);
			test_failures++;
		}
	}
}

struct lpm_key {
	uint32_t prefixlen;
	uint8_t data[4];
};

static void rnd_lpm_key(struct lpm_key *k)
{
	/* few distinct addresses so prefixes nest and fork often */
	static const uint8_t base[4][4] = {
	    {192, 168, 0, 0}, {192, 168, 128, 7}, {10, 0, 0, 1}, {192, 169, 1, 1}};
	uint32_t r = rnd();

	memcpy(k->data, base[r % 4], 4);
	k->data[3] ^= (uint8_t)(r >> 8) & 0x3;
	k->data[2] ^= (uint8_t)((r >> 10) & 1) << 7;
	k->prefixlen = (r >> 12) % 36; /* 33..35 are invalid */
}

/* Walks both maps with get_next_key from NULL; key sequences must be equal. */
static void lpm_compare_walk(struct bext_map *m, int kfd)
{
	struct lpm_key bk, kk, bprev, kprev;
	int br, kr, n = 0;

	br = bext_map__get_next_key(m, NULL, &bk);
	kr = kfd >= 0 ? bpf_map_get_next_key(kfd, NULL, &kk) : br;
	while (n++ < 200) {
		CHECK_EQ(br, kr);
		if (br || kr)
			break;
		if (kfd >= 0 && memcmp(&bk, &kk, sizeof(bk))) {
			fprintf(stderr,
				"lpm walk step %d: bext %u/%u.%u.%u.%u kernel %u/%u.%u.%u.%u\n", n,
				bk.prefixlen, bk.data[0], bk.data[1], bk.data[2], bk.data[3],
				kk.prefixlen, kk.data[0], kk.data[1], kk.data[2], kk.data[3]);
			test_failures++;
			break;
		}
		bprev = bk;
		kprev = kk;
		br = bext_map__get_next_key(m, &bprev, &bk);
		kr = kfd >= 0 ? bpf_map_get_next_key(kfd, &kprev, &kk) : br;
	}
}

static void test_lpm_ops(void)
{
	struct bext_map *m = bmap(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 24, BPF_F_NO_PREALLOC);
	int kfd = have_kernel ? kmap(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 24, BPF_F_NO_PREALLOC) : -1;
	struct lpm_key k, nk, knk;
	uint64_t bv, kv, v;
	int i, br, kr;

	/* fixed cases first: exact semantics without the kernel too */
	k = (struct lpm_key){16, {192, 168, 0, 0}};
	v = 16;
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), 0);
	k = (struct lpm_key){24, {192, 168, 1, 0}};
	v = 24;
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_NOEXIST), 0);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_NOEXIST), -EEXIST);
	k = (struct lpm_key){32, {192, 168, 1, 9}};
	CHECK_EQ(bext_map__lookup_elem(m, &k, &bv), 0);
	CHECK_EQ(bv, 24);
	k = (struct lpm_key){32, {192, 168, 2, 9}};
	CHECK_EQ(bext_map__lookup_elem(m, &k, &bv), 0);
	CHECK_EQ(bv, 16);
	k = (struct lpm_key){32, {10, 168, 2, 9}};
	CHECK_EQ(bext_map__lookup_elem(m, &k, &bv), -ENOENT);
	k = (struct lpm_key){20, {192, 168, 1, 9}}; /* shorter lookup prefix: /24 cannot match */
	CHECK_EQ(bext_map__lookup_elem(m, &k, &bv), 0);
	CHECK_EQ(bv, 16);
	k = (struct lpm_key){33, {192, 168, 1, 9}};
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), -EINVAL);
	CHECK_EQ(bext_map__delete_elem(m, &k), -EINVAL);
	k = (struct lpm_key){24, {192, 168, 7, 0}};
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_EXIST), -ENOENT);
	CHECK_EQ(bext_map__update_elem(m, &k, &v, 4 /* BPF_F_LOCK */), -EINVAL);
	CHECK_EQ(bext_map__delete_elem(m, &k), -ENOENT);
	CHECK_EQ(bext_map__lookup_and_delete_elem(m, &k, &bv), -ENOTSUPP_K);
	CHECK_EQ(bext_map__nr_entries(m), 2);
	k = (struct lpm_key){24, {192, 168, 1, 0}};
	CHECK_EQ(bext_map__delete_elem(m, &k), 0);
	k = (struct lpm_key){16, {192, 168, 0, 0}};
	CHECK_EQ(bext_map__delete_elem(m, &k), 0);
	CHECK_EQ(bext_map__get_next_key(m, NULL, &nk), -ENOENT);
	CHECK_EQ(bext_map__nr_entries(m), 0);
	if (kfd >= 0) {
		k = (struct lpm_key){24, {192, 168, 7, 0}};
		CHECK_EQ(bpf_map_lookup_and_delete_elem(kfd, &k, &kv), -ENOTSUPP_K);
	}

	/* random operations, bext vs kernel */
	for (i = 0; i < 3000; i++) {
		uint32_t op = rnd() % 10;
		uint64_t flags = rnd() % 4;

		rnd_lpm_key(&k);
		v = rnd();
		bv = kv = 0;
		switch (op) {
		case 0:
		case 1:
		case 2:
		case 3:
			br = bext_map__update_elem(m, &k, &v, flags);
			kr = kfd >= 0 ? bpf_map_update_elem(kfd, &k, &v, flags) : br;
			break;
		case 4:
		case 5:
			br = bext_map__delete_elem(m, &k);
			kr = kfd >= 0 ? bpf_map_delete_elem(kfd, &k) : br;
			break;
		case 6:
		case 7:
			br = bext_map__lookup_elem(m, &k, &bv);
			kr = kfd >= 0 ? bpf_map_lookup_elem(kfd, &k, &kv) : br;
			if (kfd >= 0 && !br && !kr)
				CHECK_EQ(bv, kv);
			break;
		case 8:
			br = bext_map__get_next_key(m, &k, &nk);
			kr = kfd >= 0 ? bpf_map_get_next_key(kfd, &k, &knk) : br;
			if (kfd >= 0 && !br && !kr && memcmp(&nk, &knk, sizeof(nk))) {
				fprintf(stderr, "lpm next of %u: bext %u/%u kernel %u/%u\n",
					k.prefixlen, nk.prefixlen, nk.data[3], knk.prefixlen,
					knk.data[3]);
				test_failures++;
			}
			break;
		default:
			lpm_compare_walk(m, kfd);
			br = kr = 0;
			break;
		}
		if (br != kr) {
			fprintf(stderr, "lpm op %d (%u, flags %llu, /%u): bext %d kernel %d\n", i,
				op, (unsigned long long)flags, k.prefixlen, br, kr);
			test_failures++;
		}
		if (test_failures > 10)
			break;
	}
	lpm_compare_walk(m, kfd);
	CHECK_EQ(bext_map__check(m), 0);
	if (kfd >= 0)
		close(kfd);
	bext_map__close(m);
}

/* ---- batch operations --------------------------------------------------------------- */

static void test_batch_array(uint32_t type)
{
	bool pc = type == BPF_MAP_TYPE_PERCPU_ARRAY;
	struct bext_map *m = bmap(type, 4, 8, 10, 0);
	int kfd = have_kernel ? kmap(type, 4, 8, 10, 0) : -1;
	uint32_t ncpu = bext_map__nr_cpus(m), vsz = pc ? 8 * ncpu : 8;
	uint32_t keys[16], bkeys[16], kkeys[16], bcnt, kcnt, btok = 0, ktok = 0, i;
	uint8_t *vals = calloc(16, vsz), *bvals = calloc(16, vsz), *kvals = calloc(16, vsz);
	int br, kr, round;
	bool first = true;

	for (i = 0; i < 16; i++) {
		keys[i] = i;
		memset(vals + i * vsz, 0x10 + i, vsz);
	}
	bcnt = kcnt = 12; /* indexes 10, 11 are out of range: E2BIG after 10 */
	br = bext_map__update_batch(m, keys, vals, &bcnt, NULL);
	kr = kfd >= 0 ? bpf_map_update_batch(kfd, keys, vals, &kcnt, NULL) : br;
	CHECK_EQ(br, -E2BIG);
	CHECK_EQ(bcnt, 10);
	if (kfd >= 0) {
		CHECK_EQ(kr, br);
		CHECK_EQ(kcnt, bcnt);
	}
	for (round = 0; round < 6; round++) {
		memset(bvals, 0, 16 * vsz);
		memset(kvals, 0, 16 * vsz);
		bcnt = kcnt = 4;
		br = bext_map__lookup_batch(m, first ? NULL : &btok, &btok, bkeys, bvals, &bcnt,
					    NULL);
		kr = kfd >= 0 ? bpf_map_lookup_batch(kfd, first ? NULL : &ktok, &ktok, kkeys, kvals,
						     &kcnt, NULL)
			      : br;
		first = false;
		CHECK_EQ(bcnt, round < 2 ? 4 : round == 2 ? 2 : 0);
		CHECK_EQ(br, round < 2 ? 0 : -ENOENT);
		for (i = 0; i < bcnt; i++) {
			CHECK_EQ(bkeys[i], round * 4 + i);
			CHECK_EQ(bvals[i * vsz], 0x10 + round * 4 + i);
		}
		if (kfd >= 0) {
			CHECK_EQ(br, kr);
			CHECK_EQ(bcnt, kcnt);
			CHECK(!memcmp(bkeys, kkeys, bcnt * 4));
			CHECK(!memcmp(bvals, kvals, (size_t)bcnt * vsz));
			CHECK_EQ(btok, ktok);
		}
	}
	/* count 0: nothing, success */
	bcnt = 0;
	CHECK_EQ(bext_map__lookup_batch(m, NULL, &btok, bkeys, bvals, &bcnt, NULL), 0);
	{
		struct bext_map_batch_opts bo = {.sz = sizeof(bo), .elem_flags = BPF_F_LOCK};
		LIBBPF_OPTS(bpf_map_batch_opts, ko, .elem_flags = BPF_F_LOCK);
		struct bext_map_batch_opts bo2 = {.sz = sizeof(bo2), .flags = 1};
		LIBBPF_OPTS(bpf_map_batch_opts, ko2, .flags = 1);

		bcnt = kcnt = 2;
		br = bext_map__lookup_batch(m, NULL, &btok, bkeys, bvals, &bcnt, &bo);
		CHECK_EQ(br, -EINVAL);
		if (kfd >= 0)
			CHECK_EQ(bpf_map_lookup_batch(kfd, NULL, &ktok, kkeys, kvals, &kcnt, &ko),
				 br);
		br = bext_map__lookup_batch(m, NULL, &btok, bkeys, bvals, &bcnt, &bo2);
		CHECK_EQ(br, 0); /* the generic walk ignores batch.flags (kernel 6.18) */
		if (kfd >= 0)
			CHECK_EQ(bpf_map_lookup_batch(kfd, NULL, &ktok, kkeys, kvals, &kcnt, &ko2),
				 br);
	}
	bcnt = kcnt = 2;
	CHECK_EQ(bext_map__delete_batch(m, keys, &bcnt, NULL), -ENOTSUPP_K);
	CHECK_EQ(bext_map__lookup_and_delete_batch(m, NULL, &btok, bkeys, bvals, &bcnt, NULL),
		 -ENOTSUPP_K);
	if (kfd >= 0) {
		CHECK_EQ(bpf_map_delete_batch(kfd, keys, &kcnt, NULL), -ENOTSUPP_K);
		CHECK_EQ(
		    bpf_map_lookup_and_delete_batch(kfd, NULL, &ktok, kkeys, kvals, &kcnt, NULL),
		    -ENOTSUPP_K);
		close(kfd);
	}
	CHECK_EQ(bext_map__lookup_and_delete_elem(m, keys, bvals), -ENOTSUPP_K);
	CHECK_EQ(bext_map__freeze(m), 0);
	bcnt = 1;
	CHECK_EQ(bext_map__update_batch(m, keys, vals, &bcnt, NULL), -EPERM);
	free(vals);
	free(bvals);
	free(kvals);
	bext_map__close(m);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Walks a whole hash map with lookup(_and_delete)_batch in chunks of @chunk,
 * growing the chunk on ENOSPC as a user would. Returns the number of keys,
 * which go to @keys sorted; checks each value == key * 3 (+ cpu for per-CPU).
 */
static int hash_walk(struct bext_map *m, int kfd, uint32_t chunk, bool del, uint32_t *keys,
		     uint32_t vsz, uint32_t ncpu)
{
	uint32_t tok = 0, total = 0, cnt, i, c;
	uint8_t *vals = calloc(256, vsz);
	bool first = true;
	int r, guard = 0;

	for (;;) {
		cnt = chunk;
		if (kfd >= 0)
			r = del ? bpf_map_lookup_and_delete_batch(kfd, first ? NULL : &tok, &tok,
								  keys + total, vals, &cnt, NULL)
				: bpf_map_lookup_batch(kfd, first ? NULL : &tok, &tok, keys + total,
						       vals, &cnt, NULL);
		else
			r = del ? bext_map__lookup_and_delete_batch(m, first ? NULL : &tok, &tok,
								    keys + total, vals, &cnt, NULL)
				: bext_map__lookup_batch(m, first ? NULL : &tok, &tok, keys + total,
							 vals, &cnt, NULL);
		first = false;
		if (r == -ENOSPC) {
			CHECK_EQ(cnt, 0);
			chunk++;
			continue;
		}
		for (i = 0; i < cnt; i++)
			for (c = 0; c < ncpu; c++) {
				uint64_t v;

				memcpy(&v, vals + (size_t)i * vsz + c * 8, 8);
				CHECK_EQ(v, (uint64_t)keys[total + i] * 3 + c);
			}
		total += cnt;
		if (r == -ENOENT || ++guard > 1000)
			break;
		CHECK_EQ(r, 0);
		if (r)
			break;
	}
	free(vals);
	qsort(keys, total, 4, cmp_u32);
	return (int)total;
}

static void test_batch_hash(uint32_t type)
{
	bool pc = type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	struct bext_map *m = bmap(type, 4, 8, 64, 0);
	int kfd = have_kernel ? kmap(type, 4, 8, 64, 0) : -1;
	uint32_t ncpu = pc ? bext_map__nr_cpus(m) : 1, vsz = 8 * ncpu, keys[64], cnt, kcnt, i, c;
	uint32_t bk[256], kk[256], tok;
	uint8_t *vals = calloc(64, vsz), one[8];
	int nb, nk;

	for (i = 0; i < 50; i++) {
		keys[i] = i * 7 + 1;
		for (c = 0; c < ncpu; c++) {
			uint64_t v = (uint64_t)keys[i] * 3 + c;

			memcpy(vals + (size_t)i * vsz + c * 8, &v, 8);
		}
	}
	cnt = kcnt = 50;
	CHECK_EQ(bext_map__update_batch(m, keys, vals, &cnt, NULL), 0);
	CHECK_EQ(cnt, 50);
	CHECK_EQ(bext_map__nr_entries(m), 50);
	if (kfd >= 0) {
		CHECK_EQ(bpf_map_update_batch(kfd, keys, vals, &kcnt, NULL), 0);
		CHECK_EQ(kcnt, 50);
	}
	nb = hash_walk(m, -1, 3, false, bk, vsz, ncpu);
	CHECK_EQ(nb, 50);
	if (kfd >= 0) {
		nk = hash_walk(NULL, kfd, 3, false, kk, vsz, ncpu);
		CHECK_EQ(nk, nb);
		CHECK(!memcmp(bk, kk, 50 * 4));
	}
	/* a token past the last bucket */
	tok = 64;
	cnt = kcnt = 4;
	CHECK_EQ(bext_map__lookup_batch(m, &tok, &tok, bk, vals, &cnt, NULL), -ENOENT);
	if (kfd >= 0) {
		tok = 64;
		CHECK_EQ(bpf_map_lookup_batch(kfd, &tok, &tok, kk, vals, &kcnt, NULL), -ENOENT);
	}
	/* count 1 from the start: 0 or ENOSPC (some bucket holds 2+ keys), never more than 1 */
	cnt = 1;
	{
		int r = bext_map__lookup_batch(m, NULL, &tok, bk, vals, &cnt, NULL);

		CHECK(r == 0 || r == -ENOSPC);
		CHECK(cnt <= 1);
	}
	/* delete_batch stops at the first missing key: kernel and bext agree */
	keys[2] = 9999;
	cnt = kcnt = 5;
	CHECK_EQ(bext_map__delete_batch(m, keys, &cnt, NULL), -ENOENT);
	CHECK_EQ(cnt, 2);
	if (kfd >= 0) {
		CHECK_EQ(bpf_map_delete_batch(kfd, keys, &kcnt, NULL), -ENOENT);
		CHECK_EQ(kcnt, 2);
	}
	CHECK_EQ(bext_map__nr_entries(m), 48);
	/* lookup_and_delete_batch empties the map and returns every key once */
	nb = hash_walk(m, -1, 5, true, bk, vsz, ncpu);
	CHECK_EQ(nb, 48);
	CHECK_EQ(bext_map__nr_entries(m), 0);
	CHECK_EQ(bext_map__get_next_key(m, NULL, one), -ENOENT);
	if (kfd >= 0) {
		nk = hash_walk(NULL, kfd, 5, true, kk, vsz, ncpu);
		CHECK_EQ(nk, nb);
		CHECK(!memcmp(bk, kk, 48 * 4));
		CHECK_EQ(bpf_map_get_next_key(kfd, NULL, one), -ENOENT);
		close(kfd);
	}
	/* the map takes max_entries keys again (deleted elements went back) */
	for (i = 0; i < 64; i++) {
		for (c = 0; c < ncpu; c++)
			memcpy(vals + c * 8, &i, 4);
		CHECK_EQ(bext_map__update_elem(m, &i, vals, BPF_NOEXIST), 0);
	}
	CHECK_EQ(bext_map__check(m), 0);
	free(vals);
	bext_map__close(m);
}

static void test_batch_lpm(void)
{
	struct bext_map *m = bmap(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 32, BPF_F_NO_PREALLOC);
	int kfd = have_kernel ? kmap(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 32, BPF_F_NO_PREALLOC) : -1;
	struct lpm_key keys[20], bk[8], kk[8], btok, ktok;
	uint32_t vals[20], bv[8], kv[8], bc, kc, i;
	int br, kr, round;
	bool first = true;

	for (i = 0; i < 20; i++) {
		rnd_lpm_key(&keys[i]);
		keys[i].prefixlen %= 33;
		vals[i] = i;
		CHECK_EQ(bext_map__update_elem(m, &keys[i], &vals[i], BPF_ANY), 0);
		if (kfd >= 0)
			CHECK_EQ(bpf_map_update_elem(kfd, &keys[i], &vals[i], BPF_ANY), 0);
	}
	for (round = 0; round < 10; round++) {
		bc = kc = 3;
		br = bext_map__lookup_batch(m, first ? NULL : &btok, &btok, bk, bv, &bc, NULL);
		kr = kfd >= 0
			 ? bpf_map_lookup_batch(kfd, first ? NULL : &ktok, &ktok, kk, kv, &kc, NULL)
			 : br;
		first = false;
		if (kfd >= 0) {
			CHECK_EQ(br, kr);
			CHECK_EQ(bc, kc);
			CHECK(!memcmp(bk, kk, bc * sizeof(bk[0])));
			CHECK(!memcmp(bv, kv, bc * 4));
		}
		if (br)
			break;
	}
	CHECK_EQ(br, -ENOENT);
	bc = kc = 20;
	br = bext_map__delete_batch(m, keys, &bc, NULL);
	kr = kfd >= 0 ? bpf_map_delete_batch(kfd, keys, &kc, NULL) : br;
	CHECK_EQ(br, kr); /* duplicates among the random keys make both stop early alike */
	if (kfd >= 0) {
		CHECK_EQ(bc, kc);
		close(kfd);
	}
	bext_map__close(m);
}

/* ---- map in map --------------------------------------------------------------------- */

static void test_map_in_map(void)
{
	int inner1 = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int inner2 = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int other = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 16, 4, 0);
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "outer",
					 .map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = 8,
					 .inner_map_id = (uint32_t)inner1};
	struct bext_map *outer, *in, *hom;
	uint32_t k = 3, id, tok, ks[8], vs[8], cnt;
	uint64_t v = 77;
	int oid;

	REQUIRE(inner1 > 0 && inner2 > 0 && other > 0);
	o.value_size = 8;
	CHECK_EQ(bext_store__create_map(S, &o), -EINVAL);
	o.value_size = 4;
	o.inner_map_id = 999999;
	CHECK_EQ(bext_store__create_map(S, &o), -EBADF);
	o.inner_map_id = (uint32_t)inner1;
	oid = bext_store__create_map(S, &o);
	outer = open_put(oid);
	CHECK_EQ(bext_map__inner_map_id(outer), inner1);
	id = (uint32_t)inner2;
	CHECK_EQ(bext_map__update_elem(outer, &k, &id, BPF_NOEXIST), -EINVAL);
	CHECK_EQ(bext_map__update_elem(outer, &k, &id, BPF_ANY), 0);
	id = (uint32_t)other;
	CHECK_EQ(bext_map__update_elem(outer, &k, &id, BPF_ANY), -EINVAL); /* value size differs */
	id = 999999;
	CHECK_EQ(bext_map__update_elem(outer, &k, &id, BPF_ANY), -EBADF);
	k = 8;
	id = (uint32_t)inner2;
	CHECK_EQ(bext_map__update_elem(outer, &k, &id, BPF_ANY), -E2BIG);
	k = 3;
	id = 0;
	CHECK_EQ(bext_map__lookup_elem(outer, &k, &id), 0);
	CHECK_EQ(id, inner2);
	/* the helper lookup yields the inner map itself */
	in = bext_map__helper_lookup(outer, &k);
	REQUIRE(in);
	CHECK_EQ(bext_map__id(in), inner2);
	CHECK(bext_map__helper_lookup(outer, &k) == in); /* cached */
	k = 1;
	CHECK_EQ(bext_map__helper_update(in, &k, &v, BPF_ANY), 0);
	{
		struct bext_map *direct = bext_store__map_by_id(S, inner2);

		REQUIRE(direct);
		v = 0;
		CHECK_EQ(bext_map__lookup_elem(direct, &k, &v), 0);
		CHECK_EQ(v, 77);
		bext_map__close(direct);
	}
	k = 2;
	CHECK(bext_map__helper_lookup(outer, &k) == NULL);
	CHECK_EQ(bext_map__lookup_elem(outer, &k, &id), -ENOENT);
	CHECK_EQ(bext_map__nr_entries(outer), 1);
	cnt = 8;
	/* the kernel's generic walk skips empty slots */
	CHECK_EQ(bext_map__lookup_batch(outer, NULL, &tok, ks, vs, &cnt, NULL), -ENOENT);
	CHECK_EQ(cnt, 1);
	CHECK_EQ(ks[0], 3);
	CHECK_EQ(vs[0], inner2);
	CHECK_EQ(tok, 7); /* the last key visited, skipped ones included */
	k = 3;
	CHECK_EQ(bext_map__delete_elem(outer, &k), 0);
	CHECK_EQ(bext_map__delete_elem(outer, &k), -ENOENT);
	k = 8; /* out of range: E2BIG, as the kernel's fd arrays (checked on kernel 6.18) */
	CHECK_EQ(bext_map__delete_elem(outer, &k), -E2BIG);
	k = 3;
	bext_map__close(outer);

	o.map_type = BPF_MAP_TYPE_HASH_OF_MAPS;
	o.name = "hom";
	hom = open_put(bext_store__create_map(S, &o));
	k = 12345;
	id = (uint32_t)inner1;
	CHECK_EQ(bext_map__update_elem(hom, &k, &id, BPF_NOEXIST), 0);
	CHECK_EQ(bext_map__update_elem(hom, &k, &id, BPF_NOEXIST), -EEXIST);
	in = bext_map__helper_lookup(hom, &k);
	REQUIRE(in);
	CHECK_EQ(bext_map__id(in), inner1);
	cnt = 1;
	CHECK_EQ(bext_map__update_batch(hom, &k, &id, &cnt, NULL), 0);
	cnt = 1;
	CHECK_EQ(bext_map__delete_batch(hom, &k, &cnt, NULL), 0);
	CHECK(bext_map__helper_lookup(hom, &k) == NULL);
	bext_map__close(hom);
	bext_store__obj_put(S, inner1);
	bext_store__obj_put(S, inner2);
	bext_store__obj_put(S, other);
}

/* Kernel error codes for map-in-map attributes and updates. */
static void test_map_in_map_kernel(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int in, in2, out, r;
	uint32_t k = 0, v;

	if (!have_kernel)
		return;
	in = kmap(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	in2 = kmap(BPF_MAP_TYPE_ARRAY, 4, 16, 4, 0);
	REQUIRE(in >= 0 && in2 >= 0);
	o.inner_map_fd = in;
	r = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "o", 4, 8, 4, &o);
	CHECK_EQ(r < 0 ? -errno : 0, -EINVAL);
	out = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "o", 4, 4, 4, &o);
	REQUIRE(out >= 0);
	v = (uint32_t)in;
	CHECK_EQ(bpf_map_update_elem(out, &k, &v, BPF_NOEXIST), -EINVAL);
	v = (uint32_t)in2;
	CHECK_EQ(bpf_map_update_elem(out, &k, &v, BPF_ANY), -EINVAL);
	k = 4;
	v = (uint32_t)in;
	CHECK_EQ(bpf_map_update_elem(out, &k, &v, BPF_ANY), -E2BIG);
	k = 1;
	CHECK_EQ(bpf_map_delete_elem(out, &k), -ENOENT);
	{
		uint32_t ks[4], vs[4], tok, cnt = 4;

		k = 2;
		v = (uint32_t)in;
		CHECK_EQ(bpf_map_update_elem(out, &k, &v, BPF_ANY), 0);
		CHECK_EQ(bpf_map_lookup_batch(out, NULL, &tok, ks, vs, &cnt, NULL), -ENOENT);
		CHECK_EQ(cnt, 1);
		CHECK_EQ(ks[0], 2);
		CHECK_EQ(tok, 3);
		cnt = 1;
		CHECK_EQ(bpf_map_delete_batch(out, &k, &cnt, NULL), -ENOTSUPP_K);
	}
	close(out);
	out = bpf_map_create(BPF_MAP_TYPE_HASH_OF_MAPS, "h", 4, 4, 4, &o);
	REQUIRE(out >= 0);
	{
		uint32_t cnt = 1;

		v = (uint32_t)in;
		CHECK_EQ(bpf_map_update_batch(out, &k, &v, &cnt, NULL), 0);
		CHECK_EQ(cnt, 1);
	}
	close(out);
	close(in);
	close(in2);
}

/* ---- perf event array ---------------------------------------------------------------- */

struct perf_seen {
	int samples, lost_recs;
	uint64_t lost;
	uint32_t last_size;
	uint64_t sum;
	int idx_count[4];
};

static void perf_sample(void *ctx, int idx, void *data, uint32_t size)
{
	struct perf_seen *p = ctx;
	uint64_t v;

	p->samples++;
	p->last_size = size;
	memcpy(&v, data, 8);
	p->sum += v;
	if (idx < 4)
		p->idx_count[idx]++;
}

static void perf_lost(void *ctx, int idx, uint64_t lost)
{
	struct perf_seen *p = ctx;

	(void)idx;
	p->lost_recs++;
	p->lost += lost;
}

static void test_perf(void)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "events",
					 .map_type = BPF_MAP_TYPE_PERF_EVENT_ARRAY,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = 2,
					 .perf_ring_pages = 1};
	struct perf_event_mmap_page *pg;
	struct perf_seen seen = {0};
	struct bext_map *m;
	uint8_t data[100] = {0};
	uint64_t v, i, ok = 0;
	uint32_t k = 0;
	size_t len;
	long r;

	o.perf_ring_pages = 3;
	CHECK_EQ(bext_store__create_map(S, &o), -EINVAL);
	o.perf_ring_pages = 1;
	o.value_size = 8;
	CHECK_EQ(bext_store__create_map(S, &o), -EINVAL);
	o.value_size = 4;
	m = open_put(bext_store__create_map(S, &o));
	pg = bext_perf__ring(m, 1, &len);
	REQUIRE(pg);
	CHECK_EQ(len, 2 * 4096);
	CHECK_EQ(pg->data_offset, 4096);
	CHECK_EQ(pg->data_size, 4096);
	CHECK_EQ(bext_perf_event_output(m, 2, data, 8), -E2BIG);
	CHECK_EQ(bext_perf_event_output(m, 1ULL << 32, data, 8), -EINVAL);
	v = 5;
	memcpy(data, &v, 8);
	CHECK_EQ(bext_perf_event_output(m, 1, data, 9), 0);
	CHECK_EQ(pg->data_head, 8 + 4 + 12); /* raw size 12: 4 + 12 is a multiple of 8 */
	CHECK_EQ(bext_perf__consume(m, perf_sample, perf_lost, &seen), 1);
	CHECK_EQ(seen.samples, 1);
	CHECK_EQ(seen.last_size, 12);
	CHECK_EQ(seen.sum, 5);
	CHECK_EQ(pg->data_tail, 24);
	/* fill ring 0: 4096 / 112 = 36 records fit, the rest are lost */
	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 50; i++) {
		memcpy(data, &i, 8);
		r = bext_perf_event_output(m, 0, data, 100);
		CHECK(r == 0 || r == -ENOSPC);
		ok += r == 0;
	}
	CHECK_EQ(ok, 4096 / 112);
	CHECK_EQ(bext_perf__consume(m, perf_sample, perf_lost, &seen), (int)ok);
	CHECK_EQ(seen.idx_count[0], (int)ok);
	CHECK_EQ(seen.sum, ok * (ok - 1) / 2);
	/* the next output that fits is preceded by a LOST record with the count */
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(bext_perf_event_output(m, 0, data, 8), 0);
	CHECK_EQ(bext_perf__consume(m, perf_sample, perf_lost, &seen), 2);
	CHECK_EQ(seen.lost_recs, 1);
	CHECK_EQ(seen.lost, 50 - ok);
	CHECK_EQ(seen.samples, 1);
	/* wrap-around: records cross the end of the data area intact */
	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 200; i++) {
		v = i;
		memcpy(data, &v, 8);
		CHECK_EQ(bext_perf_event_output(m, 0, data, 40), 0);
		if (i % 7 == 6)
			bext_perf__consume(m, perf_sample, perf_lost, &seen);
	}
	bext_perf__consume(m, perf_sample, perf_lost, &seen);
	CHECK_EQ(seen.samples, 200);
	CHECK_EQ(seen.sum, 199 * 200 / 2);
	/* consume_n: rings in index order, stops after max samples, the rest stays */
	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 3; i++) {
		v = 10 + i;
		memcpy(data, &v, 8);
		CHECK_EQ(bext_perf_event_output(m, 1, data, 8), 0);
		CHECK_EQ(bext_perf_event_output(m, 0, data, 8), 0);
	}
	CHECK_EQ(bext_perf__consume_n(m, 4, perf_sample, perf_lost, &seen), 4);
	CHECK_EQ(seen.idx_count[0], 3);
	CHECK_EQ(seen.idx_count[1], 1);
	CHECK_EQ(seen.sum, 10 + 11 + 12 + 10);
	CHECK_EQ(bext_perf__consume_n(m, 0, perf_sample, perf_lost, &seen), 2);
	CHECK_EQ(seen.idx_count[1], 3);
	CHECK_EQ(bext_perf__consume_n(m, 5, perf_sample, perf_lost, &seen), 0);
	/* poll: nothing there, times out; an output from another process wakes it */
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(bext_perf__poll(m, 0, perf_sample, perf_lost, &seen, 30), 0);
	{
		struct timespec t0, t1;
		pid_t pid = fork();

		if (pid == 0) {
			usleep(200 * 1000);
			_exit(bext_perf_event_output(m, 1, data, 8) == 0 ? 0 : 1);
		}
		REQUIRE(pid > 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_EQ(bext_perf__poll(m, 0, perf_sample, perf_lost, &seen, 10000), 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CHECK(t1.tv_sec - t0.tv_sec < 5);
		CHECK_EQ(seen.idx_count[1], 1);
		waitpid(pid, NULL, 0);
	}
	/* a sample whose raw size runs past its record is corrupt: skipped, never read */
	CHECK_EQ(bext_perf_event_output(m, 0, data, 8), 0);
	pg = bext_perf__ring(m, 0, &len);
	REQUIRE(pg);
	{
		uint64_t at = pg->data_tail & (pg->data_size - 1);
		uint32_t huge = 0x7fffffff;

		memcpy((uint8_t *)pg + pg->data_offset + at + 8, &huge, 4);
	}
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(bext_perf__consume_n(m, 0, perf_sample, perf_lost, &seen), 0);
	CHECK_EQ(seen.samples, 0);
	CHECK_EQ(pg->data_tail, pg->data_head);
	CHECK_EQ(bext_map__lookup_elem(m, &k, &v), -ENOTSUPP_K);
	CHECK_EQ(bext_map__delete_elem(m, &k), -ENOENT);
	v = 7;
	CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), 0);
	CHECK_EQ(bext_map__delete_elem(m, &k), 0);
	bext_map__close(m);
	if (have_kernel) {
		int kfd = kmap(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0);

		REQUIRE(kfd >= 0);
		CHECK_EQ(bpf_map_lookup_elem(kfd, &k, &v), -ENOTSUPP_K);
		CHECK_EQ(bpf_map_delete_elem(kfd, &k), -ENOENT);
		close(kfd);
		CHECK_EQ(kmap(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 8, 2, 0), -EINVAL);
	}
}

/* ---- BPF_F_LOCK ---------------------------------------------------------------------- */

struct locked_val {
	uint32_t lock;
	uint32_t pad;
	uint64_t a, b;
};

static volatile int stop_readers;
static struct bext_map *lock_map;
static int torn_seen, lock_nonzero_seen;

static void *lock_reader(void *arg)
{
	uint32_t k = 0;
	struct locked_val v;

	(void)arg;
	while (!stop_readers) {
		if (bext_map__lookup_elem_flags(lock_map, &k, &v, BPF_F_LOCK))
			continue;
		if (v.a != v.b)
			__atomic_add_fetch(&torn_seen, 1, __ATOMIC_RELAXED);
		if (v.lock)
			__atomic_add_fetch(&lock_nonzero_seen, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_spin_lock(uint32_t type)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "locked",
					 .map_type = type,
					 .key_size = 4,
					 .value_size = sizeof(struct locked_val),
					 .max_entries = 4,
					 .has_spin_lock = true,
					 .spin_lock_off = 0};
	struct bext_map_create_opts bad = o;
	struct locked_val v = {.lock = 0xdead, .a = 1, .b = 1};
	struct bext_map *plain;
	pthread_t th;
	uint32_t k = 0, i;
	int id;

	bad.spin_lock_off = 2;
	CHECK_EQ(bext_store__create_map(S, &bad), -EINVAL);
	bad.spin_lock_off = 24;
	CHECK_EQ(bext_store__create_map(S, &bad), -EINVAL);
	bad = o;
	bad.map_type = BPF_MAP_TYPE_PERCPU_ARRAY;
	CHECK_EQ(bext_store__create_map(S, &bad), -EOPNOTSUPP);
	id = bext_store__create_map(S, &o);
	lock_map = open_put(id);
	CHECK_EQ(bext_map__spin_lock_off(lock_map), 0);
	CHECK_EQ(bext_map__update_elem(lock_map, &k, &v, BPF_ANY), 0);
	memset(&v, 0xff, sizeof(v));
	CHECK_EQ(bext_map__lookup_elem(lock_map, &k, &v), 0);
	CHECK_EQ(v.lock, 0); /* never copied in, reads as 0 */
	CHECK_EQ(v.a, 1);
	CHECK_EQ(bext_map__lookup_elem_flags(lock_map, &k, &v, BPF_F_LOCK), 0);
	CHECK_EQ(bext_map__lookup_elem_flags(lock_map, &k, &v, 8), -EINVAL);
	k = 1;
	v.a = v.b = 5;
	CHECK_EQ(bext_map__update_elem(lock_map, &k, &v, BPF_F_LOCK | BPF_NOEXIST),
		 type == BPF_MAP_TYPE_ARRAY ? -EEXIST : 0);
	k = 0;
	stop_readers = 0;
	REQUIRE(pthread_create(&th, NULL, lock_reader, NULL) == 0);
	for (i = 0; i < 200000; i++) {
		v.a = v.b = i;
		CHECK_EQ(bext_map__update_elem(lock_map, &k, &v, BPF_F_LOCK), 0);
	}
	stop_readers = 1;
	pthread_join(th, NULL);
	CHECK_EQ(torn_seen, 0);
	CHECK_EQ(lock_nonzero_seen, 0);
	bext_map__close(lock_map);

	plain = bmap(type, 4, 8, 4, 0);
	CHECK_EQ(bext_map__update_elem(plain, &k, &v, BPF_F_LOCK), -EINVAL);
	CHECK_EQ(bext_map__update_elem(plain, &k, &v, BPF_F_LOCK | BPF_NOEXIST), -EINVAL);
	CHECK_EQ(bext_map__lookup_elem_flags(plain, &k, &v, BPF_F_LOCK), -EINVAL);
	CHECK_EQ(bext_map__spin_lock_off(plain), -ENOENT);
	if (have_kernel) {
		int kfd = kmap(type, 4, 8, 4, 0);

		REQUIRE(kfd >= 0);
		CHECK_EQ(bpf_map_update_elem(kfd, &k, &v, BPF_F_LOCK), -EINVAL);
		CHECK_EQ(bpf_map_update_elem(kfd, &k, &v, BPF_F_LOCK | BPF_NOEXIST), -EINVAL);
		CHECK_EQ(bpf_map_lookup_elem_flags(kfd, &k, &v, BPF_F_LOCK), -EINVAL);
		close(kfd);
	}
	bext_map__close(plain);
}

/* The outer array of maps holds a store reference on each inner map it stores. */
static uint32_t refcnt_of(int id)
{
	struct bext_obj_info info;

	return bext_store__obj_info(S, (uint32_t)id, &info) ? 0 : info.refcnt;
}

static void test_map_in_map_refs(void)
{
	int a = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int b = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int c = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "outer_refs",
					 .map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = 4,
					 .inner_map_id = (uint32_t)a};
	uint32_t k1 = 1, k2 = 2, k3 = 3, id;
	struct bext_map *outer, *in;
	int oid;

	REQUIRE(a > 0 && b > 0 && c > 0);
	oid = bext_store__create_map(S, &o);
	REQUIRE(oid > 0);
	outer = bext_store__map_by_id(S, (uint32_t)oid);
	REQUIRE(outer);
	id = (uint32_t)b;
	CHECK_EQ(bext_map__update_elem(outer, &k1, &id, BPF_ANY), 0);
	CHECK_EQ(refcnt_of(b), 2);
	/* b's creator lets go: the outer map keeps it alive */
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)b), 0);
	CHECK_EQ(refcnt_of(b), 1);
	in = bext_map__helper_lookup(outer, &k1);
	REQUIRE(in);
	CHECK_EQ(bext_map__id(in), (uint32_t)b);
	CHECK(bext_map__helper_lookup(outer, &k1) == in); /* cached handle */
	/* overwrite: b's last reference goes, b is removed */
	id = (uint32_t)a;
	CHECK_EQ(bext_map__update_elem(outer, &k1, &id, BPF_ANY), 0);
	CHECK_EQ(refcnt_of(b), 0);
	CHECK_EQ(refcnt_of(a), 2);
	in = bext_map__helper_lookup(outer, &k1);
	REQUIRE(in);
	CHECK_EQ(bext_map__id(in), (uint32_t)a);
	/* a removed map cannot be stored; the slot keeps its map */
	id = (uint32_t)b;
	CHECK_EQ(bext_map__update_elem(outer, &k2, &id, BPF_ANY), -EBADF);
	CHECK_EQ(bext_map__lookup_elem(outer, &k2, &id), -ENOENT);
	/* delete drops the reference */
	CHECK_EQ(bext_map__delete_elem(outer, &k1), 0);
	CHECK_EQ(bext_map__delete_elem(outer, &k1), -ENOENT);
	CHECK_EQ(refcnt_of(a), 1);
	CHECK(bext_map__helper_lookup(outer, &k1) == NULL);
	/* the same map in two slots: two references */
	id = (uint32_t)c;
	CHECK_EQ(bext_map__update_elem(outer, &k2, &id, BPF_ANY), 0);
	CHECK_EQ(bext_map__update_elem(outer, &k3, &id, BPF_ANY), 0);
	CHECK_EQ(refcnt_of(c), 3);
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)c), 0);
	id = (uint32_t)a;
	CHECK_EQ(bext_map__update_elem(outer, &k3, &id, BPF_ANY), 0);
	CHECK_EQ(refcnt_of(c), 1);
	CHECK_EQ(refcnt_of(a), 2);
	/* removing the outer map drops what its slots hold: c goes, a is back to 1 */
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)oid), 0);
	CHECK_EQ(refcnt_of(oid), 0);
	CHECK_EQ(refcnt_of(c), 0);
	CHECK_EQ(refcnt_of(a), 1);
	/* the orphaned handle still works, without references */
	id = (uint32_t)a;
	CHECK_EQ(bext_map__update_elem(outer, &k1, &id, BPF_ANY), 0);
	CHECK_EQ(refcnt_of(a), 1);
	bext_map__close(outer);
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)a), 0);
	CHECK_EQ(bext_store__check(S), 0);

	/* hash of maps: each element's value holds a reference too */
	{
		int t = test_mk_map(S, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
		int x = test_mk_map(S, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
		int y = test_mk_map(S, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
		struct bext_map_create_opts ho = {.sz = sizeof(ho),
						  .name = "hom_refs",
						  .map_type = BPF_MAP_TYPE_HASH_OF_MAPS,
						  .key_size = 8,
						  .value_size = 4,
						  .max_entries = 4,
						  .inner_map_id = (uint32_t)t};
		uint64_t hk1 = 11, hk2 = 22, hk3 = 33, hk4 = 44, hk5 = 55, ks[4], tok;
		uint32_t vs[4], cnt = 4;
		struct bext_map *hom;
		int hid;

		REQUIRE(t > 0 && x > 0 && y > 0);
		hid = bext_store__create_map(S, &ho);
		REQUIRE(hid > 0);
		hom = bext_store__map_by_id(S, (uint32_t)hid);
		REQUIRE(hom);
		id = (uint32_t)x;
		CHECK_EQ(bext_map__update_elem(hom, &hk1, &id, BPF_ANY), 0);
		CHECK_EQ(bext_map__update_elem(hom, &hk2, &id, BPF_ANY), 0);
		CHECK_EQ(refcnt_of(x), 3);
		CHECK_EQ(bext_map__update_elem(hom, &hk1, &id, BPF_NOEXIST), -EEXIST);
		CHECK_EQ(refcnt_of(x), 3); /* a failed update takes nothing */
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)x), 0);
		in = bext_map__helper_lookup(hom, &hk1);
		REQUIRE(in);
		CHECK_EQ(bext_map__id(in), (uint32_t)x);
		/* overwrite in place: x loses one, y gains one */
		id = (uint32_t)y;
		CHECK_EQ(bext_map__update_elem(hom, &hk1, &id, BPF_ANY), 0);
		CHECK_EQ(refcnt_of(x), 1);
		CHECK_EQ(refcnt_of(y), 2);
		CHECK_EQ(bext_map__delete_elem(hom, &hk2), 0); /* x's last reference */
		CHECK_EQ(refcnt_of(x), 0);
		id = (uint32_t)x;
		CHECK_EQ(bext_map__update_elem(hom, &hk2, &id, BPF_ANY), -EBADF);
		/* full map: E2BIG, nothing taken */
		id = (uint32_t)y;
		CHECK_EQ(bext_map__update_elem(hom, &hk2, &id, BPF_ANY), 0);
		CHECK_EQ(bext_map__update_elem(hom, &hk3, &id, BPF_ANY), 0);
		CHECK_EQ(bext_map__update_elem(hom, &hk4, &id, BPF_ANY), 0);
		CHECK_EQ(refcnt_of(y), 5);
		CHECK_EQ(bext_map__update_elem(hom, &hk5, &id, BPF_ANY), -E2BIG);
		CHECK_EQ(refcnt_of(y), 5);
		/* lookup_and_delete batch gives the references back */
		CHECK_EQ(bext_map__lookup_and_delete_batch(hom, NULL, &tok, ks, vs, &cnt, NULL),
			 -ENOENT);
		CHECK_EQ(cnt, 4);
		CHECK_EQ(refcnt_of(y), 1);
		CHECK_EQ(bext_map__nr_entries(hom), 0);
		/* removing the outer map drops the rest */
		CHECK_EQ(bext_map__update_elem(hom, &hk1, &id, BPF_ANY), 0);
		CHECK_EQ(bext_map__update_elem(hom, &hk2, &id, BPF_ANY), 0);
		CHECK_EQ(refcnt_of(y), 3);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)hid), 0);
		CHECK_EQ(refcnt_of(y), 1);
		bext_map__close(hom);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)y), 0);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)t), 0);
		CHECK_EQ(bext_store__check(S), 0);
	}
}

/* A program array takes only ids of live programs. */
static void test_prog_array_ids(void)
{
	const uint64_t insns[2] = {0x00000000000000b7ULL, 0x0000000000000095ULL}; /* r0 = 0; exit */
	struct bext_prog_create_opts po = {.sz = sizeof(po),
					   .name = "pa_target",
					   .prog_type = BPF_PROG_TYPE_XDP,
					   .insns = insns,
					   .insn_cnt = 2,
					   .license = "GPL"};
	int pa = test_mk_map(S, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0);
	int prog = bext_store__create_prog(S, &po);
	int notprog = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	struct bext_map *m;
	uint32_t k = 0, id;

	REQUIRE(pa > 0 && prog > 0 && notprog > 0);
	m = bext_store__map_by_id(S, (uint32_t)pa);
	REQUIRE(m);
	id = (uint32_t)prog;
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), 0);
	id = (uint32_t)notprog;
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), -EINVAL);
	id = 999999;
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), -EBADF);
	id = 0;
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), -EBADF);
	CHECK_EQ(bext_map__lookup_elem(m, &k, &id), 0);
	CHECK_EQ(id, (uint32_t)prog);
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)prog), 0);
	/* the array's slot keeps the program alive (test_prog_array has the details) */
	id = (uint32_t)prog;
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), 0);
	CHECK_EQ(bext_map__delete_elem(m, &k), 0);
	CHECK_EQ(bext_map__update_elem(m, &k, &id, BPF_ANY), -EBADF); /* removed now */
	bext_map__close(m);
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)pa), 0);
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)notprog), 0);
}

/* BPF_MAP_TYPE_STACK_TRACE: creation attributes and syscall ops on an empty map, vs the kernel. */
static void test_stack_trace_kernel(void)
{
	static const struct {
		uint32_t ks, vs, max, flags;
	} attrs[] = {
	    {4, 64, 16, 0},
	    {4, 8, 1, 0},
	    {8, 64, 16, 0},
	    {4, 12, 16, 0},
	    {4, 0, 16, 0},
	    {4, 127 * 8, 4, 0},
	    {4, 128 * 8, 4, 0},
	    {4, 64, 0, 0},
	    {4, 64, 16, BPF_F_NO_PREALLOC},
	    {4, 64, 16, BPF_F_RDONLY},
	};
	uint32_t k, nk, v32 = 0;
	uint64_t val[8];

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		int id = test_mk_map(S, BPF_MAP_TYPE_STACK_TRACE, attrs[i].ks, attrs[i].vs,
				     attrs[i].max, attrs[i].flags);

		if (have_kernel) {
			int kfd = kmap(BPF_MAP_TYPE_STACK_TRACE, attrs[i].ks, attrs[i].vs,
				       attrs[i].max, attrs[i].flags);

			if ((id > 0) != (kfd >= 0) || (id <= 0 && id != kfd))
				fprintf(stderr, "stack_trace attrs #%zu: bext %d kernel %d\n", i,
					id, kfd);
			CHECK_EQ(id > 0, kfd >= 0);
			if (id <= 0)
				CHECK_EQ(id, kfd);
			if (kfd >= 0)
				close(kfd);
		}
		if (id > 0)
			CHECK_EQ(bext_store__obj_put(S, (uint32_t)id), 0);
	}
	{
		struct bext_map *m =
		    open_put(test_mk_map(S, BPF_MAP_TYPE_STACK_TRACE, 4, 64, 16, 0));
		int kfd = have_kernel ? kmap(BPF_MAP_TYPE_STACK_TRACE, 4, 64, 16, 0) : -1;

		k = 0;
		CHECK_EQ(bext_map__lookup_elem(m, &k, val), -ENOENT);
		CHECK_EQ(bext_map__delete_elem(m, &k), -ENOENT);
		CHECK_EQ(bext_map__update_elem(m, &k, val, BPF_ANY), -EINVAL);
		CHECK_EQ(bext_map__get_next_key(m, NULL, &nk), -ENOENT);
		k = 1000;
		CHECK_EQ(bext_map__delete_elem(m, &k), -E2BIG);
		CHECK_EQ(bext_map__lookup_elem(m, &k, val), -ENOENT);
		if (kfd >= 0) {
			memset(val, 0, sizeof(val));
			k = 0;
			CHECK_EQ(bpf_map_lookup_elem(kfd, &k, val) ? -errno : 0, -ENOENT);
			CHECK_EQ(bpf_map_delete_elem(kfd, &k) ? -errno : 0, -ENOENT);
			CHECK_EQ(bpf_map_update_elem(kfd, &k, val, BPF_ANY) ? -errno : 0, -EINVAL);
			CHECK_EQ(bpf_map_get_next_key(kfd, NULL, &nk) ? -errno : 0, -ENOENT);
			k = 1000;
			CHECK_EQ(bpf_map_delete_elem(kfd, &k) ? -errno : 0, -E2BIG);
			CHECK_EQ(bpf_map_lookup_elem(kfd, &k, val) ? -errno : 0, -ENOENT);
			close(kfd);
		}
		/* the map half of bpf_get_stackid, driven directly */
		{
			uint64_t a[3] = {0x1111, 0x2222, 0x3333}, b[2] = {0x4444, 0x5555};
			long ida = bext_stackmap__get_id(m, a, 3, 0), idb;

			CHECK(ida >= 0 && ida < 16);
			CHECK_EQ(bext_stackmap__get_id(m, a, 3, 0), ida);
			CHECK_EQ(bext_stackmap__get_id(m, a, 3, BPF_F_FAST_STACK_CMP), ida);
			k = (uint32_t)ida;
			CHECK_EQ(bext_map__lookup_elem(m, &k, val), 0);
			CHECK(val[0] == 0x1111 && val[1] == 0x2222 && val[2] == 0x3333 &&
			      val[3] == 0 && val[7] == 0);
			idb = bext_stackmap__get_id(m, b, 2, 0);
			CHECK(idb == -EEXIST || (idb >= 0 && idb != ida)); /* -EEXIST if same id */
			CHECK_EQ(bext_map__get_next_key(m, NULL, &nk), 0);
			CHECK(nk == (uint32_t)ida || nk == (uint32_t)idb);
			CHECK_EQ(bext_stackmap__get_id(m, a, 0, 0), -EFAULT);
			CHECK_EQ(bext_stackmap__get_id(m, a, 3, BPF_F_USER_STACK), -EINVAL);
			CHECK_EQ(bext_map__nr_entries(m), idb >= 0 ? 2 : 1);
			CHECK_EQ(bext_map__delete_elem(m, &k), 0);
			CHECK_EQ(bext_map__lookup_elem(m, &k, val), -ENOENT);
		}
		(void)v32;
		bext_map__close(m);
	}
}

/*
 * Lock-free in-place updates (8-byte values) racing deletes, re-inserts and
 * LRU evictions of the same keys: a value must never land in another key's
 * element. Values carry their key in the high half.
 */
struct pin_ctx {
	struct bext_map *m;
	volatile int stop;
	int bad;
};

static void *pin_writer(void *arg)
{
	struct pin_ctx *c = arg;
	uint64_t n = 0;

	while (!c->stop) {
		uint64_t k = n * 7 % 64, v = k << 32 | (uint32_t)n;

		bext_map__helper_update(c->m, &k, &v, BPF_ANY);
		n++;
	}
	return NULL;
}

static void *pin_churn(void *arg)
{
	struct pin_ctx *c = arg;
	uint64_t n = 0;

	while (!c->stop) {
		uint64_t k = n * 13 % 64, v = k << 32, *p;

		if (n & 1)
			bext_map__delete_elem(c->m, &k);
		else
			bext_map__update_elem(c->m, &k, &v, BPF_NOEXIST);
		p = bext_map__helper_lookup(c->m, &k);
		if (p && (*(volatile uint64_t *)p >> 32) != k &&
		    bext_map__helper_lookup(c->m, &k) == p && (*(volatile uint64_t *)p >> 32) != k)
			c->bad++;
		n++;
	}
	return NULL;
}

static void test_pinned_updates(uint32_t type, uint32_t max)
{
	struct pin_ctx c = {.m = open_put(test_mk_map(S, type, 8, 8, max, 0))};
	pthread_t th[3];
	uint64_t k, nk, v;
	int n = 0;

	REQUIRE(pthread_create(&th[0], NULL, pin_writer, &c) == 0);
	REQUIRE(pthread_create(&th[1], NULL, pin_writer, &c) == 0);
	REQUIRE(pthread_create(&th[2], NULL, pin_churn, &c) == 0);
	usleep(400 * 1000);
	c.stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(c.bad, 0);
	for (int r = bext_map__get_next_key(c.m, NULL, &nk); r == 0;
	     k = nk, r = bext_map__get_next_key(c.m, &k, &nk)) {
		CHECK_EQ(bext_map__lookup_elem(c.m, &nk, &v), 0);
		CHECK_EQ(v >> 32, nk);
		n++;
	}
	if (!(n > 0 && n <= (int)max))
		fprintf(stderr, "type %u: %d keys walked\n", type, n);
	CHECK(n > 0 && n <= (int)max);
	CHECK_EQ(bext_map__check(c.m), 0);
	bext_map__close(c.m);
}

int main(void)
{
	int probe = kmap(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);

	have_kernel = probe >= 0;
	if (probe >= 0)
		close(probe);
	else
		printf("kernel eBPF maps unavailable (%d): comparisons skipped\n", probe);
	S = test_store_open("maps-more", 1024);
	test_lpm_attrs();
	test_lpm_ops();
	test_batch_array(BPF_MAP_TYPE_ARRAY);
	test_batch_array(BPF_MAP_TYPE_PERCPU_ARRAY);
	test_batch_hash(BPF_MAP_TYPE_HASH);
	test_batch_hash(BPF_MAP_TYPE_PERCPU_HASH);
	test_batch_hash(BPF_MAP_TYPE_LRU_HASH);
	test_batch_lpm();
	test_map_in_map();
	test_map_in_map_refs();
	test_prog_array_ids();
	test_stack_trace_kernel();
	test_pinned_updates(BPF_MAP_TYPE_HASH, 64);
	test_pinned_updates(BPF_MAP_TYPE_LRU_HASH, 32);
	test_map_in_map_kernel();
	test_perf();
	test_spin_lock(BPF_MAP_TYPE_ARRAY);
	test_spin_lock(BPF_MAP_TYPE_HASH);
	CHECK_EQ(bext_store__check(S), 0);
	bext_store__close(S);
	if (test_result("test_maps_more"))
		return 1;
	if (!have_kernel) {
		printf("SKIP: kernel comparisons not run\n");
		return 77;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Map-in-map slot references under SIGKILL, and the kernel's template check.
 *
 * Templates: every map type bext creates is tried as the inner template of
 * an array of maps and a hash of maps, on bext and on the kernel (bpf(2)
 * through libbpf): the error codes must be equal and, as facts of kernel
 * 6.18, 0 for all but a program array (ENOTSUPP, 524) and a map-in-map
 * (EINVAL).
 *
 * Crash points: a process killed holding the registry lock inside a slot
 * change of an array of maps and of a hash of maps (intent recorded, slot
 * written or not) is finished by the next lock holder; the hash of maps'
 * slot of an element that is not linked is given back when the map is
 * opened.
 *
 * Kills: 100 children update, delete and batch-delete slots of one array of
 * maps and one hash of maps (and store maps of their own whose user
 * reference they give up) and are SIGKILLed at random points. After each:
 * every inner map's reference count is exactly its user references + the
 * slots holding it; once a process opens the hash of maps (which reclaims
 * what the dead child left), its element slots hold exactly the ids its
 * linked values hold, nothing more; a child's map no slot holds is gone. At
 * the end everything is deleted and released and the store is empty.
 */
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test.h"
#include "maps/maps_internal.h" /* struct bext_map: the hash of maps' element slots */

#define ENOTSUPP_K 524
#define NIN 5 /* the parent's inner maps */
#define AOM_MAX 8
#define HOM_MAX 8
#define HOM_KEYS 12 /* more keys than fit: full-map paths too */
#define MAX_IDS (1 << 18)

static struct bext_store *S;

static struct bext_map *open_map(int id)
{
	struct bext_map *m = bext_store__map_by_id(S, (uint32_t)id);

	REQUIRE(m);
	return m;
}

static int mk_outer(uint32_t type, uint32_t inner, uint32_t max, const char *name)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = name,
					 .map_type = type,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = max,
					 .inner_map_id = inner};

	return bext_store__create_map(S, &o);
}

static int mk_inner(const char *name)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = name,
					 .map_type = BPF_MAP_TYPE_ARRAY,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = 1};

	return bext_store__create_map(S, &o);
}

static bool live(uint32_t id)
{
	struct bext_obj_info in;

	return bext_store__obj_info(S, id, &in) == 0;
}

static uint32_t nr_live(void)
{
	uint32_t id = 0, n = 0;

	while (bext_store__next_id(S, id, &id) == 0)
		n++;
	return n;
}

/* ---- the inner-map template check, compared with the kernel -------------------------------- */

static const struct {
	uint32_t type, ks, vs, max, flags;
	const char *name;
} tmpl[] = {
    {BPF_MAP_TYPE_HASH, 4, 4, 4, 0, "hash"},
    {BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0, "array"},
    {BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, "prog_array"},
    {BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 4, 0, "perf_event_array"},
    {BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4, 0, "percpu_hash"},
    {BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 4, 0, "percpu_array"},
    {BPF_MAP_TYPE_STACK_TRACE, 4, 8, 4, 0, "stack_trace"},
    {BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, 0, "lru_hash"},
    {BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 4, 4, 0, "lru_percpu_hash"},
    {BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, BPF_F_NO_PREALLOC, "lpm_trie"},
    {BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0, "queue"},
    {BPF_MAP_TYPE_STACK, 0, 4, 4, 0, "stack"},
    {BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 4, 0, "bloom_filter"},
    {BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, "ringbuf"},
    {BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, "array_of_maps"},
    {BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, "hash_of_maps"},
};

static int want_tmpl(uint32_t type)
{
	if (type == BPF_MAP_TYPE_PROG_ARRAY)
		return -ENOTSUPP_K;
	if (type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS)
		return -EINVAL;
	return 0;
}

static int kcreate(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
		   int inner_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags, .inner_map_fd = (uint32_t)inner_fd);
	int fd = bpf_map_create(type, "t", ks, vs, max, &o);

	return fd < 0 ? -errno : fd;
}

/* Returns whether the kernel answered (false: no kernel eBPF here). */
static bool test_templates(void)
{
	static const uint32_t outers[2] = {BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS};
	int karr = kcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, -1), barr = mk_inner("tarr");
	bool have_kernel = karr >= 0;
	int compared = 0;

	REQUIRE(barr > 0);
	if (!have_kernel)
		printf("  templates: kernel eBPF unavailable (%s): bext checked against the "
		       "expected codes only\n",
		       strerror(-karr));
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(tmpl); i++) {
		int bt, kt = -1;

		if (tmpl[i].type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    tmpl[i].type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			bt = mk_outer(tmpl[i].type, (uint32_t)barr, tmpl[i].max, "tmim");
			if (have_kernel)
				kt = kcreate(tmpl[i].type, 4, 4, tmpl[i].max, 0, karr);
		} else {
			bt = test_mk_map(S, tmpl[i].type, tmpl[i].ks, tmpl[i].vs, tmpl[i].max,
					 tmpl[i].flags);
			if (have_kernel)
				kt = kcreate(tmpl[i].type, tmpl[i].ks, tmpl[i].vs, tmpl[i].max,
					     tmpl[i].flags, -1);
		}
		if (bt <= 0 || (have_kernel && kt < 0)) {
			fprintf(stderr, "template %s: could not create (bext %d kernel %d)\n",
				tmpl[i].name, bt, kt);
			test_failures++;
			continue;
		}
		for (int k = 0; k < 2; k++) {
			int b = mk_outer(outers[k], (uint32_t)bt, 2, "touter");

			CHECK_EQ(b > 0 ? 0 : b, want_tmpl(tmpl[i].type));
			if (b > 0)
				CHECK_EQ(bext_store__obj_put(S, (uint32_t)b), 0);
			if (have_kernel) {
				int kr = kcreate(outers[k], 4, 4, 2, 0, kt);

				if (kr >= 0)
					close(kr);
				if ((b > 0 ? 0 : b) != (kr >= 0 ? 0 : kr))
					fprintf(stderr,
						"template %s in outer type %u: bext %d kernel %d\n",
						tmpl[i].name, outers[k], b > 0 ? 0 : b,
						kr >= 0 ? 0 : kr);
				CHECK_EQ(b > 0 ? 0 : b, kr >= 0 ? 0 : kr);
				compared++;
			}
		}
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)bt), 0);
		if (kt >= 0)
			close(kt);
	}
	/* a template that is no live map: EBADF on both (bext takes ids, the kernel fds) */
	CHECK_EQ(mk_outer(BPF_MAP_TYPE_HASH_OF_MAPS, 999999, 2, "tbad"), -EBADF);
	if (have_kernel) {
		CHECK_EQ(kcreate(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, 9999), -EBADF);
		close(karr);
	}
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)barr), 0);
	CHECK_EQ(nr_live(), 0);
	printf("  templates: %zu types x 2 outer types, %d compared with the kernel\n",
	       BEXT_ARRAY_SIZE(tmpl), compared);
	return have_kernel;
}

/* ---- a process killed inside a slot change, built deterministically ------------------------- */

struct half_change {
	uint32_t owner, idx, old, new;
	uint32_t *slots;
	bool slot_written;
};

/*
 * A child takes the registry lock, leaves the state bext_store_set_slot_ref()
 * has after its first redo batch (the intent recorded, the new id's reference
 * taken; maybe the slot written too) and dies holding the lock.
 */
static void die_in_slot_change(const struct half_change *c)
{
	int st;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct bext_slot_intent *in =
		    (struct bext_slot_intent *)(S->hdr->reserved + BEXT_SLOT_INTENT_OFF);

		pthread_mutex_lock(&S->hdr->lock);
		in->owner_id = c->owner;
		in->idx = c->idx;
		in->old_id = c->old;
		in->new_id = c->new;
		__atomic_store_n(&in->valid, 1, __ATOMIC_RELEASE);
		test_entry_of(S, c->new)->refcnt++;
		if (c->slot_written)
			c->slots[c->idx] = c->new;
		raise(SIGKILL);
		_exit(1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void check_all_refs(void);

static void test_crash_points(void)
{
	for (int written = 0; written < 2; written++) {
		int i1 = mk_inner("c1"), i2 = mk_inner("c2"), aom, hom;
		uint32_t rec = S->hdr->recoveries, k = 5, v = (uint32_t)i1;
		struct bext_map *a, *h, *h2;
		struct half_change c;

		REQUIRE(i1 > 0 && i2 > 0);
		aom = mk_outer(BPF_MAP_TYPE_ARRAY_OF_MAPS, (uint32_t)i1, 8, "caom");
		hom = mk_outer(BPF_MAP_TYPE_HASH_OF_MAPS, (uint32_t)i1, 4, "chom");
		REQUIRE(aom > 0 && hom > 0);
		a = open_map(aom);
		h = open_map(hom);
		/* array of maps: slot 5 goes from i1 to i2 */
		CHECK_EQ(bext_map__update_elem(a, &k, &v, BPF_ANY), 0);
		c = (struct half_change){
		    (uint32_t)aom, 5, (uint32_t)i1, (uint32_t)i2, (uint32_t *)(void *)a->data,
		    written != 0};
		die_in_slot_change(&c);
		CHECK_EQ(bext_store__check(S), 0); /* recovery finishes the change */
		CHECK_EQ(S->hdr->recoveries, rec + 1);
		CHECK_EQ(bext_map__lookup_elem(a, &k, &v), 0);
		CHECK_EQ(v, i2);
		CHECK_EQ(test_entry_of(S, (uint32_t)i1)->refcnt, 1);
		CHECK_EQ(test_entry_of(S, (uint32_t)i2)->refcnt, 2);
		check_all_refs();
		/* hash of maps: a writer dies setting the slot of element 2, not linked yet */
		c = (struct half_change){(uint32_t)hom, 2,	     0, (uint32_t)i1,
					 h->h.refslots, written != 0};
		die_in_slot_change(&c);
		CHECK_EQ(bext_store__check(S), 0);
		CHECK_EQ(h->h.refslots[2], i1); /* the reference is the slot's, accounted for */
		CHECK_EQ(test_entry_of(S, (uint32_t)i1)->refcnt, 2);
		check_all_refs();
		h2 = open_map(hom); /* element 2 is free: its slot goes */
		CHECK_EQ(h->h.refslots[2], 0);
		CHECK_EQ(test_entry_of(S, (uint32_t)i1)->refcnt, 1);
		bext_map__close(h2);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)aom), 0);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)hom), 0);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)i1), 0);
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)i2), 0);
		CHECK_EQ(nr_live(), 0);
		bext_map__close(a);
		bext_map__close(h);
	}
}

/* ---- children killed at random points ------------------------------------------------------ */

static void kill_child(int aom, int hom, const int *inner, unsigned seed)
{
	struct bext_map *a = open_map(aom), *h = open_map(hom);

	srand(seed);
	for (;;) {
		int op = rand() % 16;
		uint32_t k, v = (uint32_t)inner[rand() % NIN];

		if (op < 4) {
			k = (uint32_t)(rand() % AOM_MAX);
			bext_map__update_elem(a, &k, &v, BPF_ANY);
		} else if (op < 6) {
			k = (uint32_t)(rand() % AOM_MAX);
			bext_map__delete_elem(a, &k);
		} else if (op < 10) {
			k = (uint32_t)(rand() % HOM_KEYS);
			bext_map__update_elem(h, &k, &v, (uint64_t)(rand() % 3));
		} else if (op < 12) {
			k = (uint32_t)(rand() % HOM_KEYS);
			bext_map__delete_elem(h, &k);
		} else if (op < 13) {
			uint32_t keys[4], vals[4], tok, cnt = 4,
							start = (uint32_t)(rand() % HOM_MAX);

			bext_map__lookup_and_delete_batch(h, &start, &tok, keys, vals, &cnt, NULL);
		} else if (op < 14) {
			uint32_t keys[3] = {(uint32_t)(rand() % HOM_KEYS),
					    (uint32_t)(rand() % HOM_KEYS),
					    (uint32_t)(rand() % HOM_KEYS)},
				 cnt = 3;

			bext_map__delete_batch(h, keys, &cnt, NULL);
		} else {
			/* a map of its own, stored in both outer maps, its user reference given up
			 */
			int own = mk_inner("kid_in");

			if (own <= 0)
				continue;
			v = (uint32_t)own;
			k = (uint32_t)(rand() % AOM_MAX);
			bext_map__update_elem(a, &k, &v, BPF_ANY);
			k = (uint32_t)(rand() % HOM_KEYS);
			bext_map__update_elem(h, &k, &v, BPF_ANY);
			bext_store__obj_put(S, (uint32_t)own);
		}
	}
}

static bool is_kid(uint32_t id)
{
	struct bext_obj_info in;

	return bext_store__obj_info(S, id, &in) == 0 && !strcmp(in.name, "kid_in");
}

/*
 * The hash of maps' element slots against its linked values: for every id,
 * how many slots hold it minus how many linked values do. Returns the
 * number of slots holding an id no linked value stands for.
 */
static uint32_t hom_stale_slots(struct bext_map *h)
{
	static int diff[MAX_IDS];
	uint32_t key, next, v, stale = 0, i;
	const void *prev = NULL;

	memset(diff, 0, sizeof(diff));
	while (bext_map__get_next_key(h, prev, &next) == 0) {
		REQUIRE(bext_map__lookup_elem(h, &next, &v) == 0 && v < MAX_IDS);
		diff[v]--;
		key = next;
		prev = &key;
	}
	for (i = 0; i < h->h.nr_elems; i++) {
		v = __atomic_load_n(&h->h.refslots[i], __ATOMIC_ACQUIRE);
		REQUIRE(v < MAX_IDS);
		if (v)
			diff[v]++;
	}
	for (i = 0; i < MAX_IDS; i++) {
		CHECK(diff[i] >= 0); /* a linked value without its reference */
		if (diff[i] > 0)
			stale += (uint32_t)diff[i];
	}
	return stale;
}

/* Every live map's references: user references + slots, nothing else (no programs here). */
static void check_all_refs(void)
{
	uint32_t id = 0;

	while (bext_store__next_id(S, id, &id) == 0)
		TEST_CHECK_REFS(S, id, 0);
}

static void test_kill(void)
{
	int aom, hom, inner[NIN], kids_seen = 0;
	uint32_t rec0 = S->hdr->recoveries, stale_total = 0, stale_iters = 0;
	struct bext_map *a, *h;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < NIN; i++) {
		inner[i] = mk_inner("in");
		REQUIRE(inner[i] > 0);
	}
	aom = mk_outer(BPF_MAP_TYPE_ARRAY_OF_MAPS, (uint32_t)inner[0], AOM_MAX, "aom");
	hom = mk_outer(BPF_MAP_TYPE_HASH_OF_MAPS, (uint32_t)inner[0], HOM_MAX, "hom");
	REQUIRE(aom > 0 && hom > 0);
	a = open_map(aom);
	h = open_map(hom);
	REQUIRE(h->h.refslots);
	srand(4242);
	for (int it = 0; it < 100; it++) {
		unsigned seed = (unsigned)rand();
		struct bext_map *h2;
		uint32_t stale, id = 0;
		int st;
		pid_t pid = fork();

		REQUIRE(pid >= 0);
		if (pid == 0) {
			kill_child(aom, hom, inner, seed);
			_exit(0);
		}
		usleep((useconds_t)(300 + rand() % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		CHECK(WIFSIGNALED(st));
		CHECK_EQ(bext_store__check(S),
			 0); /* registry recovery, if the child held the lock */
		check_all_refs();
		stale = hom_stale_slots(h);
		stale_total += stale;
		stale_iters += stale > 0;
		/* opening the map reclaims what the child left: then slots == linked values */
		h2 = open_map(hom);
		CHECK_EQ(hom_stale_slots(h2), 0);
		CHECK_EQ(bext_map__check(h2), 0);
		bext_map__close(h2);
		check_all_refs();
		/* a child's map is live only while some slot holds it (or the child had not put
		 * yet) */
		while (bext_store__next_id(S, id, &id) == 0) {
			struct bext_reg_entry *e;

			if (!is_kid(id))
				continue;
			kids_seen++;
			e = test_entry_of(S, id);
			CHECK(e && e->urefcnt <= 1);
			if (e && e->urefcnt == 1)
				CHECK_EQ(bext_store__obj_put(S, id), 0);
			if (live(id))
				CHECK(test_slot_refs_on(S, id) > 0);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("  kill: 100 children, %u registry recoveries, %u stale hash-of-maps slots in %u "
	       "runs given back at open, %d child maps seen, %.1f s\n",
	       S->hdr->recoveries - rec0, stale_total, stale_iters, kids_seen,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* empty both outer maps: only the user references remain, the children's maps go */
	for (uint32_t k = 0; k < AOM_MAX; k++)
		bext_map__delete_elem(a, &k);
	for (uint32_t k = 0; k < HOM_KEYS; k++)
		bext_map__delete_elem(h, &k);
	CHECK_EQ(bext_map__nr_entries(a), 0);
	CHECK_EQ(bext_map__nr_entries(h), 0);
	for (int i = 0; i < NIN; i++) {
		struct bext_reg_entry *e = test_entry_of(S, (uint32_t)inner[i]);

		CHECK(e && e->refcnt == 1 && e->urefcnt == 1);
	}
	CHECK_EQ(nr_live(), NIN + 2);
	/* then the outer maps hold something again and everything is released */
	{
		uint32_t k = 3, v = (uint32_t)inner[1];

		CHECK_EQ(bext_map__update_elem(a, &k, &v, BPF_ANY), 0);
		CHECK_EQ(bext_map__update_elem(h, &k, &v, BPF_ANY), 0);
	}
	for (int i = 0; i < NIN; i++)
		CHECK_EQ(bext_store__obj_put(S, (uint32_t)inner[i]), 0);
	CHECK(live((uint32_t)inner[1])); /* the slots keep it */
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)aom), 0);
	CHECK(live((uint32_t)inner[1]));
	CHECK_EQ(bext_store__obj_put(S, (uint32_t)hom), 0);
	CHECK(!live((uint32_t)inner[1]));
	CHECK_EQ(nr_live(), 0);
	CHECK_EQ(bext_store__check(S), 0);
	bext_map__close(a);
	bext_map__close(h);
}

int main(void)
{
	bool have_kernel;

	S = test_store_open("mimkill", 256);
	have_kernel = test_templates();
	test_crash_points();
	test_kill();
	bext_store__close(S);
	if (test_result("test_mim_kill"))
		return 1;
	if (!have_kernel) {
		printf("SKIP: kernel template comparison not run (kernel eBPF unavailable)\n");
		return 77;
	}
	return 0;
}

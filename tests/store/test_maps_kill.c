/* SPDX-License-Identifier: MIT */
/*
 * Hundreds of SIGKILLs at random points while children update maps and
 * create/remove objects. Afterwards the store and every map must pass their
 * structural checks, and the hash maps must still take exactly max_entries
 * keys (elements a dead child had in flight are reclaimed).
 */
#include <linux/bpf.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test.h"

static int n_takeover, n_recover, n_reclaim, n_repair;

/* Counts the recovery paths taken, to show the kills hit critical sections. */
static int count_msgs(enum bext_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)ap;
	if (strstr(fmt, "took over"))
		n_takeover++;
	else if (strstr(fmt, "recovering registry"))
		n_recover++;
	else if (strstr(fmt, "reclaimed"))
		n_reclaim++;
	else if (strstr(fmt, "repairing bucket"))
		n_repair++;
	else if (level == BEXT_WARN)
		vfprintf(stderr, fmt, ap);
	return 0;
}

#define ROUNDS 300
#define HMAX 256
#define LMAX 64

static void child(int hash_id, int lru_id, int q_id, int arr_id, unsigned int seed)
{
	struct bext_store *s = test_store_reopen();
	struct bext_map *h, *l, *q, *a;
	uint64_t v[8] = {0};

	if (!s)
		_exit(2);
	h = bext_store__map_by_id(s, hash_id);
	l = bext_store__map_by_id(s, lru_id);
	q = bext_store__map_by_id(s, q_id);
	a = bext_store__map_by_id(s, arr_id);
	if (!h || !l || !q || !a)
		_exit(3);
	for (unsigned long i = 0;; i++) {
		uint32_t k = (uint32_t)rand_r(&seed) % 400;

		v[0] = k;
		switch (rand_r(&seed) % 8) {
		case 0:
		case 1:
			bext_map__update_elem(h, &k, v, BPF_ANY);
			break;
		case 2:
			bext_map__delete_elem(h, &k);
			break;
		case 3:
			bext_map__update_elem(l, &k, v, BPF_ANY);
			break;
		case 4:
			bext_map__update_elem(q, NULL, v, BPF_EXIST);
			bext_map__lookup_and_delete_elem(q, NULL, v);
			break;
		case 5: {
			uint32_t z = k % 4;

			bext_map__update_elem(a, &z, v, BPF_ANY);
			break;
		}
		case 6: {
			int id;

			if (rand_r(&seed) % 64) /* creation is slow: keep it rare */
				break;
			id = test_mk_map(s, BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
			if (id > 0)
				bext_store__obj_put(s, id);
			break;
		}
		default:
			bext_map__lookup_and_delete_elem(h, &k, v);
			break;
		}
	}
}

static int drain_and_fill(struct bext_map *m, uint32_t max)
{
	uint32_t k, cur;
	uint64_t v[8] = {0};
	int n = 0;

	while (bext_map__get_next_key(m, NULL, &cur) == 0)
		CHECK_EQ(bext_map__delete_elem(m, &cur), 0);
	for (k = 0; k < max; k++) {
		v[0] = k;
		if (bext_map__update_elem(m, &k, v, BPF_NOEXIST) == 0)
			n++;
	}
	return n;
}

int main(void)
{
	struct bext_store *s = test_store_open("kill", 256);
	/* 16-byte values take the replace-by-new-element path, 8-byte ones (LRU) the in-place store
	 */
	int hash_id = test_mk_map(s, BPF_MAP_TYPE_HASH, 4, 16, HMAX, 0);
	int lru_id = test_mk_map(s, BPF_MAP_TYPE_LRU_HASH, 4, 8, LMAX, 0);
	int q_id = test_mk_map(s, BPF_MAP_TYPE_QUEUE, 0, 8, 8, 0);
	int arr_id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	struct bext_map *h, *l;
	unsigned int seed = (unsigned int)time(NULL);
	uint32_t next;
	int r, n, st;

	REQUIRE(hash_id > 0 && lru_id > 0 && q_id > 0 && arr_id > 0);
	bext_set_print(count_msgs);
	printf("seed %u\n", seed);
	srand(seed);
	for (r = 0; r < ROUNDS; r++) {
		pid_t pid = fork();

		REQUIRE(pid >= 0);
		if (pid == 0)
			child(hash_id, lru_id, q_id, arr_id, seed + r);
		usleep(300 + rand() % 6000);
		kill(pid, SIGKILL);
		REQUIRE(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		if (r % 50 == 49)
			CHECK_EQ(bext_store__check(s), 0); /* also recovers a dead lock owner */
	}
	CHECK_EQ(bext_store__check(s), 0);
	n = 0;
	for (next = 0; bext_store__next_id(s, next, &next) == 0;)
		n++;
	printf("%d live objects after %d kills\n", n, ROUNDS);
	printf("lock takeovers %d, registry recoveries %d, bucket repairs %d, reclaims %d\n",
	       n_takeover, n_recover, n_repair, n_reclaim);
	CHECK(n >= 4);
	h = bext_store__map_by_id(s, hash_id);
	l = bext_store__map_by_id(s, lru_id);
	REQUIRE(h && l);
	CHECK_EQ(bext_map__check(h), 0);
	CHECK_EQ(bext_map__check(l), 0);
	/* capacity intact: exactly max_entries new keys fit */
	CHECK_EQ(drain_and_fill(h, HMAX + 10), HMAX);
	CHECK_EQ(drain_and_fill(l, LMAX), LMAX);
	CHECK_EQ(bext_map__check(h), 0);
	CHECK_EQ(bext_map__check(l), 0);
	bext_map__close(h);
	bext_map__close(l);
	/* and the registry still creates and removes */
	n = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	CHECK(n > 0);
	CHECK_EQ(bext_store__obj_put(s, n), 0);
	CHECK_EQ(bext_store__check(s), 0);
	printf("after refill: takeovers %d, recoveries %d, bucket repairs %d, reclaims %d\n",
	       n_takeover, n_recover, n_repair, n_reclaim);
	bext_store__close(s);
	return test_result("test_maps_kill");
}

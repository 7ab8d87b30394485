/* SPDX-License-Identifier: MIT */
/* Registry: open/create, versions, ids, names, refcount chains, generation futex. */
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test.h"
#include "store/store_internal.h"

static bool seg_exists(uint32_t id)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/obj-%u", test_store_dir, id);
	return stat(p, &st) == 0;
}

static void test_basic_objects(void)
{
	struct bext_store *s = test_store_open("basic", 64);
	struct bext_obj_info info;
	struct bext_prog_data pd;
	struct bext_link_data ld;
	struct bext_map *m;
	uint64_t insns[3] = {0x00000000000000b7ULL, 0x95ULL, 0};
	uint32_t maps[2], next, n;
	int a, b, p, l;

	a = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 16, 0);
	b = test_mk_map(s, BPF_MAP_TYPE_HASH, 8, 16, 100, 0);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 2);
	CHECK_EQ(bext_store__obj_info(s, a, &info), 0);
	CHECK_EQ(info.kind, BEXT_OBJ_MAP);
	CHECK_EQ(info.type, BPF_MAP_TYPE_ARRAY);
	CHECK_EQ(info.refcnt, 1);
	CHECK_EQ(info.value_size, 8);
	CHECK_EQ(info.max_entries, 16);
	CHECK(strcmp(info.name, "t") == 0);
	/* the segment is sized exactly: 4096 (seg hdr) + 256 (map hdr) + 16 * 8 */
	CHECK_EQ(info.seg_size, 4096 + 256 + 128);

	maps[0] = a;
	maps[1] = b;
	{
		struct bext_prog_create_opts po = {.sz = sizeof(po),
						   .name = "prog",
						   .prog_type = 2,
						   .insns = insns,
						   .insn_cnt = 2,
						   .license = "GPL",
						   .attach_hint = "uprobe/x:f",
						   .map_ids = maps,
						   .nr_maps = 2};

		p = bext_store__create_prog(s, &po);
		CHECK_EQ(p, 3);
		maps[0] = 999;
		po.map_ids = maps;
		po.nr_maps = 1;
		CHECK_EQ(bext_store__create_prog(s, &po), -ENOENT); /* not a live map */
		maps[0] = a;
	}
	CHECK_EQ(bext_store__obj_info(s, a, &info), 0);
	CHECK_EQ(info.refcnt, 2);
	CHECK_EQ(bext_store__prog_read(s, p, &pd), 0);
	CHECK_EQ(pd.insn_cnt, 2);
	CHECK_EQ(pd.nr_maps, 2);
	CHECK_EQ(pd.map_ids[1], b);
	CHECK(!memcmp(pd.insns, insns, 16));
	CHECK(!strcmp(pd.license, "GPL"));
	CHECK(!strcmp(pd.attach_hint, "uprobe/x:f"));
	bext_prog_data__free(&pd);
	{
		struct bext_link_create_opts lo = {.sz = sizeof(lo),
						   .prog_id = p,
						   .target = "uprobe:/bin/true:main",
						   .pid = -1,
						   .cookie = 0x1234};

		l = bext_store__create_link(s, &lo);
		CHECK_EQ(l, 4); /* the failed create used no id */
	}
	CHECK_EQ(bext_store__link_read(s, l, &ld), 0);
	CHECK_EQ(ld.prog_id, p);
	CHECK_EQ(ld.pid, -1);
	CHECK_EQ(ld.cookie, 0x1234);
	CHECK(!strcmp(ld.target, "uprobe:/bin/true:main"));
	CHECK_EQ(bext_store__link_read(s, p, &ld), -ENOENT); /* wrong kind */

	/* iteration like BPF_*_GET_NEXT_ID */
	n = 0;
	for (next = 0; bext_store__next_id(s, next, &next) == 0;)
		n++;
	CHECK_EQ(n, 4);

	/* by name: lowest id with that name */
	m = bext_store__map_by_name(s, "t");
	REQUIRE(m);
	CHECK_EQ(bext_map__id(m), a);
	bext_map__close(m);
	CHECK(bext_store__map_by_name(s, "nope") == NULL && errno == ENOENT);
	CHECK(bext_store__map_by_id(s, p) == NULL && errno == ENOENT); /* a prog, not a map */

	/* the chain: drop creator refs; everything lives on through the link */
	CHECK_EQ(bext_store__obj_put(s, a), 0);
	CHECK_EQ(bext_store__obj_put(s, b), 0);
	CHECK_EQ(bext_store__obj_put(s, p), 0);
	CHECK_EQ(bext_store__obj_info(s, a, &info), 0);
	CHECK_EQ(info.refcnt, 1);
	m = bext_store__map_by_id(s, a); /* an open handle outlives removal */
	REQUIRE(m);
	CHECK_EQ(bext_store__obj_put(s, l), 0); /* link -> prog -> maps all go */
	CHECK_EQ(bext_store__obj_info(s, l, &info), -ENOENT);
	CHECK_EQ(bext_store__obj_info(s, p, &info), -ENOENT);
	CHECK_EQ(bext_store__obj_info(s, a, &info), -ENOENT);
	CHECK_EQ(bext_store__obj_info(s, b, &info), -ENOENT);
	CHECK(!seg_exists(a) && !seg_exists(b) && !seg_exists(p) && !seg_exists(l));
	CHECK_EQ(bext_store__next_id(s, 0, &next), -ENOENT);
	{
		uint32_t k = 3;
		uint64_t v = 77, out = 0;

		CHECK_EQ(bext_map__update_elem(m, &k, &v, BPF_ANY), 0);
		CHECK_EQ(bext_map__lookup_elem(m, &k, &out), 0);
		CHECK_EQ(out, 77);
	}
	bext_map__close(m);
	CHECK_EQ(bext_store__obj_put(s, a), -ENOENT);
	CHECK_EQ(bext_store__obj_get(s, a), -ENOENT);
	CHECK_EQ(bext_store__check(s), 0);

	/* table full */
	{
		int i, last = 0;

		for (i = 0; i < 64; i++)
			last = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
		CHECK(last > 0);
		CHECK_EQ(test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0), -ENOSPC);
	}
	CHECK_EQ(bext_store__check(s), 0);
	bext_store__close(s);
	test_store_cleanup();
}

static void test_versions(void)
{
	struct bext_store *s = test_store_open("ver", 8);
	struct bext_reg_hdr *h;
	char p[256];
	int fd;

	bext_store__close(s);
	snprintf(p, sizeof(p), "%s/registry", test_store_dir);
	fd = open(p, O_RDWR);
	REQUIRE(fd >= 0);
	h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(h != MAP_FAILED);
	h->layout_version = BEXT_STORE_LAYOUT_VERSION + 1;
	errno = 0;
	CHECK(test_store_reopen() == NULL);
	CHECK_EQ(errno, EPROTO);
	h->layout_version = BEXT_STORE_LAYOUT_VERSION;
	h->magic ^= 1;
	CHECK(test_store_reopen() == NULL);
	CHECK_EQ(errno, EBADMSG);
	h->magic ^= 1;
	s = test_store_reopen();
	CHECK(s != NULL);
	bext_store__close(s);
	munmap(h, 4096);
	close(fd);
	test_store_cleanup();
}

/* Many processes opening a store that does not exist yet agree on one registry. */
static void test_open_race(void)
{
	int i, st, ids[6];
	int pfd[2];

	test_store_path("race");
	REQUIRE(pipe(pfd) == 0);
	for (i = 0; i < 6; i++) {
		if (fork() == 0) {
			struct bext_store *s = test_store_reopen();
			int id;

			if (!s)
				_exit(2);
			id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);
			if (write(pfd[1], &id, sizeof(id)) != sizeof(id))
				_exit(3);
			_exit(0);
		}
	}
	for (i = 0; i < 6; i++) {
		wait(&st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (i = 0; i < 6; i++)
		REQUIRE(read(pfd[0], &ids[i], sizeof(int)) == sizeof(int));
	{
		struct bext_store *s = test_store_reopen();
		uint32_t next, n = 0, seen = 0;

		REQUIRE(s);
		for (next = 0; bext_store__next_id(s, next, &next) == 0;)
			n++;
		CHECK_EQ(n, 6); /* all six creations landed in one table */
		for (i = 0; i < 6; i++)
			if (ids[i] >= 1 && ids[i] <= 6)
				seen |= 1u << ids[i];
		CHECK_EQ(seen, 0x7e); /* ids 1..6, each once */
		CHECK_EQ(bext_store__check(s), 0);
		bext_store__close(s);
	}
	close(pfd[0]);
	close(pfd[1]);
	test_store_cleanup();
}

/* A watcher in another process wakes on the generation futex. */
static void test_generation(void)
{
	struct bext_store *s = test_store_open("gen", 16);
	uint32_t g0 = bext_store__generation(s), g1;
	struct timespec t0, t1;
	pid_t pid;
	int st, id;

	CHECK_EQ(bext_store__wait_generation(s, g0, 10), -ETIMEDOUT);
	pid = fork();
	if (pid == 0) {
		struct bext_store *c = test_store_reopen();
		uint32_t seen;
		int r;

		if (!c)
			_exit(2);
		seen = bext_store__generation(c);
		if (seen != g0)
			_exit(3);
		r = bext_store__wait_generation(c, seen, 5000);
		_exit(r == 0 && bext_store__generation(c) != seen ? 0 : 4);
	}
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);
	CHECK(id > 0);
	waitpid(pid, &st, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	g1 = bext_store__generation(s);
	CHECK(g1 != g0);
	CHECK_EQ(bext_store__obj_get(s, id), 0);
	CHECK(bext_store__generation(s) != g1);
	bext_store__close(s);
	test_store_cleanup();
}

/* no_create: a missing directory or registry is ENOENT and nothing is created. */
static void test_no_create(void)
{
	struct bext_store_opts o = {.sz = sizeof(o), .no_create = true};
	struct bext_store *s;
	char p[256];
	struct stat st;

	o.path = test_store_path("nocreate");
	errno = 0;
	CHECK(bext_store__open(&o) == NULL);
	CHECK_EQ(errno, ENOENT);
	CHECK(stat(test_store_dir, &st) != 0 && errno == ENOENT);
	/* an empty directory is not a store either, and gets no registry */
	REQUIRE(mkdir(test_store_dir, 0700) == 0);
	errno = 0;
	CHECK(bext_store__open(&o) == NULL);
	CHECK_EQ(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/registry", test_store_dir);
	CHECK(stat(p, &st) != 0 && errno == ENOENT);
	/* a caller built before no_create existed (smaller sz) still creates */
	o.sz = offsetof(struct bext_store_opts, no_create);
	s = bext_store__open(&o);
	CHECK(s != NULL);
	bext_store__close(s);
	CHECK_EQ(stat(p, &st), 0);
	/* an existing store opens */
	o.sz = sizeof(o);
	s = bext_store__open(&o);
	CHECK(s != NULL);
	CHECK(s && test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0) == 1);
	bext_store__close(s);
	test_store_cleanup();
}

/* bext_store__obj_check: a whole segment passes; emptied, shrunk, renumbered or missing do not. */
static void test_obj_check(void)
{
	struct bext_store *s = test_store_open("objcheck", 16);
	struct bext_seg_hdr sh;
	char path[256], want[512], why[512], small[8];
	int id, id2, fd;

	id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	id2 = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	REQUIRE(id > 0 && id2 > 0);
	CHECK_EQ(bext_store__obj_seg_path(s, (uint32_t)id, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/obj-%d", test_store_dir, id);
	CHECK(!strcmp(path, want));
	CHECK_EQ(bext_store__obj_seg_path(s, (uint32_t)id, small, sizeof(small)), -ENAMETOOLONG);
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id, why, sizeof(why)), 0);
	CHECK_EQ(why[0], 0);
	CHECK_EQ(bext_store__obj_check(s, 999, why, sizeof(why)), -ENOENT);
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id, NULL, 0), 0);

	/* emptied */
	REQUIRE(truncate(path, 0) == 0);
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id, why, sizeof(why)), -EBADMSG);
	snprintf(want, sizeof(want), "segment %s is corrupt: 0 bytes, the registry says ", path);
	CHECK(!strncmp(why, want, strlen(want)));
	errno = 0;
	CHECK(bext_store__map_by_id(s, (uint32_t)id) == NULL && errno == EBADMSG);
	/* missing */
	REQUIRE(unlink(path) == 0);
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id, why, sizeof(why)), -EBADMSG);
	snprintf(want, sizeof(want), "segment %s is missing", path);
	CHECK(!strcmp(why, want));
	/* right size, header of another object */
	REQUIRE(bext_store__obj_seg_path(s, (uint32_t)id2, path, sizeof(path)) == 0);
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pread(fd, &sh, sizeof(sh), 0) == sizeof(sh));
	sh.id = 77;
	REQUIRE(pwrite(fd, &sh, sizeof(sh), 0) == sizeof(sh));
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id2, why, sizeof(why)), -EBADMSG);
	snprintf(want, sizeof(want), "segment %s is corrupt: its header says object 77 kind 1",
		 path);
	CHECK(!strncmp(why, want, strlen(want)));
	sh.magic = 0;
	REQUIRE(pwrite(fd, &sh, sizeof(sh), 0) == sizeof(sh));
	CHECK_EQ(bext_store__obj_check(s, (uint32_t)id2, why, sizeof(why)), -EBADMSG);
	snprintf(want, sizeof(want), "segment %s is corrupt: no segment header", path);
	CHECK(!strcmp(why, want));
	close(fd);
	bext_store__close(s);
	test_store_cleanup();
}

int main(void)
{
	test_basic_objects();
	test_versions();
	test_open_race();
	test_generation();
	test_no_create();
	test_obj_check();
	return test_result("test_store");
}

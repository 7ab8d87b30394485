/* SPDX-License-Identifier: MIT */
/*
 * Crashes inside registry transactions: a process SIGKILLed while creating an
 * object (in the segment init, holding the registry lock), and one killed
 * half-way through taking references. The next user recovers through the
 * robust mutex: no half-made entry, no stray segment, refcounts restored.
 */
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store_test.h"
#include "store/store_internal.h"

static int die_in_init(void *payload, uint64_t size, void *ctx)
{
	(void)ctx;
	memset(payload, 0xaa, size);
	raise(SIGKILL);
	return 0;
}

static void run_child(void (*fn)(uint32_t, uint32_t), uint32_t a, uint32_t b)
{
	int st;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		fn(a, b);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void crash_in_init(uint32_t a, uint32_t b)
{
	struct bext_store *s = test_store_reopen();
	uint32_t refs[2] = {a, b};
	struct bext_obj_desc d = {.kind = BEXT_OBJ_PROG,
				  .name = "dying",
				  .refs = refs,
				  .nr_refs = 2,
				  .payload_size = 1 << 20,
				  .init = die_in_init};

	if (s)
		bext_store_create_obj(s, &d);
}

/* Dies with a prog CREATING and only its last reference taken. */
static void crash_mid_refs(uint32_t a, uint32_t b)
{
	struct bext_store *s = test_store_reopen();
	struct bext_prog_create_opts po = {.sz = sizeof(po), .name = "half"};
	uint32_t maps[2] = {a, b}, i;
	int id;

	if (!s)
		return;
	po.map_ids = maps;
	po.nr_maps = 2;
	id = bext_store__create_prog(s, &po);
	if (id < 0)
		return;
	pthread_mutex_lock(&s->hdr->lock);
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state == BEXT_OBJ_LIVE && e->id == a)
			e->refcnt--; /* as if the reference on a was never taken */
	}
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state == BEXT_OBJ_LIVE && e->id == (uint32_t)id) {
			e->refs_dropped = 1; /* holds refs[1] only */
			e->state = BEXT_OBJ_CREATING;
			s->hdr->nr_live--; /* CREATING entries are not counted live */
		}
	}
	raise(SIGKILL);
}

/* Dies holding the lock with a redo batch recorded but not applied. */
static void crash_in_redo(uint32_t a, uint32_t b)
{
	struct bext_store *s = test_store_reopen();
	uint32_t *redo, i;

	(void)b;
	if (!s)
		return;
	pthread_mutex_lock(&s->hdr->lock);
	redo = (uint32_t *)s->hdr->reserved;
	for (i = 0; i < s->hdr->max_objects; i++) {
		struct bext_reg_entry *e = &s->entries[i];

		if (e->state == BEXT_OBJ_LIVE && e->id == a) {
			redo[1] = 1;						   /* n */
			redo[2] = (uint32_t)((char *)&e->refcnt - (char *)s->hdr); /* off */
			redo[3] = 5;						   /* val */
			__atomic_store_n(&redo[0], 1, __ATOMIC_RELEASE);	   /* valid */
		}
	}
	raise(SIGKILL);
}

static uint32_t refcnt(struct bext_store *s, uint32_t id)
{
	struct bext_obj_info info;

	return bext_store__obj_info(s, id, &info) == 0 ? info.refcnt : 0;
}

static int count_objs(struct bext_store *s)
{
	uint32_t next;
	int n = 0;

	for (next = 0; bext_store__next_id(s, next, &next) == 0;)
		n++;
	return n;
}

int main(void)
{
	struct bext_store *s = test_store_open("crash", 32);
	int a = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	int b = test_mk_map(s, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	char p[256];
	struct stat stt;

	REQUIRE(a > 0 && b > 0);
	bext_set_print(bext_print_stderr);

	run_child(crash_in_init, a, b);
	/* the dead child held the lock; this call recovers it */
	CHECK_EQ(count_objs(s), 2);
	CHECK_EQ(refcnt(s, a), 1);
	CHECK_EQ(refcnt(s, b), 1);
	snprintf(p, sizeof(p), "%s/obj-3", test_store_dir);
	CHECK(stat(p, &stt) < 0); /* the half-written segment is gone */
	CHECK_EQ(bext_store__check(s), 0);

	run_child(crash_mid_refs, a, b);
	CHECK_EQ(count_objs(s), 2);
	CHECK_EQ(refcnt(s, a), 1);
	CHECK_EQ(refcnt(s, b), 1); /* the one reference taken was given back */
	CHECK_EQ(bext_store__check(s), 0);

	run_child(crash_in_redo, a, b);
	CHECK_EQ(refcnt(s, a), 5); /* recorded batch replayed */
	CHECK_EQ(bext_store__check(s), 0);

	/* and the store keeps working */
	{
		int c = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);

		CHECK(c > 0);
		CHECK_EQ(bext_store__obj_put(s, c), 0);
		CHECK_EQ(bext_store__obj_put(s, b), 0);
		CHECK_EQ(count_objs(s), 1);
	}
	bext_store__close(s);
	return test_result("test_store_crash");
}

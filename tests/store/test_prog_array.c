/* SPDX-License-Identifier: MIT */
/*
 * BPF_MAP_TYPE_PROG_ARRAY holds references on its programs, as the kernel's:
 * a stored program outlives its loader's reference; overwrite, delete and
 * removal of the array drop them; the cycle program -> its prog array ->
 * program is broken by user references (the array is emptied when its last
 * one goes). Creation flags and error codes are compared with kernel prog
 * arrays (bpf(2) through libbpf) when the kernel allows it. Crashes: a
 * process killed in the middle of a slot change or of emptying an array
 * (built deterministically), and children SIGKILLed at random points while
 * changing slots and building and dropping cycles; afterwards every
 * reference count is exactly what the slots, programs and user references
 * account for, and everything goes away once released. End to end: a tail
 * call through the array reaches a program only the array keeps alive.
 */
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <bext/helpers.h>
#include <bext/isa.h>
#include <bext/vm.h>

#include "store_test.h"
#include "maps/maps_internal.h" /* struct bext_map: the slots, to build crash states */

static struct bext_store *S;

static int refcnt(uint32_t id)
{
	struct bext_obj_info in;

	return bext_store__obj_info(S, id, &in) ? -1 : (int)in.refcnt;
}

static bool live(uint32_t id)
{
	return refcnt(id) > 0;
}

static uint32_t nr_live(void)
{
	uint32_t id = 0, n = 0;

	while (bext_store__next_id(S, id, &id) == 0)
		n++;
	return n;
}

static int mk_prog(const char *name, const uint32_t *maps, uint32_t nr)
{
	static const struct bext_insn insns[2] = {{.code = 0xb7}, {.code = 0x95}};
	struct bext_prog_create_opts po = {.sz = sizeof(po),
					   .name = name,
					   .prog_type = BPF_PROG_TYPE_SCHED_CLS,
					   .insns = insns,
					   .insn_cnt = 2,
					   .license = "GPL",
					   .map_ids = maps,
					   .nr_maps = nr};

	return bext_store__create_prog(S, &po);
}

static int mk_pa(const char *name, uint32_t max, uint32_t flags)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = name,
					 .map_type = BPF_MAP_TYPE_PROG_ARRAY,
					 .key_size = 4,
					 .value_size = 4,
					 .max_entries = max,
					 .map_flags = flags};

	return bext_store__create_map(S, &o);
}

static struct bext_map *open_map(int id)
{
	struct bext_map *m;

	REQUIRE(id > 0);
	m = bext_store__map_by_id(S, (uint32_t)id);
	REQUIRE(m);
	return m;
}

static int upd(struct bext_map *m, uint32_t k, uint32_t id)
{
	return bext_map__update_elem(m, &k, &id, BPF_ANY);
}

static int del(struct bext_map *m, uint32_t k)
{
	return bext_map__delete_elem(m, &k);
}

static uint32_t get(struct bext_map *m, uint32_t k)
{
	uint32_t v = 0;

	return bext_map__lookup_elem(m, &k, &v) ? 0 : v;
}

static int put(int id)
{
	return bext_store__obj_put(S, (uint32_t)id);
}

/* ---- creation flags and error codes, against the kernel --------------------------------- */

enum val { V_PROG, V_BAD, V_MAP };
static const struct {
	int op; /* 0 lookup, 1 update, 2 delete */
	uint32_t key;
	enum val val;
	uint64_t flags;
	int want;
} ops[] = {
    {0, 0, V_PROG, 0, -ENOENT},			   /* empty slot */
    {0, 9, V_PROG, 0, -ENOENT},			   /* index out of range */
    {2, 0, V_PROG, 0, -ENOENT},			   /* delete of an empty slot */
    {2, 9, V_PROG, 0, -E2BIG},			   /* delete out of range */
    {1, 9, V_PROG, BPF_ANY, -E2BIG},		   /* update out of range */
    {1, 0, V_PROG, BPF_NOEXIST, -EINVAL},	   /* only BPF_ANY */
    {1, 0, V_PROG, BPF_EXIST, -EINVAL},		   /* only BPF_ANY */
    {1, 0, V_BAD, BPF_ANY, -EBADF},		   /* no such program */
    {1, 0, V_MAP, BPF_ANY, -EINVAL},		   /* not a program */
    {1, 0, V_PROG, BPF_ANY, 0},			   /* stored */
    {0, 0, V_PROG, 0, 0},			   /* reads back the program's id */
    {1, 0, V_PROG, BPF_ANY, 0},			   /* overwrite with itself */
    {2, 0, V_PROG, 0, 0},			   /* delete */
    {2, 0, V_PROG, 0, -ENOENT},			   /* twice */
    {1, 3, V_PROG, BPF_ANY | BPF_F_LOCK, -EINVAL}, /* no spin lock */
};

static const uint32_t create_flags[] =
    {
	BPF_F_RDONLY_PROG,    BPF_F_WRONLY_PROG, BPF_F_RDONLY,	 BPF_F_WRONLY,
	BPF_F_NUMA_NODE,      BPF_F_INNER_MAP,	 BPF_F_MMAPABLE, BPF_F_NO_PREALLOC,
	BPF_F_PRESERVE_ELEMS, /* the kernel takes it for perf event arrays only */
};
static const int create_want[] = {-EINVAL, -EINVAL, 0, 0, 0, -EINVAL, -EINVAL, -EINVAL, -EINVAL};

static int kernel_prog(void)
{
	static const struct bpf_insn insns[2] = {{.code = 0xb7}, {.code = 0x95}};

	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", insns, 2, NULL);
}

static void test_kernel_semantics(void)
{
	int kfd = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "probe", 4, 4, 4, NULL);
	int kprog = kfd >= 0 ? kernel_prog() : -1;
	int kmap = kfd >= 0 ? bpf_map_create(BPF_MAP_TYPE_ARRAY, "other", 4, 4, 1, NULL) : -1;
	bool kernel = kfd >= 0 && kprog >= 0 && kmap >= 0;
	int pa = mk_pa("sem", 4, 0), prog = mk_prog("semp", NULL, 0);
	int other = test_mk_map(S, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	struct bpf_prog_info pi = {0};
	uint32_t pilen = sizeof(pi);
	struct bext_map *m = open_map(pa);
	size_t i;

	if (!kernel)
		printf("  (kernel prog arrays unavailable: %s; bext side only)\n", strerror(errno));
	else
		REQUIRE(bpf_obj_get_info_by_fd(kprog, &pi, &pilen) == 0);
	for (i = 0; i < BEXT_ARRAY_SIZE(create_flags); i++) {
		int r = mk_pa("flags", 4, create_flags[i]);

		CHECK_EQ(r > 0 ? 0 : r, create_want[i]);
		if (r > 0)
			CHECK_EQ(put(r), 0);
		if (kernel) {
			LIBBPF_OPTS(bpf_map_create_opts, ko, .map_flags = create_flags[i]);
			int k = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "flags", 4, 4, 4, &ko);

			CHECK_EQ(k >= 0 ? 0 : -errno, create_want[i]);
			if (k >= 0)
				close(k);
		}
	}
	/* key, value size and max_entries as the kernel */
	CHECK_EQ(test_mk_map(S, BPF_MAP_TYPE_PROG_ARRAY, 8, 4, 4, 0), -EINVAL);
	CHECK_EQ(test_mk_map(S, BPF_MAP_TYPE_PROG_ARRAY, 4, 8, 4, 0), -EINVAL);
	CHECK_EQ(test_mk_map(S, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 0, 0), -EINVAL);

	for (i = 0; i < BEXT_ARRAY_SIZE(ops); i++) {
		uint32_t bval = ops[i].val == V_PROG  ? (uint32_t)prog
				: ops[i].val == V_MAP ? (uint32_t)other
						      : 999999u;
		uint32_t kval = ops[i].val == V_PROG  ? (uint32_t)kprog
				: ops[i].val == V_MAP ? (uint32_t)kmap
						      : 12345u;
		uint32_t out = 0;
		int r, kr;

		if (ops[i].op == 0)
			r = bext_map__lookup_elem(m, &ops[i].key, &out);
		else if (ops[i].op == 1)
			r = bext_map__update_elem(m, &ops[i].key, &bval, ops[i].flags);
		else
			r = bext_map__delete_elem(m, &ops[i].key);
		if (r != ops[i].want)
			fprintf(stderr, "  bext op %zu\n", i);
		CHECK_EQ(r, ops[i].want);
		if (ops[i].op == 0 && !r)
			CHECK_EQ(out, (uint32_t)prog);
		if (!kernel)
			continue;
		out = 0;
		if (ops[i].op == 0)
			kr = bpf_map_lookup_elem(kfd, &ops[i].key, &out);
		else if (ops[i].op == 1)
			kr = bpf_map_update_elem(kfd, &ops[i].key, &kval, ops[i].flags);
		else
			kr = bpf_map_delete_elem(kfd, &ops[i].key);
		kr = kr ? -errno : 0;
		if (kr != ops[i].want)
			fprintf(stderr, "  kernel op %zu\n", i);
		CHECK_EQ(kr, ops[i].want);
		if (ops[i].op == 0 && !kr)
			CHECK_EQ(out, pi.id);
	}
	bext_map__close(m);
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(put(prog), 0);
	CHECK_EQ(put(other), 0);
	CHECK_EQ(nr_live(), 0);
	if (kfd >= 0)
		close(kfd);
	if (kprog >= 0)
		close(kprog);
	if (kmap >= 0)
		close(kmap);
}

/* ---- references -------------------------------------------------------------------------- */

static void test_keeps_alive(void)
{
	int pa = mk_pa("keep", 4, 0);
	int p1 = mk_prog("p1", NULL, 0), p2 = mk_prog("p2", NULL, 0), p3 = mk_prog("p3", NULL, 0);
	struct bext_map *m = open_map(pa);

	REQUIRE(p1 > 0 && p2 > 0 && p3 > 0);
	CHECK_EQ(upd(m, 0, p1), 0);
	CHECK_EQ(refcnt(p1), 2);
	/* the loader's reference goes: the array keeps the program */
	CHECK_EQ(put(p1), 0);
	CHECK_EQ(refcnt(p1), 1);
	CHECK_EQ(get(m, 0), (uint32_t)p1);
	CHECK_EQ(upd(m, 1, p1), 0); /* one reference per slot */
	CHECK_EQ(refcnt(p1), 2);
	CHECK_EQ(bext_map__nr_entries(m), 2);
	/* overwrite drops the replaced program's reference */
	CHECK_EQ(upd(m, 0, p2), 0);
	CHECK_EQ(refcnt(p1), 1);
	CHECK_EQ(refcnt(p2), 2);
	CHECK_EQ(upd(m, 1, p2), 0);
	CHECK(!live(p1)); /* nothing else held it: removed */
	CHECK_EQ(refcnt(p2), 3);
	CHECK_EQ(upd(m, 2, p1), -EBADF);
	/* delete drops it */
	CHECK_EQ(put(p2), 0);
	CHECK_EQ(refcnt(p2), 2);
	CHECK_EQ(del(m, 0), 0);
	CHECK_EQ(refcnt(p2), 1);
	CHECK_EQ(del(m, 0), -ENOENT);
	CHECK_EQ(del(m, 1), 0);
	CHECK(!live(p2));
	CHECK_EQ(bext_map__nr_entries(m), 0);
	/* removing the array drops what its slots hold */
	CHECK_EQ(upd(m, 3, p3), 0);
	CHECK_EQ(put(p3), 0);
	CHECK_EQ(refcnt(p3), 1);
	CHECK_EQ(put(pa), 0);
	CHECK(!live(pa));
	CHECK(!live(p3));
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m);
	CHECK_EQ(bext_store__check(S), 0);
}

static void test_cycles(void)
{
	int pa = mk_pa("cyc", 4, 0), p, l, a1, a2, q1, q2;
	struct bext_map *m = open_map(pa), *m1, *m2;
	struct bext_link_create_opts lo = {.sz = sizeof(lo), .target = "uprobe:/x:f", .pid = -1};

	/* program -> its prog array -> program: collected once the user references go */
	p = mk_prog("tc", (uint32_t *)&pa, 1);
	REQUIRE(p > 0);
	CHECK_EQ(refcnt(pa), 2);
	CHECK_EQ(upd(m, 0, p), 0);
	CHECK_EQ(upd(m, 1, p), 0);
	CHECK_EQ(refcnt(p), 3);
	CHECK_EQ(put(p), 0);
	CHECK_EQ(refcnt(p), 2); /* the array keeps it */
	CHECK_EQ(put(pa), 0);	/* last user reference: emptied, then all goes */
	CHECK(!live(p));
	CHECK(!live(pa));
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m);

	/* the array's user reference first: emptied at once, the program keeps the array */
	pa = mk_pa("cyc2", 4, 0);
	m = open_map(pa);
	p = mk_prog("tc2", (uint32_t *)&pa, 1);
	CHECK_EQ(upd(m, 2, p), 0);
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(refcnt(pa), 1);
	CHECK_EQ(refcnt(p), 1);
	CHECK_EQ(get(m, 2), 0);
	CHECK_EQ(upd(m, 2, p), -EPERM); /* no user reference: it would never be emptied */
	CHECK_EQ(del(m, 2), -ENOENT);
	CHECK_EQ(bext_store__obj_get(S, (uint32_t)pa), 0); /* like BPF_MAP_GET_FD_BY_ID */
	CHECK_EQ(refcnt(pa), 2);
	CHECK_EQ(upd(m, 2, p), 0);
	CHECK_EQ(refcnt(p), 2);
	CHECK_EQ(put(p), 0);
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m);

	/* a link keeps the program (and so the array) after the array was emptied */
	pa = mk_pa("cyc3", 4, 0);
	m = open_map(pa);
	p = mk_prog("tc3", (uint32_t *)&pa, 1);
	CHECK_EQ(upd(m, 0, p), 0);
	lo.prog_id = (uint32_t)p;
	l = bext_store__create_link(S, &lo);
	REQUIRE(l > 0);
	CHECK_EQ(put(p), 0);
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(refcnt(p), 1);	 /* the link */
	CHECK_EQ(refcnt(pa), 1); /* the program */
	CHECK_EQ(get(m, 0), 0);
	CHECK_EQ(put(l), 0);
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m);

	/* two arrays, each holding the program that uses the other */
	a1 = mk_pa("a1", 2, 0);
	a2 = mk_pa("a2", 2, 0);
	m1 = open_map(a1);
	m2 = open_map(a2);
	q1 = mk_prog("q1", (uint32_t *)&a2, 1);
	q2 = mk_prog("q2", (uint32_t *)&a1, 1);
	CHECK_EQ(upd(m1, 0, q1), 0);
	CHECK_EQ(upd(m1, 1, q2), 0);
	CHECK_EQ(upd(m2, 0, q2), 0);
	CHECK_EQ(put(q1), 0);
	CHECK_EQ(put(q2), 0);
	CHECK_EQ(refcnt(q1), 1);
	CHECK_EQ(refcnt(q2), 2);
	CHECK_EQ(put(a1), 0); /* a1 emptied: q1 goes, and its reference on a2 */
	CHECK(!live(q1));
	CHECK_EQ(refcnt(q2), 1);
	CHECK_EQ(refcnt(a1), 1); /* q2 uses it */
	CHECK_EQ(refcnt(a2), 1); /* the user reference only */
	CHECK_EQ(put(a2), 0);
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m1);
	bext_map__close(m2);
	CHECK_EQ(bext_store__check(S), 0);
}

/* ---- crashes in the middle, built deterministically --------------------------------------- */

static struct bext_reg_entry *entry_of(uint32_t id)
{
	for (uint32_t i = 0; i < S->hdr->max_objects; i++)
		if (S->entries[i].state != BEXT_OBJ_FREE && S->entries[i].id == id)
			return &S->entries[i];
	return NULL;
}

/* A child takes the registry lock, leaves what @fn writes half-done, and dies. */
static void die_holding_lock(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		pthread_mutex_lock(&S->hdr->lock);
		fn(arg);
		raise(SIGKILL);
		_exit(1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

struct swap_state {
	uint32_t pa, old, new;
	uint32_t *slots;
	bool slot_written;
};

/* What bext_store_set_slot_ref has done after its first batch (and maybe the slot store). */
static void half_swap(void *arg)
{
	struct swap_state *c = arg;
	struct bext_slot_intent *in =
	    (struct bext_slot_intent *)(S->hdr->reserved + BEXT_SLOT_INTENT_OFF);

	*in = (struct bext_slot_intent){
	    .valid = 1, .owner_id = c->pa, .idx = 0, .old_id = c->old, .new_id = c->new};
	entry_of(c->new)->refcnt++;
	if (c->slot_written)
		c->slots[0] = c->new;
}

/* What obj_put of a program array's last user reference has done before emptying slot 1. */
static void half_uref_release(void *arg)
{
	struct swap_state *c = arg;
	struct bext_reg_entry *a = entry_of(c->pa), *p = entry_of(c->old);

	a->urefcnt = 0;
	a->refcnt--;
	c->slots[0] = 0; /* slot 0 done: its reference dropped */
	p->refcnt--;
}

static void test_crash_points(void)
{
	for (int written = 0; written < 2; written++) {
		int pa = mk_pa("half", 2, 0), p1 = mk_prog("h1", NULL, 0),
		    p2 = mk_prog("h2", NULL, 0);
		struct bext_map *m = open_map(pa);
		struct swap_state c = {(uint32_t)pa, (uint32_t)p1, (uint32_t)p2,
				       (uint32_t *)(void *)m->data, written != 0};
		uint32_t rec = S->hdr->recoveries;

		CHECK_EQ(upd(m, 0, p1), 0);
		die_holding_lock(half_swap, &c);
		CHECK_EQ(bext_store__check(S), 0); /* recovers, finishing the change */
		CHECK_EQ(S->hdr->recoveries, rec + 1);
		CHECK_EQ(get(m, 0), (uint32_t)p2);
		CHECK_EQ(refcnt(p1), 1);
		CHECK_EQ(refcnt(p2), 2);
		CHECK_EQ(
		    ((struct bext_slot_intent *)(S->hdr->reserved + BEXT_SLOT_INTENT_OFF))->valid,
		    0);
		CHECK_EQ(put(pa), 0);
		CHECK_EQ(put(p1), 0);
		CHECK_EQ(put(p2), 0);
		CHECK_EQ(nr_live(), 0);
		bext_map__close(m);
	}
	{
		int pa = mk_pa("halfu", 2, 0), p;
		struct bext_map *m = open_map(pa);
		struct swap_state c = {.pa = (uint32_t)pa};

		p = mk_prog("hu", (uint32_t *)&pa, 1);
		c.old = (uint32_t)p;
		c.slots = (uint32_t *)(void *)m->data;
		CHECK_EQ(upd(m, 0, p), 0);
		CHECK_EQ(upd(m, 1, p), 0);
		CHECK_EQ(put(p), 0);
		die_holding_lock(half_uref_release, &c);
		CHECK_EQ(bext_store__check(S), 0); /* recovery empties slot 1: the cycle goes */
		CHECK(!live(p));
		CHECK(!live(pa));
		CHECK_EQ(nr_live(), 0);
		bext_map__close(m);
	}
}

/* ---- children killed at random points ------------------------------------------------------ */

#define KSLOTS 8
#define KPROGS 4
#define KID_SLOTS 16

static void kill_child(int pa, const int *progs, unsigned seed)
{
	struct bext_map *m = open_map(pa);

	srand(seed);
	for (;;) {
		int op = rand() % 10;

		if (op < 6) {
			upd(m, (uint32_t)(rand() % KSLOTS), (uint32_t)progs[rand() % KPROGS]);
		} else if (op < 8) {
			del(m, (uint32_t)(rand() % KSLOTS));
		} else {
			/* a cycle of its own, given up again */
			int ka = mk_pa("kid_pa", KID_SLOTS, 0), kp;
			struct bext_map *km;

			if (ka < 0)
				continue;
			kp = mk_prog("kid_prog", (uint32_t *)&ka, 1);
			km = bext_store__map_by_id(S, (uint32_t)ka);
			for (uint32_t i = 0; km && kp > 0 && i < KID_SLOTS; i++)
				upd(km, i, (uint32_t)(i % 2 ? kp : progs[rand() % KPROGS]));
			bext_map__close(km);
			if (rand() % 2) {
				put(kp);
				put(ka);
			} else {
				put(ka);
				put(kp);
			}
		}
	}
}

static bool is_kid(uint32_t id, bool *is_map)
{
	struct bext_obj_info in;

	if (bext_store__obj_info(S, id, &in))
		return false;
	*is_map = in.kind == BEXT_OBJ_MAP;
	return !strcmp(in.name, "kid_pa") || !strcmp(in.name, "kid_prog");
}

/* Slots holding @prog in live prog array @pa. */
static int slots_holding(uint32_t pa, uint32_t prog)
{
	struct bext_map *m = bext_store__map_by_id(S, pa);
	int n = 0;

	if (!m)
		return 0;
	for (uint32_t i = 0; i < bext_map__max_entries(m); i++)
		n += get(m, i) == prog;
	bext_map__close(m);
	return n;
}

/*
 * What a killed child left: every reference of its objects must be one that
 * a slot, a program or a user reference accounts for (user references 0 or
 * 1, and none with slots still full), then the parent drops the user
 * references and everything of the child's must be gone.
 */
static void reap_kid_objects(void)
{
	uint32_t ids[64], uref[64], n = 0, id = 0, i, j;
	bool is_map[64];

	while (bext_store__next_id(S, id, &id) == 0)
		if (n < 64 && is_kid(id, &is_map[n]))
			ids[n++] = id;
	CHECK(n < 64);
	for (i = 0; i < n; i++) {
		int internal = 0;

		if (is_map[i]) {
			for (j = 0; j < n; j++) {
				struct bext_prog_data d;

				if (is_map[j] || bext_store__prog_read(S, ids[j], &d))
					continue;
				for (uint32_t k = 0; k < d.nr_maps; k++)
					internal += d.map_ids[k] == ids[i];
				bext_prog_data__free(&d);
			}
		} else {
			for (j = 0; j < n; j++)
				if (is_map[j])
					internal += slots_holding(ids[j], ids[i]);
		}
		uref[i] = (uint32_t)(refcnt(ids[i]) - internal);
		CHECK(uref[i] <= 1);
		if (is_map[i] && uref[i] == 0) {
			struct bext_map *m = bext_store__map_by_id(S, ids[i]);

			CHECK(m && bext_map__nr_entries(m) == 0);
			bext_map__close(m);
		}
	}
	for (i = 0; i < n; i++)
		if (uref[i] == 1 && live(ids[i]))
			CHECK_EQ(put((int)ids[i]), 0);
	for (i = 0; i < n; i++)
		CHECK(!live(ids[i]));
}

static void test_kill(void)
{
	int pa = mk_pa("shared", KSLOTS, 0), progs[KPROGS], q, kids_seen = 0;
	uint32_t rec0 = S->hdr->recoveries;
	struct bext_map *m = open_map(pa);
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < KPROGS; i++) {
		progs[i] = mk_prog("kp", NULL, 0);
		REQUIRE(progs[i] > 0);
	}
	q = mk_prog("q", (uint32_t *)&pa, 1); /* the array's user, in a cycle with it */
	REQUIRE(q > 0);
	CHECK_EQ(upd(m, 0, q), 0);
	srand(12345);
	for (int it = 0; it < 100; it++) {
		unsigned seed = (unsigned)rand();
		int st, held[KPROGS] = {0}, qheld = 0;
		pid_t pid = fork();

		REQUIRE(pid >= 0);
		if (pid == 0) {
			kill_child(pa, progs, seed);
			_exit(0);
		}
		usleep((useconds_t)(200 + rand() % 4000));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		CHECK(WIFSIGNALED(st));
		CHECK_EQ(bext_store__check(S), 0);
		{
			uint32_t id = 0;
			bool mp;

			while (bext_store__next_id(S, id, &id) == 0)
				kids_seen += is_kid(id, &mp);
		}
		reap_kid_objects();
		/* then the shared array (the child's arrays gone): each program referenced once by
		 * its user, once per slot */
		for (uint32_t k = 0; k < KSLOTS; k++) {
			uint32_t v = get(m, k);
			bool known = !v || v == (uint32_t)q;

			for (int j = 0; j < KPROGS; j++) {
				held[j] += v == (uint32_t)progs[j];
				known |= v == (uint32_t)progs[j];
			}
			qheld += v == (uint32_t)q;
			CHECK(known);
		}
		for (int j = 0; j < KPROGS; j++)
			CHECK_EQ(refcnt(progs[j]), 1 + held[j]);
		CHECK_EQ(refcnt(q), 1 + qheld);
		CHECK_EQ(refcnt(pa), 2); /* its user and q */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("  kill: 100 children, %u registry recoveries, %d leftover child objects reaped, "
	       "%.1f s\n",
	       S->hdr->recoveries - rec0, kids_seen,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* all user references go: the cycle q <-> array goes with them */
	CHECK_EQ(put(q), 0);
	for (int j = 0; j < KPROGS; j++)
		CHECK_EQ(put(progs[j]), 0);
	CHECK(live(pa));
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(nr_live(), 0);
	CHECK_EQ(bext_store__check(S), 0);
	bext_map__close(m);
}

/* ---- end to end: a tail call reaches a program only the array keeps ------------------------ */

static void test_tail_call(void)
{
	const struct bext_insn entry_insns[] = {
	    {.code = 0x18, .dst = 2, .src = BEXT_PSEUDO_MAP_IDX, .imm = 0}, /* r2 = map 0 */
	    {.code = 0},
	    {.code = 0xb7, .dst = 3, .imm = 0}, /* r3 = 0 */
	    {.code = 0x85, .imm = BPF_FUNC_tail_call},
	    {.code = 0xb7, .dst = 0, .imm = 99}, /* no program: falls through */
	    {.code = 0x95},
	};
	const struct bext_insn target_insns[] = {{.code = 0xb7, .dst = 0, .imm = 42},
						 {.code = 0x95}};
	struct bext_helpers_opts ho = {.sz = sizeof(ho)};
	int pa = mk_pa("jmp", 2, 0), t = mk_prog("target", NULL, 0);
	struct bext_map *m = open_map(pa);
	struct bext_helpers_maps hm = {.maps = &m, .nr = 1};
	struct bext_vm *entry = bext_vm__new(NULL), *target = bext_vm__new(NULL);
	char err[256] = "", ctx[64] = {0};
	uint64_t ret;

	REQUIRE(entry && target && t > 0);
	CHECK_EQ(bext_helpers__register_all(entry, &ho), 0);
	CHECK_EQ(bext_vm__set_pseudo_resolver(entry, bext_helpers__pseudo_resolver, &hm), 0);
	CHECK_EQ(bext_vm__load(entry, entry_insns, BEXT_ARRAY_SIZE(entry_insns), err, sizeof(err)),
		 0);
	CHECK_EQ(bext_vm__load(target, target_insns, 2, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  load: %s\n", err);
	bext_vm__jit(target, err, sizeof(err));
	CHECK_EQ(bext_helpers__set_prog((uint32_t)t, target), 0);
	CHECK_EQ(upd(m, 0, t), 0);
	CHECK_EQ(put(t), 0); /* its loader lets go; the array keeps it */
	CHECK(live(t));
	for (int e = 0; e < 2; e++) {
		ret = 0;
		CHECK_EQ(bext_vm__run(entry, e ? BEXT_ENGINE_JIT : BEXT_ENGINE_INTERP, ctx,
				      sizeof(ctx), &ret),
			 0);
		CHECK_EQ(ret, 42);
	}
	CHECK_EQ(del(m, 0), 0);
	CHECK(!live(t));
	ret = 0;
	CHECK_EQ(bext_vm__run(entry, BEXT_ENGINE_INTERP, ctx, sizeof(ctx), &ret), 0);
	CHECK_EQ(ret, 99);
	CHECK_EQ(bext_helpers__set_prog((uint32_t)t, NULL), 0);
	CHECK_EQ(put(pa), 0);
	CHECK_EQ(nr_live(), 0);
	bext_map__close(m);
	bext_vm__free(entry);
	bext_vm__free(target);
}

int main(void)
{
	S = test_store_open("parr", 512);
	test_kernel_semantics();
	test_keeps_alive();
	test_cycles();
	test_crash_points();
	test_tail_call();
	test_kill();
	bext_store__close(S);
	return test_result("test_prog_array");
}

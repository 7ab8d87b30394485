/* SPDX-License-Identifier: MIT */
/*
 * Helpers end to end: eBPF C (progs/helpers.bpf.c, clang -target bpf) loaded
 * with bext_obj, maps in a temporary store, every helper registered by
 * bext_helpers__register_all(), run on the interpreter and on the JIT with
 * exact expected results.
 */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "helpers_test.h"

static int failures;

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d [%s]: CHECK failed: %s\n", __FILE__, __LINE__, \
				eng_name, #cond);                                             \
			failures++;                                                           \
		}                                                                             \
	} while (0)
#define CHECK_EQ(a, b)                                                                       \
	do {                                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);                          \
		if (_a != _b) {                                                              \
			fprintf(stderr, "%s:%d [%s]: %s == %lld, expected %lld\n", __FILE__, \
				__LINE__, eng_name, #a, _a, _b);                             \
			failures++;                                                          \
		}                                                                            \
	} while (0)

struct args {
	uint64_t key, val, ptr, len;
};

struct out {
	char comm[16];
	char str[64];
	char rstr[32];
	uint64_t stack[8];
};

static struct ht_env env;
static enum bext_engine eng;
static const char *eng_name = "";

static char trace_buf[4096];
static size_t trace_len;
static int trace_count;

static void trace_cb(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	if (trace_len + len + 1 < sizeof(trace_buf)) {
		memcpy(trace_buf + trace_len, msg, len);
		trace_len += len;
		trace_buf[trace_len++] = '\n';
		trace_buf[trace_len] = 0;
	}
	trace_count++;
}

static struct bext_helpers_opts hopts = {.sz = sizeof(hopts), .trace_fn = trace_cb};

static struct bext_vm *load(const char *name)
{
	struct bext_vm *vm = ht_load(&env, name, &hopts);

	CHECK(vm != NULL);
	return vm;
}

/* Runs program @name once with @a; returns r0 as the program's int. */
static int64_t run_vm(struct bext_vm *vm, struct args *a)
{
	struct args dummy = {0};
	uint64_t r = 0;
	int e;

	if (!vm)
		return -12345;
	e = bext_vm__run(vm, eng, a ? a : &dummy, sizeof(*a), &r);
	CHECK_EQ(e, 0);
	return (int32_t)r;
}

static int64_t run1(const char *name, struct args *a)
{
	struct bext_vm *vm = load(name);
	int64_t r = run_vm(vm, a);

	bext_vm__free(vm);
	return r;
}

static struct out *bss(void)
{
	void *base;
	uint32_t stride;

	if (bext_map__array_base(ht_map(&env, ".bss"), &base, &stride))
		return NULL;
	return base;
}

static void test_hash(void)
{
	struct bext_vm *vm = load("hash_count"), *del = load("hash_delete");
	struct bext_map *m = ht_map(&env, "counts");
	struct args a = {0};
	uint64_t k, v;

	/* key i is hit (i % 7) + 1 times, 50 keys */
	for (int round = 0; round < 7; round++)
		for (int i = 0; i < 50; i++) {
			if (round > i % 7)
				continue;
			a.key = 1000 + i;
			CHECK_EQ(run_vm(vm, &a), round + 1);
		}
	for (int i = 0; i < 50; i++) {
		k = 1000 + i;
		CHECK_EQ(bext_map__lookup_elem(m, &k, &v), 0);
		CHECK_EQ(v, i % 7 + 1);
	}
	a.key = 1003;
	CHECK_EQ(run_vm(del, &a), 0);
	CHECK_EQ(run_vm(del, &a), -ENOENT);
	k = 1003;
	CHECK_EQ(bext_map__lookup_elem(m, &k, &v), -ENOENT);
	CHECK_EQ(run_vm(vm, &a), 1);
	bext_vm__free(vm);
	bext_vm__free(del);
}

static void test_array(void)
{
	struct bext_vm *vm = load("array_add");
	struct bext_map *m = ht_map(&env, "arr");
	struct args a = {0};
	uint32_t k;
	uint64_t v;

	for (int i = 0; i < 100; i++) {
		a.key = i % 16;
		a.val = i;
		run_vm(vm, &a);
	}
	for (k = 0; k < 16; k++) {
		uint64_t want = 0;

		for (int i = 0; i < 100; i++)
			if (i % 16 == (int)k)
				want += i;
		CHECK_EQ(bext_map__lookup_elem(m, &k, &v), 0);
		CHECK_EQ(v, want);
	}
	a.key = 16; /* out of range: lookup gives NULL */
	CHECK_EQ(run_vm(vm, &a), -1);
	bext_vm__free(vm);
}

struct record {
	uint64_t key;
	uint32_t pid, tid;
};

static uint64_t seen[16];
static size_t nseen, seen_size[16];

static int rb_sample(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (nseen < 16) {
		memcpy(&seen[nseen], data, 8);
		seen_size[nseen++] = size;
		if (size == sizeof(struct record)) {
			struct record *r = data;

			CHECK_EQ(r->pid, getpid());
			CHECK_EQ(r->tid, syscall(SYS_gettid));
		}
	}
	return 0;
}

static void test_ringbuf(void)
{
	struct args a = {.key = 0x1111, .val = 0x2222};
	struct bext_map *m = ht_map(&env, "rb");
	int64_t r;

	nseen = 0;
	/* 16 + 8 header, 16 + 8 discarded, 8 + 8 output: 64 bytes unconsumed */
	r = run1("rb_produce", &a);
	CHECK_EQ(r, 64);
	a.key = 0x3333;
	a.val = 0x4444;
	CHECK_EQ(run1("rb_produce", &a), 128);
	CHECK_EQ(bext_ringbuf__consume(m, rb_sample, NULL), 4);
	CHECK_EQ(nseen, 4);
	CHECK_EQ(seen[0], 0x1111);
	CHECK_EQ(seen_size[0], sizeof(struct record));
	CHECK_EQ(seen[1], 0x2222);
	CHECK_EQ(seen_size[1], 8);
	CHECK_EQ(seen[2], 0x3333);
	CHECK_EQ(seen[3], 0x4444);
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 0);
}

static int perf_idx = -1, perf_n;
static uint64_t perf_v[2];

static void perf_sample(void *ctx, int idx, void *data, uint32_t size)
{
	(void)ctx;
	perf_idx = idx;
	perf_n++;
	if (size >= sizeof(perf_v))
		memcpy(perf_v, data, sizeof(perf_v));
}

static void test_perf(void)
{
	struct bext_map *m = ht_map(&env, "perf");
	struct args a = {.key = 0x77, .val = 0x88, .len = 2};

	CHECK_EQ(run1("perf_out", &a), 0);
	CHECK_EQ(bext_perf__consume(m, perf_sample, NULL, NULL), 1);
	CHECK_EQ(perf_n, 1);
	CHECK_EQ(perf_idx, 2);
	CHECK_EQ(perf_v[0], 0x77);
	CHECK_EQ(perf_v[1], 0x88);
	a.len = 9; /* index out of range */
	CHECK_EQ(run1("perf_out", &a), -E2BIG);
	a.len = 1ull << 40; /* unknown flag bit */
	CHECK_EQ(run1("perf_out", &a), -EINVAL);
	perf_n = 0;
}

static void test_probe_read(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *mem =
	    mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t good = 0x0123456789abcdefULL, target = 5;
	struct args a = {0};
	struct out *o = bss();

	CHECK(mem != MAP_FAILED && o);
	if (mem == MAP_FAILED || !o)
		return;
	/* page 1 PROT_NONE; below mmap_min_addr nothing is ever mapped */
	mprotect(mem + pg, pg, PROT_NONE);

	a.ptr = (uintptr_t)&good;
	CHECK_EQ((uint32_t)run1("probe_read", &a), (uint32_t)good);
	CHECK_EQ((uint32_t)run1("probe_read_legacy", &a), (uint32_t)good);
	a.ptr = (uintptr_t)(mem + pg);
	CHECK_EQ(run1("probe_read", &a), -EFAULT);
	a.ptr = (uintptr_t)0x1000;
	CHECK_EQ(run1("probe_read", &a), -EFAULT);
	a.ptr = (uintptr_t)(mem + pg - 4); /* straddles into PROT_NONE */
	CHECK_EQ(run1("probe_read", &a), -EFAULT);
	a.ptr = 0;
	CHECK_EQ(run1("probe_read", &a), -EFAULT);
	a.ptr = 0xffff888000000000ULL;
	CHECK_EQ(run1("probe_read_legacy", &a), -EFAULT);

	/* strings: full, truncated, ending right before a PROT_NONE page, faulting */
	strcpy((char *)mem, "hello, world");
	a.ptr = (uintptr_t)mem;
	a.len = 31;
	CHECK_EQ(run1("probe_read_str", &a), 13);
	CHECK(!strcmp(o->rstr, "hello, world"));
	a.len = 6;
	CHECK_EQ(run1("probe_read_str", &a), 6);
	CHECK(!strcmp(o->rstr, "hello"));
	strcpy((char *)mem + pg - 3, "ab");
	a.ptr = (uintptr_t)(mem + pg - 3);
	a.len = 31;
	CHECK_EQ(run1("probe_read_str", &a), 3);
	CHECK(!strcmp(o->rstr, "ab"));
	memcpy(mem + pg - 3, "abc", 3); /* no NUL before the PROT_NONE page */
	CHECK_EQ(run1("probe_read_str", &a), -EFAULT);
	CHECK_EQ(o->rstr[0], 0);
	a.ptr = (uintptr_t)0x1000;
	CHECK_EQ(run1("probe_read_str", &a), -EFAULT);

	/* kernel memory: a clear error, the buffer zeroed */
	a.ptr = (uintptr_t)&good;
	CHECK_EQ(run1("probe_read_kernel", &a), -EPERM);

	/* probe_write_user: good, read-only, unmapped */
	a.ptr = (uintptr_t)&target;
	a.val = 77;
	CHECK_EQ(run1("probe_write", &a), 0);
	CHECK_EQ(target, 77);
	mprotect(mem, pg, PROT_READ);
	a.ptr = (uintptr_t)mem;
	CHECK_EQ(run1("probe_write", &a), -EFAULT);
	a.ptr = (uintptr_t)0x1000;
	CHECK_EQ(run1("probe_write", &a), -EFAULT);
	munmap(mem, 3 * pg);
}

static void *thread_pid(void *arg)
{
	int64_t *r = arg;

	r[0] = run1("tid", NULL);
	r[1] = syscall(SYS_gettid);
	return NULL;
}

static void test_task(void)
{
	struct out *o = bss();
	char name[16];
	pthread_t t;
	int64_t r[2];

	CHECK_EQ(run1("pid_tgid", NULL), getpid());
	CHECK_EQ(run1("tid", NULL), syscall(SYS_gettid));
	pthread_create(&t, NULL, thread_pid, r);
	pthread_join(t, NULL);
	CHECK_EQ(r[0], r[1]);
	CHECK(r[0] != getpid());
	CHECK_EQ(run1("uid_gid", NULL), (int32_t)((uint64_t)getgid() * 100000 + getuid()));

	prctl(PR_GET_NAME, name);
	prctl(PR_SET_NAME, "bext-comm-test");
	CHECK_EQ(run1("comm", NULL), 0);
	CHECK(o && !memcmp(o->comm, "bext-comm-test\0", 16));
	prctl(PR_SET_NAME, name);
	CHECK_EQ(run1("rnd", NULL), 1);
}

static void test_format(void)
{
	struct args a = {.key = (uint64_t)-42, .val = 7};
	struct out *o = bss();
	const char *want = "-42|    7|ab  |1234567890|str|Z|%";

	CHECK_EQ(run1("fmt", &a), (int64_t)strlen(want) + 1);
	CHECK(o && !strcmp(o->str, want));
	if (o && strcmp(o->str, want))
		fprintf(stderr, "  got \"%s\"\n", o->str);
	a.key = 123456;
	CHECK_EQ(run1("fmt_small", &a), 7);
	CHECK(o && !strcmp(o->str, "123"));
	CHECK_EQ(run1("fmt_bad", &a), -EINVAL);

	trace_len = 0;
	trace_count = 0;
	a.key = 5;
	CHECK_EQ(run1("printk", &a), (int64_t)strlen("hello 5 from bpf"));
	CHECK_EQ(trace_count, 1);
	CHECK(!strcmp(trace_buf, "hello 5 from bpf\n"));

	a.ptr = (uintptr_t) "hello";
	CHECK_EQ(run1("str_cmp", &a), 0);
	a.ptr = (uintptr_t) "help";
	CHECK_EQ(run1("str_cmp", &a), 1);
	a.ptr = (uintptr_t) "hella";
	CHECK_EQ(run1("str_cmp", &a), -1);
}

static void test_tail_calls(void)
{
	struct bext_map *jmp = ht_map(&env, "jmp");
	struct bext_vm *entry = load("tail_entry"), *t0 = load("tail_0"), *t1 = load("tail_1");
	struct bext_vm *self = load("tail_self");
	struct bext_prog_create_opts po = {.sz = sizeof(po), .prog_type = BPF_PROG_TYPE_SCHED_CLS};
	struct bext_insn nop[2] = {{.code = 0xb7}, {.code = 0x95}};
	struct args a = {0};
	int ids[3];
	uint32_t k, id;

	/* store programs give the ids the prog_array holds */
	po.insns = nop;
	po.insn_cnt = 2;
	po.license = "GPL";
	for (int i = 0; i < 3; i++) {
		ids[i] = bext_store__create_prog(env.store, &po);
		CHECK(ids[i] > 0);
	}
	CHECK_EQ(bext_helpers__set_prog(ids[0], t0), 0);
	CHECK_EQ(bext_helpers__set_prog(ids[1], t1), 0);
	CHECK_EQ(bext_helpers__set_prog(ids[2], self), 0);
	k = 0, id = ids[0];
	CHECK_EQ(bext_map__update_elem(jmp, &k, &id, BPF_ANY), 0);
	k = 1, id = ids[1];
	CHECK_EQ(bext_map__update_elem(jmp, &k, &id, BPF_ANY), 0);
	k = 3, id = ids[2];
	CHECK_EQ(bext_map__update_elem(jmp, &k, &id, BPF_ANY), 0);
	CHECK_EQ(bext_map__update_elem(jmp, &k, &id, BPF_NOEXIST), -EINVAL);
	k = 4;
	CHECK_EQ(bext_map__update_elem(jmp, &k, &id, BPF_ANY), -E2BIG);

	a.key = 0;
	CHECK_EQ(run_vm(entry, &a), 100);
	a.key = 1;
	CHECK_EQ(run_vm(entry, &a), 101);
	a.val = 1; /* entry -> 1 -> 0 */
	CHECK_EQ(run_vm(entry, &a), 100);
	a.key = 2; /* empty slot: falls through */
	CHECK_EQ(run_vm(entry, &a), 99);
	a.key = 7; /* out of range */
	CHECK_EQ(run_vm(entry, &a), 99);
	/* entry -> self (1 tail call) then 32 more: the 34th call fails like a missing program */
	a.key = 3;
	a.len = 0;
	CHECK_EQ(run_vm(entry, &a), 33);
	CHECK_EQ(a.len, 33);
	/* deleted slot, forgotten program */
	k = 1;
	CHECK_EQ(bext_map__delete_elem(jmp, &k), 0);
	CHECK_EQ(bext_map__delete_elem(jmp, &k), -ENOENT);
	a.key = 1;
	CHECK_EQ(run_vm(entry, &a), 99);
	CHECK_EQ(bext_helpers__set_prog(ids[0], NULL), 0);
	a.key = 0;
	CHECK_EQ(run_vm(entry, &a), 99);
	k = 0;
	CHECK_EQ(bext_map__lookup_elem(jmp, &k, &id), 0);
	CHECK_EQ(id, ids[0]);
	CHECK_EQ(bext_helpers__set_prog(ids[2], NULL), 0);
	for (int i = 0; i < 3; i++)
		bext_store__obj_put(env.store, ids[i]);
	bext_vm__free(entry);
	bext_vm__free(t0);
	bext_vm__free(t1);
	bext_vm__free(self);
}

static void test_misc_maps(void)
{
	struct bext_map *lk = ht_map(&env, "lk");
	struct args a = {.key = 3, .val = 9};
	struct bext_vm *vm;
	uint32_t k = 0;
	uint64_t v[2];

	CHECK_EQ(run1("queue_ops", &a), 3 * 1000 + 3);
	CHECK_EQ(run1("percpu", &a), 5);
	vm = load("locked_inc");
	for (int i = 1; i <= 10; i++)
		CHECK_EQ(run_vm(vm, &a), i);
	bext_vm__free(vm);
	CHECK_EQ(bext_map__lookup_elem(lk, &k, v), 0);
	CHECK_EQ(v[0], 0); /* lock released */
	CHECK_EQ(v[1], 10);
}

static uint64_t now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void test_time_and_run(void)
{
	struct args a = {0};
	uint64_t before = now(CLOCK_MONOTONIC), bb = now(CLOCK_BOOTTIME), after;
	struct bext_run_info ri = {.func_ip = 0x1234, .attach_cookie = 42};
	uint64_t regs[21] = {0}, frames[4];
	struct out *o = bss();

	CHECK_EQ(run1("times", &a), 1);
	after = now(CLOCK_MONOTONIC);
	CHECK(a.key >= before && a.key <= after);
	CHECK(a.val >= bb && a.val <= now(CLOCK_BOOTTIME));
	CHECK(a.len <= after && a.len + 20000000 >= before); /* coarse: a tick or so behind */

	CHECK_EQ(run1("cookie", NULL), 0); /* plain run: no cookie, no func ip */
	CHECK(bext_helpers__set_run(&ri) == NULL);
	CHECK_EQ(run1("cookie", NULL), 421);

	/* a fake frame-pointer chain: ip, then two frames, then the end */
	frames[0] = (uintptr_t)&frames[2];
	frames[1] = 0xaaaa;
	frames[2] = 0;
	frames[3] = 0xbbbb;
	regs[16] = 0x5555;		 /* rip */
	regs[4] = (uintptr_t)&frames[0]; /* rbp */
	ri.user_regs = regs;
	CHECK_EQ(run1("stack", NULL), 3 * 8);
	CHECK(o && o->stack[0] == 0x5555 && o->stack[1] == 0xaaaa && o->stack[2] == 0xbbbb &&
	      o->stack[3] == 0);
	CHECK(bext_helpers__set_run(NULL) == &ri);
	CHECK_EQ(run1("stack", NULL), -EFAULT);
}

struct stop7 {
	uint64_t keys;
};

static long sum_until7(void *ctx, struct bext_map *m, const void *key, void *value)
{
	struct stop7 *st = ctx;
	uint64_t k;

	(void)m, (void)value;
	memcpy(&k, key, 8);
	st->keys += k;
	return k == 7;
}

/* bpf_loop and bpf_for_each_map_elem call back into the program (both engines). */
static void test_callbacks(void)
{
	struct bext_vm *loop = load("loop_sum"), *feh = load("for_each_hash"),
		       *fea = load("for_each_array");
	struct bext_map *h = ht_map(&env, "fe_hash"), *arr = ht_map(&env, "arr");
	struct args a = {.key = 10, .val = 0};
	uint64_t k, v, ksum = 0, vsum = 0;
	uint32_t i;

	/* all 10 iterations: 0^2 + ... + 9^2 = 285 */
	CHECK_EQ(run_vm(loop, &a), 10);
	CHECK_EQ(a.val, 285);
	/* stop after the 4th iteration: 0 + 1 + 4 + 9 */
	a = (struct args){.key = 10, .val = 4};
	CHECK_EQ(run_vm(loop, &a), 4);
	CHECK_EQ(a.val, 14);
	a = (struct args){.key = 0};
	CHECK_EQ(run_vm(loop, &a), 0);
	CHECK_EQ(a.val, 0);
	a = (struct args){.key = 3, .len = 1}; /* flags must be 0 */
	CHECK_EQ(run_vm(loop, &a), -EINVAL);
	a = (struct args){.key = (1u << 23) + 1};
	CHECK_EQ(run_vm(loop, &a), -E2BIG);

	for (k = 1; k <= 20; k++) {
		v = k * 100;
		CHECK_EQ(bext_map__update_elem(h, &k, &v, BPF_NOEXIST), 0);
		ksum += k;
		vsum += v;
	}
	a = (struct args){0};
	CHECK_EQ(run_vm(feh, &a), 20);
	CHECK_EQ(a.val, ksum);
	CHECK_EQ(a.ptr, vsum);
	/* the callback incremented every value in place */
	for (k = 1; k <= 20; k++) {
		CHECK_EQ(bext_map__lookup_elem(h, &k, &v), 0);
		CHECK_EQ(v, k * 100 + 1);
	}
	/* stopping at key 7: the walk ends there, in the map's own order */
	a = (struct args){.key = 7};
	{
		int64_t n = run_vm(feh, &a);
		struct stop7 st = {0};

		CHECK_EQ(bext_map__for_each_elem(h, sum_until7, &st), n);
		CHECK(n >= 1 && n <= 20);
		CHECK_EQ(a.val, st.keys);
		CHECK(a.val >= 7);
	}
	a = (struct args){.len = 2};
	CHECK_EQ(run_vm(feh, &a), -EINVAL);

	ksum = vsum = 0;
	for (i = 0; i < 16; i++) {
		v = 3 * i + 1;
		CHECK_EQ(bext_map__update_elem(arr, &i, &v, BPF_ANY), 0);
		ksum += i;
		vsum += v;
	}
	a = (struct args){0};
	CHECK_EQ(run_vm(fea, &a), 16);
	CHECK_EQ(a.val, ksum);
	CHECK_EQ(a.ptr, vsum);
	/* a map type the kernel does not iterate */
	CHECK_EQ(bext_map__for_each_elem(ht_map(&env, "q"), NULL, NULL), -EINVAL);
	bext_vm__free(loop);
	bext_vm__free(feh);
	bext_vm__free(fea);
}

/* bpf_get_stackid into a one-bucket stack map: ids, -EEXIST, reuse, truncation. */
static void test_stackid(void)
{
	struct bext_vm *vm = load("stackid");
	struct bext_map *m = ht_map(&env, "stacks");
	struct bext_run_info ri = {0};
	uint64_t regs[21] = {0}, frames[4], v[2];
	struct args a = {.key = BPF_F_USER_STACK};
	uint32_t k = 0;

	CHECK_EQ(run_vm(vm, &a), -EFAULT); /* plain run: no user stack */
	frames[0] = (uintptr_t)&frames[2];
	frames[1] = 0xaaaa;
	frames[2] = 0;
	frames[3] = 0xbbbb;
	regs[16] = 0x5555;		 /* rip */
	regs[4] = (uintptr_t)&frames[0]; /* rbp */
	ri.user_regs = regs;
	bext_helpers__set_run(&ri);
	CHECK_EQ(run_vm(vm, &a), 0);
	CHECK_EQ(run_vm(vm, &a), 0); /* the same stack: the same id */
	CHECK_EQ(bext_map__lookup_elem(m, &k, v), 0);
	CHECK(v[0] == 0x5555 && v[1] == 0xaaaa); /* cut to value_size / 8 frames */
	a.key = BPF_F_USER_STACK | 1;		 /* skip one: another stack, same bucket */
	CHECK_EQ(run_vm(vm, &a), -EEXIST);
	a.key = BPF_F_USER_STACK | 1 | BPF_F_REUSE_STACKID;
	CHECK_EQ(run_vm(vm, &a), 0);
	CHECK_EQ(bext_map__lookup_elem(m, &k, v), 0);
	CHECK(v[0] == 0xaaaa && v[1] == 0xbbbb);
	a.key = 0; /* a kernel stack */
	CHECK_EQ(run_vm(vm, &a), -EPERM);
	a.key = BPF_F_USER_STACK | BPF_F_USER_BUILD_ID;
	CHECK_EQ(run_vm(vm, &a), -EINVAL);
	a.key = BPF_F_USER_STACK | 3; /* skips every frame */
	CHECK_EQ(run_vm(vm, &a), -EFAULT);
	CHECK_EQ(bext_map__delete_elem(m, &k), 0);
	CHECK_EQ(bext_map__lookup_elem(m, &k, v), -ENOENT);
	bext_helpers__set_run(NULL);
	bext_vm__free(vm);
}

int main(void)
{
	static const struct {
		enum bext_engine e;
		const char *name;
	} engines[] = {{BEXT_ENGINE_INTERP, "interp"}, {BEXT_ENGINE_JIT, "jit"}};

	for (size_t i = 0; i < 2; i++) {
		eng = engines[i].e;
		eng_name = engines[i].name;
		if (ht_env_open(&env, OBJ_DIR "/helpers.bpf.o")) {
			fprintf(stderr, "cannot set up the test environment\n");
			return 1;
		}
		test_hash();
		test_array();
		test_ringbuf();
		test_perf();
		test_probe_read();
		test_task();
		test_format();
		test_tail_calls();
		test_misc_maps();
		test_time_and_run();
		test_callbacks();
		test_stackid();
		ht_env_close(&env);
	}
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("test_helpers: all checks passed on interp and jit\n");
	return 0;
}

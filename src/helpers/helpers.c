/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - the helper table by kernel id, map/ring buffer/time/task
 * helpers, the lddw pseudo resolver, the program registry behind tail calls
 * and the per-thread current run. printk.c has the formatting helpers,
 * safemem.c the fault-free memory copies. docs/HELPERS.md lists every helper
 * with its userspace semantics.
 *
 * Helpers are plain functions (five u64 in, one out): no per-vm pointer
 * reaches them, so their state is per process or per thread.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bext/isa.h>

#include "helpers_internal.h"

#define H(name) \
	static uint64_t name(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
#define UNUSED5 (void)r1, (void)r2, (void)r3, (void)r4, (void)r5
#define PTR(x) ((void *)(uintptr_t)(x))
#define ERR(e) ((uint64_t)(int64_t)(e))

/* ---- per-thread identity -------------------------------------------------------- */

static __thread pid_t cached_pid, cached_tid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_after_fork(void)
{
	/* only the forking thread exists in the child; its ids changed */
	cached_pid = 0;
	cached_tid = 0;
}

static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

pid_t bext_helpers_pid(void)
{
	if (__builtin_expect(!cached_pid, 0)) {
		pthread_once(&atfork_once, install_atfork);
		cached_pid = getpid();
	}
	return cached_pid;
}

pid_t bext_helpers_tid(void)
{
	if (__builtin_expect(!cached_tid, 0)) {
		pthread_once(&atfork_once, install_atfork);
		cached_tid = (pid_t)syscall(SYS_gettid);
	}
	return cached_tid;
}

/* ---- the current run --------------------------------------------------------------- */

static __thread const struct bext_run_info *cur_run;

const struct bext_run_info *bext_helpers__set_run(const struct bext_run_info *ri)
{
	const struct bext_run_info *old = cur_run;

	cur_run = ri;
	return old;
}

/* ---- maps --------------------------------------------------------------------------- */

H(h_map_lookup_elem)
{
	(void)r3, (void)r4, (void)r5;
	return (uint64_t)(uintptr_t)bext_map__helper_lookup(PTR(r1), PTR(r2));
}

H(h_map_update_elem)
{
	(void)r5;
	return ERR(bext_map__helper_update(PTR(r1), PTR(r2), PTR(r3), r4));
}

H(h_map_delete_elem)
{
	(void)r3, (void)r4, (void)r5;
	return ERR(bext_map__helper_delete(PTR(r1), PTR(r2)));
}

H(h_map_push_elem)
{
	(void)r4, (void)r5;
	return ERR(bext_map__helper_push(PTR(r1), PTR(r2), r3));
}

H(h_map_pop_elem)
{
	(void)r3, (void)r4, (void)r5;
	return ERR(bext_map__helper_pop(PTR(r1), PTR(r2)));
}

H(h_map_peek_elem)
{
	(void)r3, (void)r4, (void)r5;
	return ERR(bext_map__helper_peek(PTR(r1), PTR(r2)));
}

H(h_map_lookup_percpu_elem)
{
	(void)r4, (void)r5;
	return (uint64_t)(uintptr_t)bext_map__helper_lookup_percpu(PTR(r1), PTR(r2), (uint32_t)r3);
}

/*
 * Inlined lookups: describes array and per-CPU array maps to the JIT (see
 * bext_inline_lookup_fn in <bext/vm.h>) so it can compute the value address
 * itself instead of calling h_map_lookup_elem. The map is a struct bext_map *
 * (the contract of every map helper here). Per-CPU arrays pick the slot of
 * the CPU in the thread's rseq cpu_id, as the maps do (bext_cur_cpu(),
 * docs/STORE.md); ids the map would reduce modulo its slot count, and the
 * negative ids of a thread without rseq, make the inlined code call the
 * helper. Without rseq in this process (__rseq_size 0) per-CPU lookups are
 * not inlined at all. The layout is read back through the public helper
 * lookups and checked at both ends, so the description cannot disagree with
 * what the helper returns.
 */
static int inline_lookup(void *user, uint64_t map, struct bext_inline_lookup *out)
{
	struct bext_map *m = PTR(map);
	uint32_t max, nr, k0 = 0, k1 = 1, last;
	uint8_t *base, *p;
	uint32_t stride;
	void *b;

	(void)user;
	memset(out, 0, sizeof(*out));
	if (!m)
		return 0;
	max = bext_map__max_entries(m);
	switch (bext_map__type(m)) {
	case BPF_MAP_TYPE_ARRAY:
		if (bext_map__array_base(m, &b, &stride))
			return 0;
		if (bext_map__helper_lookup(m, &k0) != b)
			return 0;
		out->kind = BEXT_INLINE_ARRAY;
		out->max_entries = max;
		out->base = (uint64_t)(uintptr_t)b;
		out->elem_stride = stride;
		return 0;
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		if (!__rseq_size)
			return 0;
		nr = bext_map__nr_cpus(m);
		base = bext_map__helper_lookup_percpu(m, &k0, 0);
		if (!base || !nr || !max)
			return 0;
		out->elem_stride = (uint64_t)bext_map__syscall_value_size(m); /* nr x stride */
		if (max > 1) {
			p = bext_map__helper_lookup_percpu(m, &k1, 0);
			if (!p || p <= base)
				return 0;
			out->elem_stride = (uint64_t)(p - base);
		}
		if (nr > 1) {
			p = bext_map__helper_lookup_percpu(m, &k0, 1);
			if (!p || p <= base)
				return 0;
			out->cpu_stride = (uint64_t)(p - base);
		}
		last = max - 1;
		p = bext_map__helper_lookup_percpu(m, &last, nr - 1);
		if (p !=
		    base + (uint64_t)last * out->elem_stride + (uint64_t)(nr - 1) * out->cpu_stride)
			return 0;
		out->kind = BEXT_INLINE_PERCPU_ARRAY;
		out->max_entries = max;
		out->base = (uint64_t)(uintptr_t)base;
		out->nr_cpus = nr;
		out->cpu_tp_off = (int64_t)__rseq_offset + (int64_t)offsetof(struct rseq, cpu_id);
		return 0;
	default:
		return 0;
	}
}

/* ---- callbacks: bpf_loop, bpf_for_each_map_elem ------------------------------------------ */

#define BEXT_MAX_LOOPS (1u << 23) /* the kernel's BPF_MAX_LOOPS */

/* callback(index, ctx): 0 continues, anything else stops after this iteration */
H(h_loop)
{
	uint64_t i, ret;
	int err;

	(void)r5;
	if (r4)
		return ERR(-EINVAL);
	if (r1 > BEXT_MAX_LOOPS)
		return ERR(-E2BIG);
	for (i = 0; i < r1; i++) {
		err = bext_vm__call_func(NULL, r2, i, r3, 0, 0, 0, &ret);
		if (err)
			return ERR(err);
		if (ret)
			return i + 1;
	}
	return i;
}

struct fe_ctx {
	uint64_t fn, ctx;
	int err;
};

static long fe_one(void *c, struct bext_map *m, const void *key, void *value)
{
	struct fe_ctx *f = c;
	uint64_t ret;

	f->err = bext_vm__call_func(NULL, f->fn, (uint64_t)(uintptr_t)m, (uint64_t)(uintptr_t)key,
				    (uint64_t)(uintptr_t)value, f->ctx, 0, &ret);
	return f->err ? 1 : (long)ret;
}

/* callback(map, key, value, ctx): 0 continues, 1 stops; returns elements visited */
H(h_for_each_map_elem)
{
	struct fe_ctx f = {.fn = r2, .ctx = r3};
	long n;

	(void)r5;
	if (r4)
		return ERR(-EINVAL);
	n = bext_map__for_each_elem(PTR(r1), fe_one, &f);
	return ERR(f.err ? f.err : n);
}

/* ---- ring buffers ---------------------------------------------------------------------
 * bpf_ringbuf_submit/discard get the record only, not the map. Each thread
 * remembers the rings it reserved from (a record is submitted by the run
 * that reserved it, so on the same thread) and finds the ring by address.
 */
#define RB_CACHE 16
struct rb_range {
	struct bext_map *m;
	uintptr_t lo, hi;
};
static __thread struct rb_range rb_cache[RB_CACHE];
static __thread unsigned rb_next;

static void rb_remember(struct bext_map *m)
{
	struct rb_range *e;
	uintptr_t area;
	long pg;

	if (__builtin_expect(rb_cache[0].m == m, 1))
		return;
	for (unsigned i = 1; i < RB_CACHE; i++)
		if (rb_cache[i].m == m) {
			struct rb_range t = rb_cache[i];

			rb_cache[i] = rb_cache[0];
			rb_cache[0] = t;
			return;
		}
	pg = sysconf(_SC_PAGESIZE);
	area = (uintptr_t)bext_ringbuf__area(m);
	/* the most recent ring stays in slot 0; the one it displaces goes round robin */
	e = &rb_cache[1 + rb_next++ % (RB_CACHE - 1)];
	*e = rb_cache[0];
	e = &rb_cache[0];
	e->m = m;
	e->lo = area + 2 * (uintptr_t)pg;
	e->hi = e->lo + 2 * bext_ringbuf__query(m, BPF_RB_RING_SIZE);
}

static struct bext_map *rb_owner(uintptr_t p)
{
	for (unsigned i = 0; i < RB_CACHE; i++)
		if (rb_cache[i].m && p >= rb_cache[i].lo && p < rb_cache[i].hi)
			return rb_cache[i].m;
	return NULL;
}

H(h_ringbuf_output)
{
	(void)r5;
	return ERR(bext_ringbuf__output(PTR(r1), PTR(r2), r3, r4));
}

H(h_ringbuf_reserve)
{
	struct bext_map *m = PTR(r1);

	(void)r4, (void)r5;
	if (bext_map__type(m) != BPF_MAP_TYPE_RINGBUF)
		return 0;
	rb_remember(m);
	return (uint64_t)(uintptr_t)bext_ringbuf__reserve(m, r2, r3);
}

H(h_ringbuf_submit)
{
	struct bext_map *m = rb_owner((uintptr_t)r1);

	(void)r3, (void)r4, (void)r5;
	if (m)
		bext_ringbuf__submit(m, PTR(r1), r2);
	return 0;
}

H(h_ringbuf_discard)
{
	struct bext_map *m = rb_owner((uintptr_t)r1);

	(void)r3, (void)r4, (void)r5;
	if (m)
		bext_ringbuf__discard(m, PTR(r1), r2);
	return 0;
}

H(h_ringbuf_query)
{
	(void)r3, (void)r4, (void)r5;
	if (bext_map__type(PTR(r1)) != BPF_MAP_TYPE_RINGBUF)
		return 0;
	return bext_ringbuf__query(PTR(r1), r2);
}

/* long bpf_perf_event_output(void *ctx, void *map, u64 flags, void *data, u64 size) */
H(h_perf_event_output)
{
	struct bext_map *m = PTR(r2);

	(void)r1;
	if (!m || bext_map__type(m) != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return ERR(-EINVAL);
	return ERR(bext_perf_event_output(m, r3, PTR(r4), r5));
}

/* ---- memory ------------------------------------------------------------------------ */

/* long bpf_probe_read_user(void *dst, u32 size, const void *unsafe_ptr) */
H(h_probe_read_user)
{
	(void)r4, (void)r5;
	return ERR(bext_safe_read(PTR(r1), PTR(r3), (uint32_t)r2));
}

H(h_probe_read_user_str)
{
	(void)r4, (void)r5;
	return ERR(bext_safe_read_str(PTR(r1), PTR(r3), (uint32_t)r2));
}

/* No kernel memory in a userspace process: always -EPERM, dst zeroed (as on an error). */
H(h_probe_read_kernel)
{
	(void)r3, (void)r4, (void)r5;
	memset(PTR(r1), 0, (uint32_t)r2);
	return ERR(-EPERM);
}

H(h_probe_read_kernel_str)
{
	(void)r3, (void)r4, (void)r5;
	memset(PTR(r1), 0, (uint32_t)r2);
	return ERR(-EPERM);
}

/* long bpf_probe_write_user(void *dst, const void *src, u32 len) */
H(h_probe_write_user)
{
	(void)r4, (void)r5;
	return ERR(bext_safe_write(PTR(r1), PTR(r2), (uint32_t)r3));
}

/* ---- time, task, cpu, random ------------------------------------------------------------ */

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

H(h_ktime_get_ns)
{
	UNUSED5;
	return clock_ns(CLOCK_MONOTONIC);
}

H(h_ktime_get_boot_ns)
{
	UNUSED5;
	return clock_ns(CLOCK_BOOTTIME);
}

H(h_ktime_get_coarse_ns)
{
	UNUSED5;
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

H(h_get_current_pid_tgid)
{
	UNUSED5;
	return (uint64_t)(uint32_t)bext_helpers_pid() << 32 | (uint32_t)bext_helpers_tid();
}

H(h_get_current_uid_gid)
{
	UNUSED5;
	return (uint64_t)getgid() << 32 | getuid();
}

/* long bpf_get_current_comm(void *buf, u32 size_of_buf): the thread name, zero-padded */
H(h_get_current_comm)
{
	char comm[17] = "";
	uint32_t n = (uint32_t)r2;

	(void)r3, (void)r4, (void)r5;
	if (!r1 || !n)
		return ERR(-EINVAL);
	prctl(PR_GET_NAME, comm);
	memset(PTR(r1), 0, n);
	memcpy(PTR(r1), comm, strnlen(comm, n - 1));
	return 0;
}

H(h_get_smp_processor_id)
{
	int c = sched_getcpu();

	UNUSED5;
	return c < 0 ? 0 : (uint64_t)c;
}

static __thread uint64_t rnd_state[2];

H(h_get_prandom_u32)
{
	uint64_t s1, s0;

	UNUSED5;
	if (__builtin_expect(!(rnd_state[0] | rnd_state[1]), 0)) {
		if (getrandom(rnd_state, sizeof(rnd_state), GRND_NONBLOCK) != sizeof(rnd_state) ||
		    !(rnd_state[0] | rnd_state[1])) {
			rnd_state[0] = clock_ns(CLOCK_MONOTONIC) | 1;
			rnd_state[1] = (uint64_t)bext_helpers_tid() * 0x9e3779b97f4a7c15ull;
		}
	}
	/* xorshift128+ */
	s1 = rnd_state[0];
	s0 = rnd_state[1];
	rnd_state[0] = s0;
	s1 ^= s1 << 23;
	rnd_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return (uint32_t)((rnd_state[1] + s0) >> 32);
}

H(h_get_func_ip)
{
	UNUSED5;
	return cur_run ? cur_run->func_ip : 0;
}

H(h_get_attach_cookie)
{
	UNUSED5;
	return cur_run ? cur_run->attach_cookie : 0;
}

/* ---- stacks -------------------------------------------------------------------------------
 * long bpf_get_stack(void *ctx, void *buf, u32 size, u64 flags): user stacks
 * only, walked through the frame-pointer chain from the probe point's
 * registers (current run's user_regs: pt_regs rip at 128, rbp at 32).
 */
#define PT_REGS_RBP 32
#define PT_REGS_RIP 128
#define MAX_STACK_DEPTH 127

/*
 * Walks the user stack of the current run from its pt_regs (rip, then the
 * return addresses of the rbp chain), skipping @skip frames, into out[max].
 * Returns frames written, or -EFAULT when there is no probe point.
 */
static long user_stack(uint64_t *out, uint32_t max, uint64_t skip)
{
	const struct bext_run_info *ri = cur_run;
	uint64_t fp, ip;
	uint32_t n = 0;

	if (!ri || !ri->user_regs)
		return -EFAULT; /* a plain run: no probe point to walk from */
	memcpy(&ip, (const uint8_t *)ri->user_regs + PT_REGS_RIP, 8);
	memcpy(&fp, (const uint8_t *)ri->user_regs + PT_REGS_RBP, 8);
	for (uint32_t depth = 0; n < max && depth < MAX_STACK_DEPTH + skip && ip; depth++) {
		uint64_t frame[2];

		if (depth >= skip)
			out[n++] = ip;
		if (!fp || fp & 7 || bext_safe_read(frame, PTR(fp), sizeof(frame)))
			break;
		ip = frame[1];
		fp = frame[0] > fp ? frame[0] : 0; /* the chain must go up the stack */
	}
	return n;
}

H(h_get_stack)
{
	uint64_t *out = PTR(r2), skip = r4 & BPF_F_SKIP_FIELD_MASK;
	uint32_t size = (uint32_t)r3;
	long n;

	(void)r1, (void)r5;
	if ((r4 & ~(uint64_t)(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID)) ||
	    size % 8 || !out)
		return ERR(-EINVAL);
	memset(out, 0, size);
	if (!(r4 & BPF_F_USER_STACK))
		return ERR(-EPERM); /* no kernel stack in userspace */
	if (r4 & BPF_F_USER_BUILD_ID)
		return ERR(-EOPNOTSUPP);
	n = user_stack(out, size / 8, skip);
	return n < 0 ? ERR(n) : (uint64_t)n * 8;
}

/* long bpf_get_stackid(void *ctx, struct bpf_map *map, u64 flags) */
H(h_get_stackid)
{
	uint64_t ips[MAX_STACK_DEPTH];
	struct bext_map *m = PTR(r2);
	uint32_t max;
	long n;

	(void)r1, (void)r4, (void)r5;
	if (r3 & ~(uint64_t)(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP |
			     BPF_F_REUSE_STACKID))
		return ERR(-EINVAL);
	if (!m || bext_map__type(m) != BPF_MAP_TYPE_STACK_TRACE)
		return ERR(-EINVAL);
	if (!(r3 & BPF_F_USER_STACK))
		return ERR(-EPERM); /* no kernel stack in userspace (as get_stack) */
	max = bext_map__value_size(m) / 8;
	if (max > MAX_STACK_DEPTH)
		max = MAX_STACK_DEPTH;
	n = user_stack(ips, max, r3 & BPF_F_SKIP_FIELD_MASK);
	if (n <= 0)
		return ERR(n < 0 ? n : -EFAULT);
	return ERR(bext_stackmap__get_id(m, ips, (uint32_t)n,
					 r3 & (BPF_F_REUSE_STACKID | BPF_F_FAST_STACK_CMP)));
}

/* ---- strings, locks ------------------------------------------------------------------------ */

/* long bpf_strncmp(const char *s1, u32 s1_sz, const char *s2) */
H(h_strncmp)
{
	const unsigned char *a = PTR(r1), *b = PTR(r3);
	uint32_t n = (uint32_t)r2;

	(void)r4, (void)r5;
	for (uint32_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return a[i] < b[i] ? ERR(-1) : 1;
		if (!a[i])
			return 0;
	}
	return 0; /* equal in the first s1_sz bytes: strncmp(s1, s2, s1_sz) */
}

/*
 * bpf_spin_lock/unlock: the maps' lock (tid in the word, dead holders taken
 * over), the same one BPF_F_LOCK syscall operations take.
 */
H(h_spin_lock)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	bext_spin_lock(PTR(r1));
	return 0;
}

H(h_spin_unlock)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	bext_spin_unlock(PTR(r1));
	return 0;
}

/* ---- programs and tail calls ---------------------------------------------------------------
 * An open-addressed table id -> vm. Writers take the lock; readers are
 * lock-free: a slot's id, once set, never changes, and its vm pointer is
 * published with release ordering (NULL: forgotten).
 */
#define PROG_SLOTS 4096u

struct prog_slot {
	uint32_t id;
	struct bext_vm *vm;
};
static struct prog_slot progs[PROG_SLOTS];
static pthread_mutex_t progs_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t prog_hash(uint32_t id)
{
	return (id * 2654435761u) & (PROG_SLOTS - 1);
}

int bext_helpers__set_prog(uint32_t prog_id, struct bext_vm *vm)
{
	uint32_t i, h;
	int err = -ENOSPC;

	if (!prog_id)
		return -EINVAL;
	pthread_mutex_lock(&progs_lock);
	for (i = 0, h = prog_hash(prog_id); i < PROG_SLOTS; i++, h = (h + 1) & (PROG_SLOTS - 1)) {
		uint32_t id = progs[h].id;

		if (id == prog_id || (!id && vm)) {
			__atomic_store_n(&progs[h].vm, vm, __ATOMIC_RELEASE);
			__atomic_store_n(&progs[h].id, prog_id, __ATOMIC_RELEASE);
			err = 0;
			break;
		}
		if (!id) { /* forgetting an id never set */
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&progs_lock);
	return err;
}

struct bext_vm *bext_helpers__get_prog(uint32_t prog_id)
{
	uint32_t i, h;

	for (i = 0, h = prog_hash(prog_id); i < PROG_SLOTS && prog_id;
	     i++, h = (h + 1) & (PROG_SLOTS - 1)) {
		uint32_t id = __atomic_load_n(&progs[h].id, __ATOMIC_ACQUIRE);

		if (id == prog_id)
			return __atomic_load_n(&progs[h].vm, __ATOMIC_ACQUIRE);
		if (!id)
			break;
	}
	return NULL;
}

struct bext_vm *bext_helpers__tail_call_resolver(void *user, uint64_t map, uint32_t index)
{
	struct bext_map *m = PTR(map);
	uint32_t id;

	(void)user;
	if (!m || bext_map__type(m) != BPF_MAP_TYPE_PROG_ARRAY ||
	    bext_map__lookup_elem(m, &index, &id))
		return NULL;
	return bext_helpers__get_prog(id);
}

/* ---- lddw pseudo forms ---------------------------------------------------------------------- */

static struct bext_map *table_map(const struct bext_helpers_maps *t, bool by_fd, int32_t imm)
{
	if (by_fd && t->fds) {
		for (size_t i = 0; i < t->nr; i++)
			if (t->fds[i] == imm)
				return t->maps[i];
		return NULL;
	}
	return imm >= 0 && (size_t)imm < t->nr ? t->maps[imm] : NULL;
}

int bext_helpers__pseudo_resolver(void *user, int src, int32_t imm, int32_t next_imm,
				  uint64_t *value)
{
	const struct bext_helpers_maps *t = user;
	bool by_fd = src == BEXT_PSEUDO_MAP_FD || src == BEXT_PSEUDO_MAP_VALUE;
	struct bext_map *m;
	uint32_t stride;
	void *base;

	if (!t || !value)
		return -EINVAL;
	switch (src) {
	case BEXT_PSEUDO_MAP_FD:
	case BEXT_PSEUDO_MAP_IDX:
	case BEXT_PSEUDO_MAP_VALUE:
	case BEXT_PSEUDO_MAP_IDX_VALUE:
		break;
	default:
		return -EOPNOTSUPP; /* BTF ids: no kernel BTF in userspace */
	}
	m = table_map(t, by_fd, imm);
	if (!m)
		return by_fd ? -EBADF : -ENOENT;
	if (src == BEXT_PSEUDO_MAP_FD || src == BEXT_PSEUDO_MAP_IDX) {
		*value = (uint64_t)(uintptr_t)m;
		return 0;
	}
	/* direct value access: one-element arrays, offset inside the value (as the kernel) */
	if (bext_map__array_base(m, &base, &stride) || bext_map__max_entries(m) != 1)
		return -EINVAL;
	if (next_imm < 0 || (uint32_t)next_imm >= bext_map__value_size(m))
		return -EINVAL;
	*value = (uint64_t)(uintptr_t)base + (uint32_t)next_imm;
	return 0;
}

/* ---- the table ----------------------------------------------------------------------------------
 */

struct helper_def {
	uint32_t id;
	const char *name;
	bext_helper_fn fn;
};

static const struct helper_def table[] = {
    {BPF_FUNC_map_lookup_elem, "bpf_map_lookup_elem", h_map_lookup_elem},
    {BPF_FUNC_map_update_elem, "bpf_map_update_elem", h_map_update_elem},
    {BPF_FUNC_map_delete_elem, "bpf_map_delete_elem", h_map_delete_elem},
    {BPF_FUNC_probe_read, "bpf_probe_read", h_probe_read_user},
    {BPF_FUNC_ktime_get_ns, "bpf_ktime_get_ns", h_ktime_get_ns},
    {BPF_FUNC_trace_printk, "bpf_trace_printk", bext_h_trace_printk},
    {BPF_FUNC_get_prandom_u32, "bpf_get_prandom_u32", h_get_prandom_u32},
    {BPF_FUNC_get_smp_processor_id, "bpf_get_smp_processor_id", h_get_smp_processor_id},
    {BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid", h_get_current_pid_tgid},
    {BPF_FUNC_get_current_uid_gid, "bpf_get_current_uid_gid", h_get_current_uid_gid},
    {BPF_FUNC_get_current_comm, "bpf_get_current_comm", h_get_current_comm},
    {BPF_FUNC_perf_event_output, "bpf_perf_event_output", h_perf_event_output},
    {BPF_FUNC_get_stackid, "bpf_get_stackid", h_get_stackid},
    {BPF_FUNC_probe_write_user, "bpf_probe_write_user", h_probe_write_user},
    {BPF_FUNC_probe_read_str, "bpf_probe_read_str", h_probe_read_user_str},
    {BPF_FUNC_get_stack, "bpf_get_stack", h_get_stack},
    {BPF_FUNC_map_push_elem, "bpf_map_push_elem", h_map_push_elem},
    {BPF_FUNC_map_pop_elem, "bpf_map_pop_elem", h_map_pop_elem},
    {BPF_FUNC_map_peek_elem, "bpf_map_peek_elem", h_map_peek_elem},
    {BPF_FUNC_spin_lock, "bpf_spin_lock", h_spin_lock},
    {BPF_FUNC_spin_unlock, "bpf_spin_unlock", h_spin_unlock},
    {BPF_FUNC_probe_read_user, "bpf_probe_read_user", h_probe_read_user},
    {BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel", h_probe_read_kernel},
    {BPF_FUNC_probe_read_user_str, "bpf_probe_read_user_str", h_probe_read_user_str},
    {BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str", h_probe_read_kernel_str},
    {BPF_FUNC_ktime_get_boot_ns, "bpf_ktime_get_boot_ns", h_ktime_get_boot_ns},
    {BPF_FUNC_loop, "bpf_loop", h_loop},
    {BPF_FUNC_for_each_map_elem, "bpf_for_each_map_elem", h_for_each_map_elem},
    {BPF_FUNC_ringbuf_output, "bpf_ringbuf_output", h_ringbuf_output},
    {BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve", h_ringbuf_reserve},
    {BPF_FUNC_ringbuf_submit, "bpf_ringbuf_submit", h_ringbuf_submit},
    {BPF_FUNC_ringbuf_discard, "bpf_ringbuf_discard", h_ringbuf_discard},
    {BPF_FUNC_ringbuf_query, "bpf_ringbuf_query", h_ringbuf_query},
    {BPF_FUNC_ktime_get_coarse_ns, "bpf_ktime_get_coarse_ns", h_ktime_get_coarse_ns},
    {BPF_FUNC_snprintf, "bpf_snprintf", bext_h_snprintf},
    {BPF_FUNC_get_func_ip, "bpf_get_func_ip", h_get_func_ip},
    {BPF_FUNC_get_attach_cookie, "bpf_get_attach_cookie", h_get_attach_cookie},
    {BPF_FUNC_trace_vprintk, "bpf_trace_vprintk", bext_h_trace_vprintk},
    {BPF_FUNC_strncmp, "bpf_strncmp", h_strncmp},
    {BPF_FUNC_map_lookup_percpu_elem, "bpf_map_lookup_percpu_elem", h_map_lookup_percpu_elem},
};

const char *bext_helpers__name(uint32_t id)
{
	if (id == BPF_FUNC_tail_call)
		return "bpf_tail_call";
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(table); i++)
		if (table[i].id == id)
			return table[i].name;
	return NULL;
}

int bext_helpers__register_all(struct bext_vm *vm, const struct bext_helpers_opts *opts)
{
	int err;

	if (!vm || (opts && opts->sz < sizeof(size_t)))
		return -EINVAL;
	if (opts) {
		err = bext_helpers__set_trace_sink(opts);
		if (err)
			return err;
	}
	for (size_t i = 0; i < BEXT_ARRAY_SIZE(table); i++) {
		if (bext_vm__helper_name(vm, table[i].id))
			continue;
		err = bext_vm__register_helper(vm, table[i].id, table[i].name, table[i].fn);
		if (err)
			return err;
		/* our bpf_map_lookup_elem: the JIT may inline it for arrays */
		if (table[i].id == BPF_FUNC_map_lookup_elem)
			bext_vm__set_inline_lookup(vm, inline_lookup, NULL);
	}
	if (!opts || !opts->no_tail_call)
		return bext_vm__set_tail_call_resolver(vm, bext_helpers__tail_call_resolver, NULL);
	return 0;
}

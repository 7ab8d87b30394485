// SPDX-License-Identifier: MIT
/*
 * bench_maps: map and helper operations from JIT-compiled programs, bext vs
 * the kernel, side by side in one run.
 *
 *   bench_maps BUILD/bench [--quick] [--scaling]
 *
 * progs/maps_bench.bpf.c holds one program per operation; each run does OPS
 * (256) operations in a bounded loop. bext: maps in a temporary store under
 * /dev/shm, the program JIT-compiled and called directly. kernel: the same
 * object through libbpf, BPF_PROG_TEST_RUN with repeat = N (the kernel's own
 * per-run average). Both report ns per run / OPS = ns per operation, median
 * of several batches; "loop_only" is the loop's own cost per iteration (not
 * subtracted). Hash and LRU maps hold keys 0..9999 (8-byte keys), runs use
 * different keys each time. The ring buffer is drained between batches,
 * outside the timed part. The array and per-CPU array rows run twice in
 * bext: with the JIT's inlined lookup (the default) and with the helper call
 * kept (the lookup describer removed), same program, same moment.
 *
 * Scaling: hash update throughput from 1 process, then from 2 processes
 * pinned to CPUs 0 and 1, on one shared map, for a fixed time; reports total
 * operations per second and the ratio, three ways, measured side by side:
 *  - own keys (the target row): each process updates its own half of the
 *    keys (hash_update_half), the way per-process or per-thread counters are
 *    keyed; the 1-process figure is one process on one half;
 *  - shared keys: both processes update random keys of all 10k
 *    (hash_update_ctx), so they keep writing the same elements; next to it
 *    the same access pattern in plain C (pin with a CAS, store, unpin, on
 *    64-byte lines in shared memory): what the machine itself allows when
 *    two CPUs write the same lines;
 *  - control: the same loop without the map.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers/helpers_test.h"

#define OPS 256
#define NKEYS 10000
#define MAX_CPUS 1024

static int batches = 11;
static double batch_ns = 40e6;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct op {
	const char *prog;
	const char *what;
	double target; /* ns per op, 0: none (compare with the kernel) */
	bool ring;
	bool no_inline; /* bext: keep the helper calls (JIT without the lookup describer) */
	double bext, kernel, loop_share;
	uint32_t bext_ret, kernel_ret;
	char note[96];
};

static struct op ops[] = {
    {"loop_only", "loop alone (per iteration)", 0, false},
    {"array_lookup", "array lookup", 2, false},
    {"array_lookup", "  same, helper call (no inline)", 0, false, true},
    {"hash_lookup", "hash lookup (8 B keys, 10k)", 15, false},
    {"hash_update", "hash update (existing keys)", 30, false},
    {"percpu_lookup", "percpu array lookup + inc", 0, false},
    {"percpu_lookup", "  same, helper call (no inline)", 0, false, true},
    {"lru_lookup", "LRU hash lookup", 0, false},
    {"lru_update", "LRU hash update", 0, false},
    {"phash_lookup", "per-CPU hash lookup + inc", 0, false},
    {"phash_update", "per-CPU hash update", 0, false},
    {"ringbuf", "ringbuf reserve+submit (16 B)", 20, true},
};

static int drain(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	return 0;
}

static int prefill_bext(struct ht_env *e)
{
	struct bext_map *h = ht_map(e, "hash"), *l = ht_map(e, "lru"), *p = ht_map(e, "phash");
	static uint64_t pv[MAX_CPUS]; /* zeroes: one slot per possible CPU */

	if (bext_map__nr_cpus(p) > MAX_CPUS)
		return -1;
	for (uint64_t k = 0; k < NKEYS; k++)
		if (bext_map__update_elem(h, &k, &k, BPF_ANY) ||
		    bext_map__update_elem(l, &k, &k, BPF_ANY) ||
		    bext_map__update_elem(p, &k, pv, BPF_ANY))
			return -1;
	return 0;
}

static void bench_bext(struct ht_env *e, struct op *o)
{
	struct bext_vm *vm = ht_load_opts(e, o->prog, NULL, o->no_inline);
	bext_jit_fn fn;
	struct bext_map *rb = ht_map(e, "rb");
	uint64_t ctx[8] = {0}, reps, t0;
	double v[64];
	char err[128];

	if (!vm) {
		snprintf(o->note, sizeof(o->note), "bext: load failed");
		return;
	}
	fn = bext_vm__jit(vm, err, sizeof(err));
	if (bext_vm__jit_inlined(vm))
		snprintf(o->note, sizeof(o->note), "(%zu lookup inlined)",
			 bext_vm__jit_inlined(vm));
	t0 = now_ns();
	for (int i = 0; i < 100; i++)
		o->bext_ret = (uint32_t)fn(ctx, sizeof(ctx));
	reps = (uint64_t)(batch_ns / ((double)(now_ns() - t0) / 100 + 1)) + 1;
	if (o->ring && reps > 8000)
		reps = 8000; /* 256 x 24 B per run: stay inside the 64 MB ring */
	for (int b = 0; b < batches; b++) {
		if (o->ring)
			bext_ringbuf__consume(rb, drain, NULL);
		t0 = now_ns();
		for (uint64_t r = 0; r < reps; r++)
			o->bext_ret = (uint32_t)fn(ctx, sizeof(ctx));
		v[b] = (double)(now_ns() - t0) / reps / OPS;
	}
	if (o->ring)
		bext_ringbuf__consume(rb, drain, NULL);
	o->bext = median(v, batches);
	bext_vm__free(vm);
}

static int silent_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("BENCH_VERBOSE"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* The object loaded into the kernel, its hash maps filled as bext's; NULL + errno. */
static struct bpf_object *kernel_open(const char *path)
{
	static const char *const bext_only[] = {"hash_update_ctx", "loop_ctx", "hash_update_half"};
	static uint64_t pv[MAX_CPUS];
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err = 0;

	if (!obj)
		return NULL;
	for (size_t i = 0; i < sizeof(bext_only) / sizeof(bext_only[0]); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, bext_only[i]);

		if (p)
			bpf_program__set_autoload(p, false);
	}
	if (libbpf_num_possible_cpus() > MAX_CPUS)
		err = -E2BIG;
	else
		err = bpf_object__load(obj);
	for (uint64_t k = 0; !err && k < NKEYS; k++) {
		if (bpf_map__update_elem(bpf_object__find_map_by_name(obj, "hash"), &k, 8, &k, 8,
					 0) ||
		    bpf_map__update_elem(bpf_object__find_map_by_name(obj, "lru"), &k, 8, &k, 8,
					 0) ||
		    bpf_map__update_elem(bpf_object__find_map_by_name(obj, "phash"), &k, 8, pv,
					 8 * (size_t)libbpf_num_possible_cpus(), 0))
			err = -errno;
	}
	if (err) {
		bpf_object__close(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

static int bench_kernel(const char *path)
{
	struct bpf_object *obj = kernel_open(path);
	struct ring_buffer *rbuf = NULL;
	unsigned char pkt[64] = {0};
	int err = 0;

	if (!obj)
		return -errno;
	rbuf = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), drain, NULL,
				NULL);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct op *o = &ops[i];
		int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, o->prog));
		double v[64];
		uint32_t reps;

		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 100);
		if (fd < 0 || bpf_prog_test_run_opts(fd, &t)) {
			snprintf(o->note, sizeof(o->note), "kernel test_run failed: %s",
				 strerror(errno));
			continue;
		}
		reps = (uint32_t)(batch_ns / (t.duration + 1)) + 1;
		if (o->ring && reps > 8000)
			reps = 8000;
		for (int b = 0; b < batches; b++) {
			if (o->ring && rbuf)
				ring_buffer__consume(rbuf);
			t.repeat = reps;
			if (bpf_prog_test_run_opts(fd, &t))
				break;
			v[b] = (double)t.duration / OPS;
			o->kernel_ret = t.retval;
		}
		if (o->ring && rbuf)
			ring_buffer__consume(rbuf);
		o->kernel = median(v, batches);
	}
	ring_buffer__free(rbuf);
	bpf_object__close(obj);
	return err;
}

/* ---- scaling ---------------------------------------------------------------------- */

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Runs @arg (a bext_jit_fn) for @secs on @cpu; returns operations done. */
static uint64_t run_prog(void *arg, int cpu, double secs, uint64_t seed)
{
	bext_jit_fn fn = (bext_jit_fn)arg;
	/* an xdp_md-sized ctx; the programs read the seed from rx_queue_index (offset 16) */
	uint32_t ctx[16] = {0};
	uint64_t runs = 0, end, s = seed;

	pin_cpu(cpu);
	ctx[3] = (uint32_t)cpu; /* hash_update_half: which half of the keys */
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		for (int i = 0; i < 64; i++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			ctx[4] = (uint32_t)(s >> 32);
			fn(ctx, sizeof(ctx));
		}
		runs += 64;
	}
	return runs * OPS;
}

/*
 * The machine's own reference for "two CPUs write the same lines": NKEYS
 * 64-byte lines in shared memory, the programs' key sequence, each key
 * hashed to a line, and per operation what an in-place hash update writes:
 * a CAS on the line's state word, a key check, the value store, the unpin.
 */
struct line {
	uint32_t state;
	uint32_t pad;
	uint64_t key;
	uint64_t value;
	uint8_t rest[40];
};
static_assert(sizeof(struct line) == 64, "one line");

static uint64_t run_native(void *arg, int cpu, double secs, uint64_t seed)
{
	struct line *lines = arg;
	uint64_t ops = 0, end, s = seed;

	pin_cpu(cpu);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		for (int r = 0; r < 64; r++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			for (uint32_t i = 0; i < OPS; i++) {
				uint64_t k = (i * 7919u + (uint32_t)(s >> 32)) % NKEYS;
				struct line *l = &lines[(k * 2654435761u) % NKEYS];
				uint32_t exp = 0;

				if (!__atomic_compare_exchange_n(&l->state, &exp, 1, false,
								 __ATOMIC_ACQUIRE,
								 __ATOMIC_RELAXED))
					continue;
				if (l->key == k)
					__atomic_store_n(&l->value, i, __ATOMIC_RELAXED);
				__atomic_store_n(&l->state, 0, __ATOMIC_RELEASE);
			}
		}
		ops += 64 * OPS;
	}
	return ops;
}

/* Runs the kernel program @arg (fd) with BPF_PROG_TEST_RUN for @secs on @cpu. */
static uint64_t run_kernel(void *arg, int cpu, double secs, uint64_t seed)
{
	unsigned char pkt[64] = {0};
	uint64_t runs = 0, end;
	int fd = (int)(intptr_t)arg;

	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1000);
	(void)seed; /* the program steps its own seed, a global of the object */
	pin_cpu(cpu);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end && !bpf_prog_test_run_opts(fd, &t))
		runs += t.repeat;
	return runs * OPS;
}

static uint64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

typedef uint64_t (*runner_fn)(void *arg, int cpu, double secs, uint64_t seed);

/*
 * ops/s from @n processes on CPUs 0..n-1. *cpu_share gets the CPU time the
 * processes really got, as a fraction of n x the wall time: on a machine
 * shared with other work the second process may get much less than a CPU.
 */
static double scaling(runner_fn run, void *arg, int n, double secs, double *cpu_share)
{
	int pfd[2];
	pid_t pids[2];
	uint64_t total = 0, cpu = 0, v[2];

	*cpu_share = 0;
	if (pipe(pfd))
		return 0;
	for (int c = 0; c < n; c++) {
		pids[c] = fork();
		if (pids[c] == 0) {
			uint64_t c0 = cpu_ns();

			v[0] = run(arg, c, secs, 0x1234 + c);
			v[1] = cpu_ns() - c0;
			if (write(pfd[1], v, sizeof(v)) != sizeof(v))
				_exit(1);
			_exit(0);
		}
	}
	for (int c = 0; c < n; c++) {
		if (read(pfd[0], v, sizeof(v)) == sizeof(v)) {
			total += v[0];
			cpu += v[1];
		}
		waitpid(pids[c], NULL, 0);
	}
	close(pfd[0]);
	close(pfd[1]);
	*cpu_share = cpu / (secs * 1e9 * n);
	return total / secs;
}

struct ratio {
	double one, two; /* ops/s */
	double share;	 /* the 2-process run's CPU share */
};

/* 1 then 2 processes. */
static struct ratio measure(runner_fn run, void *arg, double secs)
{
	struct ratio r;
	double s1;

	r.one = scaling(run, arg, 1, secs, &s1);
	r.two = scaling(run, arg, 2, secs, &r.share);
	return r;
}

/*
 * Trials of side-by-side measurements between two runs of the control (no
 * map, nothing shared). A trial counts only when both controls scaled to
 * CONTROL_OK: only then did the two processes really get two CPUs around
 * it (the host may put both vCPUs on one core, or run something else on
 * one of them, for seconds at a time).
 */
#define CONTROL_OK 1.85

static void bench_scaling(struct ht_env *env, double secs, int trials, int kfd)
{
	struct bext_vm *vm = ht_load(env, "hash_update_ctx", NULL);
	struct bext_vm *cvm = ht_load(env, "loop_ctx", NULL);
	struct bext_vm *hvm = ht_load(env, "hash_update_half", NULL);
	char err[128];
	bext_jit_fn fn = vm ? bext_vm__jit(vm, err, sizeof(err)) : NULL;
	bext_jit_fn cfn = cvm ? bext_vm__jit(cvm, err, sizeof(err)) : NULL;
	bext_jit_fn hfn = hvm ? bext_vm__jit(hvm, err, sizeof(err)) : NULL;
	struct line *lines = mmap(NULL, NKEYS * sizeof(struct line), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double own[16], shared[16], native[16], kern[16];
	int ok = 0;

	if (!fn || !cfn || !hfn || lines == MAP_FAILED || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("\nscaling skipped: needs 2 online CPUs, the JIT and shared memory\n");
		goto out;
	}
	for (uint64_t k = 0; k < NKEYS; k++)
		lines[(k * 2654435761u) % NKEYS].key = k;
	printf("\nhash update scaling: ops/s of 2 processes (CPUs 0, 1) / 1 process (CPU 0), "
	       "%.1f s each, one map\n"
	       "  control  = the same loop without the map, first and last in each trial\n"
	       "             (2.0x: two full CPUs; a trial counts when both reach 1.85x)\n"
	       "  own keys = each process updates its own 5k of the 10k keys (target >= 1.7x)\n"
	       "  shared   = both update random keys of all 10k (the same elements)\n"
	       "  C lines  = the shared pattern in plain C: CAS, store, unpin on 64-byte lines\n"
	       "  (the machine's own ceiling for two CPUs writing the same lines)\n"
	       "  kernel   = the shared pattern in the kernel (hash_update, BPF_PROG_TEST_RUN)\n\n",
	       secs);
	printf("  trial  control   own keys (Mops/s 1 -> 2)  shared (Mops/s 1 -> 2)  C lines  "
	       "kernel (Mops/s 1 -> 2)  cpu\n");
	for (int t = 0; t < trials && t < 16; t++) {
		struct ratio c = measure(run_prog, (void *)cfn, secs);
		struct ratio o = measure(run_prog, (void *)hfn, secs);
		struct ratio h = measure(run_prog, (void *)fn, secs);
		struct ratio n = measure(run_native, lines, secs);
		struct ratio k = {0, 0, 0}, c2;
		char kcol[32] = "      -";
		bool valid;

		if (kfd >= 0) {
			k = measure(run_kernel, (void *)(intptr_t)kfd, secs);
			snprintf(kcol, sizeof(kcol), "%5.2fx (%4.1f -> %4.1f)", k.two / k.one,
				 k.one / 1e6, k.two / 1e6);
		}
		c2 = measure(run_prog, (void *)cfn, secs);
		valid = c.two / c.one >= CONTROL_OK && c2.two / c2.one >= CONTROL_OK;
		printf("  %5d  %4.2f/%4.2fx  %5.2fx (%5.1f -> %5.1f)    %5.2fx (%5.1f -> %5.1f)  "
		       "%6.2fx  %-22s  %3.0f%%%s\n",
		       t + 1, c.two / c.one, c2.two / c2.one, o.two / o.one, o.one / 1e6,
		       o.two / 1e6, h.two / h.one, h.one / 1e6, h.two / 1e6, n.two / n.one, kcol,
		       o.share * 100, valid ? "" : "  (not counted: a control below 1.85x)");
		if (valid) {
			own[ok] = o.two / o.one;
			shared[ok] = h.two / h.one;
			native[ok] = n.two / n.one;
			kern[ok] = k.one > 0 ? k.two / k.one : 0;
			ok++;
		}
	}
	if (!ok) {
		printf("\n  no trial had two full CPUs (controls >= %.2fx): scaling not judged\n",
		       CONTROL_OK);
		goto out;
	}
	printf("\n  %d counted trial(s), medians: own keys %.2fx (target >= 1.7x: %s); shared "
	       "%.2fx, C lines %.2fx, kernel %.2fx\n",
	       ok, median(own, ok), median(own, ok) >= 1.7 ? "met" : "MISSED", median(shared, ok),
	       median(native, ok), median(kern, ok));
out:
	if (lines != MAP_FAILED)
		munmap(lines, NKEYS * sizeof(struct line));
	bext_vm__free(vm);
	bext_vm__free(cvm);
	bext_vm__free(hvm);
}

static void print_machine(void)
{
	char line[512], model[256] = "unknown";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(model, sizeof(model), "%s", c + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	printf("machine: %s, %ld online CPUs; kernel %s; load average now: ", model,
	       sysconf(_SC_NPROCESSORS_ONLN), u.release);
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(line, sizeof(line), f))
		printf("%s", line);
	if (f)
		fclose(f);
	printf("%d batches of ~%.0f ms per column, median; %d ops per run\n\n", batches,
	       batch_ns / 1e6, OPS);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "bench";
	char path[4096];
	struct ht_env env;
	int kerr;
	double secs = 1.0;
	bool scaling_only = false;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			batches = 3;
			batch_ns = 10e6;
			secs = 0.3;
		} else if (!strcmp(argv[i], "--scaling")) {
			scaling_only = true;
		} else {
			fprintf(stderr, "usage: bench_maps BUILD/bench [--quick] [--scaling]\n");
			return 2;
		}
	}
	snprintf(path, sizeof(path), "%s/maps_bench.bpf.o", dir);
	libbpf_set_print(silent_libbpf);
	print_machine();
	if (ht_env_open(&env, path) || prefill_bext(&env)) {
		fprintf(stderr, "bench_maps: cannot set up bext maps for %s\n", path);
		return 1;
	}
	if (scaling_only)
		goto scaling;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		bench_bext(&env, &ops[i]);
	kerr = geteuid() == 0 ? bench_kernel(path) : -EPERM;
	if (kerr)
		printf("kernel column skipped: %s\n\n", strerror(-kerr));

	printf("%-32s %10s %10s %8s %8s  %s\n", "operation (ns/op)", "bext JIT", "kernel", "bext/k",
	       "target", "check (r0 bext/kernel)");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct op *o = &ops[i];
		char k[16] = "-", r[16] = "-", t[16] = "-";

		if (o->kernel > 0) {
			snprintf(k, sizeof(k), "%.2f", o->kernel);
			snprintf(r, sizeof(r), "%.2fx", o->bext / o->kernel);
		}
		if (o->target > 0)
			snprintf(t, sizeof(t), "<= %.0f", o->target);
		else if (i && !o->no_inline)
			snprintf(t, sizeof(t), "<= kern");
		printf("%-32s %10.2f %10s %8s %8s  %u/%u %s\n", o->what, o->bext, k, r, t,
		       o->bext_ret, o->kernel_ret, o->note);
	}

scaling : {
	/* the kernel's shared-keys column: its own copy of the maps, filled as bext's */
	struct bpf_object *kobj = geteuid() == 0 ? kernel_open(path) : NULL;
	struct bpf_program *kp =
	    kobj ? bpf_object__find_program_by_name(kobj, "hash_update") : NULL;

	bench_scaling(&env, secs, batches == 3 ? 3 : 6, kp ? bpf_program__fd(kp) : -1);
	bpf_object__close(kobj);
}
	ht_env_close(&env);
	return 0;
}

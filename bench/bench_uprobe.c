// SPDX-License-Identifier: MIT
/*
 * bench_uprobe: the cost of a uprobe hit, bext vs kernel, side by side in
 * one run on the same noinline function of this binary (bench_target):
 *
 *   none                      plain calls
 *   bext uprobe / uretprobe   empty program, counter-in-array program
 *   kernel uprobe / uretprobe the same object (progs/uprobe_bench.bpf.c),
 *                             libbpf bpf_program__attach_uprobe_opts
 *                             (needs root: skipped with the reason otherwise)
 *
 * Each configuration is timed in rounds of about 30 ms (wall clock, the
 * kernel's cost is system time); the median round is printed, and the "none"
 * rounds are interleaved with the others. The counter programs are checked
 * (the map holds exactly the number of calls made while attached).
 *
 * Then the start-up cost: exec -> main() and exec -> first hook hit of a
 * target (this binary, --startup-target) run plainly, under `bext start`
 * with the link already in the store, and the time from `bext load` to the
 * first hit in a target already running under the agent.
 *
 * Usage: bench_uprobe BENCH_BUILD_DIR [--quick] [--bext-only]   (scripts/bench.sh runs it)
 *   --bext-only: only the bext hit costs (no kernel probes, no start-up runs)
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <limits.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <bext/attach.h>

#include "helpers/helpers_test.h"

#define ROUNDS 7
#define ROUND_NS 30000000.0
#define STARTUP_RUNS 5

__attribute__((noinline, noclone, used)) uint64_t bench_target(uint64_t x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static volatile int startup_zero;

/* long enough for the 5-byte jmp (a bare `xor eax,eax; ret` is not) */
__attribute__((noinline, noclone, used)) int bench_startup_probe(void)
{
	return startup_zero;
}

static uint64_t (*volatile p_target)(uint64_t) = bench_target;
static int (*volatile p_startup)(void) = bench_startup_probe;
static volatile uint64_t sink;
static uint64_t calls; /* calls of bench_target since the last reset */
static bool quick, bext_only;

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double time_calls(long n)
{
	int64_t t0 = now_ns();
	uint64_t s = 0;

	for (long i = 0; i < n; i++)
		s += p_target((uint64_t)i);
	sink = s;
	calls += (uint64_t)n;
	return (double)(now_ns() - t0) / (double)n;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double none_rounds[ROUNDS * 16];
static int n_none;

/* Median ns per call of the current configuration; a "none" round is not
 * interleaved here (the probe is attached), see measure_none(). */
static double measure(void)
{
	double r[ROUNDS], est;
	long n;
	int rounds = quick ? 3 : ROUNDS;

	est = time_calls(1000); /* warm-up and estimate */
	n = (long)(ROUND_NS / (est > 0.5 ? est : 0.5));
	if (quick)
		n /= 4;
	if (n < 100)
		n = 100;
	for (int i = 0; i < rounds; i++)
		r[i] = time_calls(n);
	qsort(r, (size_t)rounds, sizeof(r[0]), cmp_d);
	return r[rounds / 2];
}

static void measure_none(void)
{
	if (n_none < (int)(sizeof(none_rounds) / sizeof(none_rounds[0])))
		none_rounds[n_none++] = measure();
}

static double none_median(void)
{
	double r[sizeof(none_rounds) / sizeof(none_rounds[0])];

	memcpy(r, none_rounds, sizeof(r[0]) * (size_t)n_none);
	qsort(r, (size_t)n_none, sizeof(r[0]), cmp_d);
	return r[n_none / 2];
}

enum { E_UP_EMPTY, E_UP_COUNT, E_RET_EMPTY, E_RET_COUNT, E_N };
static const char *const cfg_name[E_N] = {"uprobe, empty program", "uprobe, counter in array",
					  "uretprobe, empty program",
					  "uretprobe, counter in array"};
static double bext_ns[E_N], kern_ns[E_N];
static bool bext_ok[E_N], kern_ok[E_N];

/* ---- bext ------------------------------------------------------------------------------- */

static void run_bext(const char *obj)
{
	struct ht_env env;
	struct bext_vm *vm[2] = {NULL, NULL};
	struct bext_map *ctr;
	char err[256];

	if (ht_env_open(&env, obj)) {
		printf("bext: cannot open %s: skipped\n", obj);
		return;
	}
	vm[0] = ht_load(&env, "empty", NULL);
	vm[1] = ht_load(&env, "count", NULL);
	ctr = ht_map(&env, "counter");
	if (!vm[0] || !vm[1] || !ctr) {
		printf("bext: cannot load the programs: skipped\n");
		goto out;
	}
	for (int c = 0; c < E_N; c++) {
		struct bext_attach_opts o = {.sz = sizeof(o)};
		struct bext_vm *v = vm[c == E_UP_COUNT || c == E_RET_COUNT];
		struct bext_attachment *a;
		uint32_t k = 0;
		uint64_t zero = 0, got = 0;

		measure_none();
		o.kind = c >= E_RET_EMPTY ? BEXT_ATTACH_URETPROBE : BEXT_ATTACH_UPROBE;
		o.vm = v;
		bext_map__update_elem(ctr, &k, &zero, BPF_ANY);
		a = bext_attach((void *)bench_target, bext_vm__jit(v, err, sizeof(err)), &o, err,
				sizeof(err));
		if (!a) {
			printf("bext %s: attach failed: %s\n", cfg_name[c], err);
			continue;
		}
		calls = 0;
		bext_ns[c] = measure();
		bext_detach(a);
		bext_map__lookup_elem(ctr, &k, &got);
		if ((c == E_UP_COUNT || c == E_RET_COUNT) && got != calls) {
			printf("bext %s: counter %llu, want %llu: not counted\n", cfg_name[c],
			       (unsigned long long)got, (unsigned long long)calls);
			continue;
		}
		bext_ok[c] = true;
	}
out:
	bext_vm__free(vm[0]);
	bext_vm__free(vm[1]);
	ht_env_close(&env);
}

/* ---- kernel ------------------------------------------------------------------------------- */

static int silent(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l, (void)f, (void)ap;
	return 0;
}

static void run_kernel(const char *obj_path)
{
	struct bpf_object *obj;
	struct bpf_program *prog[2];
	struct bpf_map *ctr;
	char exe[PATH_MAX];
	ssize_t l;

	if (geteuid() != 0) {
		printf("kernel: not root: kernel uprobes skipped\n");
		return;
	}
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l <= 0) {
		printf("kernel: cannot read /proc/self/exe: skipped\n");
		return;
	}
	exe[l] = 0;
	libbpf_set_print(silent);
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj || bpf_object__load(obj)) {
		printf("kernel: cannot load %s into the kernel: skipped\n", obj_path);
		bpf_object__close(obj);
		return;
	}
	prog[0] = bpf_object__find_program_by_name(obj, "empty");
	prog[1] = bpf_object__find_program_by_name(obj, "count");
	ctr = bpf_object__find_map_by_name(obj, "counter");
	for (int c = 0; c < E_N; c++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "bench_target",
			    .retprobe = c >= E_RET_EMPTY);
		struct bpf_link *lk;
		uint32_t k = 0;
		uint64_t zero = 0, got = 0;

		measure_none();
		bpf_map__update_elem(ctr, &k, sizeof(k), &zero, sizeof(zero), BPF_ANY);
		lk = bpf_program__attach_uprobe_opts(prog[c == E_UP_COUNT || c == E_RET_COUNT], 0,
						     exe, 0, &uo);
		if (!lk) {
			printf("kernel %s: attach failed: %s\n", cfg_name[c], strerror(errno));
			continue;
		}
		calls = 0;
		kern_ns[c] = measure();
		bpf_link__destroy(lk);
		bpf_map__lookup_elem(ctr, &k, sizeof(k), &got, sizeof(got), 0);
		if ((c == E_UP_COUNT || c == E_RET_COUNT) && got != calls) {
			printf("kernel %s: counter %llu, want %llu: not counted\n", cfg_name[c],
			       (unsigned long long)got, (unsigned long long)calls);
			continue;
		}
		kern_ok[c] = true;
	}
	bpf_object__close(obj);
}

/* ---- start-up -------------------------------------------------------------------------- */

/* The target: prints the monotonic time at main() and at the first hook hit. */
static int startup_target(void)
{
	int64_t t_main = now_ns(), t_hit = -1, end = t_main + 5000000000LL;

	printf("main %lld\n", (long long)t_main);
	fflush(stdout);
	while (now_ns() < end) {
		if (p_startup()) {
			t_hit = now_ns();
			break;
		}
	}
	printf("hit %lld\n", (long long)t_hit);
	fflush(stdout);
	return 0;
}

/* Runs argv with stdout on a pipe; returns the pid, the read end in *fd. */
static pid_t spawn(char *const argv[], int *fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

static int64_t read_stamp(FILE *f, const char *key)
{
	char k[16];
	long long v;

	if (fscanf(f, "%15s %lld", k, &v) != 2 || strcmp(k, key))
		return -1;
	return v;
}

/* One run: t0 = exec; ns to main and to the first hit (-1: none). With load:
 * `bext load` runs once main() was reached, the hit time counts from it. */
static int startup_run(char *const argv[], const char *bext, const char *store, const char *obj,
		       double *to_main, double *to_hit)
{
	int64_t t0, tm, th;
	int fd, st;
	pid_t pid;
	FILE *f;

	t0 = now_ns();
	pid = spawn(argv, &fd);
	if (pid < 0)
		return -1;
	f = fdopen(fd, "r");
	tm = read_stamp(f, "main");
	if (obj && tm > 0) {
		char *largv[] = {(char *)bext, "load", (char *)obj, "--store", (char *)store, NULL};
		int lfd;
		pid_t lp;

		t0 = now_ns();
		lp = spawn(largv, &lfd);
		if (lp > 0) {
			char buf[256];

			while (read(lfd, buf, sizeof(buf)) > 0)
				;
			close(lfd);
			waitpid(lp, NULL, 0);
		}
	}
	th = read_stamp(f, "hit");
	fclose(f);
	waitpid(pid, &st, 0);
	if (tm <= 0)
		return -1;
	*to_main = obj ? 0 : (double)(tm - t0) / 1000.0;
	*to_hit = th > 0 ? (double)(th - t0) / 1000.0 : -1;
	return 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_d);
	return v[n / 2];
}

static void run_startup(const char *dir)
{
	char exe[PATH_MAX], bext[PATH_MAX], obj[PATH_MAX], store[64];
	double m0[STARTUP_RUNS], m1[STARTUP_RUNS], h1[STARTUP_RUNS], h2[STARTUP_RUNS], unused;
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int runs = quick ? 3 : STARTUP_RUNS;

	if (l <= 0)
		return;
	exe[l] = 0;
	snprintf(bext, sizeof(bext), "%s/../tools/bext/bext", dir);
	snprintf(obj, sizeof(obj), "%s/uprobe_startup.bpf.o", dir);
	if (access(bext, X_OK) || access(obj, R_OK)) {
		printf("start-up: %s or %s missing: skipped\n", bext, obj);
		return;
	}
	strcpy(store, "/dev/shm/bext-bench-XXXXXX");
	if (!mkdtemp(store))
		return;
	{
		char *plain[] = {exe, "--startup-target", NULL};
		char *start[] = {bext, "start", "--store",	    store,
				 "--", exe,	"--startup-target", NULL};
		char *load[] = {bext, "load", obj, "--store", store, NULL};
		int fd, st;
		pid_t p;
		bool ok = true;

		for (int i = 0; i < runs && ok; i++)
			ok = !startup_run(plain, NULL, NULL, NULL, &m0[i], &unused);
		/* bext start with the link already in the store */
		p = spawn(load, &fd);
		if (p > 0) {
			char buf[256];

			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
			waitpid(p, &st, 0);
			ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		}
		for (int i = 0; i < runs && ok; i++)
			ok = !startup_run(start, NULL, NULL, NULL, &m1[i], &h1[i]) && h1[i] > 0;
		if (!ok) {
			printf("start-up: a run failed (see %s/agent.log): skipped\n", store);
			return;
		}
		/* bext load into a target already running under the agent */
		nftw(store, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
		for (int i = 0; i < runs && ok; i++) {
			if (mkdir(store, 0700) && errno != EEXIST)
				ok = false;
			ok = ok && !startup_run(start, bext, store, obj, &unused, &h2[i]) &&
			     h2[i] > 0;
			nftw(store, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
		}
		if (!ok) {
			printf("start-up: load into a running target failed: skipped\n");
			return;
		}
	}
	printf("\nstart-up (median of %d runs, us; t0 = just before fork+exec):\n", runs);
	printf("  %-52s %10.0f\n", "plain target: exec -> main()", median_of(m0, runs));
	printf("  %-52s %10.0f\n", "bext start, link in the store: exec -> main()",
	       median_of(m1, runs));
	printf("  %-52s %10.0f\n", "bext start, link in the store: exec -> first hit",
	       median_of(h1, runs));
	printf("  %-52s %10.0f\n", "running target: bext load exec -> first hit",
	       median_of(h2, runs));
}

int main(int argc, char **argv)
{
	char obj[PATH_MAX];
	double none;

	if (argc > 1 && !strcmp(argv[1], "--startup-target"))
		return startup_target();
	if (argc < 2) {
		fprintf(stderr, "usage: %s BENCH_BUILD_DIR [--quick] [--bext-only]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--bext-only"))
			bext_only = true;
	}
	snprintf(obj, sizeof(obj), "%s/uprobe_bench.bpf.o", argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench_uprobe: ns per call of a noinline function, median of %d rounds of ~30 ms\n",
	       quick ? 3 : ROUNDS);
	measure_none();
	run_bext(obj);
	if (!bext_only)
		run_kernel(obj);
	measure_none();
	none = none_median();
	printf("\n%-30s %12s %12s %12s %12s %10s\n", "", "bext ns", "bext +ns", "kernel ns",
	       "kernel +ns", "kern/bext");
	printf("%-30s %12.2f\n", "no probe", none);
	for (int c = 0; c < E_N; c++) {
		char b[2][16], k[2][16], r[16] = "-";

		snprintf(b[0], 16, bext_ok[c] ? "%.2f" : "-", bext_ns[c]);
		snprintf(b[1], 16, bext_ok[c] ? "%.2f" : "-", bext_ns[c] - none);
		snprintf(k[0], 16, kern_ok[c] ? "%.0f" : "-", kern_ns[c]);
		snprintf(k[1], 16, kern_ok[c] ? "%.0f" : "-", kern_ns[c] - none);
		if (bext_ok[c] && kern_ok[c] && bext_ns[c] - none > 0.05)
			snprintf(r, sizeof(r), "%.0fx", (kern_ns[c] - none) / (bext_ns[c] - none));
		printf("%-30s %12s %12s %12s %12s %10s\n", cfg_name[c], b[0], b[1], k[0], k[1], r);
	}
	if (!bext_only)
		run_startup(argv[1]);
	return 0;
}

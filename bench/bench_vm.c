/* SPDX-License-Identifier: MIT */
/*
 * bench_vm: the eBPF machine side by side with native code and the kernel.
 *
 * For each benchmark program (bench/progs/NAME.c, see progs/bench.h for the
 * input design) it runs, in one process, interleaved batch by batch:
 *   native   NAME.native.so (gcc -O2), called through a function pointer
 *   bext JIT NAME.bpf.o via bext_obj, bext_vm__jit(), the function called directly
 *   interp   the same vm through bext_vm__exec() (unchecked)
 *   kernel   the same NAME.bpf.o through libbpf and BPF_PROG_TEST_RUN (repeat = N,
 *            the kernel's own per-run duration); skipped with the reason when
 *            BPF is unavailable
 * Each figure is the median of several batches; a batch lasts ~BATCH_NS. The
 * engines take turns (one batch each, then the next round), so that load
 * from other processes or clock changes hit all columns alike. Time is the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that being preempted by
 * other processes does not count, as in the kernel's own duration.
 * All engines must return the same 32-bit checksum, or the row says MISMATCH.
 * Executed instructions (for interpreter ns/insn) come from the checked
 * interpreter's budget: the smallest budget that lets the run finish.
 * JIT compile time is the median of several fresh compiles.
 *
 * This is a benchmark, not a test: it never fails on time; it exits non-zero
 * only when something could not run at all or results disagree.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bext/obj.h>
#include <bext/vm.h>

#define INPUT_SIZE 4096
#define MAX_MAPS 8

static const char *const progs[] = {"count",  "memscan", "collatz", "switch",
				    "memcpy", "calls",	 "fnv",	    "sort"};

#if defined(__x86_64__)
/* Test hook of the x86-64 JIT: BENCH_NO_PEEPHOLE=1 compiles insn by insn (for comparison). */
extern bool bext_x86_jit_no_peephole;
#endif

static int batches = 9;
static uint64_t batch_ns = 20000000; /* 20 ms */
static uint8_t input[INPUT_SIZE];
static int kernel_ok = -1;
static char kernel_why[256];

typedef int (*native_fn)(void *ctx);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * CPU time of this thread: time while preempted by other processes does not
 * count, as in the kernel's BPF_PROG_TEST_RUN duration (which stops its
 * clock around cond_resched()).
 */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Per-program state: the object and the buffers behind its data maps. */
struct bench {
	const char *name;
	struct bext_obj *obj;
	const struct bext_insn *insns;
	size_t n_insns;
	uint8_t *map_mem[MAX_MAPS];
	size_t map_size[MAX_MAPS];
	size_t n_maps;
};

static int resolve(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value)
{
	struct bench *b = user;

	if (src != BEXT_PSEUDO_MAP_IDX_VALUE || imm < 0 || (size_t)imm >= b->n_maps ||
	    next_imm < 0 || (size_t)next_imm >= b->map_size[imm])
		return -EINVAL;
	*value = (uint64_t)(uintptr_t)(b->map_mem[imm] + next_imm);
	return 0;
}

static struct bext_vm *make_vm(struct bench *b, bool checked, uint64_t budget, char *err,
			       size_t err_len)
{
	struct bext_vm_opts opts = {.sz = sizeof(opts), .checked = checked, .insn_budget = budget};
	struct bext_vm *vm = bext_vm__new(&opts);

	if (!vm) {
		snprintf(err, err_len, "bext_vm__new: %s", strerror(errno));
		return NULL;
	}
	bext_vm__set_pseudo_resolver(vm, resolve, b);
	for (size_t i = 0; i < b->n_maps; i++)
		bext_vm__add_region(vm, b->map_mem[i], b->map_size[i], true);
	if (bext_vm__load(vm, b->insns, b->n_insns, err, err_len)) {
		bext_vm__free(vm);
		return NULL;
	}
	return vm;
}

static int bench_open(struct bench *b, const char *dir, char *err, size_t err_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.bpf.o", dir, b->name);
	b->obj = bext_obj__open(path, err, err_len);
	if (!b->obj)
		return -errno;
	b->insns = bext_obj_prog__insns(bext_obj__prog(b->obj, 0), &b->n_insns);
	b->n_maps = bext_obj__map_count(b->obj);
	if (b->n_maps > MAX_MAPS)
		return -E2BIG;
	for (size_t i = 0; i < b->n_maps; i++) {
		const struct bext_obj_map *m = bext_obj__map(b->obj, i);
		size_t sz;
		const void *init = bext_obj_map__initial_value(m, &sz);

		b->map_size[i] = bext_obj_map__value_size(m);
		b->map_mem[i] = calloc(1, b->map_size[i] ? b->map_size[i] : 1);
		if (!b->map_mem[i])
			return -ENOMEM;
		if (!strcmp(bext_obj_map__name(m), ".data.input") && b->map_size[i] == INPUT_SIZE)
			memcpy(b->map_mem[i], input, INPUT_SIZE);
		else if (init)
			memcpy(b->map_mem[i], init, sz);
	}
	return 0;
}

static void bench_close(struct bench *b)
{
	for (size_t i = 0; i < b->n_maps; i++)
		free(b->map_mem[i]);
	bext_obj__close(b->obj);
}

/* Repetitions so that one batch of `call` lasts about batch_ns. */
#define SIZE_BATCH(reps, call)                              \
	do {                                                \
		uint64_t _t0 = cpu_ns();                    \
		call;                                       \
		reps = batch_ns / (cpu_ns() - _t0 + 1) + 1; \
	} while (0)

/* ns per run of one batch of `reps` calls. */
#define TIME_BATCH(result, reps, call)                             \
	do {                                                       \
		uint64_t _s = cpu_ns();                            \
		for (uint64_t _r = 0; _r < (reps); _r++)           \
			call;                                      \
		result = (double)(cpu_ns() - _s) / (double)(reps); \
	} while (0)

static volatile uint64_t sink;

struct row {
	const char *name;
	size_t n_insns;
	double native, jit, interp, kernel;
	uint64_t executed;
	double compile_us;
	char note[160];
};

/* Loads NAME.bpf.o into the kernel: *obj and the program fd, or a negative errno. */
static int kernel_open(struct bench *b, const char *dir, struct bpf_object **objp, int *fd)
{
	struct bpf_object *obj;
	struct bpf_map *map;
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/%s.bpf.o", dir, b->name);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -errno;
	bpf_object__for_each_map(map, obj)
	{
		if (strstr(bpf_map__name(map), "input") && bpf_map__value_size(map) == INPUT_SIZE)
			bpf_map__set_initial_value(map, input, INPUT_SIZE);
	}
	err = bpf_object__load(obj);
	if (err) {
		bpf_object__close(obj);
		return err;
	}
	*fd = bpf_program__fd(bpf_object__next_program(obj, NULL));
	*objp = obj;
	return 0;
}

/* One kernel batch of `reps` runs: the kernel's own ns per run, r0 in *ret. */
static int kernel_batch(int fd, uint32_t reps, double *ns, uint32_t *ret)
{
	unsigned char pkt[64] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = reps);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ret = o.retval;
	*ns = (double)o.duration; /* averaged by the kernel */
	return 0;
}

static int silent_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("BENCH_VERBOSE"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Smallest budget with which the checked interpreter finishes = executed insns. */
static uint64_t count_executed(struct bench *b)
{
	uint64_t lo = 1, hi = 1;
	char err[256];

	for (;;) {
		struct bext_vm *vm = make_vm(b, true, hi, err, sizeof(err));
		uint64_t r;
		int e;

		if (!vm)
			return 0;
		e = bext_vm__exec(vm, NULL, 0, &r);
		bext_vm__free(vm);
		if (!e)
			break;
		if (e != -E2BIG || hi > (1ull << 40))
			return 0;
		lo = hi + 1;
		hi *= 2;
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct bext_vm *vm = make_vm(b, true, mid, err, sizeof(err));
		uint64_t r;
		int e;

		if (!vm)
			return 0;
		e = bext_vm__exec(vm, NULL, 0, &r);
		bext_vm__free(vm);
		if (e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static double compile_time_us(struct bench *b)
{
	double v[64];
	char err[256];

	for (int i = 0; i < batches; i++) {
		struct bext_vm *vm = make_vm(b, false, 0, err, sizeof(err));
		uint64_t t;

		if (!vm)
			return NAN;
		t = now_ns();
		if (!bext_vm__jit(vm, err, sizeof(err))) {
			bext_vm__free(vm);
			return NAN;
		}
		v[i] = (double)(now_ns() - t) / 1000.0;
		bext_vm__free(vm);
	}
	return median(v, batches);
}

/* A generated straight-line-ish program of exactly n slots: ALU mix, some branches. */
static struct bext_insn *gen_program(size_t n)
{
	static const uint8_t ops[] = {BEXT_ALU_ADD, BEXT_ALU_SUB, BEXT_ALU_MUL, BEXT_ALU_XOR,
				      BEXT_ALU_OR,  BEXT_ALU_AND, BEXT_ALU_LSH, BEXT_ALU_RSH};
	struct bext_insn *p = calloc(n, sizeof(*p));
	uint32_t x = 1;

	if (!p)
		return NULL;
	for (size_t i = 0; i < 6; i++)
		p[i] = BEXT_MOV64_IMM(i, (int32_t)(i * 7 + 1));
	for (size_t i = 6; i < n - 1; i++) {
		uint8_t op = ops[i % 8];
		int dst = (int)(i % 6), src = (int)((i / 6) % 6);

		x = x * 1103515245 + 12345;
		if (i % 25 == 0 && i + 2 < n - 1)
			p[i] = BEXT_JMP_IMM(BEXT_JMP_JGT, dst, (int32_t)(x >> 20), 1);
		else if (op == BEXT_ALU_LSH || op == BEXT_ALU_RSH)
			p[i] = BEXT_ALU64_IMM(op, dst, (int32_t)((x >> 16) % 63));
		else if (i % 3)
			p[i] = BEXT_ALU64_IMM(op, dst, (int32_t)(x >> 8));
		else
			p[i] =
			    (i % 2) ? BEXT_ALU32_REG(op, dst, src) : BEXT_ALU64_REG(op, dst, src);
	}
	p[n - 1] = BEXT_EXIT_INSN();
	return p;
}

static void print_machine(void)
{
	char line[512], model[256] = "unknown", jit[32] = "?";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

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
	f = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	if (f) {
		if (fgets(jit, sizeof(jit), f))
			jit[strcspn(jit, "\n")] = 0;
		fclose(f);
	}
	uname(&u);
	printf("machine: %s, %ld online CPUs; kernel %s %s; net.core.bpf_jit_enable=%s\n", model,
	       cpus, u.sysname, u.release, jit);
	printf("batches: %d x ~%.0f ms each, median reported\n\n", batches, batch_ns / 1e6);
}

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns) || ns <= 0)
		snprintf(buf, len, "%10s", "-");
	else
		snprintf(buf, len, "%10.1f", ns);
}

static void fmt_ratio(char *buf, size_t len, double a, double b)
{
	if (isnan(a) || isnan(b) || a <= 0 || b <= 0)
		snprintf(buf, len, "%8s", "-");
	else
		snprintf(buf, len, "%7.2fx", a / b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct row rows[sizeof(progs) / sizeof(progs[0])];
	size_t n_rows = sizeof(progs) / sizeof(progs[0]);
	double gm_jn = 0, gm_jk = 0, gm_ni = 0, gm_cu = 0;
	int n_jn = 0, n_jk = 0, n_ni = 0, n_cu = 0, status = 0;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			batches = 5;
			batch_ns = 5000000;
		}
	}
	for (size_t i = 0; i < INPUT_SIZE; i++) { /* xorshift64: the same bytes everywhere */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		input[i] = (uint8_t)(x >> 24);
	}
	libbpf_set_print(silent_libbpf);
	print_machine();
#if defined(__x86_64__)
	if (getenv("BENCH_NO_PEEPHOLE") && atoi(getenv("BENCH_NO_PEEPHOLE"))) {
		bext_x86_jit_no_peephole = true;
		printf("BENCH_NO_PEEPHOLE: JIT peephole fusion off\n\n");
	}
#endif
	{
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);

		kernel_ok = fd >= 0;
		if (fd < 0)
			snprintf(kernel_why, sizeof(kernel_why), "kernel column skipped: bpf(): %s",
				 strerror(errno));
		else
			close(fd);
	}

	for (size_t p = 0; p < n_rows; p++) {
		struct row *r = &rows[p];
		struct bench b = {.name = progs[p]};
		char err[512] = "", path[4096];
		struct bext_vm *vm = NULL;
		bext_jit_fn jfn = NULL;
		native_fn nfn = NULL;
		void *dl = NULL;
		uint64_t res, reps[4] = {0};
		uint32_t want = 0, got = 0;
		int have = 0, kfd = -1;
		bool interp_ok = false;
		struct bpf_object *kobj = NULL;
		double v[4][64];

		memset(r, 0, sizeof(*r));
		r->name = progs[p];
		r->native = r->jit = r->interp = r->kernel = r->compile_us = NAN;
		if (bench_open(&b, dir, err, sizeof(err))) {
			snprintf(r->note, sizeof(r->note), "open: %.140s", err);
			status = 1;
			goto next;
		}
		r->n_insns = b.n_insns;

		/* native */
		snprintf(path, sizeof(path), "%s/%s.native.so", dir, b.name);
		dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (dl) {
			uint8_t *in = dlsym(dl, "input");
			char sym[64];

			snprintf(sym, sizeof(sym), "bench_%s", b.name);
			*(void **)&nfn = dlsym(dl, sym);
			if (in && nfn) {
				memcpy(in, input, INPUT_SIZE);
				want = (uint32_t)nfn(NULL);
				have = 1;
				SIZE_BATCH(reps[0], sink += (uint64_t)nfn(NULL));
			} else {
				nfn = NULL;
			}
		}
		if (!have)
			snprintf(r->note, sizeof(r->note), "native: %.140s", dlerror());

		/* bext interpreter and JIT */
		vm = make_vm(&b, false, 0, err, sizeof(err));
		if (!vm) {
			snprintf(r->note, sizeof(r->note), "bext load: %.140s", err);
			status = 1;
			goto next;
		}
		if (bext_vm__exec(vm, NULL, 0, &res)) {
			snprintf(r->note, sizeof(r->note), "interp: %.140s",
				 bext_vm__last_error(vm));
			status = 1;
		} else {
			got = (uint32_t)res;
			if (have && got != want) {
				snprintf(r->note, sizeof(r->note), "MISMATCH interp %u native %u",
					 got, want);
				status = 1;
			}
			interp_ok = true;
			SIZE_BATCH(reps[2], bext_vm__exec(vm, NULL, 0, &res); sink += res);
			r->executed = count_executed(&b);
		}
		jfn = bext_vm__jit(vm, err, sizeof(err));
		if (!jfn) {
			snprintf(r->note, sizeof(r->note), "jit: %.140s", err);
			status = 1;
		} else {
			got = (uint32_t)jfn(NULL, 0);
			if (have && got != want) {
				snprintf(r->note, sizeof(r->note), "MISMATCH jit %u native %u", got,
					 want);
				status = 1;
			}
			SIZE_BATCH(reps[1], sink += jfn(NULL, 0));
			r->compile_us = compile_time_us(&b);
		}

		/* kernel */
		if (kernel_ok) {
			int e = kernel_open(&b, dir, &kobj, &kfd);
			double ns;

			if (!e)
				e = kernel_batch(kfd, 1, &ns, &got);
			if (e) {
				kfd = -1;
				snprintf(r->note, sizeof(r->note), "kernel: %.140s", strerror(-e));
			} else {
				reps[3] = (uint64_t)(batch_ns / (ns > 1 ? ns : 1) + 1);
				if (reps[3] > 1000000)
					reps[3] = 1000000;
				if (have && got != want) {
					snprintf(r->note, sizeof(r->note),
						 "MISMATCH kernel %u native %u", got, want);
					status = 1;
				}
			}
		}

		/*
		 * Batches interleaved: native, JIT, interpreter, kernel, then again,
		 * so that a change of machine load or clock hits every column alike.
		 */
		for (int bt = 0; bt < batches; bt++) {
			if (nfn)
				TIME_BATCH(v[0][bt], reps[0], sink += (uint64_t)nfn(NULL));
			if (jfn)
				TIME_BATCH(v[1][bt], reps[1], sink += jfn(NULL, 0));
			if (interp_ok)
				TIME_BATCH(v[2][bt], reps[2], bext_vm__exec(vm, NULL, 0, &res);
					   sink += res);
			if (kfd >= 0 && kernel_batch(kfd, (uint32_t)reps[3], &v[3][bt], &got)) {
				snprintf(r->note, sizeof(r->note), "kernel: %.140s",
					 strerror(errno));
				kfd = -1;
			}
		}
		if (nfn)
			r->native = median(v[0], batches);
		if (jfn)
			r->jit = median(v[1], batches);
		if (interp_ok)
			r->interp = median(v[2], batches);
		if (kfd >= 0)
			r->kernel = median(v[3], batches);
	next:
		if (kobj)
			bpf_object__close(kobj);
		bext_vm__free(vm);
		if (dl)
			dlclose(dl);
		bench_close(&b);
	}

	printf("%-8s %6s %10s %10s %10s %10s %8s %8s %9s %11s %9s\n", "program", "insns",
	       "native ns", "jit ns", "interp ns", "kernel ns", "jit/nat", "jit/kern", "executed",
	       "interp ns/i", "jit µs");
	for (size_t p = 0; p < n_rows; p++) {
		struct row *r = &rows[p];
		char a[32], c[32], d[32], e[32], f[32], g[32];
		double nsi =
		    r->executed && !isnan(r->interp) ? r->interp / (double)r->executed : NAN;

		fmt_ns(a, sizeof(a), r->native);
		fmt_ns(c, sizeof(c), r->jit);
		fmt_ns(d, sizeof(d), r->interp);
		fmt_ns(e, sizeof(e), r->kernel);
		fmt_ratio(f, sizeof(f), r->jit, r->native);
		fmt_ratio(g, sizeof(g), r->jit, r->kernel);
		printf("%-8s %6zu %s %s %s %s %s %s %9llu %11.2f %9.1f%s%s\n", r->name, r->n_insns,
		       a, c, d, e, f, g, (unsigned long long)r->executed, nsi, r->compile_us,
		       r->note[0] ? "  " : "", r->note);
		if (!isnan(r->jit) && !isnan(r->native) && r->native > 0) {
			gm_jn += log(r->jit / r->native);
			n_jn++;
		}
		if (!isnan(r->jit) && !isnan(r->kernel) && r->kernel > 0) {
			gm_jk += log(r->jit / r->kernel);
			n_jk++;
		}
		if (!isnan(nsi)) {
			gm_ni += log(nsi);
			n_ni++;
		}
		if (!isnan(r->compile_us)) {
			gm_cu += log(r->compile_us);
			n_cu++;
		}
	}
	{
		char a[32] = "-", c[32] = "-", d[32] = "-", e[32] = "-";

		if (n_jn)
			snprintf(a, sizeof(a), "%.2fx", exp(gm_jn / n_jn));
		if (n_jk)
			snprintf(c, sizeof(c), "%.2fx", exp(gm_jk / n_jk));
		if (n_ni)
			snprintf(d, sizeof(d), "%.2f", exp(gm_ni / n_ni));
		if (n_cu)
			snprintf(e, sizeof(e), "%.1f", exp(gm_cu / n_cu));
		printf("%-8s %6s %10s %10s %10s %10s %8s %8s %9s %11s %9s\n", "geomean", "", "", "",
		       "", "", a, c, "", d, e);
	}
	if (!kernel_ok)
		printf("\n%s\n", kernel_why);

	/* JIT compile time for a generated 1000-instruction program */
	{
		struct bext_insn *g = gen_program(1000);
		double v[64];
		char err[256] = "";
		int ok = g != NULL;

		for (int i = 0; ok && i < batches; i++) {
			struct bext_vm *vm = bext_vm__new(NULL);
			uint64_t t;

			ok = vm && !bext_vm__load(vm, g, 1000, err, sizeof(err));
			if (ok) {
				t = now_ns();
				ok = bext_vm__jit(vm, err, sizeof(err)) != NULL;
				v[i] = (double)(now_ns() - t) / 1000.0;
			}
			bext_vm__free(vm);
		}
		if (ok)
			printf(
			    "\nJIT compile, generated 1000-insn program: %.1f µs (median of %d)\n",
			    median(v, batches), batches);
		else
			printf("\nJIT compile, generated 1000-insn program: failed: %s\n", err);
		free(g);
	}
	printf("\ntargets: jit/native geomean <= 1.5x; jit/kernel <= 1.0x on every program; "
	       "interp < 3 ns/insn; JIT compile < 50 µs per 1000 insns\n");
	return status;
}

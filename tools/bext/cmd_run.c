/* SPDX-License-Identifier: MIT */
/*
 * bext run: load a program (ELF object, .bin or assembler text), run it with
 * r1 = a memory buffer read from a file (or NULL) and r2 = its size, and
 * print r0 with load, JIT-compile and per-run times.
 *
 * bext run does not verify: the program may be anything. So the interpreter
 * runs in checked mode (every access bounds-checked against the stack and
 * the --mem buffer, an instruction budget per run) unless --unchecked asks
 * for the fast path, and every run (JIT, --unchecked) is guarded: a fault
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE) or the --timeout alarm ends the command
 * with a message and exit status 1 instead of killing it. The guard is a
 * tool-side last resort (siglongjmp out of the program, then exit): the
 * program may already have scribbled over memory, so bext reports and stops.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bext/vm.h>

#include "commands.h"
#include "progfile.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bext run PROG [--mem FILE] [--engine interp|jit] [--repeat N] [--prog NAME]\n"
	    "                [--budget N] [--unchecked] [--timeout SEC]\n"
	    "\n"
	    "Runs PROG (an eBPF ELF object, a raw .bin file or assembler text) with\n"
	    "r1 = the bytes of FILE (NULL without --mem) and r2 = their count, and prints\n"
	    "r0, the load time, the JIT compile time (jit engine) and the median time of\n"
	    "one run over N runs (default 1).\n"
	    "\n"
	    "  --mem FILE         input memory, raw bytes. All N runs use the same buffer:\n"
	    "                     it is not refreshed between runs, so a program that\n"
	    "                     writes to it sees its own earlier writes.\n"
	    "  --engine E         interp (default) or jit; jit fails if the program\n"
	    "                     cannot be compiled (no silent fallback)\n"
	    "  --repeat N         number of runs to time (r0 printed is the last run's)\n"
	    "  --prog NAME        the program (section or function) of an ELF object\n"
	    "  --budget N         checked interpreter: most instructions per run\n"
	    "                     (default 100000000; 0: no budget)\n"
	    "  --unchecked        interpreter without memory checks or budget (fast path;\n"
	    "                     only for programs you trust)\n"
	    "  --timeout SEC      give up after SEC seconds in all (default 30; 0: never)\n"
	    "\n"
	    "Programs are not verified (see bext verify). The interpreter checks every\n"
	    "memory access and counts instructions unless --unchecked; a JIT or unchecked\n"
	    "run that faults or hangs is stopped and reported (exit status 1).\n"
	    "No helpers are registered: a program calling one is rejected at load.\n");
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			uint8_t *np;

			cap = cap ? cap * 2 : 4096;
			np = realloc(p, cap);
			if (!np) {
				free(p);
				fclose(f);
				return -ENOMEM;
			}
			p = np;
		}
		size_t got = fread(p + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(p);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*data = p;
	*len = n;
	return 0;
}

/* The fault guard: a program that faults or runs past --timeout jumps back here. */
static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_sig;
static volatile uintptr_t guard_addr;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	guard_sig = sig;
	guard_addr = sig == SIGALRM || !si ? 0 : (uintptr_t)si->si_addr;
	siglongjmp(guard_env, 1);
}

static void guard_set(bool on)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGALRM};
	static struct sigaction old[5];
	static char altstack[65536];
	struct sigaction sa;
	stack_t ss;

	if (on) {
		ss = (stack_t){.ss_sp = altstack, .ss_size = sizeof(altstack)};
		sigaltstack(&ss, NULL);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = guard_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], on ? &sa : &old[i], on ? &old[i] : NULL);
}

/* Runs the program repeat times under the guard; 0, or 1 after a message. */
static int run_guarded(struct bext_vm *vm, enum bext_engine engine, void *mem, size_t mem_len,
		       unsigned long repeat, unsigned long timeout, double *times, uint64_t *r0,
		       const char *path)
{
	volatile unsigned long i;
	double t0;
	int ret;

	fflush(stdout);
	guard_sig = 0;
	guard_set(true);
	if (sigsetjmp(guard_env, 1)) {
		alarm(0);
		guard_set(false);
		if (guard_sig == SIGALRM)
			fprintf(stderr,
				"bext run: %s: still running after %lu s (--timeout): stopped\n",
				path, timeout);
		else
			fprintf(stderr,
				"bext run: %s: the program crashed: %s at address 0x%" PRIxPTR
				" (%s run of an unverified program; see bext verify, or use the"
				" checked interpreter)\n",
				path, strsignal(guard_sig), (uintptr_t)guard_addr,
				engine == BEXT_ENGINE_JIT ? "JIT" : "unchecked");
		return 1;
	}
	alarm((unsigned int)timeout);
	for (i = 0; i < repeat; i++) {
		t0 = now_ns();
		ret = bext_vm__run(vm, engine, mem, mem_len, r0);
		times[i] = now_ns() - t0;
		if (ret) {
			alarm(0);
			guard_set(false);
			fprintf(stderr, "bext run: %s: run %lu failed: %s\n", path, i + 1,
				bext_vm__last_error(vm));
			return 1;
		}
	}
	alarm(0);
	guard_set(false);
	return 0;
}

static void print_time(const char *what, double ns)
{
	if (ns < 1e4)
		printf("%s: %.0f ns\n", what, ns);
	else if (ns < 1e7)
		printf("%s: %.1f us\n", what, ns / 1e3);
	else
		printf("%s: %.1f ms\n", what, ns / 1e6);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mem", required_argument, NULL, 'm'},
	    {"engine", required_argument, NULL, 'e'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"prog", required_argument, NULL, 'p'},
	    {"budget", required_argument, NULL, 'b'},
	    {"unchecked", no_argument, NULL, 'u'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mem_path = NULL, *prog_name = NULL, *path;
	enum bext_engine engine = BEXT_ENGINE_INTERP;
	unsigned long repeat = 1, timeout = 30;
	unsigned long long budget = 100000000ull;
	struct bext_vm_opts vo = {.sz = sizeof(vo)};
	bool unchecked = false;
	struct stat st;
	struct bext_insn *insns = NULL;
	size_t n_insns = 0, mem_len = 0;
	uint8_t *mem = NULL;
	struct bext_vm *vm = NULL;
	double *times = NULL, t0;
	char err[256] = "", *end;
	uint64_t r0 = 0;
	int c, ret, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:e:r:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mem_path = optarg;
			break;
		case 'e':
			if (!strcmp(optarg, "interp")) {
				engine = BEXT_ENGINE_INTERP;
			} else if (!strcmp(optarg, "jit")) {
				engine = BEXT_ENGINE_JIT;
			} else {
				fprintf(stderr, "bext run: unknown engine '%s' (interp or jit)\n",
					optarg);
				return 1;
			}
			break;
		case 'r':
			errno = 0;
			repeat = strtoul(optarg, &end, 10);
			if (errno || *end || !repeat || repeat > 100000000ul) {
				fprintf(stderr, "bext run: bad --repeat '%s'\n", optarg);
				return 1;
			}
			break;
		case 'p':
			prog_name = optarg;
			break;
		case 'b':
			errno = 0;
			budget = strtoull(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || !optarg[0]) {
				fprintf(stderr, "bext run: bad --budget '%s'\n", optarg);
				return 1;
			}
			break;
		case 'u':
			unchecked = true;
			break;
		case 't':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || !optarg[0] || timeout > 86400) {
				fprintf(stderr,
					"bext run: bad --timeout '%s' (seconds, at most 86400)\n",
					optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		if (optind < argc - 1)
			fprintf(stderr, "bext run: unexpected argument '%s'\n", argv[optind + 1]);
		else
			fprintf(stderr, "bext run: no program given\n");
		usage(stderr);
		return 1;
	}
	path = argv[optind];

	ret = load_program_file(path, prog_name, &insns, &n_insns, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bext run: %s\n", err[0] ? err : strerror(-ret));
		goto out;
	}
	if (mem_path) {
		if (stat(mem_path, &st) == 0 && !S_ISREG(st.st_mode)) {
			fprintf(stderr, "bext run: --mem %s: not a regular file\n", mem_path);
			goto out;
		}
		ret = read_file(mem_path, &mem, &mem_len);
		if (ret) {
			fprintf(stderr, "bext run: --mem %s: %s\n", mem_path, strerror(-ret));
			goto out;
		}
		if (!mem_len) {
			free(mem);
			mem = NULL;
		}
	}
	/* The JIT never checks; the interpreter does unless told not to. */
	vo.checked = engine == BEXT_ENGINE_INTERP && !unchecked;
	vo.insn_budget = vo.checked ? budget : 0;
	vm = bext_vm__new(&vo);
	if (!vm) {
		fprintf(stderr, "bext run: cannot create the vm: %s\n", strerror(errno));
		goto out;
	}
	t0 = now_ns();
	ret = bext_vm__load(vm, insns, n_insns, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bext run: %s: load failed: %s\n", path, err);
		goto out;
	}
	print_time("load", now_ns() - t0);
	if (engine == BEXT_ENGINE_JIT) {
		t0 = now_ns();
		if (!bext_vm__jit(vm, err, sizeof(err))) {
			fprintf(stderr, "bext run: %s: JIT cannot compile: %s\n", path,
				err[0] ? err : strerror(errno));
			goto out;
		}
		print_time("jit compile", now_ns() - t0);
		printf("jit size: %zu bytes\n", bext_vm__jit_size(vm));
	}
	times = malloc(repeat * sizeof(*times));
	if (!times) {
		fprintf(stderr, "bext run: out of memory\n");
		goto out;
	}
	if (run_guarded(vm, engine, mem, mem_len, repeat, timeout, times, &r0, path))
		goto out;
	qsort(times, repeat, sizeof(*times), cmp_double);
	printf("r0 = 0x%" PRIx64 " (%" PRId64 ")\n", r0, (int64_t)r0);
	printf("run: %.0f ns median over %lu run%s (%s, same memory buffer every run)\n",
	       times[repeat / 2], repeat, repeat == 1 ? "" : "s",
	       engine == BEXT_ENGINE_JIT ? "jit"
	       : vo.checked		 ? "interp, checked"
					 : "interp");
	status = 0;
out:
	free(times);
	bext_vm__free(vm);
	free(mem);
	free(insns);
	return status;
}

// SPDX-License-Identifier: MIT
/*
 * e2e target: calls add(i, 2 * i) and mul(i, 3) for i = 0..N-1 and prints
 * the sums it computed itself, so a probe that corrupts state shows up.
 *
 *   e2e_loop N [--go FILE] [--until FILE] [--fork]
 *   --go FILE     wait (up to 20 s) until FILE exists before the loop
 *   --until FILE  after the N calls, keep calling add(1, 2) until FILE exists
 *   --fork        fork first: parent and child each run the loop
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* built at -O2: the asm keeps every call (gcc would hoist a pure call out of the loop) */
__attribute__((noinline, noclone, used)) long add(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

/* -O2: mov %rdi,%rax; imul %rsi,%rax; ret (loop.bpf.c probes mul+3, the imul) */
__attribute__((noinline, noclone, used)) long mul(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a * b;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int wait_file(const char *f, int ms)
{
	while (access(f, F_OK) != 0) {
		if (ms-- <= 0)
			return -1;
		sleep_ms(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *go = NULL, *until = NULL;
	long n, i, sum_add = 0, sum_mul = 0, extra = 0;
	int do_fork = 0, status;
	pid_t child = -1;

	if (argc < 2)
		return 2;
	n = atol(argv[1]);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--go") && i + 1 < argc)
			go = argv[++i];
		else if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
		else if (!strcmp(argv[i], "--fork"))
			do_fork = 1;
	}
	if (go && wait_file(go, 20000)) {
		fprintf(stderr, "e2e_loop: %s never appeared\n", go);
		return 3;
	}
	if (do_fork) {
		fflush(stdout);
		child = fork();
		if (child < 0)
			return 4;
	}
	for (i = 0; i < n; i++) {
		sum_add += add(i, 2 * i);
		sum_mul += mul(i, 3);
	}
	if (until) {
		while (access(until, F_OK) != 0) {
			extra += add(1, 2);
			if ((extra & 1023) == 0)
				sleep_ms(1);
		}
	}
	printf("%s pid %d add %ld mul %ld extra %ld\n", child == 0 ? "child" : "main",
	       (int)getpid(), sum_add, sum_mul, extra);
	fflush(stdout);
	if (child > 0) {
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			return 5;
	}
	return 0;
}

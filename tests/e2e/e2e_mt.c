// SPDX-License-Identifier: MIT
/*
 * e2e target: 8 threads, each calling work(thread index, j) for j = 0, 1, ...
 *   e2e_mt N          N calls per thread
 *   e2e_mt 0 FILE     call until FILE exists (for attaching and detaching live)
 * Each thread checks its own sum of results against the closed form, so a
 * probe that corrupted registers or the stack shows up as "bad".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NR_THREADS 8

static long n;
static const char *stop;
static long iters[NR_THREADS];
static int bad;

__attribute__((noinline, noclone, used)) long work(long idx, long j)
{
	__asm__ volatile("" ::: "memory");
	return idx * 1000000 + j;
}

static void *thread_fn(void *arg)
{
	long idx = (long)arg, j, s = 0;

	for (j = 0; stop ? 1 : j < n; j++) {
		if (stop && (j & 4095) == 0 && access(stop, F_OK) == 0)
			break;
		s += work(idx, j);
	}
	iters[idx] = j;
	if (s != idx * 1000000 * j + j * (j - 1) / 2)
		__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NR_THREADS];
	long i, total = 0;

	n = argc > 1 ? atol(argv[1]) : 1000;
	stop = argc > 2 ? argv[2] : NULL;
	for (i = 0; i < NR_THREADS; i++)
		if (pthread_create(&th[i], NULL, thread_fn, (void *)i))
			return 1;
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += iters[i];
	}
	printf("%s calls %ld\n", bad ? "bad" : "ok", total);
	return bad ? 1 : 0;
}

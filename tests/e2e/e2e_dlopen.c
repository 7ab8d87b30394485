// SPDX-License-Identifier: MIT
/*
 * e2e target: loads libe2e_plugin.so after start and calls its plugin_fn(i)
 * for i = 0..N-1, printing the sum it computed itself.
 *
 *   e2e_dlopen N NAME               dlopen(NAME) (a bare name is found
 *                                   through this binary's RUNPATH, $ORIGIN)
 *   e2e_dlopen N NAME --dlmopen GO  dlmopen(LM_ID_BASE, NAME), then wait (up
 *                                   to 20 s) until the file GO exists
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long (*fn)(long);
	long n, i, sum = 0;
	void *h;

	if (argc < 3)
		return 2;
	n = atol(argv[1]);
	if (argc > 4 && !strcmp(argv[3], "--dlmopen")) {
		h = dlmopen(LM_ID_BASE, argv[2], RTLD_NOW);
		for (int ms = 0; h && access(argv[4], F_OK) != 0; ms++) {
			struct timespec ts = {0, 1000000};

			if (ms > 20000) {
				fprintf(stderr, "e2e_dlopen: %s never appeared\n", argv[4]);
				return 3;
			}
			nanosleep(&ts, NULL);
		}
	} else {
		h = dlopen(argv[2], RTLD_NOW);
	}
	if (!h) {
		fprintf(stderr, "e2e_dlopen: %s\n", dlerror());
		return 4;
	}
	fn = (long (*)(long))dlsym(h, "plugin_fn");
	if (!fn)
		return 5;
	for (i = 0; i < n; i++)
		sum += fn(i);
	printf("pid %d sum %ld\n", (int)getpid(), sum);
	return 0;
}

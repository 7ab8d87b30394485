// SPDX-License-Identifier: MIT
/* e2e target: N malloc/free pairs of sizes 123000 + i (a range nothing else asks for). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* through volatile pointers: at -O2 gcc may drop a malloc/free pair it can see */
static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100, i;
	unsigned long check = 0;

	for (i = 0; i < n; i++) {
		char *p = p_malloc(123000 + (size_t)i);

		if (!p)
			return 1;
		memset(p, (int)i, 16);
		check += (unsigned char)p[15];
		p_free(p);
	}
	printf("pid %d check %lu\n", (int)getpid(), check);
	return 0;
}

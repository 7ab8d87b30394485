// SPDX-License-Identifier: MIT
/* The target of tests/cli/tail_init.sh: calls tick(0), tick(1), tick(2), tick(2), tick(7). */
#include <stdio.h>

static volatile int calls;

/* the asm keeps every call at -O2; counting the calls makes it long enough to patch */
__attribute__((noinline, noclone, used)) int tick(int x)
{
	__asm__ volatile("" ::: "memory");
	calls++;
	return x + 1;
}

int main(void)
{
	static const int xs[] = {0, 1, 2, 2, 7};
	int i, sum = 0;

	for (i = 0; i < 5; i++)
		sum += tick(xs[i]);
	printf("tailinit_target sum %d\n", sum);
	return sum == 17 && calls == 5 ? 0 : 1;
}

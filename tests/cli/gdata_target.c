// SPDX-License-Identifier: MIT
/* The target of tests/cli/global_data.sh: calls tick(1), tick(2), tick(3). */
#include <stdio.h>

static volatile int calls;

/* the asm keeps every call at -O2; counting the calls makes it long enough to patch */
__attribute__((noinline, noclone, used)) int tick(int x)
{
	__asm__ volatile("" ::: "memory");
	calls++;
	return 2 * x;
}

int main(void)
{
	int i, sum = 0;

	for (i = 1; i <= 3; i++)
		sum += tick(i);
	printf("gdata_target sum %d\n", sum);
	return sum == 12 && calls == 3 ? 0 : 1;
}

// SPDX-License-Identifier: MIT
/*
 * The target of tests/cli/tail_init.sh: calls tick(0), tick(1), tick(2),
 * tick(2), tick(7). With `--wait FILE`: tick(1), then FILE.ready is
 * created, then once FILE exists (10 s at most) tick(1) again.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int calls;

/* the asm keeps every call at -O2; counting the calls makes it long enough to patch */
__attribute__((noinline, noclone, used)) int tick(int x)
{
	__asm__ volatile("" ::: "memory");
	calls++;
	return x + 1;
}

static int wait_mode(const char *file)
{
	char ready[4096];
	FILE *f;
	int i;

	tick(1);
	snprintf(ready, sizeof(ready), "%s.ready", file);
	f = fopen(ready, "w");
	if (!f)
		return 1;
	fclose(f);
	for (i = 0; i < 1000 && access(file, F_OK); i++)
		usleep(10000);
	tick(1);
	printf("tailinit_target waited %s\n", i < 1000 ? "ok" : "too long");
	return i < 1000 && calls == 2 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const int xs[] = {0, 1, 2, 2, 7};
	int i, sum = 0;

	if (argc == 3 && !strcmp(argv[1], "--wait"))
		return wait_mode(argv[2]);
	for (i = 0; i < 5; i++)
		sum += tick(xs[i]);
	printf("tailinit_target sum %d\n", sum);
	return sum == 17 && calls == 5 ? 0 : 1;
}

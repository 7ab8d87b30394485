// SPDX-License-Identifier: MIT
/*
 * The target of tests/cli/events.sh: calls emit(kind, x), probed by
 * events.bpf.c, in one of these modes:
 *   rb          emit(0, 1), emit(1, 2), emit(2, 9), emit(0, 258)
 *   wait FILE   emit(0, 7); creates FILE.ready; once FILE exists (10 s at
 *               most) emit(1, 16), emit(0, 8), emit(0, 9)
 *   pe          emit(3, 2), emit(3, 1), emit(4, 0xabcd), emit(3, 6)
 *   flood       emit(5, 1) ten times
 *   one         emit(3, 7)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int calls;

/* the asm keeps every call at -O2; counting the calls makes it long enough to patch */
__attribute__((noinline, noclone, used)) int emit(int kind, int x)
{
	__asm__ volatile("" ::: "memory");
	calls++;
	return kind + x;
}

static int wait_mode(const char *file)
{
	char ready[4096];
	FILE *f;
	int i;

	emit(0, 7);
	snprintf(ready, sizeof(ready), "%s.ready", file);
	f = fopen(ready, "w");
	if (!f)
		return 1;
	fclose(f);
	for (i = 0; i < 1000 && access(file, F_OK); i++)
		usleep(10000);
	emit(1, 16);
	emit(0, 8);
	emit(0, 9);
	printf("events_target waited %s\n", i < 1000 ? "ok" : "too long");
	return i < 1000 ? 0 : 1;
}

int main(int argc, char **argv)
{
	int i;

	if (argc == 3 && !strcmp(argv[1], "wait"))
		return wait_mode(argv[2]);
	if (argc != 2)
		return 2;
	if (!strcmp(argv[1], "rb")) {
		emit(0, 1);
		emit(1, 2);
		emit(2, 9);
		emit(0, 258);
	} else if (!strcmp(argv[1], "pe")) {
		emit(3, 2);
		emit(3, 1);
		emit(4, 0xabcd);
		emit(3, 6);
	} else if (!strcmp(argv[1], "flood")) {
		for (i = 0; i < 10; i++)
			emit(5, 1);
	} else if (!strcmp(argv[1], "one")) {
		emit(3, 7);
	} else {
		return 2;
	}
	printf("events_target %s %d calls\n", argv[1], calls);
	return 0;
}

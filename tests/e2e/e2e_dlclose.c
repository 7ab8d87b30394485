// SPDX-License-Identifier: MIT
/*
 * e2e target: a probed library unloaded with dlclose, something else mapped
 * where it was, then the library loaded again.
 *
 *   e2e_dlclose N LIB OTHER GO
 *
 * 1. dlopen(LIB), sum1 = plugin_fn(i) for i < N, dlclose(LIB) (checked
 *    unloaded: dlopen RTLD_NOLOAD fails).
 * 2. dlopen(OTHER). If its code covers plugin_fn's old address ("mode lib"),
 *    the bytes there must be OTHER's file bytes; otherwise ("mode mmap") an
 *    anonymous r-x page filled with a pattern is mapped at that address. The
 *    bytes are checked, "ready" is printed, and the target waits for the file
 *    GO (meanwhile the test detaches a link); then they are checked again,
 *    and other_fn(i) for i < N is summed (mode lib).
 * 3. dlopen(LIB) again, sum2 = plugin_fn(i) for i < N.
 * Prints "pid P mode M sum1 S1 other S2 sum2 S3 same_addr 0|1".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHECK_LEN 16

struct where {
	uintptr_t addr;
	const char *path;
	long off; /* file offset of addr, -1: not in an executable segment of path */
};

static int where_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct where *w = data;
	const char *b = strrchr(w->path, '/');

	(void)size;
	b = b ? b + 1 : w->path;
	if (!info->dlpi_name || !strstr(info->dlpi_name, b))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && w->addr >= lo &&
		    w->addr + CHECK_LEN <= lo + ph->p_filesz)
			w->off = (long)(ph->p_offset + (w->addr - lo));
	}
	return 1;
}

static long sum_of(long (*fn)(long), long n)
{
	long s = 0;

	for (long i = 0; i < n; i++)
		s += fn(i);
	return s;
}

static int same(const uint8_t *at, const uint8_t *want, const char *when)
{
	if (!memcmp(at, want, CHECK_LEN))
		return 1;
	fprintf(stderr, "e2e_dlclose: bytes at %p changed %s:", (const void *)at, when);
	for (int i = 0; i < CHECK_LEN; i++)
		fprintf(stderr, " %02x/%02x", at[i], want[i]);
	fprintf(stderr, "\n");
	return 0;
}

int main(int argc, char **argv)
{
	long (*fn)(long), (*ofn)(long) = NULL, n, sum1, sum2, osum = 0;
	uint8_t want[CHECK_LEN];
	const char *mode = "lib";
	struct where w = {0};
	uintptr_t old;
	void *h, *h2, *page = NULL;
	int fd;

	if (argc < 5)
		return 2;
	n = atol(argv[1]);
	h = dlopen(argv[2], RTLD_NOW);
	if (!h || !(fn = (long (*)(long))dlsym(h, "plugin_fn"))) {
		fprintf(stderr, "e2e_dlclose: %s\n", dlerror());
		return 4;
	}
	old = (uintptr_t)fn;
	sum1 = sum_of(fn, n);
	if (dlclose(h)) {
		fprintf(stderr, "e2e_dlclose: dlclose: %s\n", dlerror());
		return 5;
	}
	if (dlopen(argv[2], RTLD_NOW | RTLD_NOLOAD)) {
		fprintf(stderr, "e2e_dlclose: %s still loaded after dlclose\n", argv[2]);
		return 6;
	}

	h2 = dlopen(argv[3], RTLD_NOW);
	if (!h2 || !(ofn = (long (*)(long))dlsym(h2, "other_fn"))) {
		fprintf(stderr, "e2e_dlclose: %s\n", dlerror());
		return 4;
	}
	w.addr = old;
	w.path = argv[3];
	w.off = -1;
	dl_iterate_phdr(where_cb, &w);
	if (w.off >= 0) {
		fd = open(argv[3], O_RDONLY);
		if (fd < 0 || pread(fd, want, CHECK_LEN, w.off) != CHECK_LEN) {
			perror("e2e_dlclose: read the library file");
			return 7;
		}
		close(fd);
	} else {
		/* not there: map a page of our own where plugin_fn was */
		mode = "mmap";
		page = mmap((void *)(old & ~(uintptr_t)4095), 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (page == MAP_FAILED || page != (void *)(old & ~(uintptr_t)4095)) {
			fprintf(stderr, "e2e_dlclose: %p is neither in %s nor free\n", (void *)old,
				argv[3]);
			return 7;
		}
		for (int i = 0; i < 8192; i++)
			((uint8_t *)page)[i] = (uint8_t)(0xa5 ^ i);
		mprotect(page, 8192, PROT_READ | PROT_EXEC);
		memcpy(want, (const void *)old, CHECK_LEN);
	}
	if (!same((const uint8_t *)old, want, "before the detach"))
		return 8;
	printf("ready mode %s\n", mode);
	fflush(stdout);
	for (int ms = 0; access(argv[4], F_OK) != 0; ms++) {
		struct timespec ts = {0, 1000000};

		if (ms > 20000) {
			fprintf(stderr, "e2e_dlclose: %s never appeared\n", argv[4]);
			return 3;
		}
		nanosleep(&ts, NULL);
	}
	if (!same((const uint8_t *)old, want, "after the detach"))
		return 9;
	if (page) {
		munmap(page, 8192);
	} else {
		osum = sum_of(ofn, n);
	}
	dlclose(h2);

	h = dlopen(argv[2], RTLD_NOW);
	if (!h || !(fn = (long (*)(long))dlsym(h, "plugin_fn"))) {
		fprintf(stderr, "e2e_dlclose: %s\n", dlerror());
		return 4;
	}
	sum2 = sum_of(fn, n);
	printf("pid %d mode %s sum1 %ld other %ld sum2 %ld same_addr %d\n", (int)getpid(), mode,
	       sum1, osum, sum2, (uintptr_t)fn == old);
	return 0;
}

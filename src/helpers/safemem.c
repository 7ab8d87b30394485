/* SPDX-License-Identifier: MIT */
/*
 * safemem.c - copying host memory without ever faulting.
 *
 * process_vm_readv()/process_vm_writev() on our own pid: the kernel walks the
 * page tables and returns EFAULT (or a short count) for unmapped or
 * protected pages instead of delivering SIGSEGV. A short count tells exactly
 * where the fault begins, which the string copy uses. Where the calls are
 * unavailable (seccomp filters in some containers answer EPERM/ENOSYS), the
 * fallback is a per-thread pipe: write(2) from the source address also
 * fails with EFAULT rather than faulting.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers_internal.h"

static int vm_rw_broken; /* process_vm_* unusable here: use the pipe */
static __thread int pipe_fd[2] = {-1, -1};

/* Bytes of [src, src + n) readable through the pipe, copied to dst. */
static ssize_t pipe_read(void *dst, const void *src, size_t n)
{
	size_t done = 0;

	if (pipe_fd[0] < 0 && pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	while (done < n) {
		size_t chunk = n - done > 4096 ? 4096 : n - done;
		ssize_t w = write(pipe_fd[1], (const char *)src + done, chunk), r;

		if (w <= 0)
			break;
		r = read(pipe_fd[0], (char *)dst + done, (size_t)w);
		if (r != w)
			return -EIO;
		done += (size_t)w;
		if ((size_t)w < chunk)
			break;
	}
	return (ssize_t)done;
}

/* Bytes copied from the start of the range (short on a fault), or -errno. */
static ssize_t copy_in(void *dst, const void *src, size_t n)
{
	struct iovec l = {dst, n}, r = {(void *)src, n};
	ssize_t k;

	if (!n)
		return 0;
	if (!__atomic_load_n(&vm_rw_broken, __ATOMIC_RELAXED)) {
		k = process_vm_readv(bext_helpers_pid(), &l, 1, &r, 1, 0);
		if (k >= 0)
			return k;
		if (errno == EFAULT)
			return 0;
		if (errno != EPERM && errno != ENOSYS)
			return -errno;
		__atomic_store_n(&vm_rw_broken, 1, __ATOMIC_RELAXED);
	}
	return pipe_read(dst, src, n);
}

long bext_safe_read(void *dst, const void *src, size_t n)
{
	ssize_t k = copy_in(dst, src, n);

	if (k == (ssize_t)n)
		return 0;
	memset(dst, 0, n);
	return k < 0 && k != -EFAULT ? k : -EFAULT;
}

long bext_safe_write(void *dst, const void *src, size_t n)
{
	struct iovec l = {(void *)src, n}, r = {dst, n};
	ssize_t k;

	if (!n)
		return 0;
	k = process_vm_writev(bext_helpers_pid(), &l, 1, &r, 1, 0);
	if (k == (ssize_t)n)
		return 0;
	if (k < 0 && errno != EFAULT && errno != EPERM && errno != ENOSYS)
		return -errno;
	return -EFAULT;
}

long bext_safe_read_str(char *dst, const char *src, size_t n)
{
	size_t done = 0;

	if (!n)
		return 0;
	while (done < n) {
		/* never cross a page in one read: a short read then means "fault here" */
		uintptr_t a = (uintptr_t)src + done;
		size_t chunk = 4096 - (a & 4095), k;
		ssize_t got;
		char *z;

		if (chunk > n - done)
			chunk = n - done;
		got = copy_in(dst + done, (const void *)a, chunk);
		if (got <= 0)
			goto fault;
		k = (size_t)got;
		z = memchr(dst + done, 0, k);
		if (z)
			return (long)(z - dst) + 1;
		done += k;
		if (k < chunk)
			goto fault;
	}
	dst[n - 1] = 0;
	return (long)n;
fault:
	memset(dst, 0, n);
	return -EFAULT;
}

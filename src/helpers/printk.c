/* SPDX-License-Identifier: MIT */
/*
 * printk.c - bpf_trace_printk, bpf_trace_vprintk, bpf_snprintf: the format
 * checker/formatter and the trace sink.
 *
 * Formats accept what the kernel's helpers accept (and reject the rest with
 * -EINVAL): %% ; flags from "0 +-" and a width; %d %i %u %x %X with an
 * optional l or ll; %c; %s; %p, %px, %pK (printed as %px: no pointer
 * hashing), %pks / %pus (strings), %pi4 %pI4 %pi6 %pI6 (addresses read from
 * memory). Strings and addresses are read with the safe copy: a bad pointer
 * prints "(efault)" instead of faulting. At most 12 arguments (3 for
 * bpf_trace_printk).
 *
 * The sink: a callback, or a file opened O_APPEND (one write(2) per message,
 * so lines from concurrent processes do not interleave). Each file line is
 * "<monotonic s.us> <comm>-<tid> [<cpu>] <message>\n".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "helpers_internal.h"

#define MAX_ARGS 12
#define MAX_OUT 1024
#define MAX_STR 512

struct outbuf {
	char *p;
	size_t size, len; /* len counts everything, even what did not fit */
};

static void put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len;

		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct outbuf *o, const char *fmt, ...)
{
	char tmp[MAX_STR + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Pads a piece already formatted to the width/flags of its specifier. */
static void put_padded(struct outbuf *o, const char *s, size_t n, unsigned width, bool left)
{
	static const char spaces[] = "                                ";

	if (!left)
		for (size_t pad = width > n ? width - n : 0; pad; pad -= pad > 32 ? 32 : pad)
			put(o, spaces, pad > 32 ? 32 : pad);
	put(o, s, n);
	if (left)
		for (size_t pad = width > n ? width - n : 0; pad; pad -= pad > 32 ? 32 : pad)
			put(o, spaces, pad > 32 ? 32 : pad);
}

static void put_ip(struct outbuf *o, char kind, char ver, uint64_t ptr)
{
	uint8_t a[16];
	size_t n = ver == '4' ? 4 : 16;

	if (bext_safe_read(a, (const void *)(uintptr_t)ptr, n)) {
		put(o, "(efault)", 8);
		return;
	}
	if (ver == '4') {
		if (kind == 'i')
			putf(o, "%03u.%03u.%03u.%03u", a[0], a[1], a[2], a[3]);
		else
			putf(o, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return;
	}
	for (size_t i = 0; i < 16; i += 2) {
		if (kind == 'I' && i)
			put(o, ":", 1);
		putf(o, "%02x%02x", a[i], a[i + 1]);
	}
}

long bext_bprintf(char *out, size_t out_size, const char *fmt, uint32_t fmt_size,
		  const uint64_t *args, uint32_t nr_args)
{
	struct outbuf o = {out, out_size, 0};
	uint32_t arg = 0;
	char spec[16];

	if (!fmt || !fmt_size || nr_args > MAX_ARGS || !memchr(fmt, 0, fmt_size))
		return -EINVAL;
	for (const char *f = fmt; *f; f++) {
		const char *start = f;
		unsigned width = 0;
		bool left = false;
		int lng = 0;
		uint64_t v;

		if (*f != '%') {
			const char *e = strchr(f, '%');
			size_t n = e ? (size_t)(e - f) : strlen(f);

			put(&o, f, n);
			f += n - 1;
			continue;
		}
		f++;
		if (*f == '%') {
			put(&o, "%", 1);
			continue;
		}
		while (*f == '0' || *f == '+' || *f == '-' || *f == ' ') {
			left |= *f == '-';
			f++;
		}
		if (*f >= '1' && *f <= '9') {
			while (*f >= '0' && *f <= '9') {
				width = width * 10 + (unsigned)(*f - '0');
				if (width > 1000)
					return -EINVAL;
				f++;
			}
		}
		if (arg >= nr_args)
			return -EINVAL;
		v = args[arg++];
		if (*f == 'p') {
			char buf[MAX_STR];
			long n;

			if ((f[1] == 'k' || f[1] == 'u') && f[2] == 's') {
				n = bext_safe_read_str(buf, (const char *)(uintptr_t)v,
						       sizeof(buf));
				if (n < 0)
					put_padded(&o, "(efault)", 8, width, left);
				else
					put_padded(&o, buf, (size_t)n - 1, width, left);
				f += 2;
			} else if ((f[1] == 'i' || f[1] == 'I') && (f[2] == '4' || f[2] == '6')) {
				put_ip(&o, f[1], f[2], v);
				f += 2;
			} else {
				if (f[1] == 'x' || f[1] == 'K')
					f++;
				else if (f[1] && strchr("kusSBiI", f[1]))
					return -EINVAL;
				n = snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
				put_padded(&o, buf, (size_t)n, width, left);
			}
			continue;
		}
		if (*f == 's') {
			char buf[MAX_STR];
			long n = bext_safe_read_str(buf, (const char *)(uintptr_t)v, sizeof(buf));

			if (n < 0)
				put_padded(&o, "(efault)", 8, width, left);
			else
				put_padded(&o, buf, (size_t)n - 1, width, left);
			continue;
		}
		if (*f == 'c') {
			char c = (char)v;

			put_padded(&o, &c, 1, width, left);
			continue;
		}
		if (*f == 'l') {
			lng++;
			f++;
			if (*f == 'l') {
				lng++;
				f++;
			}
		}
		if (!*f || !strchr("diuxX", *f))
			return -EINVAL;
		/* rebuild the specifier for the C library with a fixed length modifier */
		if ((size_t)(f - start) + 4 > sizeof(spec))
			return -EINVAL;
		{
			size_t k = 0;

			for (const char *q = start; q < f; q++)
				if (*q != 'l')
					spec[k++] = *q;
			spec[k++] = 'l';
			spec[k++] = 'l';
			spec[k++] = *f;
			spec[k] = 0;
		}
		if (*f == 'd' || *f == 'i') {
			long long s = lng ? (long long)v : (long long)(int32_t)v;

			putf(&o, spec, s);
		} else {
			unsigned long long u = lng ? v : (uint32_t)v;

			putf(&o, spec, u);
		}
	}
	if (out_size)
		out[o.len < out_size ? o.len : out_size - 1] = 0;
	return (long)o.len + 1;
}

/* ---- the sink ------------------------------------------------------------------- */

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static bext_trace_fn sink_fn;
static void *sink_ctx;
static int sink_fd = -1;

int bext_helpers__set_trace_sink(const struct bext_helpers_opts *opts)
{
	char path[PATH_MAX];
	const char *p = NULL;
	int fd = -1, old;

	if (!opts || opts->sz < sizeof(size_t))
		return -EINVAL;
	if (!opts->trace_fn && !opts->log_path && !opts->store)
		return 0;
	if (!opts->trace_fn) {
		if (opts->log_path) {
			p = opts->log_path;
		} else {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
					     bext_store__path(opts->store),
					     BEXT_TRACE_LOG_NAME) >= sizeof(path))
				return -ENAMETOOLONG;
			p = path;
		}
		fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	pthread_mutex_lock(&sink_lock);
	old = sink_fd;
	__atomic_store_n(&sink_fd, fd, __ATOMIC_RELEASE);
	sink_fn = opts->trace_fn;
	sink_ctx = opts->trace_ctx;
	pthread_mutex_unlock(&sink_lock);
	/* a message being written to the old fd at this instant may be lost; never misdirected */
	if (old >= 0)
		close(old);
	return 0;
}

void bext_trace_emit(const char *msg, size_t len)
{
	char line[MAX_OUT + 96], comm[17] = "";
	struct timespec ts;
	int n, fd, cpu;

	pthread_mutex_lock(&sink_lock);
	if (sink_fn) {
		sink_fn(sink_ctx, msg, len);
		pthread_mutex_unlock(&sink_lock);
		return;
	}
	fd = sink_fd;
	pthread_mutex_unlock(&sink_lock);
	if (fd < 0)
		return;
	prctl(PR_GET_NAME, comm);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cpu = sched_getcpu();
	n = snprintf(line, sizeof(line), "%llu.%06ld %s-%d [%03d] ", (unsigned long long)ts.tv_sec,
		     ts.tv_nsec / 1000, comm, (int)bext_helpers_tid(), cpu);
	if (n < 0)
		return;
	if (len > sizeof(line) - (size_t)n - 1)
		len = sizeof(line) - (size_t)n - 1;
	memcpy(line + n, msg, len);
	n += (int)len;
	if (n == 0 || line[n - 1] != '\n')
		line[n++] = '\n';
	if (write(fd, line, (size_t)n) < 0)
		return;
}

/* ---- the helpers ------------------------------------------------------------------ */

static long trace_common(const char *fmt, uint32_t fmt_size, const uint64_t *args, uint32_t nr)
{
	char out[MAX_OUT];
	long n = bext_bprintf(out, sizeof(out), fmt, fmt_size, args, nr);

	if (n < 0)
		return n;
	n = n - 1 < (long)sizeof(out) - 1 ? n - 1 : (long)sizeof(out) - 1;
	bext_trace_emit(out, (size_t)n);
	return n;
}

/* long bpf_trace_printk(const char *fmt, u32 fmt_size, ...) : up to 3 arguments */
uint64_t bext_h_trace_printk(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint64_t args[3] = {r3, r4, r5};

	return (uint64_t)trace_common((const char *)(uintptr_t)r1, (uint32_t)r2, args, 3);
}

static int data_args(uint64_t data, uint64_t data_len, uint64_t *args, uint32_t *nr)
{
	if (data_len % 8 || data_len > MAX_ARGS * 8 || (data_len && !data))
		return -EINVAL;
	*nr = (uint32_t)(data_len / 8);
	memcpy(args, (const void *)(uintptr_t)data, data_len);
	return 0;
}

/* long bpf_trace_vprintk(const char *fmt, u32 fmt_size, const void *data, u32 data_len) */
uint64_t bext_h_trace_vprintk(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint64_t args[MAX_ARGS];
	uint32_t nr;
	int err = data_args(r3, (uint32_t)r4, args, &nr);

	(void)r5;
	if (err)
		return (uint64_t)(int64_t)err;
	return (uint64_t)trace_common((const char *)(uintptr_t)r1, (uint32_t)r2, args, nr);
}

/* long bpf_snprintf(char *str, u32 str_size, const char *fmt, u64 *data, u32 data_len) */
uint64_t bext_h_snprintf(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint64_t args[MAX_ARGS];
	uint32_t nr;
	int err = data_args(r4, (uint32_t)r5, args, &nr);
	const char *fmt = (const char *)(uintptr_t)r3;

	if (err)
		return (uint64_t)(int64_t)err;
	if (!r1 && r2)
		return (uint64_t)(int64_t)-EINVAL;
	/* the kernel's fmt is a read-only map string: bounded by its NUL */
	return (uint64_t)bext_bprintf((char *)(uintptr_t)r1, (uint32_t)r2, fmt,
				      fmt ? (uint32_t)strnlen(fmt, 4096) + 1 : 0, args, nr);
}

/* SPDX-License-Identifier: MIT */
/*
 * loader_shim.c - stands in for the kernel behind a fake map fd, the way
 * bext's loader library (libbext-loader.so, not written yet) will for
 * libbpf-based tools: this file is its seed. Linked into a test executable,
 * it interposes three libc entry points that libbpf.so calls through its PLT
 * (the executable comes first in the symbol lookup order, even before the
 * sanitizer runtime):
 *
 *   syscall()        BPF_OBJ_GET_INFO_BY_FD on a fake fd is answered from the
 *                    bext map; everything else goes to the real syscall().
 *   mmap()/mmap64()  on a fake fd: the kernel's view of a ring buffer fd
 *                    (consumer page, producer page, data, data again) is
 *                    built from the map's segment file, with the double
 *                    mapping trick of src/maps/ringbuf.c (reserve an
 *                    anonymous PROT_NONE range, then MAP_FIXED the file
 *                    pieces into it). Other fds: the real mmap.
 *   munmap()         passed on; regions made above are forgotten.
 *
 * A fake fd is an eventfd, so epoll works on it unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "maps/maps_internal.h"
#include "loader_shim.h"

/* the build hides symbols by default; libbpf.so must see these */
#define SHIM_EXPORT __attribute__((visibility("default")))

#define SHIM_MAX_FDS 16
#define SHIM_MAX_REGIONS 64

struct shim_map {
	int fd;		   /* the fake fd (eventfd); -1: free slot */
	int seg_fd;	   /* the map's segment file */
	uint64_t area_off; /* file offset of the ring's consumer page */
	uint64_t rb_size;  /* ring buffer data bytes (0: not a ring buffer) */
	struct bpf_map_info info;
};

struct shim_region {
	void *base;
	size_t len;
};

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_map shim_maps[SHIM_MAX_FDS];
static int shim_nr_maps;
static struct shim_region shim_regions[SHIM_MAX_REGIONS];
static struct loader_shim_stats shim_stats;

typedef long (*syscall_fn)(long, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);

static syscall_fn real_syscall_fn;
static mmap_fn real_mmap_fn, real_mmap64_fn;
static munmap_fn real_munmap_fn;

static void *next_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		fprintf(stderr, "loader_shim: no next definition of %s\n", name);
		abort();
	}
	return p;
}

static long real_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	if (!real_syscall_fn)
		real_syscall_fn = (syscall_fn)next_sym("syscall");
	return real_syscall_fn(nr, a, b, c, d, e, f);
}

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!real_mmap_fn)
		real_mmap_fn = (mmap_fn)next_sym("mmap");
	return real_mmap_fn(addr, len, prot, flags, fd, off);
}

static int real_munmap(void *addr, size_t len)
{
	if (!real_munmap_fn)
		real_munmap_fn = (munmap_fn)next_sym("munmap");
	return real_munmap_fn(addr, len);
}

/* Caller holds shim_lock. */
static struct shim_map *find_fd(int fd)
{
	for (int i = 0; i < shim_nr_maps; i++)
		if (shim_maps[i].fd == fd && fd >= 0)
			return &shim_maps[i];
	return NULL;
}

int loader_shim_add_map(struct bext_store *s, struct bext_map *m)
{
	const struct bext_seg_hdr *sh = m->seg;
	struct shim_map *sm = NULL;
	char path[4096];
	int fd, seg_fd;

	snprintf(path, sizeof(path), "%s/obj-%u", bext_store__path(s), bext_map__id(m));
	seg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (seg_fd < 0)
		return -errno;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		close(seg_fd);
		return -errno;
	}
	pthread_mutex_lock(&shim_lock);
	for (int i = 0; i < shim_nr_maps; i++)
		if (shim_maps[i].fd < 0)
			sm = &shim_maps[i];
	if (!sm && shim_nr_maps < SHIM_MAX_FDS)
		sm = &shim_maps[shim_nr_maps++];
	if (!sm) {
		pthread_mutex_unlock(&shim_lock);
		close(fd);
		close(seg_fd);
		return -EMFILE;
	}
	memset(sm, 0, sizeof(*sm));
	sm->fd = fd;
	sm->seg_fd = seg_fd;
	sm->info.type = bext_map__type(m);
	sm->info.id = bext_map__id(m);
	sm->info.key_size = bext_map__key_size(m);
	sm->info.value_size = bext_map__value_size(m);
	sm->info.max_entries = bext_map__max_entries(m);
	sm->info.map_flags = bext_map__flags(m);
	snprintf(sm->info.name, sizeof(sm->info.name), "%s", bext_map__name(m));
	if (sm->info.type == BPF_MAP_TYPE_RINGBUF) {
		sm->area_off = sh->payload_off + m->hdr->r.area_off;
		sm->rb_size = m->hdr->r.size;
	}
	pthread_mutex_unlock(&shim_lock);
	return fd;
}

void loader_shim_remove(int fd)
{
	struct shim_map *sm;

	pthread_mutex_lock(&shim_lock);
	sm = find_fd(fd);
	if (sm) {
		close(sm->seg_fd);
		close(sm->fd);
		sm->fd = -1;
	}
	pthread_mutex_unlock(&shim_lock);
}

int loader_shim_signal(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

void loader_shim_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to reset */
	}
}

void loader_shim_stats(struct loader_shim_stats *st)
{
	pthread_mutex_lock(&shim_lock);
	*st = shim_stats;
	pthread_mutex_unlock(&shim_lock);
}

/* BPF_OBJ_GET_INFO_BY_FD as the kernel: copies min(info_len, sizeof) bytes, writes the length back.
 */
static long shim_get_info(union bpf_attr *attr)
{
	struct shim_map *sm;
	struct bpf_map_info info;
	uint32_t len;

	pthread_mutex_lock(&shim_lock);
	sm = find_fd((int)attr->info.bpf_fd);
	if (!sm) {
		pthread_mutex_unlock(&shim_lock);
		return 1; /* not ours */
	}
	info = sm->info;
	shim_stats.info_calls++;
	pthread_mutex_unlock(&shim_lock);
	len = attr->info.info_len < sizeof(info) ? attr->info.info_len : (uint32_t)sizeof(info);
	memcpy((void *)(uintptr_t)attr->info.info, &info, len);
	attr->info.info_len = len;
	return 0;
}

/*
 * syscall() is variadic; as glibc's own, this reads six argument words
 * whatever the call passed (the sixth from the caller's stack), hence no
 * address-sanitizer instrumentation here.
 */
SHIM_EXPORT __attribute__((no_sanitize_address)) long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == __NR_bpf && a[0] == BPF_OBJ_GET_INFO_BY_FD && a[1]) {
		long r = shim_get_info((union bpf_attr *)a[1]);

		if (r <= 0)
			return r;
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void remember_region(void *base, size_t len)
{
	for (int i = 0; i < SHIM_MAX_REGIONS; i++) {
		if (!shim_regions[i].base) {
			shim_regions[i] = (struct shim_region){base, len};
			shim_stats.live_regions++;
			return;
		}
	}
}

/*
 * The kernel's view of a ring buffer fd, in pages: [consumer][producer][data
 * 0..size][data 0..size again]. Only the consumer page alone may be mapped
 * writable (as the kernel: EPERM otherwise).
 */
static void *shim_mmap_ring(struct shim_map *sm, void *addr, size_t len, int prot, int flags,
			    off_t off, int *err)
{
	const uint64_t page = (uint64_t)getpagesize();
	const uint64_t first = 2 * page + sm->rb_size; /* view bytes that map 1:1 */
	const uint64_t view = first + sm->rb_size;
	uint64_t o = (uint64_t)off, end;
	uint8_t *base, *p;

	len = (len + page - 1) & ~(page - 1);
	end = o + len;
	if (!sm->rb_size || off < 0 || o % page || !len || end > view || !(flags & MAP_SHARED)) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if ((prot & PROT_WRITE) && (o != 0 || len != page)) {
		*err = EPERM;
		return MAP_FAILED;
	}
	if (end <= first || o >= first) { /* one piece of the file */
		uint64_t fo = sm->area_off + (o < first ? o : o - sm->rb_size);

		p = real_mmap(addr, len, prot, flags, sm->seg_fd, (off_t)fo);
		*err = errno;
		return p;
	}
	/* straddles the end of the first data copy: the double mapping */
	base = real_mmap(addr, len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
			 -1, 0);
	if (base == MAP_FAILED) {
		*err = errno;
		return MAP_FAILED;
	}
	p = real_mmap(base, first - o, prot, MAP_SHARED | MAP_FIXED, sm->seg_fd,
		      (off_t)(sm->area_off + o));
	if (p != MAP_FAILED)
		p = real_mmap(base + (first - o), end - first, prot, MAP_SHARED | MAP_FIXED,
			      sm->seg_fd, (off_t)(sm->area_off + 2 * page));
	if (p == MAP_FAILED) {
		*err = errno;
		real_munmap(base, len);
		return MAP_FAILED;
	}
	return base;
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, bool *ours)
{
	struct shim_map *sm;
	void *p;
	int err = 0;

	*ours = false;
	if (fd < 0 || (flags & MAP_ANONYMOUS))
		return NULL;
	pthread_mutex_lock(&shim_lock);
	sm = find_fd(fd);
	if (!sm) {
		pthread_mutex_unlock(&shim_lock);
		return NULL;
	}
	*ours = true;
	p = shim_mmap_ring(sm, addr, len, prot, flags, off, &err);
	if (p == MAP_FAILED) {
		shim_stats.mmap_errors++;
	} else {
		shim_stats.mmaps++;
		remember_region(p,
				(len + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1));
	}
	pthread_mutex_unlock(&shim_lock);
	if (p == MAP_FAILED)
		errno = err;
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	bool ours;
	void *p = shim_mmap(addr, len, prot, flags, fd, off, &ours);

	return ours ? p : real_mmap(addr, len, prot, flags, fd, off);
}

/* libbpf.so calls mmap64 (the same function as mmap on x86-64, another symbol). */
SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	bool ours;
	void *p = shim_mmap(addr, len, prot, flags, fd, off, &ours);

	if (ours)
		return p;
	if (!real_mmap64_fn)
		real_mmap64_fn = (mmap_fn)next_sym("mmap64");
	return real_mmap64_fn(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	uint8_t *a = addr;

	pthread_mutex_lock(&shim_lock);
	for (int i = 0; i < SHIM_MAX_REGIONS && shim_stats.live_regions; i++) {
		uint8_t *b = shim_regions[i].base;

		/* the whole region inside the unmapped range: forget it */
		if (b && b >= a && b + shim_regions[i].len <= a + len) {
			shim_regions[i].base = NULL;
			shim_stats.live_regions--;
		}
	}
	pthread_mutex_unlock(&shim_lock);
	return real_munmap(addr, len);
}

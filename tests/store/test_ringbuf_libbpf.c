/* SPDX-License-Identifier: MIT */
/*
 * libbpf's own ring buffer consumer (ring_buffer__new/consume/poll/free) on a
 * bext ring buffer. loader_shim.c stands in for the kernel behind a fake map
 * fd (BPF_OBJ_GET_INFO_BY_FD, mmap of the ring, an eventfd for epoll), as
 * libbext-loader.so will. Checked: every record arrives once, in order per
 * producer, with its bytes; discarded records are skipped; a BUSY record
 * stops libbpf until it is submitted; records that wrap the end of the ring
 * are contiguous (the double mapping); libbpf's consumer position frees space
 * for bext producers (four producer processes write ~100x the ring size);
 * ring_buffer__poll sleeps until the fd is signalled or the timeout passes;
 * ring_buffer__free unmaps what it mapped.
 */
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "loader_shim.h"
#include "store_test.h"

#define NPROD 4
#define PER_PROD 5000

struct rec {
	uint32_t producer;
	uint32_t seq;
	uint8_t data[];
};

struct seen {
	uint32_t next[NPROD + 1];
	uint64_t bytes;
	int bad, n;
};

static size_t rec_size(uint32_t producer, uint32_t seq)
{
	return sizeof(struct rec) + (seq * 7 + producer) % 193;
}

static void rec_fill(struct rec *r, uint32_t producer, uint32_t seq)
{
	size_t n = rec_size(producer, seq) - sizeof(*r);

	r->producer = producer;
	r->seq = seq;
	for (size_t i = 0; i < n; i++)
		r->data[i] = (uint8_t)(producer * 37 + seq + i);
}

static int on_rec(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	struct rec *r = data;
	size_t i;

	s->n++;
	s->bytes += size;
	if (size < sizeof(*r) || r->producer > NPROD || r->seq != s->next[r->producer] ||
	    size != rec_size(r->producer, r->seq)) {
		s->bad++;
		return 0;
	}
	for (i = 0; i < size - sizeof(*r); i++) {
		if (r->data[i] != (uint8_t)(r->producer * 37 + r->seq + i)) {
			s->bad++;
			return 0;
		}
	}
	s->next[r->producer]++;
	return 0;
}

static long output_rec(struct bext_map *m, uint32_t producer, uint32_t seq)
{
	uint8_t buf[sizeof(struct rec) + 200];

	rec_fill((struct rec *)buf, producer, seq);
	return bext_ringbuf__output(m, buf, rec_size(producer, seq), 0);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One process: protocol details, wrap-around, space reclaim, poll, free. */
static void test_single(struct bext_store *st)
{
	int id = test_mk_map(st, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	struct bext_map *m = bext_store__map_by_id(st, id);
	struct loader_shim_stats ss;
	struct seen seen = {0};
	struct ring_buffer *rb;
	struct timespec t0;
	uint32_t seq = 0, p = NPROD; /* producer id of this process */
	struct rec *busy;
	int fd, i, n;

	REQUIRE(m);
	fd = loader_shim_add_map(st, m);
	REQUIRE(fd >= 0);
	rb = ring_buffer__new(fd, on_rec, &seen, NULL);
	REQUIRE(rb);
	loader_shim_stats(&ss);
	CHECK_EQ(ss.info_calls, 1);
	CHECK_EQ(ss.mmaps, 2); /* consumer page; producer page + data twice */
	CHECK_EQ(ss.mmap_errors, 0);
	CHECK_EQ(ss.live_regions, 2);

	CHECK_EQ(ring_buffer__consume(rb), 0); /* empty */
	/* 3 records, a discarded one between them, then a BUSY one */
	CHECK_EQ(output_rec(m, p, seq++), 0);
	CHECK_EQ(output_rec(m, p, seq++), 0);
	busy = bext_ringbuf__reserve(m, 100, 0);
	REQUIRE(busy);
	bext_ringbuf__discard(m, busy, 0);
	CHECK_EQ(output_rec(m, p, seq++), 0);
	busy = bext_ringbuf__reserve(m, rec_size(p, seq), 0);
	REQUIRE(busy);
	rec_fill(busy, p, seq++);
	CHECK_EQ(output_rec(m, p, seq++), 0); /* behind the BUSY one */
	CHECK_EQ(ring_buffer__consume(rb), 3);
	CHECK(bext_ringbuf__query(m, BPF_RB_CONS_POS) < bext_ringbuf__query(m, BPF_RB_PROD_POS));
	bext_ringbuf__submit(m, busy, 0);
	CHECK_EQ(ring_buffer__consume(rb), 2);
	CHECK_EQ(seen.n, 5);
	CHECK_EQ(seen.next[p], 5);
	/* libbpf's consumer position is bext's */
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_CONS_POS), bext_ringbuf__query(m, BPF_RB_PROD_POS));
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 0);

	/* wrap many times: records straddling the end are read through the alias */
	for (i = 0; i < 1000; i++) {
		CHECK_EQ(output_rec(m, p, seq++), 0);
		CHECK_EQ(output_rec(m, p, seq++), 0);
		CHECK_EQ(ring_buffer__consume(rb), 2);
	}
	/* full, then emptied by libbpf: bext producers get the space back */
	for (i = 0; output_rec(m, p, seq) == 0; i++)
		seq++;
	CHECK(i >= 4096 / 216 && i <= 4096 / 16);
	CHECK_EQ(output_rec(m, p, seq), -EAGAIN);
	CHECK_EQ(ring_buffer__consume(rb), i);
	CHECK_EQ(output_rec(m, p, seq++), 0);
	CHECK_EQ(ring_buffer__consume(rb), 1);
	CHECK_EQ(seen.bad, 0);
	CHECK_EQ(seen.next[p], seq);
	CHECK_EQ(seen.n, (int)seq);

	/* poll: nothing signalled -> times out; signalled -> returns the record */
	loader_shim_drain(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(ring_buffer__poll(rb, 60), 0);
	CHECK(elapsed_ms(&t0) >= 50);
	CHECK_EQ(output_rec(m, p, seq++), 0);
	CHECK_EQ(loader_shim_signal(fd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = ring_buffer__poll(rb, 5000);
	CHECK_EQ(n, 1);
	CHECK(elapsed_ms(&t0) < 2000);
	CHECK_EQ(seen.next[p], seq);
	CHECK_EQ(seen.bad, 0);

	ring_buffer__free(rb);
	loader_shim_stats(&ss);
	CHECK_EQ(ss.live_regions, 0); /* libbpf unmapped both regions */
	loader_shim_remove(fd);

	/* the shim's answer is what libbpf checks: a non-ring-buffer map is refused */
	{
		int aid = test_mk_map(st, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
		struct bext_map *am = bext_store__map_by_id(st, aid);
		libbpf_print_fn_t old = libbpf_set_print(quiet);
		int afd;

		REQUIRE(am);
		afd = loader_shim_add_map(st, am);
		REQUIRE(afd >= 0);
		errno = 0;
		CHECK(ring_buffer__new(afd, on_rec, &seen, NULL) == NULL);
		CHECK_EQ(errno, EINVAL);
		libbpf_set_print(old);
		loader_shim_stats(&ss);
		CHECK_EQ(ss.info_calls, 2);
		CHECK_EQ(ss.mmaps, 2);
		loader_shim_remove(afd);
		bext_map__close(am);
		bext_store__obj_put(st, aid);
	}
	bext_map__close(m);
	bext_store__obj_put(st, id);
}

/* Producer process: bext's producer API, a wake-up through the fd after each submit. */
static void produce(int id, uint32_t p, int fd)
{
	struct bext_store *s = test_store_reopen();
	struct bext_map *pm = s ? bext_store__map_by_id(s, id) : NULL;
	uint32_t seq, attempts = 0;

	if (!pm)
		_exit(2);
	for (seq = 0; seq < PER_PROD;) {
		struct rec *r = bext_ringbuf__reserve(pm, rec_size(p, seq), 0);

		if (!r) {
			sched_yield(); /* full: waits for libbpf to move consumer_pos */
			continue;
		}
		rec_fill(r, p, seq);
		if (++attempts % 7 == 0) {
			bext_ringbuf__discard(pm, r, 0);
		} else {
			bext_ringbuf__submit(pm, r, 0);
			seq++;
		}
		if (loader_shim_signal(fd))
			_exit(3);
	}
	bext_map__close(pm);
	bext_store__close(s);
	_exit(0);
}

static void test_multi_producer(struct bext_store *st)
{
	const uint32_t size = 16384;
	int id = test_mk_map(st, BPF_MAP_TYPE_RINGBUF, 0, 0, size, 0);
	struct bext_map *m = bext_store__map_by_id(st, id);
	struct seen seen = {0};
	struct ring_buffer *rb;
	uint64_t expect_bytes = 0;
	int fd, i, status, idle = 0, polled = 0;
	pid_t pids[NPROD];

	REQUIRE(m);
	fd = loader_shim_add_map(st, m);
	REQUIRE(fd >= 0);
	rb = ring_buffer__new(fd, on_rec, &seen, NULL);
	REQUIRE(rb);
	for (i = 0; i < NPROD; i++) {
		pids[i] = fork();
		REQUIRE(pids[i] >= 0);
		if (pids[i] == 0)
			produce(id, (uint32_t)i, fd);
	}
	while (seen.n < NPROD * PER_PROD && idle < 50) {
		/* wait for a wake-up, reset it, then take what came before the reset */
		int n = ring_buffer__poll(rb, 100), n2;

		CHECK(n >= 0);
		loader_shim_drain(fd);
		n2 = ring_buffer__consume(rb);
		CHECK(n2 >= 0);
		polled += n > 0 ? n : 0;
		idle = n > 0 || n2 > 0 ? 0 : idle + 1;
	}
	for (i = 0; i < NPROD; i++) {
		CHECK_EQ(waitpid(pids[i], &status, 0), pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ(ring_buffer__consume(rb), 0);
	CHECK_EQ(seen.n, NPROD * PER_PROD);
	CHECK_EQ(seen.bad, 0);
	for (i = 0; i < NPROD; i++) {
		uint32_t s;

		CHECK_EQ(seen.next[i], PER_PROD);
		for (s = 0; s < PER_PROD; s++)
			expect_bytes += rec_size((uint32_t)i, s);
	}
	CHECK_EQ(seen.bytes, expect_bytes);
	CHECK(expect_bytes > 50ull * size); /* space was reclaimed many times over */
	CHECK(polled > 0);		    /* ring_buffer__poll delivered records too */
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 0);
	printf("multi-producer: %d records (%llu bytes) through a %u-byte ring, %d via poll\n",
	       seen.n, (unsigned long long)seen.bytes, size, polled);
	ring_buffer__free(rb);
	loader_shim_remove(fd);
	bext_map__close(m);
	bext_store__obj_put(st, id);
}

int main(void)
{
	struct bext_store *st = test_store_open("rblibbpf", 64);
	struct loader_shim_stats ss;

	test_single(st);
	test_multi_producer(st);
	loader_shim_stats(&ss);
	CHECK_EQ(ss.live_regions, 0);
	CHECK_EQ(ss.mmap_errors, 0);
	CHECK_EQ(bext_store__check(st), 0);
	bext_store__close(st);
	return test_result("test_ringbuf_libbpf");
}

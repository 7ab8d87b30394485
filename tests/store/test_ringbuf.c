/* SPDX-License-Identifier: MIT */
/*
 * Ring buffer: kernel layout and record protocol, wrap-around through the
 * double mapping, discard, query, cross-process wake-up, 4 producer
 * processes with one consumer (every record exactly once, in per-producer
 * order), and a producer killed between reserve and submit.
 */
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "store_test.h"

struct rec {
	uint32_t producer;
	uint32_t seq;
	uint8_t pad[40];
};

struct seen {
	uint32_t next[8];
	int bad, n;
};

static int on_rec(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	struct rec *r = data;

	s->n++;
	if (size != sizeof(*r) || r->producer >= 8 || r->seq != s->next[r->producer]) {
		s->bad++;
		return 0;
	}
	s->next[r->producer]++;
	return 0;
}

static int count_cb(void *ctx, void *data, size_t size)
{
	(void)data;
	*(size_t *)ctx += size;
	return 0;
}

static void test_single(struct bext_store *st)
{
	int id = test_mk_map(st, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	struct bext_map *m = bext_store__map_by_id(st, id);
	uint8_t *area;
	uint32_t *hdr;
	size_t total = 0;
	int i;

	REQUIRE(m);
	area = bext_ringbuf__area(m);
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_RING_SIZE), 4096);
	CHECK(bext_ringbuf__reserve(m, 8, 1) == NULL);	  /* flags must be 0 */
	CHECK(bext_ringbuf__reserve(m, 4096, 0) == NULL); /* larger than the ring */
	/* kernel layout: header at data + 0, BUSY while reserved, pos in the pages */
	{
		uint8_t *p = bext_ringbuf__reserve(m, 13, 0);

		REQUIRE(p);
		CHECK(p == area + 2 * 4096 + 8);
		hdr = (uint32_t *)(p - 8);
		CHECK_EQ(hdr[0], 13 | BPF_RINGBUF_BUSY_BIT);
		CHECK_EQ(*(uint64_t *)(area + 4096), 24); /* producer_pos: 8 + 13 -> 24 */
		CHECK_EQ(bext_ringbuf__consume(m, count_cb, &total), 0); /* busy: not yet */
		bext_ringbuf__submit(m, p, 0);
		CHECK_EQ(hdr[0], 13);
		CHECK_EQ(bext_ringbuf__consume(m, count_cb, &total), 1);
		CHECK_EQ(total, 13);
		CHECK_EQ(*(uint64_t *)area, 24); /* consumer_pos */
	}
	/* discard: skipped by the consumer, but space is reclaimed */
	bext_ringbuf__discard(m, bext_ringbuf__reserve(m, 100, 0), 0);
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 112);
	total = 0;
	CHECK_EQ(bext_ringbuf__consume(m, count_cb, &total), 0);
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 0);
	/* fill and wrap many times: records straddle the end, contiguous thanks to the alias */
	for (i = 0; i < 1000; i++) {
		uint8_t buf[600];

		memset(buf, i & 0xff, sizeof(buf));
		CHECK_EQ(bext_ringbuf__output(m, buf, 300 + i % 300, 0), 0);
		total = 0;
		CHECK_EQ(bext_ringbuf__consume(m, count_cb, &total), 1);
		CHECK_EQ(total, 300 + i % 300);
	}
	/* full: output says EAGAIN, bad flags EINVAL */
	{
		uint8_t buf[1000] = {0};

		for (i = 0; i < 4 && bext_ringbuf__output(m, buf, sizeof(buf), 0) == 0; i++)
			;
		CHECK_EQ(i, 4);
		CHECK_EQ(bext_ringbuf__output(m, buf, sizeof(buf), 0), -EAGAIN);
		CHECK_EQ(bext_ringbuf__output(m, buf, 8, 4), -EINVAL);
		CHECK_EQ(bext_ringbuf__poll(m, NULL, NULL, 0), 4);
	}
	CHECK_EQ(bext_ringbuf__poll(m, NULL, NULL, 20), 0); /* empty: times out */
	bext_map__close(m);
	bext_store__obj_put(st, id);
}

#define NPROD 4
#define PER_PROD 20000

static void test_multi_producer(struct bext_store *st)
{
	int id = test_mk_map(st, BPF_MAP_TYPE_RINGBUF, 0, 0, 16384, 0);
	struct bext_map *m = bext_store__map_by_id(st, id);
	struct seen seen = {0};
	int i, status, total = 0, idle = 0;

	REQUIRE(m);
	for (i = 0; i < NPROD; i++) {
		if (fork() == 0) {
			struct bext_store *s = test_store_reopen();
			struct bext_map *pm = s ? bext_store__map_by_id(s, id) : NULL;
			uint32_t seq, attempts = 0;

			if (!pm)
				_exit(2);
			for (seq = 0; seq < PER_PROD;) {
				struct rec *r = bext_ringbuf__reserve(pm, sizeof(*r), 0);

				if (!r) {
					sched_yield(); /* full: wait for the consumer */
					continue;
				}
				r->producer = i;
				r->seq = seq;
				if (++attempts % 7 == 0) {
					/* discarded records are never delivered */
					bext_ringbuf__discard(pm, r, 0);
					continue;
				}
				seq++;
				bext_ringbuf__submit(pm, r, 0);
			}
			_exit(0);
		}
	}
	/* one consumer, sleeping on the futex when empty */
	while (total < NPROD * PER_PROD && idle < 200) {
		int n = bext_ringbuf__poll(m, on_rec, &seen, 50);

		CHECK(n >= 0);
		total += n > 0 ? n : 0;
		idle = n > 0 ? 0 : idle + 1;
	}
	for (i = 0; i < NPROD; i++) {
		wait(&status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ(total, NPROD * PER_PROD);
	CHECK_EQ(seen.bad, 0);
	for (i = 0; i < NPROD; i++)
		CHECK_EQ(seen.next[i], PER_PROD);
	bext_map__close(m);
	bext_store__obj_put(st, id);
}

/* A producer that dies holding a reserved record does not stall the consumer. */
static void test_dead_producer(struct bext_store *st)
{
	int id = test_mk_map(st, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	struct bext_map *m = bext_store__map_by_id(st, id);
	struct seen seen = {0};
	pid_t pid;
	int pfd[2], n, got = 0, tries;
	char c;

	REQUIRE(m && pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		struct bext_store *s = test_store_reopen();
		struct bext_map *pm = s ? bext_store__map_by_id(s, id) : NULL;

		if (!pm || !bext_ringbuf__reserve(pm, 48, 0))
			_exit(2);
		if (write(pfd[1], "x", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	REQUIRE(read(pfd[0], &c, 1) == 1);
	{
		struct rec r = {.producer = 0, .seq = 0};

		CHECK_EQ(bext_ringbuf__output(m, &r, sizeof(r), 0), 0); /* queued behind it */
	}
	CHECK_EQ(bext_ringbuf__poll(m, on_rec, &seen, 10), 0); /* stalled on the busy one */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (tries = 0; tries < 50 && !got; tries++) {
		n = bext_ringbuf__poll(m, on_rec, &seen, 100);
		got += n > 0 ? n : 0;
	}
	CHECK_EQ(got, 1);
	CHECK_EQ(seen.bad, 0);
	CHECK_EQ(bext_ringbuf__query(m, BPF_RB_AVAIL_DATA), 0);
	close(pfd[0]);
	close(pfd[1]);
	bext_map__close(m);
	bext_store__obj_put(st, id);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal handler running while poll waits ends the wait with -EINTR, as libbpf's poll. */
static void test_poll_eintr(struct bext_store *st)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "rbintr",
					 .map_type = BPF_MAP_TYPE_RINGBUF,
					 .max_entries = 4096};
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct timespec t0, t1;
	struct bext_map *m;
	int id = bext_store__create_map(st, &o);
	double secs;

	REQUIRE(id > 0);
	m = bext_store__map_by_id(st, (uint32_t)id);
	REQUIRE(m);
	sigemptyset(&sa.sa_mask); /* no SA_RESTART */
	REQUIRE(sigaction(SIGALRM, &sa, &old) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(1);
	CHECK_EQ(bext_ringbuf__poll(m, NULL, NULL, 10000), -EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs > 0.5 && secs < 5);
	sigaction(SIGALRM, &old, NULL);
	bext_map__close(m);
	CHECK_EQ(bext_store__obj_put(st, (uint32_t)id), 0);
}

int main(void)
{
	struct bext_store *st = test_store_open("rb", 64);

	test_poll_eintr(st);

	test_single(st);
	test_multi_producer(st);
	test_dead_producer(st);
	CHECK_EQ(bext_store__check(st), 0);
	bext_store__close(st);
	return test_result("test_ringbuf");
}

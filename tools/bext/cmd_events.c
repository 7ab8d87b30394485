/* SPDX-License-Identifier: MIT */
/*
 * `bext events MAP [--follow] [--count N] [--timeout SEC] [--store DIR]`:
 * consumes the records of a BPF_MAP_TYPE_RINGBUF or PERF_EVENT_ARRAY map and
 * prints one line per record, as it is consumed:
 *
 *   size 8  01 00 00 00 03 00 00 00          (ring buffer)
 *   cpu 3  size 12  01 00 00 00 02 00 ...    (perf event array: the ring's index)
 *   cpu 3  lost 2                            (perf: samples the full ring dropped)
 *
 * then `N records` (and `, K lost`) on stderr. Consuming moves the map's
 * consumer position: one consumer at a time.
 *
 * Ring buffers are read with bext_ringbuf__poll(), perf event arrays with
 * bext_perf__poll() (which stops after exactly --count samples); both sleep
 * on the map's cross-process wake-up and return -EINTR when SIGINT/SIGTERM
 * arrive (the handlers are installed without SA_RESTART); --follow waits in
 * slices (SLICE_MS, or $BEXT_EVENTS_SLICE_MS: a test hook) so --timeout is
 * kept.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include <bext/map.h>
#include <bext/store.h>

#include "commands.h"

#define EVENTS_USAGE "bext events MAP [--follow] [--count N] [--timeout SEC] [--store DIR]"
#define SLICE_MS 200

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct events {
	uint64_t want; /* --count, 0 for no limit */
	uint64_t seen; /* records printed */
	uint64_t lost; /* perf: samples reported lost */
	bool stop;     /* --count reached */
};

static void hex_line(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "  ", b[i]);
	printf("\n");
}

static int rb_record(void *ctx, void *data, size_t size)
{
	struct events *ev = ctx;

	printf("size %zu", size);
	hex_line(data, size);
	ev->seen++;
	if (ev->want && ev->seen >= ev->want) {
		ev->stop = true;
		return -ECANCELED; /* this record is consumed, the next ones stay */
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void perf_sample(void *ctx, int idx, void *data, uint32_t size)
{
	struct events *ev = ctx;

	printf("cpu %d  size %u", idx, size);
	hex_line(data, size);
	ev->seen++;
	if (ev->want && ev->seen >= ev->want)
		ev->stop = true;
}

static void perf_lost(void *ctx, int idx, uint64_t n)
{
	struct events *ev = ctx;

	printf("cpu %d  lost %llu\n", idx, (unsigned long long)n);
	ev->lost += n;
}

/*
 * Reads every ring of a perf event array once, in index order, until
 * --count; when following and nothing is there, waits up to @wait_ms first.
 */
static int perf_read(struct bext_map *m, struct events *ev, int wait_ms)
{
	int r = bext_perf__poll(m, ev->want ? ev->want - ev->seen : 0, perf_sample, perf_lost, ev,
				wait_ms);

	return r < 0 ? r : 0;
}

static const char *article(const char *s)
{
	return strchr("aeiou", s[0]) ? "an" : "a";
}

/* Parses a positive decimal (a fraction allowed when @frac); false if it is not one. */
static bool parse_positive(const char *s, bool frac, double *out)
{
	char *end;
	double v;

	if (!(s[0] >= '0' && s[0] <= '9'))
		return false;
	errno = 0;
	if (frac) {
		v = strtod(s, &end);
	} else {
		unsigned long long u = strtoull(s, &end, 10);

		v = (double)u;
	}
	if (errno || *end || !isfinite(v) || v <= 0 || v > 1e15)
		return false;
	*out = v;
	return true;
}

int cmd_events(int argc, char **argv)
{
	const char *dir = NULL, *name = NULL, *count_arg = NULL, *timeout_arg = NULL, *env;
	bool follow = false;
	double count = 0, timeout = 0;
	struct events ev = {0};
	struct bext_store *s;
	struct bext_map *m;
	struct sigaction sa;
	uint64_t idle_since, slice_ms = SLICE_MS;
	unsigned long id;
	uint32_t type;
	char *end;
	int r = 1, e = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--store") || !strcmp(a, "--count") || !strcmp(a, "--timeout")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "bext events: %s needs a value\nusage: %s\n", a,
					EVENTS_USAGE);
				return 2;
			}
			if (a[2] == 's')
				dir = argv[++i];
			else if (a[2] == 'c')
				count_arg = argv[++i];
			else
				timeout_arg = argv[++i];
		} else if (!strncmp(a, "--store=", 8)) {
			dir = a + 8;
		} else if (!strncmp(a, "--count=", 8)) {
			count_arg = a + 8;
		} else if (!strncmp(a, "--timeout=", 10)) {
			timeout_arg = a + 10;
		} else if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
			follow = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: %s\n", EVENTS_USAGE);
			return 0;
		} else if (!name && a[0] != '-') {
			name = a;
		} else {
			fprintf(stderr, "usage: %s\n", EVENTS_USAGE);
			return 2;
		}
	}
	if (!name) {
		fprintf(stderr, "usage: %s\n", EVENTS_USAGE);
		return 2;
	}
	if (count_arg && !parse_positive(count_arg, false, &count)) {
		fprintf(stderr, "bext events: bad --count '%s' (a number of records, 1 or more)\n",
			count_arg);
		return 2;
	}
	if (timeout_arg && !parse_positive(timeout_arg, true, &timeout)) {
		fprintf(stderr, "bext events: bad --timeout '%s' (seconds, more than 0)\n",
			timeout_arg);
		return 2;
	}
	if (timeout_arg && !follow) {
		fprintf(stderr, "bext events: --timeout needs --follow\n");
		return 2;
	}
	env = getenv("BEXT_EVENTS_SLICE_MS");
	if (env && *env) {
		unsigned long v = strtoul(env, &end, 10);

		if (!*end && v > 0 && v <= 3600000)
			slice_ms = v;
	}
	ev.want = (uint64_t)count;

	s = cli_open_existing_store(dir, "events");
	if (!s)
		return 1;
	errno = 0;
	id = strtoul(name, &end, 10);
	m = *end == 0 && id > 0 && !errno && id <= UINT32_MAX
		? bext_store__map_by_id(s, (uint32_t)id)
		: bext_store__map_by_name(s, name);
	if (!m) {
		fprintf(stderr, "bext events: no map %s in %s\n", name, bext_store__path(s));
		bext_store__close(s);
		return 1;
	}
	type = bext_map__type(m);
	if (type != BPF_MAP_TYPE_RINGBUF && type != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		const char *t = libbpf_bpf_map_type_str((enum bpf_map_type)type);

		if (!t)
			t = "unknown type";
		fprintf(stderr,
			"bext events: map %s is %s %s map, not a ring buffer or perf event "
			"array\n",
			bext_map__name(m), article(t), t);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
	sigemptyset(&sa.sa_mask);
	if (follow) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	idle_since = now_ms();
	for (;;) {
		uint64_t before = ev.seen, wait_ms = slice_ms;

		if (follow && timeout_arg) {
			uint64_t limit = (uint64_t)(timeout * 1000 + 0.5),
				 idle = now_ms() - idle_since;

			if (idle >= limit)
				break;
			if (limit - idle < wait_ms)
				wait_ms = limit - idle;
		}
		if (type == BPF_MAP_TYPE_RINGBUF) {
			e = follow ? bext_ringbuf__poll(m, rb_record, &ev, (int)wait_ms)
				   : bext_ringbuf__consume(m, rb_record, &ev);
			if ((e == -ECANCELED && ev.stop) || e == -EINTR)
				e = 0; /* --count reached, or a signal: stop_signal says which */
		} else {
			e = perf_read(m, &ev, follow ? (int)wait_ms : 0);
			if (e == -EINTR)
				e = 0; /* a signal: stop_signal says which */
		}
		if (e < 0 || ev.stop || !follow || stop_signal)
			break;
		if (ev.seen != before)
			idle_since = now_ms();
	}
	if (e < 0) {
		fprintf(stderr, "bext events: map %s: %s\n", bext_map__name(m),
			e == -EBADMSG ? "a ring is corrupt" : strerror(-e));
		goto out;
	}
	fflush(stdout);
	fprintf(stderr, "%llu record%s", (unsigned long long)ev.seen, ev.seen == 1 ? "" : "s");
	if (ev.lost)
		fprintf(stderr, ", %llu lost", (unsigned long long)ev.lost);
	fprintf(stderr, "\n");
	r = 0;
	if (follow && timeout_arg && ev.want && ev.seen < ev.want && !stop_signal) {
		fprintf(stderr, "bext events: no record for %s s: %llu of %llu records\n",
			timeout_arg, (unsigned long long)ev.seen, (unsigned long long)ev.want);
		r = 1;
	}
out:
	bext_map__close(m);
	bext_store__close(s);
	return r;
}

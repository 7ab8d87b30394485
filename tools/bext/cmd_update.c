/* SPDX-License-Identifier: MIT */
/*
 * `bext update MAP KEY VALUE [any|noexist|exist]` and `bext delete MAP KEY`:
 * bpftool-like map writes through the maps' syscall operations.
 *
 * KEY and VALUE are one argument each: a decimal integer (negative allowed),
 * stored little-endian in the map's key or value size (1, 2, 4 or 8 bytes,
 * and it must fit), or `hex:` and exactly that many bytes as hex digits, in
 * memory order (`hex:01000000` is the u32 1). Per-CPU maps take one value
 * for every CPU.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include <bext/map.h>
#include <bext/store.h>

#include "commands.h"

#define UPDATE_USAGE "bext update MAP KEY VALUE [any|noexist|exist] [--store DIR]"
#define DELETE_USAGE "bext delete MAP KEY [--store DIR]"

/* Parses @s into @size bytes at @out; NULL, or what is wrong with it. */
static const char *parse_bytes(const char *s, uint8_t *out, size_t size)
{
	static char why[128];

	if (!strncmp(s, "hex:", 4)) {
		s += 4;
		if (strlen(s) != size * 2) {
			snprintf(why, sizeof(why), "needs %zu hex digits (%zu bytes)", size * 2,
				 size);
			return why;
		}
		for (size_t i = 0; i < size; i++) {
			char b[3] = {s[2 * i], s[2 * i + 1], 0}, *end;

			/* digits only: strtoul would also take a sign or white space */
			if (!isxdigit((unsigned char)b[0]) || !isxdigit((unsigned char)b[1]))
				return "is not hex";
			out[i] = (uint8_t)strtoul(b, &end, 16);
		}
		return NULL;
	}
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		snprintf(why, sizeof(why), "is %zu bytes: give it as hex:<%zu hex digits>", size,
			 size * 2);
		return why;
	}
	{
		char *end;
		bool neg = s[0] == '-';
		uint64_t v;
		unsigned bits = (unsigned)size * 8;

		errno = 0;
		if (neg) {
			int64_t x = strtoll(s, &end, 10);

			if (errno || *end || end == s ||
			    (bits < 64 && x < -((int64_t)1 << (bits - 1))))
				return "is not an integer that fits";
			v = (uint64_t)x;
		} else {
			v = strtoull(s, &end, 10);
			if (errno || *end || end == s || !(s[0] >= '0' && s[0] <= '9') ||
			    (bits < 64 && v >> bits))
				return "is not an integer that fits";
		}
		for (size_t i = 0; i < size; i++)
			out[i] = (uint8_t)(v >> (8 * i));
	}
	return NULL;
}

/* "key exists (EEXIST)" and the like, for the errors maps give. */
static void err_text(int err, char *buf, size_t len)
{
	static const struct {
		int err;
		const char *name, *what;
	} names[] = {
	    {EEXIST, "EEXIST", "key exists"},
	    {ENOENT, "ENOENT", "no such key"},
	    {E2BIG, "E2BIG", "index out of range or map full"},
	    {EPERM, "EPERM", "map is frozen or read-only"},
	    {EINVAL, "EINVAL", "invalid for this map"},
	    {EBADF, "EBADF", "no live object with that id"},
	    {ENOMEM, "ENOMEM", "out of memory"},
	    {ENOSPC, "ENOSPC", "no space"},
	    {EBUSY, "EBUSY", "busy"},
	    {EOPNOTSUPP, "EOPNOTSUPP", "not supported"},
	    {524, "ENOTSUPP", "not supported for this map type"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].err == err) {
			snprintf(buf, len, "%s (%s)", names[i].what, names[i].name);
			return;
		}
	}
	snprintf(buf, len, "%s (errno %d)", strerror(err), err);
}

static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* update (argc 3 or 4 positional) and delete (2 positional) share everything else. */
static int map_write(int argc, char **argv, bool update)
{
	const char *cmd = update ? "update" : "delete";
	const char *usage = update ? UPDATE_USAGE : DELETE_USAGE;
	const char *dir = NULL, *pos[4] = {0}, *why;
	size_t npos = 0, need = update ? 3 : 2, vs, svs;
	uint8_t *key = NULL, *val = NULL;
	struct bext_store *s;
	struct bext_map *m;
	uint64_t flags = BPF_ANY;
	unsigned long id;
	char *end, text[128];
	int r = 1, e;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8)) {
			dir = argv[i] + 8;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s\n", usage);
			return 0;
		} else if (npos < (update ? 4 : 2) &&
			   (argv[i][0] != '-' || (argv[i][1] >= '0' && argv[i][1] <= '9'))) {
			pos[npos++] = argv[i];
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return 2;
		}
	}
	if (npos < need) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	if (npos == 4) {
		if (!strcmp(pos[3], "any"))
			flags = BPF_ANY;
		else if (!strcmp(pos[3], "noexist"))
			flags = BPF_NOEXIST;
		else if (!strcmp(pos[3], "exist"))
			flags = BPF_EXIST;
		else {
			fprintf(stderr, "bext update: bad flag '%s' (any, noexist or exist)\n",
				pos[3]);
			return 2;
		}
	}
	s = cli_open_existing_store(dir, cmd);
	if (!s)
		return 1;
	errno = 0;
	id = strtoul(pos[0], &end, 10);
	/* an id is a u32: a bigger number must not wrap to another map's id */
	m = *end == 0 && id > 0 && !errno && id <= UINT32_MAX
		? bext_store__map_by_id(s, (uint32_t)id)
		: bext_store__map_by_name(s, pos[0]);
	if (!m) {
		fprintf(stderr, "bext %s: no map %s in %s\n", cmd, pos[0], bext_store__path(s));
		bext_store__close(s);
		return 1;
	}
	vs = bext_map__value_size(m);
	svs = bext_map__syscall_value_size(m);
	key = calloc(1, bext_map__key_size(m) + 1);
	val = calloc(1, svs + vs + 1);
	if (!key || !val) {
		fprintf(stderr, "bext %s: out of memory\n", cmd);
		goto out;
	}
	why = parse_bytes(pos[1], key, bext_map__key_size(m));
	if (why) {
		fprintf(stderr, "bext %s: map %s: key '%s' %s (key size %u)\n", cmd,
			bext_map__name(m), pos[1], why, bext_map__key_size(m));
		r = 2;
		goto out;
	}
	if (update) {
		why = parse_bytes(pos[2], val, vs);
		if (why) {
			fprintf(stderr, "bext update: map %s: value '%s' %s (value size %zu)\n",
				bext_map__name(m), pos[2], why, vs);
			r = 2;
			goto out;
		}
		if (is_percpu(bext_map__type(m))) {
			size_t stride = (vs + 7) & ~(size_t)7;

			for (size_t off = stride; off + vs <= svs; off += stride)
				memcpy(val + off, val, vs);
		}
		e = bext_map__update_elem(m, key, val, flags);
	} else {
		e = bext_map__delete_elem(m, key);
	}
	if (e) {
		err_text(-e, text, sizeof(text));
		fprintf(stderr, "bext %s: map %s: %s\n", cmd, bext_map__name(m), text);
		goto out;
	}
	r = 0;
out:
	free(key);
	free(val);
	bext_map__close(m);
	bext_store__close(s);
	return r;
}

int cmd_update(int argc, char **argv)
{
	return map_write(argc, argv, true);
}

int cmd_delete(int argc, char **argv)
{
	return map_write(argc, argv, false);
}

// SPDX-License-Identifier: MIT
/*
 * e2e helper: reads a map through the store API and prints it in decimal.
 *   e2e_map STORE NAME        every entry: "KEY VALUE" (keys, values <= 8 bytes)
 *   e2e_map STORE NAME KEY    just the value (exit 1 if there is none)
 * Values of global data maps (.bss/.data) print as their first 8 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/map.h>
#include <bext/store.h>

static uint64_t le(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = n > 8 ? 8 : n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

int main(int argc, char **argv)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	uint8_t key[64], prev[64], val[4096];
	struct bext_store *s;
	struct bext_map *m;
	uint32_t ks, vs;
	int r;

	if (argc < 3)
		return 2;
	so.path = argv[1];
	s = bext_store__open(&so);
	if (!s)
		return 2;
	m = bext_store__map_by_name(s, argv[2]);
	if (!m) {
		fprintf(stderr, "e2e_map: no map %s\n", argv[2]);
		return 2;
	}
	ks = bext_map__key_size(m);
	vs = bext_map__value_size(m);
	if (ks > sizeof(key) || bext_map__syscall_value_size(m) > sizeof(val))
		return 2;
	if (argc > 3) {
		uint64_t k = strtoull(argv[3], NULL, 0);

		memset(key, 0, sizeof(key));
		memcpy(key, &k, ks < 8 ? ks : 8);
		if (bext_map__lookup_elem(m, key, val))
			return 1;
		printf("%llu\n", (unsigned long long)le(val, vs));
		return 0;
	}
	for (r = bext_map__get_next_key(m, NULL, key); r == 0;
	     memcpy(prev, key, ks), r = bext_map__get_next_key(m, prev, key)) {
		if (bext_map__lookup_elem(m, key, val))
			continue;
		printf("%llu %llu\n", (unsigned long long)le(key, ks),
		       (unsigned long long)le(val, vs));
	}
	bext_map__close(m);
	bext_store__close(s);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * store_cli_helper DIR create|hold: builds a small store for the CLI tests
 * (test_store_cli.sh) with known contents:
 *   1 hash "counts" (4-byte keys 1..3 -> u64 key*100), 2 percpu_array "pcpu"
 *   (index 1 = 0x11 on every CPU), 3 lpm_trie "routes" (10.0.0.0/8 -> 7),
 *   4 prog "prog1" using maps 1 and 2, 5 link on it.
 * "create" exits (the store is then dead); "hold" keeps the store open,
 * writes DIR.ready and waits until stdin reaches EOF.
 * "btf" instead builds one array "pairs" with BTF (key int, value
 * struct pair { int a; int b; }), entries 0 -> {10, 20}, 1 -> {-1, 0}, after
 * checking that mismatched or broken BTF is refused with EINVAL.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <bext/map.h>
#include <bext/store.h>

static int mk(struct bext_store *s, const char *name, uint32_t type, uint32_t ks, uint32_t vs,
	      uint32_t max, uint32_t flags)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = name,
					 .map_type = type,
					 .key_size = ks,
					 .value_size = vs,
					 .max_entries = max,
					 .map_flags = flags};
	int id = bext_store__create_map(s, &o);

	if (id <= 0) {
		fprintf(stderr, "create %s: %d\n", name, id);
		exit(1);
	}
	return id;
}

static int btf_store(struct bext_store *s)
{
	struct bext_map_create_opts o = {.sz = sizeof(o),
					 .name = "pairs",
					 .map_type = BPF_MAP_TYPE_ARRAY,
					 .key_size = 4,
					 .value_size = 8,
					 .max_entries = 2};
	struct btf *btf = btf__new_empty();
	int32_t v[2];
	uint32_t sz, k;
	struct bext_map *m;
	int int_id, pair_id, id;

	if (!btf)
		return 1;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	pair_id = btf__add_struct(btf, "pair", 8);
	if (int_id <= 0 || pair_id <= 0 || btf__add_field(btf, "a", int_id, 0, 0) ||
	    btf__add_field(btf, "b", int_id, 32, 0))
		return 1;
	o.btf = btf__raw_data(btf, &sz);
	o.btf_size = sz;
	/* the kernel's checks: sizes must match, the blob must parse */
	o.btf_key_type_id = (uint32_t)int_id;
	o.btf_value_type_id = (uint32_t)int_id;
	if (bext_store__create_map(s, &o) != -EINVAL)
		return 3;
	o.btf_value_type_id = (uint32_t)pair_id;
	o.btf_size = 8;
	if (bext_store__create_map(s, &o) != -EINVAL)
		return 4;
	o.btf_size = sz;
	id = bext_store__create_map(s, &o);
	m = id > 0 ? bext_store__map_by_id(s, (uint32_t)id) : NULL;
	if (!m)
		return 5;
	k = 0, v[0] = 10, v[1] = 20;
	if (bext_map__update_elem(m, &k, v, BPF_ANY))
		return 6;
	k = 1, v[0] = -1, v[1] = 0;
	if (bext_map__update_elem(m, &k, v, BPF_ANY))
		return 7;
	bext_map__close(m);
	btf__free(btf);
	bext_store__close(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_store *s;
	struct bext_map *m;
	uint32_t k, ids[2], cpu;
	uint64_t v;
	uint8_t *pv;
	int h, pc, lpm, prog, link;
	char ready[512], c;

	if (argc != 3) {
		fprintf(stderr, "usage: store_cli_helper DIR create|hold\n");
		return 2;
	}
	so.path = argv[1];
	s = bext_store__open(&so);
	if (!s)
		return 1;
	if (!strcmp(argv[2], "btf"))
		return btf_store(s);
	h = mk(s, "counts", BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	pc = mk(s, "pcpu", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, 0);
	lpm = mk(s, "routes", BPF_MAP_TYPE_LPM_TRIE, 8, 4, 8, BPF_F_NO_PREALLOC);
	m = bext_store__map_by_id(s, (uint32_t)h);
	for (k = 1; k <= 3; k++) {
		v = k * 100;
		if (!m || bext_map__update_elem(m, &k, &v, BPF_ANY))
			return 1;
	}
	bext_map__close(m);
	m = bext_store__map_by_id(s, (uint32_t)pc);
	pv = calloc(bext_map__nr_cpus(m), 8);
	for (cpu = 0; cpu < bext_map__nr_cpus(m); cpu++)
		pv[cpu * 8] = 0x11;
	k = 1;
	if (bext_map__update_elem(m, &k, pv, BPF_ANY))
		return 1;
	free(pv);
	bext_map__close(m);
	m = bext_store__map_by_id(s, (uint32_t)lpm);
	{
		struct {
			uint32_t plen;
			uint8_t d[4];
		} key = {8, {10, 0, 0, 0}};
		uint32_t val = 7;

		if (bext_map__update_elem(m, &key, &val, BPF_ANY))
			return 1;
	}
	bext_map__close(m);
	{
		uint64_t insns[2] = {0x00000000000000b7ULL, 0x0000000000000095ULL};
		struct bext_prog_create_opts po = {.sz = sizeof(po),
						   .name = "prog1",
						   .prog_type = BPF_PROG_TYPE_KPROBE,
						   .insns = insns,
						   .insn_cnt = 2,
						   .license = "GPL",
						   .attach_hint = "uprobe/app:func",
						   .map_ids = ids,
						   .nr_maps = 2};
		struct bext_link_create_opts lo = {.sz = sizeof(lo),
						   .attach_type = 0,
						   .target = "uprobe:/usr/bin/app:func",
						   .pid = -1};

		ids[0] = (uint32_t)h;
		ids[1] = (uint32_t)pc;
		prog = bext_store__create_prog(s, &po);
		lo.prog_id = (uint32_t)prog;
		link = bext_store__create_link(s, &lo);
		if (prog <= 0 || link <= 0)
			return 1;
	}
	if (!strcmp(argv[2], "hold")) {
		FILE *f;

		snprintf(ready, sizeof(ready), "%s.ready", argv[1]);
		f = fopen(ready, "w");
		if (!f)
			return 1;
		fclose(f);
		while (read(0, &c, 1) > 0)
			;
	}
	bext_store__close(s);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Runs programs linked by bext_obj in bext's own interpreter (checked mode):
 * maps and global data are resolved through the vm's pseudo resolver onto
 * plain buffers, bpf_map_lookup_elem (helper 1) is an array lookup over
 * those buffers. Same expected values as test_obj_kernel. Exits 77 when the
 * vm cannot be created (still a stub).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/obj.h>
#include <bext/vm.h>

#define MAX_MAPS 8

struct fake_map {
	uint32_t value_size, max_entries;
	uint8_t *mem;
};

static struct fake_map maps[MAX_MAPS];
static size_t n_maps;

static int resolve(void *user, int src, int32_t imm, int32_t next_imm, uint64_t *value)
{
	(void)user;
	if (imm < 0 || (size_t)imm >= n_maps)
		return -ENOENT;
	if (src == BEXT_PSEUDO_MAP_IDX) {
		*value = (uint64_t)(uintptr_t)&maps[imm];
		return 0;
	}
	if (src == BEXT_PSEUDO_MAP_IDX_VALUE && next_imm >= 0 &&
	    (uint32_t)next_imm < maps[imm].value_size) {
		*value = (uint64_t)(uintptr_t)(maps[imm].mem + next_imm);
		return 0;
	}
	return -EINVAL;
}

static uint64_t map_lookup(uint64_t map, uint64_t key, uint64_t a3, uint64_t a4, uint64_t a5)
{
	struct fake_map *m = (struct fake_map *)(uintptr_t)map;
	uint32_t k = *(const uint32_t *)(uintptr_t)key;

	(void)a3, (void)a4, (void)a5;
	if (k >= m->max_entries)
		return 0;
	return (uint64_t)(uintptr_t)(m->mem + (size_t)k * m->value_size);
}

static int failures;

static void run(const struct bext_obj *obj, const char *name, uint64_t expect)
{
	const struct bext_obj_prog *p = bext_obj__find_prog(obj, name);
	struct bext_vm_opts opts = {.sz = sizeof(opts), .checked = true, .insn_budget = 100000};
	struct bext_vm *vm = bext_vm__new(&opts);
	const struct bext_insn *insns;
	char err[256] = "";
	uint8_t ctx[64] = {0};
	uint64_t ret = 0;
	size_t n;
	int e;

	if (!vm || !p) {
		fprintf(stderr, "FAIL %s: %s\n", name, strerror(errno));
		failures++;
		goto out;
	}
	insns = bext_obj_prog__insns(p, &n);
	bext_vm__set_pseudo_resolver(vm, resolve, NULL);
	bext_vm__register_helper(vm, 1, "bpf_map_lookup_elem", map_lookup);
	for (size_t i = 0; i < n_maps; i++)
		bext_vm__add_region(vm, maps[i].mem,
				    (size_t)maps[i].value_size * maps[i].max_entries, true);
	e = bext_vm__load(vm, insns, n, err, sizeof(err));
	if (!e)
		e = bext_vm__exec(vm, ctx, sizeof(ctx), &ret);
	if (e) {
		fprintf(stderr, "FAIL %s: %s %s %s\n", name, strerror(-e), err,
			bext_vm__last_error(vm));
		failures++;
	} else if (ret != expect) {
		fprintf(stderr, "FAIL %s returned %llu, expected %llu\n", name,
			(unsigned long long)ret, (unsigned long long)expect);
		failures++;
	} else {
		printf("ok %s = %llu\n", name, (unsigned long long)ret);
	}
out:
	bext_vm__free(vm);
}

static int setup_maps(const struct bext_obj *obj)
{
	for (size_t i = 0; i < n_maps; i++)
		free(maps[i].mem);
	n_maps = bext_obj__map_count(obj);
	if (n_maps > MAX_MAPS)
		return -E2BIG;
	for (size_t i = 0; i < n_maps; i++) {
		const struct bext_obj_map *m = bext_obj__map(obj, i);
		size_t sz;
		const void *init = bext_obj_map__initial_value(m, &sz);

		maps[i].value_size = bext_obj_map__value_size(m);
		maps[i].max_entries = bext_obj_map__max_entries(m);
		maps[i].mem = calloc(maps[i].max_entries, maps[i].value_size);
		if (!maps[i].mem)
			return -ENOMEM;
		if (init)
			memcpy(maps[i].mem, init, sz);
	}
	return 0;
}

int main(void)
{
	struct bext_vm *probe = bext_vm__new(NULL);
	char path[4096], err[256];
	struct bext_obj *obj;

	if (!probe) {
		printf("SKIP: the vm is not available (%s)\n", strerror(errno));
		return 77;
	}
	bext_vm__free(probe);

	snprintf(path, sizeof(path), "%s/multi.bpf.o", OBJ_DIR);
	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj || setup_maps(obj)) {
		fprintf(stderr, "FAIL: %s\n", err);
		return 1;
	}
	run(obj, "prog_a", 220);
	run(obj, "prog_b", 442); /* .bss zeroed becomes 1 */
	run(obj, "prog_c", 5);
	run(obj, "prog_c", 10);
	run(obj, "prog_a", 221);
	bext_obj__close(obj);

	snprintf(path, sizeof(path), "%s/textonly.bpf.o", OBJ_DIR);
	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj || setup_maps(obj)) {
		fprintf(stderr, "FAIL: %s\n", err);
		return 1;
	}
	run(obj, "entry", 17);
	bext_obj__close(obj);
	for (size_t i = 0; i < n_maps; i++)
		free(maps[i].mem);
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Inlined bpf_map_lookup_elem on real maps: array and per-CPU array maps in
 * a temporary store, every helper registered by bext_helpers__register_all()
 * (which installs the describer), programs built here with map lddw pseudo
 * forms. Each program stores the pointer every lookup returned into the ctx;
 * the JIT (inlined), the JIT without the describer (helper calls), the
 * blinded JIT and the interpreter must all give exactly the pointer
 * bext_map__helper_lookup() gives, for keys in range, at the boundary, past
 * it and negative as u32. Also: the per-CPU slow path on a thread whose rseq
 * area was unregistered (cpu_id < 0), and a map pointer kept in a
 * callee-saved register across a loop (not inlined, still correct).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bext/helpers.h>
#include <bext/map.h>
#include <bext/store.h>
#include <bext/vm.h>

static int failures;

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d [%s]: CHECK failed: %s\n", __FILE__, __LINE__, \
				what, #cond);                                                 \
			failures++;                                                           \
		}                                                                             \
	} while (0)

static const char *what = "";
static char dir[64];
static struct bext_store *store;
static struct bext_map *maps[2]; /* [0] array, [1] per-CPU array */
static struct bext_helpers_maps table = {.maps = maps, .nr = 2};

#define MAX_ENTRIES 5
static const uint32_t keys[] = {
    0, 1, MAX_ENTRIES - 1, MAX_ENTRIES, MAX_ENTRIES + 1, 0xffffffffu, 0x80000000u, 2};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct prog {
	struct bext_insn p[512];
	size_t n;
};

static void put(struct prog *pr, struct bext_insn in)
{
	if (pr->n < sizeof(pr->p) / sizeof(pr->p[0]))
		pr->p[pr->n++] = in;
}

static void put_map(struct prog *pr, int reg, int map_idx)
{
	put(pr, BEXT_LD_IMM64_LO(reg, BEXT_PSEUDO_MAP_IDX, map_idx));
	put(pr, BEXT_LD_IMM64_HI(0));
}

/* out[i] = bpf_map_lookup_elem(map, &keys[i]), each call right after its lddw. */
static void build_straight(struct prog *pr, int map_idx)
{
	pr->n = 0;
	put(pr, BEXT_MOV64_REG(6, 1));
	for (size_t i = 0; i < NKEYS; i++) {
		put(pr, BEXT_ST_MEM(BEXT_SZ_W, 10, -4, (int32_t)keys[i]));
		put_map(pr, 1, map_idx);
		put(pr, BEXT_MOV64_REG(2, 10));
		put(pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
		put(pr, BEXT_CALL_HELPER_INSN(BPF_FUNC_map_lookup_elem));
		put(pr, BEXT_STX_MEM(BEXT_SZ_DW, 6, 0, (int16_t)(8 * i)));
	}
	put(pr, BEXT_MOV64_IMM(0, 0));
	put(pr, BEXT_EXIT_INSN());
}

/* The same lookups with the map in r7 loaded once, keys from a table in the ctx. */
static void build_loop(struct prog *pr, int map_idx)
{
	pr->n = 0;
	put(pr, BEXT_MOV64_REG(6, 1));
	put_map(pr, 7, map_idx);
	put(pr, BEXT_MOV64_IMM(8, 0));
	/* loop: key = ((u32 *)(ctx + 8 * NKEYS))[i] */
	put(pr, BEXT_MOV64_REG(9, 8));
	put(pr, BEXT_ALU64_IMM(BEXT_ALU_LSH, 9, 2));
	put(pr, BEXT_ALU64_REG(BEXT_ALU_ADD, 9, 6));
	put(pr, BEXT_LDX_MEM(BEXT_SZ_W, 9, 9, 8 * NKEYS));
	put(pr, BEXT_STX_MEM(BEXT_SZ_W, 10, 9, -4));
	put(pr, BEXT_MOV64_REG(1, 7));
	put(pr, BEXT_MOV64_REG(2, 10));
	put(pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 2, -4));
	put(pr, BEXT_CALL_HELPER_INSN(BPF_FUNC_map_lookup_elem));
	put(pr, BEXT_MOV64_REG(9, 8));
	put(pr, BEXT_ALU64_IMM(BEXT_ALU_LSH, 9, 3));
	put(pr, BEXT_ALU64_REG(BEXT_ALU_ADD, 9, 6));
	put(pr, BEXT_STX_MEM(BEXT_SZ_DW, 9, 0, 0));
	put(pr, BEXT_ALU64_IMM(BEXT_ALU_ADD, 8, 1));
	put(pr, BEXT_JMP_IMM(BEXT_JMP_JLT, 8, NKEYS, -15));
	put(pr, BEXT_MOV64_IMM(0, 0));
	put(pr, BEXT_EXIT_INSN());
}

enum variant { INLINED, HELPER_CALLS, BLINDED };

static struct bext_vm *load(const struct prog *pr, enum variant v)
{
	struct bext_vm_opts o = {.sz = sizeof(o), .blinding = v == BLINDED};
	struct bext_vm *vm = bext_vm__new(&o);
	char err[256] = "";

	if (!vm)
		return NULL;
	if (bext_helpers__register_all(vm, NULL) ||
	    bext_vm__set_pseudo_resolver(vm, bext_helpers__pseudo_resolver, &table) ||
	    (v == HELPER_CALLS && bext_vm__set_inline_lookup(vm, NULL, NULL)) ||
	    bext_vm__load(vm, pr->p, pr->n, err, sizeof(err)) ||
	    !bext_vm__jit(vm, err, sizeof(err))) {
		fprintf(stderr, "load: %s\n", err);
		bext_vm__free(vm);
		return NULL;
	}
	return vm;
}

struct ctx {
	uint64_t out[NKEYS];
	uint32_t keys[NKEYS];
};

/* Runs vm on @engine; checks every stored pointer against the map's own lookup. */
static void check_run(struct bext_vm *vm, enum bext_engine engine, struct bext_map *m)
{
	struct ctx c;
	uint64_t r0 = 1;

	memset(c.out, 0xa5, sizeof(c.out));
	memcpy(c.keys, keys, sizeof(keys));
	CHECK(bext_vm__run(vm, engine, &c, sizeof(c), &r0) == 0);
	CHECK(r0 == 0);
	for (size_t i = 0; i < NKEYS; i++) {
		void *want = bext_map__helper_lookup(m, &keys[i]);

		if (c.out[i] != (uint64_t)(uintptr_t)want) {
			fprintf(stderr, "%s [%s]: key %u: got %#llx, the map says %p\n", what,
				engine == BEXT_ENGINE_JIT ? "jit" : "interp", keys[i],
				(unsigned long long)c.out[i], want);
			failures++;
		}
		CHECK((keys[i] < MAX_ENTRIES) == (want != NULL));
	}
}

/* Straight-line lookups of map @idx: inlined NKEYS times, identical results. */
static void check_map(int idx)
{
	struct prog pr;
	struct bext_vm *vm[3];
	size_t size[3];

	build_straight(&pr, idx);
	for (int v = INLINED; v <= BLINDED; v++) {
		vm[v] = load(&pr, v);
		CHECK(vm[v] != NULL);
		if (!vm[v])
			return;
		size[v] = bext_vm__jit_size(vm[v]);
		check_run(vm[v], BEXT_ENGINE_JIT, maps[idx]);
		check_run(vm[v], BEXT_ENGINE_INTERP, maps[idx]);
	}
	/* really inlined: counted, and different code from the helper-call version */
	if (idx == 1 && !__rseq_size) {
		/* no rseq in this process: per-CPU lookups keep their helper calls */
		CHECK(bext_vm__jit_inlined(vm[INLINED]) == 0);
		size[HELPER_CALLS]++;
	} else {
		CHECK(bext_vm__jit_inlined(vm[INLINED]) == NKEYS);
	}
	CHECK(bext_vm__jit_inlined(vm[HELPER_CALLS]) == 0);
	CHECK(bext_vm__jit_inlined(vm[BLINDED]) == 0);
	CHECK(size[INLINED] != size[HELPER_CALLS]);
	for (int v = INLINED; v <= BLINDED; v++)
		bext_vm__free(vm[v]);

	/* the map pointer in a callee-saved register across a loop: helper calls */
	build_loop(&pr, idx);
	vm[0] = load(&pr, INLINED);
	CHECK(vm[0] != NULL);
	if (!vm[0])
		return;
	CHECK(bext_vm__jit_inlined(vm[0]) == 0);
	check_run(vm[0], BEXT_ENGINE_JIT, maps[idx]);
	check_run(vm[0], BEXT_ENGINE_INTERP, maps[idx]);
	bext_vm__free(vm[0]);
}

/*
 * On a thread without rseq (unregistered: cpu_id becomes negative) the
 * inlined per-CPU code must call the helper, which then asks sched_getcpu().
 */
static void *no_rseq_thread(void *arg)
{
	struct bext_vm *vm = arg;
	void *rs = (char *)__builtin_thread_pointer() + __rseq_offset;
	const volatile int32_t *cpu_id =
	    (const volatile int32_t *)((char *)rs + offsetof(struct rseq, cpu_id));

	if (syscall(SYS_rseq, rs, (uint32_t)__rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) &&
	    syscall(SYS_rseq, rs, (uint32_t)sizeof(struct rseq), RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return (void *)(intptr_t)-errno;
	if (*cpu_id >= 0)
		return (void *)(intptr_t)-EPROTO;
	check_run(vm, BEXT_ENGINE_JIT, maps[1]);
	return NULL;
}

static void check_no_rseq(void)
{
	struct prog pr;
	struct bext_vm *vm;
	pthread_t t;
	void *ret = NULL;

	build_straight(&pr, 1);
	vm = load(&pr, INLINED);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK(bext_vm__jit_inlined(vm) == NKEYS);
	CHECK(pthread_create(&t, NULL, no_rseq_thread, vm) == 0);
	pthread_join(t, &ret);
	if (ret)
		printf("per-CPU without rseq not checked: cannot unregister rseq (%s)\n",
		       strerror((int)-(intptr_t)ret));
	bext_vm__free(vm);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

int main(void)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	struct bext_map_create_opts mo = {
	    .sz = sizeof(mo), .key_size = 4, .max_entries = MAX_ENTRIES};
	cpu_set_t one;
	int id, c;

	strcpy(dir, "/tmp/bext-inline-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	so.path = dir;
	store = bext_store__open(&so);
	if (!store) {
		perror("store");
		return 1;
	}
	mo.name = "arr";
	mo.map_type = BPF_MAP_TYPE_ARRAY;
	mo.value_size = 12; /* stride 16 */
	id = bext_store__create_map(store, &mo);
	maps[0] = id > 0 ? bext_store__map_by_id(store, (uint32_t)id) : NULL;
	mo.name = "parr";
	mo.map_type = BPF_MAP_TYPE_PERCPU_ARRAY;
	mo.value_size = 20; /* stride 24, x nr_cpus per key */
	id = bext_store__create_map(store, &mo);
	maps[1] = id > 0 ? bext_store__map_by_id(store, (uint32_t)id) : NULL;
	if (!maps[0] || !maps[1]) {
		fprintf(stderr, "cannot create the maps\n");
		return 1;
	}
	/* pinned: the per-CPU slot the program picks is the one the check picks */
	c = sched_getcpu();
	CPU_ZERO(&one);
	CPU_SET(c < 0 ? 0 : c, &one);
	sched_setaffinity(0, sizeof(one), &one);

	what = "array";
	check_map(0);
	what = "percpu array";
	check_map(1);
	if (__rseq_size) {
		what = "percpu array, no rseq";
		check_no_rseq();
	} else {
		printf("glibc registered no rseq area: per-CPU lookups are not inlined here\n");
	}

	bext_map__close(maps[0]);
	bext_map__close(maps[1]);
	bext_store__close(store);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("test_inline_lookup: all checks passed\n");
	return 0;
}

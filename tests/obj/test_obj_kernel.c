/* SPDX-License-Identifier: MIT */
/*
 * Runs programs linked by bext_obj in the kernel: creates the object's maps
 * from bext_obj's map definitions, loads the linked instructions with
 * BPF_PSEUDO_MAP_IDX(_VALUE) resolved by the kernel through fd_array, and
 * checks each program's return value with BPF_PROG_TEST_RUN. This checks the
 * linker (call offsets, callback addresses, map and global-data references)
 * against an independent eBPF implementation. Exits 77 when the kernel
 * refuses BPF (not root, no CONFIG_BPF_SYSCALL, seccomp).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <bext/obj.h>

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, "\n");                               \
			failures++;                                          \
		}                                                            \
	} while (0)

static int create_maps(const struct bext_obj *obj, int *fds)
{
	for (size_t i = 0; i < bext_obj__map_count(obj); i++) {
		const struct bext_obj_map *m = bext_obj__map(obj, i);
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = bext_obj_map__flags(m));
		const void *init;
		size_t sz;

		fds[i] = bpf_map_create(bext_obj_map__type(m), bext_obj_map__name(m),
					bext_obj_map__key_size(m), bext_obj_map__value_size(m),
					bext_obj_map__max_entries(m), &o);
		if (fds[i] < 0)
			return -errno;
		init = bext_obj_map__initial_value(m, &sz);
		if (init) {
			uint32_t zero = 0;

			if (bpf_map_update_elem(fds[i], &zero, init, 0))
				return -errno;
		}
	}
	return 0;
}

static int run_prog(const struct bext_obj *obj, const char *name, int *fds, uint32_t *retval)
{
	const struct bext_obj_prog *p = bext_obj__find_prog(obj, name);
	static char log[65536];
	unsigned char pkt[64] = {0};
	size_t n;
	const struct bext_insn *insns;
	int fd, err;

	if (!p)
		return -ENOENT;
	insns = bext_obj_prog__insns(p, &n);
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .fd_array = fds, .log_buf = log,
		    .log_size = sizeof(log), .log_level = 1);
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, name, "GPL", (const struct bpf_insn *)insns,
			   n, &lo);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "kernel rejected %s: %s\n%s\n", name, strerror(-err), log);
		return err;
	}
	LIBBPF_OPTS(bpf_test_run_opts, ro, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);
	err = bpf_prog_test_run_opts(fd, &ro);
	if (err)
		err = -errno;
	*retval = ro.retval;
	close(fd);
	return err;
}

int main(void)
{
	static const struct {
		const char *obj, *prog;
		uint32_t expect;
	} cases[] = {
	    /*
	     * prog_d (bpf_loop callback) is not run here: the kernel wants BTF
	     * func_info for callbacks, which would mean loading the object's BTF
	     * (libbpf's job); test_obj checks its PSEUDO_FUNC link structurally.
	     */
	    {"multi.bpf.o", "prog_a", 220},  {"multi.bpf.o", "prog_b", 442},
	    {"multi.bpf.o", "prog_c", 5},    {"multi.bpf.o", "prog_c", 10},
	    {"multi.bpf.o", "prog_a", 221}, /* .bss now 1 */
	    {"textonly.bpf.o", "entry", 17},
	};
	struct bext_obj *objs[2] = {0};
	int fds[2][16];
	char path[4096], err[256];
	int probe;

	probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
	if (probe < 0) {
		printf("SKIP: the kernel refuses BPF here (%s)\n", strerror(errno));
		return 77;
	}
	close(probe);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", OBJ_DIR,
			 i ? "textonly.bpf.o" : "multi.bpf.o");
		objs[i] = bext_obj__open(path, err, sizeof(err));
		if (!objs[i] || create_maps(objs[i], fds[i])) {
			fprintf(stderr, "FAIL: %s: %s\n", path, objs[i] ? strerror(errno) : err);
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int k = !strcmp(cases[i].obj, "textonly.bpf.o");
		uint32_t ret = 0;
		int e = run_prog(objs[k], cases[i].prog, fds[k], &ret);

		CHECK(e == 0, "%s: load/run failed: %s", cases[i].prog, strerror(-e));
		CHECK(e || ret == cases[i].expect, "%s returned %u, expected %u", cases[i].prog,
		      ret, cases[i].expect);
		if (!e && ret == cases[i].expect)
			printf("ok %s/%s = %u\n", cases[i].obj, cases[i].prog, ret);
	}
	for (int i = 0; i < 2; i++) {
		for (size_t m = 0; m < bext_obj__map_count(objs[i]); m++)
			close(fds[i][m]);
		bext_obj__close(objs[i]);
	}
	return failures ? 1 : 0;
}

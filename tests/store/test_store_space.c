/* SPDX-License-Identifier: MIT */
/*
 * A store on a small tmpfs (mounted here, 4 MB): a map that does not fit is
 * refused at creation with ENOSPC, not at the first store into one of its
 * pages (where a program in the host would get SIGBUS); one that fits can
 * be written to its last byte, and a fresh store whose registry does not
 * fit is refused the same way. Needs root (mount); exits 77 without it.
 */
#include <linux/bpf.h>
#include <sys/mount.h>

#include "store_test.h"

static char mnt[] = "/tmp/bext-space-XXXXXX";

static void unmount(void)
{
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

int main(void)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	char path[128];
	struct bext_store *s;
	struct bext_map *m;
	uint32_t last;
	uint64_t v = 0x1122334455667788ull, out = 0;
	int id;

	if (!mkdtemp(mnt))
		return 1;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m")) {
		printf("SKIP: cannot mount a small tmpfs at %s: %s (needs root)\n", mnt,
		       strerror(errno));
		rmdir(mnt);
		return 77;
	}
	atexit(unmount);
	snprintf(path, sizeof(path), "%s/store", mnt);
	so.path = path;
	s = bext_store__open(&so);
	REQUIRE(s);

	/* 8 MB of values on a 4 MB tmpfs: refused now, nothing left behind */
	id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 1u << 20, 0);
	CHECK_EQ(id, -ENOSPC);

	/* 1 MB fits: every page is there, the last element included */
	id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 1u << 17, 0);
	REQUIRE(id > 0);
	m = bext_store__map_by_id(s, (uint32_t)id);
	REQUIRE(m);
	last = (1u << 17) - 1;
	CHECK_EQ(bext_map__update_elem(m, &last, &v, BPF_ANY), 0);
	CHECK_EQ(bext_map__lookup_elem(m, &last, &out), 0);
	CHECK_EQ(out == v, 1);
	bext_map__close(m);

	/* the refused map left no object and no file: the space is free again */
	id = test_mk_map(s, BPF_MAP_TYPE_ARRAY, 4, 8, 1u << 18, 0);
	CHECK(id > 0);
	CHECK_EQ(bext_store__check(s), 0);
	bext_store__close(s);

	/* a registry that cannot fit: the store is not created */
	snprintf(path, sizeof(path), "%s/store2", mnt);
	so.path = path;
	so.max_objects = 1u << 20;
	s = bext_store__open(&so);
	CHECK(s == NULL && errno == ENOSPC);
	if (s)
		bext_store__close(s);
	return test_result("test_store_space");
}

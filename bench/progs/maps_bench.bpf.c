// SPDX-License-Identifier: MIT
/*
 * bench_maps programs: each run does OPS map operations in a bounded loop, so
 * the per-run cost divided by OPS is the cost of one operation (plus the
 * loop's own few instructions, measured by "loop_only"). The same object runs
 * in bext (JIT) and in the kernel (BPF_PROG_TEST_RUN).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define OPS 256
#define NKEYS 10000

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} parr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NKEYS);
	__type(key, __u64);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NKEYS);
	__type(key, __u64);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NKEYS);
	__type(key, __u64);
	__type(value, __u64);
} phash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} rb SEC(".maps");

/* varies per run so consecutive runs touch different keys */
__u64 seed;

static __always_inline __u64 key_of(__u32 i, __u64 s)
{
	return (i * 7919u + s) % NKEYS;
}

SEC("xdp") int loop_only(void *ctx)
{
	__u64 s = seed++, sum = 0;

	for (__u32 i = 0; i < OPS; i++)
		sum += key_of(i, s);
	return sum & 0xff;
}

SEC("xdp") int array_lookup(void *ctx)
{
	__u64 sum = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u32 k = i & 1023;
		__u64 *v = bpf_map_lookup_elem(&arr, &k);

		if (v)
			sum += *v;
	}
	return sum & 0xff;
}

SEC("xdp") int percpu_lookup(void *ctx)
{
	__u64 sum = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u32 k = i & 1023;
		__u64 *v = bpf_map_lookup_elem(&parr, &k);

		if (v)
			sum += ++*v;
	}
	return sum & 0xff;
}

SEC("xdp") int hash_lookup(void *ctx)
{
	__u64 s = seed++, found = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s);

		found += bpf_map_lookup_elem(&hash, &k) != 0;
	}
	return found; /* OPS when every key is present */
}

SEC("xdp") int hash_update(void *ctx)
{
	__u64 s = seed++, ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s), v = i;

		ok += bpf_map_update_elem(&hash, &k, &v, BPF_ANY) == 0;
	}
	return ok;
}

SEC("xdp") int lru_lookup(void *ctx)
{
	__u64 s = seed++, found = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s);

		found += bpf_map_lookup_elem(&lru, &k) != 0;
	}
	return found;
}

SEC("xdp") int lru_update(void *ctx)
{
	__u64 s = seed++, ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s), v = i;

		ok += bpf_map_update_elem(&lru, &k, &v, BPF_ANY) == 0;
	}
	return ok;
}

SEC("xdp") int phash_lookup(void *ctx)
{
	__u64 s = seed++, found = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s), *v = bpf_map_lookup_elem(&phash, &k);

		if (v) {
			++*v;
			found++;
		}
	}
	return found;
}

SEC("xdp") int phash_update(void *ctx)
{
	__u64 s = seed++, ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s), v = i;

		ok += bpf_map_update_elem(&phash, &k, &v, BPF_ANY) == 0;
	}
	return ok;
}

SEC("xdp") int ringbuf(void *ctx)
{
	__u64 ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 *r = bpf_ringbuf_reserve(&rb, 16, 0);

		if (!r)
			continue;
		r[0] = i;
		r[1] = ok++;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	return ok;
}

/*
 * bext only (scaling run): the seed comes from the ctx, so two processes share
 * no word. It is read as a plain u32 field of xdp_md (rx_queue_index), so the
 * program verifies like every other program the project builds.
 */
SEC("xdp") int hash_update_ctx(struct xdp_md *ctx)
{
	__u64 s = ctx->rx_queue_index, ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = key_of(i, s), v = i;

		ok += bpf_map_update_elem(&hash, &k, &v, BPF_ANY) == 0;
	}
	return ok;
}

/*
 * bext only (scaling diagnostic): as hash_update_ctx, but each process keeps
 * to its own half of the keys (ingress_ifindex: 0 or 1), so the two processes
 * never write the same element; what they still share is layout (lines).
 */
SEC("xdp") int hash_update_half(struct xdp_md *ctx)
{
	__u64 s = ctx->rx_queue_index, half = ctx->ingress_ifindex & 1, ok = 0;

	for (__u32 i = 0; i < OPS; i++) {
		__u64 k = (i * 7919u + s) % (NKEYS / 2) + half * (NKEYS / 2), v = i;

		ok += bpf_map_update_elem(&hash, &k, &v, BPF_ANY) == 0;
	}
	return ok;
}

/* bext only (scaling control): the same loop and key arithmetic, no map, no shared memory */
SEC("xdp") int loop_ctx(struct xdp_md *ctx)
{
	__u64 s = ctx->rx_queue_index, sum = 0;

	for (__u32 i = 0; i < OPS; i++)
		sum += key_of(i, s);
	return sum & 0xff;
}

char LICENSE[] SEC("license") = "GPL";

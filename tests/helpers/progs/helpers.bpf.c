// SPDX-License-Identifier: MIT
/* Programs for tests/helpers: maps and helpers, run on bext's interpreter and JIT. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct args {
	__u64 key;
	__u64 val;
	__u64 ptr;
	__u64 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u64);
} q SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct locked {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} lk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} perf SEC(".maps");

struct record {
	__u64 key;
	__u32 pid;
	__u32 tid;
};

/* results the test reads back from .bss (one struct: fixed offsets) */
struct {
	char comm[16];
	char str[64];
	char rstr[32];
	__u64 stack[8];
} out;

SEC("tc") int hash_count(struct args *a)
{
	__u64 k = a->key, one = 1, *v;

	v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		return __sync_add_and_fetch(v, 1);
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST))
		return -1;
	return 1;
}

SEC("tc") int hash_delete(struct args *a)
{
	__u64 k = a->key;

	return bpf_map_delete_elem(&counts, &k);
}

SEC("tc") int array_add(struct args *a)
{
	__u32 i = a->key;
	__u64 *v = bpf_map_lookup_elem(&arr, &i);

	if (!v)
		return -1;
	*v += a->val;
	return *v;
}

SEC("tc") int rb_produce(struct args *a)
{
	struct record *r;
	__u64 pt = bpf_get_current_pid_tgid();

	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r)
		return -1;
	r->key = a->key;
	r->pid = pt >> 32;
	r->tid = (__u32)pt;
	bpf_ringbuf_submit(r, 0);
	/* a discarded record the consumer must never see */
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r)
		return -2;
	r->key = 0xdead;
	bpf_ringbuf_discard(r, 0);
	if (bpf_ringbuf_output(&rb, &a->val, sizeof(a->val), 0))
		return -3;
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);
}

SEC("tc") int perf_out(struct args *a)
{
	__u64 v[2] = {a->key, a->val};

	return bpf_perf_event_output(a, &perf, a->len, v, sizeof(v));
}

SEC("tc") int probe_read(struct args *a)
{
	__u64 v = 0;
	long err = bpf_probe_read_user(&v, sizeof(v), (void *)a->ptr);

	if (err)
		return err;
	return v;
}

SEC("tc") int probe_read_legacy(struct args *a)
{
	__u64 v = 0;
	long err = bpf_probe_read(&v, sizeof(v), (void *)a->ptr);

	return err ? err : (long)v;
}

SEC("tc") int probe_read_str(struct args *a)
{
	return bpf_probe_read_user_str(out.rstr, a->len & 31, (void *)a->ptr);
}

SEC("tc") int probe_read_kernel(struct args *a)
{
	__u64 v = 7;

	return bpf_probe_read_kernel(&v, sizeof(v), (void *)a->ptr) + (long)v;
}

SEC("tc") int probe_write(struct args *a)
{
	__u64 v = a->val;

	return bpf_probe_write_user((void *)a->ptr, &v, sizeof(v));
}

SEC("tc") int pid_tgid(void *ctx)
{
	return bpf_get_current_pid_tgid() >> 32;
}

SEC("tc") int tid(void *ctx)
{
	return (__u32)bpf_get_current_pid_tgid();
}

SEC("tc") int uid_gid(void *ctx)
{
	__u64 v = bpf_get_current_uid_gid();

	return (v >> 32) * 100000 + (__u32)v;
}

SEC("tc") int comm(void *ctx)
{
	return bpf_get_current_comm(out.comm, sizeof(out.comm));
}

SEC("tc") int fmt(struct args *a)
{
	static const char s[] = "str";

	return BPF_SNPRINTF(out.str, sizeof(out.str), "%d|%5u|%-4x|%llx|%s|%c|%%", (int)a->key,
			    (unsigned)a->val, 0xab, 0x1234567890ULL, s, 'Z');
}

SEC("tc") int fmt_small(struct args *a)
{
	/* a 4-byte buffer: truncated but terminated, the full length returned */
	return bpf_snprintf(out.str, 4, "%d", &a->key, 8);
}

SEC("tc") int fmt_bad(struct args *a)
{
	return bpf_snprintf(out.str, sizeof(out.str), "%q", &a->key, 8);
}

SEC("tc") int printk(struct args *a)
{
	return bpf_printk("hello %d from %s", (int)a->key, "bpf");
}

SEC("tc") int str_cmp(struct args *a)
{
	char buf[8] = {};

	bpf_probe_read_user_str(buf, sizeof(buf), (void *)a->ptr);
	return bpf_strncmp(buf, sizeof(buf), "hello");
}

SEC("tc") int tail_entry(struct args *a)
{
	bpf_tail_call(a, &jmp, (__u32)a->key);
	return 99;
}

SEC("tc") int tail_0(struct args *a)
{
	return 100;
}

SEC("tc") int tail_1(struct args *a)
{
	/* chain: tail_1 jumps on to slot 0 when val says so */
	if (a->val)
		bpf_tail_call(a, &jmp, 0);
	return 101;
}

SEC("tc") int tail_self(struct args *a)
{
	/* counts how many times it ran: tail calls stop after 33 */
	a->len++;
	bpf_tail_call(a, &jmp, 3);
	return a->len;
}

SEC("tc") int queue_ops(struct args *a)
{
	__u64 v = a->key, out = 0, peeked = 0;

	if (bpf_map_push_elem(&q, &v, 0))
		return -1;
	v = a->val;
	if (bpf_map_push_elem(&q, &v, 0))
		return -2;
	if (bpf_map_peek_elem(&q, &peeked))
		return -3;
	if (bpf_map_pop_elem(&q, &out))
		return -4;
	return out * 1000 + peeked;
}

SEC("tc") int percpu(struct args *a)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&pcpu, &k), *w;

	if (!v)
		return -1;
	*v += 5;
	w = bpf_map_lookup_percpu_elem(&pcpu, &k, bpf_get_smp_processor_id());
	if (w != v)
		return -2; /* same slot through both helpers */
	if (bpf_map_lookup_percpu_elem(&pcpu, &k, 100000))
		return -3;
	return *w;
}

SEC("tc") int locked_inc(struct args *a)
{
	__u32 k = 0;
	struct locked *l = bpf_map_lookup_elem(&lk, &k);

	if (!l)
		return -1;
	bpf_spin_lock(&l->lock);
	l->n++;
	bpf_spin_unlock(&l->lock);
	return l->n;
}

SEC("tc") int times(struct args *a)
{
	__u64 t1 = bpf_ktime_get_ns(), t2 = bpf_ktime_get_ns();
	__u64 b = bpf_ktime_get_boot_ns(), c = bpf_ktime_get_coarse_ns();

	a->key = t1;
	a->val = b;
	a->len = c;
	return t2 >= t1;
}

SEC("tc") int rnd(void *ctx)
{
	__u32 a = bpf_get_prandom_u32(), b = bpf_get_prandom_u32(), c = bpf_get_prandom_u32();

	return a != b || b != c;
}

SEC("uprobe") int cookie(void *ctx)
{
	return bpf_get_attach_cookie(ctx) * 10 + (bpf_get_func_ip(ctx) == 0x1234);
}

SEC("uprobe") int stack(void *ctx)
{
	return bpf_get_stack(ctx, out.stack, sizeof(out.stack), BPF_F_USER_STACK);
}

char LICENSE[] SEC("license") = "GPL";

/* ---- callbacks: bpf_loop (181), bpf_for_each_map_elem (164) ---- */

struct loop_state {
	__u64 sum;
	__u64 stop_at;
};

static long loop_cb(__u32 i, void *ctx)
{
	struct loop_state *st = ctx;

	st->sum += (__u64)i * i;
	return i + 1 == st->stop_at; /* 1 stops */
}

/* a->key iterations, stop after iteration a->val - 1; a->val gets the sum */
SEC("tc") int loop_sum(struct args *a)
{
	struct loop_state st = {.sum = 0, .stop_at = a->val};
	long n = bpf_loop(a->key, loop_cb, &st, a->len);

	a->val = st.sum;
	return n;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} fe_hash SEC(".maps");

struct fe_state {
	__u64 keys;
	__u64 vals;
	__u64 stop_key;
};

static long fe_cb(void *map, __u64 *key, __u64 *val, struct fe_state *st)
{
	st->keys += *key;
	st->vals += *val;
	*val += 1; /* the callback gets the element's own value */
	return *key == st->stop_key;
}

/* a->key: key that stops the walk (0: none); a->val, a->ptr get the key and value sums */
SEC("tc") int for_each_hash(struct args *a)
{
	struct fe_state st = {.stop_key = a->key};
	long n = bpf_for_each_map_elem(&fe_hash, fe_cb, &st, a->len);

	a->val = st.keys;
	a->ptr = st.vals;
	return n;
}

static long fe_arr_cb(void *map, __u32 *key, __u64 *val, struct fe_state *st)
{
	st->keys += *key;
	st->vals += *val;
	return 0;
}

SEC("tc") int for_each_array(struct args *a)
{
	struct fe_state st = {};
	long n = bpf_for_each_map_elem(&arr, fe_arr_cb, &st, 0);

	a->val = st.keys;
	a->ptr = st.vals;
	return n;
}

/* ---- bpf_get_stackid (27) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1); /* one bucket: every stack wants id 0 */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 2 * sizeof(__u64)); /* two frames kept */
} stacks SEC(".maps");

/* a->key: flags */
SEC("tc") int stackid(struct args *a)
{
	return bpf_get_stackid(a, &stacks, a->key);
}

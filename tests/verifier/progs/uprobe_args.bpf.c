// SPDX-License-Identifier: MIT
/* uprobe argument capture into a ring buffer, with a bounded string read. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 pid;
	__u32 len;
	__u64 a, b;
	char path[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

SEC("uprobe/./target:open_file")
int BPF_KPROBE(capture_args, const char *path, long flags, long mode)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	long n;

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->a = flags;
	e->b = mode;
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), path);
	e->len = n > 0 ? n : 0;
	if (e->len == 0) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

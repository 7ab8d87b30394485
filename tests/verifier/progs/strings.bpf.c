// SPDX-License-Identifier: MIT
/* Bounded string handling: read a user string, scan it with a bounded loop,
 * compare a prefix, and emit the result with a computed length. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAXLEN 128

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[MAXLEN]);
} scratch SEC(".maps");

SEC("uprobe/./target:log_line")
int BPF_KPROBE(scan_line, const char *line)
{
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&scratch, &zero);
	long n;
	int slashes = 0;

	if (!buf)
		return 0;
	n = bpf_probe_read_user_str(buf, MAXLEN, line);
	if (n <= 0)
		return 0;
	for (int i = 0; i < MAXLEN; i++) {
		if (i >= n)
			break;
		if (buf[i] == '/')
			slashes++;
	}
	if (bpf_strncmp(buf, 4, "GET ") == 0)
		slashes += 1000;
	bpf_ringbuf_output(&out, buf, n & (MAXLEN - 1), 0);
	return slashes;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: MIT
/*
 * A 16-bit ones'-complement checksum (the Internet checksum, RFC 1071) over
 * the input memory, written as ordinary eBPF C:
 *
 *   clang -O2 -g -target bpf -c checksum.bpf.c -o checksum.bpf.o
 *   bext run checksum.bpf.o --mem FILE --engine jit
 *
 * `bext run` calls the program with r1 = the memory and r2 = its size.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

SEC("ext")
__u64 checksum(const __u8 *data, __u64 len)
{
	__u64 sum = 0;
	__u64 i;

	for (i = 0; i + 1 < len && i < 65536; i += 2)
		sum += (__u64)data[i] << 8 | data[i + 1];
	if (i < len && i < 65536)
		sum += (__u64)data[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

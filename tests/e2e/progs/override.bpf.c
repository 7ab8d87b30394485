// SPDX-License-Identifier: MIT
/* e2e: bpf_override_return at the entry of e2e_loop's mul(): it returns 42 without running. */
#include "common.h"

SEC("uprobe/e2e_loop:mul")
int on_mul_override(struct pt_regs *ctx)
{
	bpf_override_return(ctx, 42);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

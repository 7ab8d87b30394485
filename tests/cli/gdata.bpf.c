// SPDX-License-Identifier: MIT
/*
 * Global data of every kind for `bext dump` (tests/cli/global_data.sh):
 * .data, .rodata, .bss and a named .data.extra section holding ints, a char
 * array and a struct. The probe on gdata_target's tick() changes .data, .bss
 * and .data.extra with values read from .rodata, so the dump after a run
 * shows exactly what the program did.
 */
#ifndef __TARGET_ARCH_x86
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct pt {
	int x;
	short y;
	char tag[3];
};

int counter = 42;				    /* .data */
char name[8] = "abc";				    /* .data */
struct pt where = {.x = -7, .y = 300, .tag = "hi"}; /* .data */
const volatile int step = 1000;			    /* .rodata */
const char greet[6] = "hello";			    /* .rodata */
long hits;					    /* .bss */
struct pt last;					    /* .bss */
int extra SEC(".data.extra") = 7;		    /* .data.extra */
static volatile unsigned char small = 200;	    /* .data, static */

SEC("uprobe/gdata_target:tick")
int on_tick(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	counter += step;
	last.x += (int)PT_REGS_PARM1(ctx);
	last.y = where.y + 1;
	last.tag[0] = greet[0];
	last.tag[1] = greet[4];
	name[3] = 'd';
	extra += 1;
	small -= 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

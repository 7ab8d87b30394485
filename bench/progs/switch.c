/* SPDX-License-Identifier: MIT */
/*
 * A switch over 12 cases driving a little state machine through 2048 input
 * bytes. Native code gets a jump table; eBPF has no indirect jump, so clang
 * emits a compare tree: this measures that difference too.
 */
#include "bench.h"

BENCH_INPUT;

BENCH_PROG(bench_switch)
{
	__u32 state = 0, acc = 0;

	for (__u32 i = 0; i < 2048; i++) {
		__u32 b = input[i];

		switch ((b ^ state) % 12) {
		case 0:
			acc += b;
			state = 3;
			break;
		case 1:
			acc ^= b << 3;
			state = 7;
			break;
		case 2:
			acc -= b;
			state = 1;
			break;
		case 3:
			acc = acc * 3 + 1;
			state = 9;
			break;
		case 4:
			acc ^= acc >> 5;
			state = 2;
			break;
		case 5:
			acc += i;
			state = 11;
			break;
		case 6:
			acc = (acc << 1) | (acc >> 31);
			state = 4;
			break;
		case 7:
			acc ^= 0x5bd1e995;
			state = 6;
			break;
		case 8:
			acc += b * 7;
			state = 0;
			break;
		case 9:
			acc -= i ^ b;
			state = 8;
			break;
		case 10:
			acc |= 1u << (b & 31);
			state = 5;
			break;
		default:
			acc &= ~(1u << (b & 31));
			state = 10;
			break;
		}
	}
	BENCH_RETURN(acc ^ state);
}

BENCH_LICENSE;

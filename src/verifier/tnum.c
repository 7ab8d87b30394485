/* SPDX-License-Identifier: MIT */
/*
 * Tristate number arithmetic. Each operation returns a tnum that allows at
 * least every result of the concrete operation over all values the inputs
 * allow (soundness); precision is a bonus. The carry-propagation formulas
 * for add/sub and the shift-and-add multiplication are the standard ones
 * from the tristate-number literature.
 */
#include <stdio.h>

#include "tnum.h"

struct tnum tnum_range(uint64_t min, uint64_t max)
{
	uint64_t chi = min ^ max, delta;
	unsigned bits;

	if (min > max)
		return TNUM_UNKNOWN;
	if (!chi)
		return tnum_const(min);
	bits = 64 - __builtin_clzll(chi);
	if (bits > 63)
		return TNUM_UNKNOWN;
	delta = (1ull << bits) - 1;
	return (struct tnum){.value = min & ~delta, .mask = delta};
}

struct tnum tnum_lshift(struct tnum a, unsigned shift)
{
	shift &= 63;
	return (struct tnum){.value = a.value << shift, .mask = a.mask << shift};
}

struct tnum tnum_rshift(struct tnum a, unsigned shift)
{
	shift &= 63;
	return (struct tnum){.value = a.value >> shift, .mask = a.mask >> shift};
}

struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned bits)
{
	struct tnum r;

	if (bits == 32) {
		shift &= 31;
		r.value = (uint32_t)((int32_t)(uint32_t)a.value >> shift);
		r.mask = (uint32_t)((int32_t)(uint32_t)a.mask >> shift);
	} else {
		shift &= 63;
		r.value = (uint64_t)((int64_t)a.value >> shift);
		r.mask = (uint64_t)((int64_t)a.mask >> shift);
	}
	/* a known-1 sign bit shifted into an unknown position stays known only
	 * where the mask did not spread */
	r.value &= ~r.mask;
	return r;
}

struct tnum tnum_add(struct tnum a, struct tnum b)
{
	uint64_t sm = a.mask + b.mask, sv = a.value + b.value;
	uint64_t sigma = sm + sv, chi = sigma ^ sv;
	uint64_t mu = chi | a.mask | b.mask;

	return (struct tnum){.value = sv & ~mu, .mask = mu};
}

struct tnum tnum_sub(struct tnum a, struct tnum b)
{
	uint64_t dv = a.value - b.value;
	uint64_t alpha = dv + a.mask, beta = dv - b.mask;
	uint64_t chi = alpha ^ beta, mu = chi | a.mask | b.mask;

	return (struct tnum){.value = dv & ~mu, .mask = mu};
}

struct tnum tnum_neg(struct tnum a)
{
	return tnum_sub(tnum_const(0), a);
}

struct tnum tnum_and(struct tnum a, struct tnum b)
{
	uint64_t alpha = a.value | a.mask, beta = b.value | b.mask;
	uint64_t v = a.value & b.value;

	return (struct tnum){.value = v, .mask = alpha & beta & ~v};
}

struct tnum tnum_or(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask | b.mask;

	return (struct tnum){.value = v, .mask = mu & ~v};
}

struct tnum tnum_xor(struct tnum a, struct tnum b)
{
	uint64_t v = a.value ^ b.value, mu = a.mask | b.mask;

	return (struct tnum){.value = v & ~mu, .mask = mu};
}

struct tnum tnum_mul(struct tnum a, struct tnum b)
{
	uint64_t acc_v = a.value * b.value;
	struct tnum acc_m = tnum_const(0);

	while (a.value || a.mask) {
		if (a.value & 1)
			acc_m = tnum_add(acc_m, (struct tnum){.value = 0, .mask = b.mask});
		else if (a.mask & 1)
			acc_m =
			    tnum_add(acc_m, (struct tnum){.value = 0, .mask = b.value | b.mask});
		a = tnum_rshift(a, 1);
		b = tnum_lshift(b, 1);
	}
	return tnum_add(tnum_const(acc_v), acc_m);
}

bool tnum_compatible(struct tnum a, struct tnum b)
{
	return !((a.value ^ b.value) & ~(a.mask | b.mask));
}

struct tnum tnum_intersect(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask & b.mask;

	return (struct tnum){.value = v & ~mu, .mask = mu};
}

struct tnum tnum_cast(struct tnum a, unsigned size)
{
	if (size >= 8)
		return a;
	a.value &= (1ull << (size * 8)) - 1;
	a.mask &= (1ull << (size * 8)) - 1;
	return a;
}

bool tnum_in(struct tnum a, struct tnum b)
{
	if (b.mask & ~a.mask)
		return false;
	return a.value == (b.value & ~a.mask);
}

int tnum_snprint(char *buf, unsigned long len, struct tnum a)
{
	return snprintf(buf, len, "(%#llx; %#llx)", (unsigned long long)a.value,
			(unsigned long long)a.mask);
}

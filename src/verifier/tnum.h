/* SPDX-License-Identifier: MIT */
/*
 * Tristate numbers: a 64-bit value where each bit is known 0, known 1 or
 * unknown. `mask` has a 1 for every unknown bit; `value` holds the known
 * bits (and 0 where mask is 1). Pure functions, no state.
 */
#ifndef BEXT_VERIFIER_TNUM_H
#define BEXT_VERIFIER_TNUM_H

#include <stdbool.h>
#include <stdint.h>

struct tnum {
	uint64_t value;
	uint64_t mask;
};

#define TNUM_UNKNOWN ((struct tnum){.value = 0, .mask = ~0ull})

static inline struct tnum tnum_const(uint64_t v)
{
	return (struct tnum){.value = v, .mask = 0};
}

static inline bool tnum_is_const(struct tnum t)
{
	return !t.mask;
}

static inline bool tnum_is_unknown(struct tnum t)
{
	return !~t.mask;
}

struct tnum tnum_range(uint64_t min, uint64_t max);
struct tnum tnum_lshift(struct tnum a, unsigned shift);
struct tnum tnum_rshift(struct tnum a, unsigned shift);
/* Arithmetic shift of the low `bits` (32 or 64) bits, result zero-extended. */
struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned bits);
struct tnum tnum_add(struct tnum a, struct tnum b);
struct tnum tnum_sub(struct tnum a, struct tnum b);
struct tnum tnum_neg(struct tnum a);
struct tnum tnum_and(struct tnum a, struct tnum b);
struct tnum tnum_or(struct tnum a, struct tnum b);
struct tnum tnum_xor(struct tnum a, struct tnum b);
struct tnum tnum_mul(struct tnum a, struct tnum b);
/* Values both a and b allow; callers check tnum_compatible() first. */
struct tnum tnum_intersect(struct tnum a, struct tnum b);
/* True if some value is allowed by both. */
bool tnum_compatible(struct tnum a, struct tnum b);
/* Keeps the low `size` bytes (1, 2, 4, 8). */
struct tnum tnum_cast(struct tnum a, unsigned size);
/* True if every value b allows, a allows too. */
bool tnum_in(struct tnum a, struct tnum b);
/* Low 32 bits as a tnum. */
static inline struct tnum tnum_subreg(struct tnum a)
{
	return tnum_cast(a, 4);
}
/* Highest and lowest values (unsigned) the tnum allows. */
static inline uint64_t tnum_umin(struct tnum a)
{
	return a.value;
}
static inline uint64_t tnum_umax(struct tnum a)
{
	return a.value | a.mask;
}
/* Writes "(0x..; 0x..)" into buf. */
int tnum_snprint(char *buf, unsigned long len, struct tnum a);

#endif

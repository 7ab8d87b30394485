/* SPDX-License-Identifier: MIT */
/*
 * The scalar domain: a tnum plus signed and unsigned bounds, 64- and 32-bit
 * (the 32-bit ones describe the low half). Every transfer function only
 * has to be sound for one view; reg_sync() then lets the views tighten each
 * other until nothing changes, and reports a contradiction (no value left),
 * which the branch logic uses to drop infeasible edges.
 *
 * 32-bit ALU operations are computed on a 64-bit view of the low halves
 * (zero-extended, or sign-extended for the signed operations) and the low 32
 * bits of the result are kept: every such operation's low result bits
 * depend only on the low operand bits, so this is exact in the concrete and
 * sound in the abstract.
 */
#include <limits.h>
#include <string.h>

#include <bext/isa.h>

#include "verifier_internal.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define LO32 0xffffffffull

/* Every bound at its widest (the tnum is left alone). */
static void bounds_unknown(struct vreg *r)
{
	r->smin = INT64_MIN;
	r->smax = INT64_MAX;
	r->umin = 0;
	r->umax = UINT64_MAX;
	r->s32min = INT32_MIN;
	r->s32max = INT32_MAX;
	r->u32min = 0;
	r->u32max = UINT32_MAX;
}

void reg_mark_unknown(struct vreg *r)
{
	memset(r, 0, sizeof(*r));
	r->type = SCALAR;
	r->var = TNUM_UNKNOWN;
	bounds_unknown(r);
}

void reg_mark_const(struct vreg *r, uint64_t v)
{
	reg_mark_unknown(r);
	r->var = tnum_const(v);
	r->smin = r->smax = (int64_t)v;
	r->umin = r->umax = v;
	r->s32min = r->s32max = (int32_t)(uint32_t)v;
	r->u32min = r->u32max = (uint32_t)v;
}

/* Only the bounds of the variable part: for pointers whose var is known. */
void reg_set_bounds_from_var(struct vreg *r)
{
	bounds_unknown(r);
	reg_sync(r);
}

bool reg_is_const(const struct vreg *r)
{
	return tnum_is_const(r->var);
}

static bool empty(const struct vreg *r)
{
	return r->umin > r->umax || r->smin > r->smax || r->u32min > r->u32max ||
	       r->s32min > r->s32max;
}

/* The 32-bit bounds from a 64-bit range [lo, hi] (unsigned or signed, as
 * bit patterns) whose high halves are equal: its low halves then bound them. */
static inline void low_from_full(struct vreg *r, uint64_t lo, uint64_t hi)
{
	if ((lo >> 32) != (hi >> 32))
		return;
	r->u32min = MAX(r->u32min, (uint32_t)lo);
	r->u32max = MIN(r->u32max, (uint32_t)hi);
	if ((int32_t)(uint32_t)lo <= (int32_t)(uint32_t)hi) {
		r->s32min = MAX(r->s32min, (int32_t)(uint32_t)lo);
		r->s32max = MIN(r->s32max, (int32_t)(uint32_t)hi);
	}
}

static bool sync_once(struct vreg *r)
{
	struct tnum t = r->var, sub = tnum_subreg(t), tr;
	const uint64_t sign = 1ull << 63;

	/* bounds from the tnum */
	r->umin = MAX(r->umin, t.value);
	r->umax = MIN(r->umax, t.value | t.mask);
	r->smin = MAX(r->smin, (int64_t)(t.value | (t.mask & sign)));
	r->smax = MIN(r->smax, (int64_t)(t.value | (t.mask & ~sign)));
	r->u32min = MAX(r->u32min, (uint32_t)sub.value);
	r->u32max = MIN(r->u32max, (uint32_t)(sub.value | sub.mask));
	r->s32min = MAX(r->s32min, (int32_t)(uint32_t)(sub.value | (sub.mask & 0x80000000u)));
	r->s32max = MIN(r->s32max, (int32_t)(uint32_t)(sub.value | (sub.mask & 0x7fffffffu)));
	if (empty(r))
		return false;

	/* low half from the full value when the high half is fixed */
	low_from_full(r, r->umin, r->umax);
	low_from_full(r, (uint64_t)r->smin, (uint64_t)r->smax);
	if (empty(r))
		return false;

	/* signed <-> unsigned when the range does not cross the sign boundary */
	if ((int32_t)r->u32min <= (int32_t)r->u32max) {
		r->s32min = MAX(r->s32min, (int32_t)r->u32min);
		r->s32max = MIN(r->s32max, (int32_t)r->u32max);
	}
	if ((uint32_t)r->s32min <= (uint32_t)r->s32max) {
		r->u32min = MAX(r->u32min, (uint32_t)r->s32min);
		r->u32max = MIN(r->u32max, (uint32_t)r->s32max);
	}
	if ((int64_t)r->umin <= (int64_t)r->umax) {
		r->smin = MAX(r->smin, (int64_t)r->umin);
		r->smax = MIN(r->smax, (int64_t)r->umax);
	}
	if ((uint64_t)r->smin <= (uint64_t)r->smax) {
		r->umin = MAX(r->umin, (uint64_t)r->smin);
		r->umax = MIN(r->umax, (uint64_t)r->smax);
	}
	if (empty(r))
		return false;

	/* full value from the low half when the high half is fixed */
	if ((r->umin >> 32) == (r->umax >> 32)) {
		uint64_t hi = r->umin & ~LO32;

		r->umin = MAX(r->umin, hi | r->u32min);
		r->umax = MIN(r->umax, hi | r->u32max);
	}
	if ((r->smin >> 32) == (r->smax >> 32)) {
		uint64_t hi = (uint64_t)r->smin & ~LO32;

		r->smin = MAX(r->smin, (int64_t)(hi | r->u32min));
		r->smax = MIN(r->smax, (int64_t)(hi | r->u32max));
	}
	if (empty(r))
		return false;

	/* the tnum from the bounds */
	tr = tnum_range(r->umin, r->umax);
	if (!tnum_compatible(r->var, tr))
		return false;
	r->var = tnum_intersect(r->var, tr);
	tr = tnum_range(r->u32min, r->u32max);
	tr.mask |= ~LO32;
	if (!tnum_compatible(r->var, tr))
		return false;
	r->var = tnum_intersect(r->var, tr);
	return true;
}

bool reg_sync(struct vreg *r)
{
	for (int i = 0; i < 3; i++)
		if (!sync_once(r))
			return false;
	return true;
}

/* Keeps the low 32 bits, zero-extended (the result of every ALU32 op). */
void reg_zext32(struct vreg *r)
{
	uint32_t lo = r->u32min, hi = r->u32max;
	struct tnum sub = tnum_subreg(r->var);

	reg_mark_unknown(r);
	r->var = sub;
	r->u32min = lo;
	r->u32max = hi;
	r->umin = lo;
	r->umax = hi;
	r->smin = lo;
	r->smax = hi;
	reg_sync(r);
}

/* A freshly loaded value of `size` bytes (zero- or sign-extended). */
void reg_set_size_unknown(struct vreg *r, unsigned size, bool sign_ext)
{
	reg_mark_unknown(r);
	if (size >= 8)
		return;
	if (sign_ext) {
		int64_t lim = 1ll << (size * 8 - 1);

		r->smin = -lim;
		r->smax = lim - 1;
	} else {
		r->var = tnum_cast(TNUM_UNKNOWN, size);
		r->umax = (1ull << (size * 8)) - 1;
	}
	reg_sync(r);
}

/* 64-bit view of the low half: zero- or sign-extended. */
static void view32(struct vreg *v, const struct vreg *r, bool sign)
{
	*v = *r;
	if (!sign) {
		reg_zext32(v);
		return;
	}
	{
		struct tnum sub = tnum_subreg(r->var);
		int32_t lo = r->s32min, hi = r->s32max;

		reg_mark_unknown(v);
		if (sub.mask & 0x80000000u)
			sub.mask |= ~LO32;
		else if (sub.value & 0x80000000u)
			sub.value |= ~LO32;
		v->var = sub;
		v->smin = lo;
		v->smax = hi;
		reg_sync(v);
	}
}

static void set_urange(struct vreg *r, uint64_t lo, uint64_t hi)
{
	reg_mark_unknown(r);
	r->umin = lo;
	r->umax = hi;
	r->var = tnum_range(lo, hi);
}

static void alu_add(struct vreg *d, const struct vreg *s)
{
	int64_t smin, smax;
	uint64_t umin, umax;
	struct tnum var = tnum_add(d->var, s->var);
	/* Both halves must run (each stores a bound): no short-circuit. */
	int sover = (int)__builtin_add_overflow(d->smin, s->smin, &smin) |
		    (int)__builtin_add_overflow(d->smax, s->smax, &smax);
	int uover = (int)__builtin_add_overflow(d->umin, s->umin, &umin) |
		    (int)__builtin_add_overflow(d->umax, s->umax, &umax);

	reg_mark_unknown(d);
	d->var = var;
	if (!sover) {
		d->smin = smin;
		d->smax = smax;
	}
	if (!uover) {
		d->umin = umin;
		d->umax = umax;
	}
}

static void alu_sub(struct vreg *d, const struct vreg *s)
{
	int64_t smin, smax;
	struct tnum var = tnum_sub(d->var, s->var);
	int sover = (int)__builtin_sub_overflow(d->smin, s->smax, &smin) |
		    (int)__builtin_sub_overflow(d->smax, s->smin, &smax);
	bool uok = d->umin >= s->umax;
	uint64_t umin = d->umin - s->umax, umax = d->umax - s->umin;

	reg_mark_unknown(d);
	d->var = var;
	if (!sover) {
		d->smin = smin;
		d->smax = smax;
	}
	if (uok) {
		d->umin = umin;
		d->umax = umax;
	}
}

static void alu_mul(struct vreg *d, const struct vreg *s)
{
	uint64_t umin = d->umin * s->umin, umax;
	bool uover = __builtin_mul_overflow(d->umax, s->umax, &umax);
	struct tnum var = tnum_mul(d->var, s->var);

	reg_mark_unknown(d);
	d->var = var;
	if (!uover) {
		d->umin = umin;
		d->umax = umax;
	}
}

static uint64_t sdiv64(int64_t a, int64_t b, bool mod)
{
	if (!b)
		return mod ? (uint64_t)a : 0;
	if (b == -1)
		return mod ? 0 : (uint64_t)0 - (uint64_t)a; /* INT64_MIN / -1 wraps */
	return mod ? (uint64_t)(a % b) : (uint64_t)(a / b);
}

static void alu_div(struct vreg *d, const struct vreg *s, bool sign, bool mod)
{
	if (reg_is_const(d) && reg_is_const(s)) {
		uint64_t a = d->var.value, b = s->var.value, v;

		if (sign)
			v = sdiv64((int64_t)a, (int64_t)b, mod);
		else if (!b)
			v = mod ? a : 0; /* RFC 9669: x / 0 = 0, x % 0 = x */
		else
			v = mod ? a % b : a / b;
		reg_mark_const(d, v);
		return;
	}
	if (reg_is_const(s) && !s->var.value) {
		if (!mod)
			reg_mark_const(d, 0); /* RFC 9669: x / 0 = 0, x % 0 = x */
		return;
	}
	if (sign) {
		reg_mark_unknown(d);
		return;
	}
	if (!mod) {
		if (s->umin == 0)
			set_urange(d, 0, d->umax);
		else
			set_urange(d, d->umin / s->umax, d->umax / s->umin);
		return;
	}
	/* unsigned mod: never above the dividend; below the divisor unless it is 0 */
	if (d->umax < s->umin)
		return; /* the divisor is always larger: unchanged */
	if (s->umin == 0)
		set_urange(d, 0, d->umax); /* x % 0 == x */
	else
		set_urange(d, 0, MIN(d->umax, s->umax - 1));
}

static void alu_shift(struct vreg *d, const struct vreg *s, uint8_t op, unsigned bits)
{
	if (reg_is_const(s)) {
		unsigned k = s->var.value & (bits - 1);
		struct vreg o = *d;

		reg_mark_unknown(d);
		if (op == BEXT_ALU_LSH) {
			d->var = tnum_lshift(o.var, k);
			if (!k || !(o.umax >> (64 - k))) {
				d->umin = o.umin << k;
				d->umax = o.umax << k;
			}
		} else if (op == BEXT_ALU_RSH) {
			d->var = tnum_rshift(o.var, k);
			d->umin = o.umin >> k;
			d->umax = o.umax >> k;
		} else {
			/* arithmetic: on the (sign-extended) 64-bit view */
			d->var = tnum_arshift(o.var, k, 64);
			d->smin = o.smin >> k;
			d->smax = o.smax >> k;
		}
		return;
	}
	if (op == BEXT_ALU_RSH) {
		set_urange(d, 0, d->umax);
	} else if (op == BEXT_ALU_ARSH) {
		int64_t lo = d->smin, hi = d->smax;

		reg_mark_unknown(d);
		d->smin = lo >= 0 ? 0 : lo;
		d->smax = hi < 0 ? -1 : hi;
	} else {
		reg_mark_unknown(d);
	}
}

static void alu_movsx(struct vreg *d, unsigned bits)
{
	int64_t lim = 1ll << (bits - 1);

	if (d->smin >= -lim && d->smax < lim)
		return; /* already a sign-extended value of that width */
	if (reg_is_const(d)) {
		uint64_t v = d->var.value;
		int64_t x = bits == 8 ? (int8_t)v : bits == 16 ? (int16_t)v : (int32_t)v;

		reg_mark_const(d, (uint64_t)x);
		return;
	}
	reg_mark_unknown(d);
	d->smin = -lim;
	d->smax = lim - 1;
}

int scalar_alu(struct vreg *dst, const struct vreg *src, uint8_t op, int16_t off, bool is64)
{
	bool sign = ((op == BEXT_ALU_DIV || op == BEXT_ALU_MOD) && off == 1) || op == BEXT_ALU_ARSH;
	struct vreg a, b;
	unsigned bits = is64 ? 64 : 32;

	if (is64) {
		a = *dst;
		b = *src;
	} else {
		view32(&a, dst, sign);
		view32(&b, src, sign && op != BEXT_ALU_ARSH);
	}
	switch (op) {
	case BEXT_ALU_ADD:
		alu_add(&a, &b);
		break;
	case BEXT_ALU_SUB:
		alu_sub(&a, &b);
		break;
	case BEXT_ALU_MUL:
		alu_mul(&a, &b);
		break;
	case BEXT_ALU_DIV:
	case BEXT_ALU_MOD:
		if (!is64 && sign && reg_is_const(&a) && reg_is_const(&b)) {
			int32_t x = (int32_t)a.var.value, y = (int32_t)b.var.value, v;

			if (!y)
				v = op == BEXT_ALU_MOD ? x : 0;
			else if (y == -1)
				v = op == BEXT_ALU_MOD ? 0 : (int32_t)(0u - (uint32_t)x);
			else
				v = op == BEXT_ALU_MOD ? x % y : x / y;
			reg_mark_const(&a, (uint64_t)(uint32_t)v);
		} else {
			alu_div(&a, &b, sign, op == BEXT_ALU_MOD);
		}
		break;
	case BEXT_ALU_OR: {
		uint64_t lo = MAX(a.umin, b.umin);

		a.var = tnum_or(a.var, b.var);
		reg_set_bounds_from_var(&a);
		a.umin = MAX(a.umin, lo);
		break;
	}
	case BEXT_ALU_AND: {
		uint64_t hi = MIN(a.umax, b.umax);

		a.var = tnum_and(a.var, b.var);
		reg_set_bounds_from_var(&a);
		a.umax = MIN(a.umax, hi);
		break;
	}
	case BEXT_ALU_XOR:
		a.var = tnum_xor(a.var, b.var);
		reg_set_bounds_from_var(&a);
		break;
	case BEXT_ALU_LSH:
	case BEXT_ALU_RSH:
	case BEXT_ALU_ARSH:
		alu_shift(&a, &b, op, bits);
		break;
	case BEXT_ALU_NEG: {
		struct tnum var = tnum_neg(a.var);
		int64_t lo = a.smin, hi = a.smax;

		reg_mark_unknown(&a);
		a.var = var;
		if (lo != INT64_MIN) {
			a.smin = -hi;
			a.smax = -lo;
		}
		break;
	}
	case BEXT_ALU_MOV: /* movsx; plain mov is a copy done by the caller */
		a = b;
		if (off == 8 || off == 16 || off == 32)
			alu_movsx(&a, off);
		break;
	default:
		return -1;
	}
	a.id = 0;
	if (!reg_sync(&a))
		reg_mark_unknown(&a); /* cannot happen for sound inputs; stay safe */
	if (!is64)
		reg_zext32(&a);
	*dst = a;
	return 0;
}

/* --- branch refinement --------------------------------------------- */

struct view {
	uint64_t umin, umax;
	int64_t smin, smax;
};

static void get_view(const struct vreg *r, bool is32, struct view *v)
{
	if (is32) {
		v->umin = r->u32min;
		v->umax = r->u32max;
		v->smin = r->s32min;
		v->smax = r->s32max;
	} else {
		v->umin = r->umin;
		v->umax = r->umax;
		v->smin = r->smin;
		v->smax = r->smax;
	}
}

static void put_view(struct vreg *r, bool is32, const struct view *v)
{
	if (is32) {
		r->u32min = (uint32_t)v->umin;
		r->u32max = (uint32_t)v->umax;
		r->s32min = (int32_t)v->smin;
		r->s32max = (int32_t)v->smax;
	} else {
		r->umin = v->umin;
		r->umax = v->umax;
		r->smin = v->smin;
		r->smax = v->smax;
	}
}

static struct tnum low_part(struct tnum t, bool is32)
{
	return is32 ? tnum_subreg(t) : t;
}

static struct tnum with_low(struct tnum t, struct tnum low, bool is32)
{
	if (!is32)
		return low;
	t.value = (t.value & ~LO32) | low.value;
	t.mask = (t.mask & ~LO32) | low.mask;
	return t;
}

static bool v_empty(const struct view *v)
{
	return v->umin > v->umax || v->smin > v->smax;
}

/* a != c for a constant c: trim the ends of a's ranges. */
static bool ne_const(struct view *a, struct tnum *at, uint64_t c, int64_t sc)
{
	if (tnum_is_const(*at) && at->value == c)
		return false;
	if (a->umin == c)
		a->umin++;
	else if (a->umax == c)
		a->umax--;
	if (a->smin == sc)
		a->smin++;
	else if (a->smax == sc)
		a->smax--;
	return !v_empty(a);
}

bool scalar_refine(struct vreg *ra, struct vreg *rb, enum cmp_op op, bool is32)
{
	struct view a, b;
	struct tnum at = low_part(ra->var, is32), bt = low_part(rb->var, is32);
	uint64_t umax_lim = is32 ? UINT32_MAX : UINT64_MAX;
	int64_t smax_lim = is32 ? INT32_MAX : INT64_MAX, smin_lim = is32 ? INT32_MIN : INT64_MIN;

	get_view(ra, is32, &a);
	get_view(rb, is32, &b);
	switch (op) {
	case CMP_EQ:
		if (!tnum_compatible(at, bt))
			return false;
		at = bt = tnum_intersect(at, bt);
		a.umin = b.umin = MAX(a.umin, b.umin);
		a.umax = b.umax = MIN(a.umax, b.umax);
		a.smin = b.smin = MAX(a.smin, b.smin);
		a.smax = b.smax = MIN(a.smax, b.smax);
		break;
	case CMP_NE:
		if (tnum_is_const(bt) &&
		    !ne_const(&a, &at, bt.value, is32 ? (int32_t)bt.value : (int64_t)bt.value))
			return false;
		if (tnum_is_const(at) &&
		    !ne_const(&b, &bt, at.value, is32 ? (int32_t)at.value : (int64_t)at.value))
			return false;
		break;
	case CMP_GT:
		if (b.umin == umax_lim || a.umax == 0)
			return false;
		a.umin = MAX(a.umin, b.umin + 1);
		b.umax = MIN(b.umax, a.umax - 1);
		break;
	case CMP_GE:
		a.umin = MAX(a.umin, b.umin);
		b.umax = MIN(b.umax, a.umax);
		break;
	case CMP_SGT:
		if (b.smin == smax_lim || a.smax == smin_lim)
			return false;
		a.smin = MAX(a.smin, b.smin + 1);
		b.smax = MIN(b.smax, a.smax - 1);
		break;
	case CMP_SGE:
		a.smin = MAX(a.smin, b.smin);
		b.smax = MIN(b.smax, a.smax);
		break;
	case CMP_SET:
		if (!((at.value | at.mask) & (bt.value | bt.mask)))
			return false;
		if (tnum_is_const(bt) && bt.value && !(bt.value & (bt.value - 1)))
			at = tnum_or(at, bt); /* the only bit that can be set is set */
		break;
	case CMP_NSET:
		if (at.value & bt.value)
			return false;
		if (tnum_is_const(bt)) {
			at.value &= ~bt.value;
			at.mask &= ~bt.value;
		}
		if (tnum_is_const(at)) {
			bt.value &= ~at.value;
			bt.mask &= ~at.value;
		}
		break;
	}
	if (v_empty(&a) || v_empty(&b))
		return false;
	put_view(ra, is32, &a);
	put_view(rb, is32, &b);
	ra->var = with_low(ra->var, at, is32);
	rb->var = with_low(rb->var, bt, is32);
	return reg_sync(ra) && reg_sync(rb);
}

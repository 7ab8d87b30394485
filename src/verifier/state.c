/* SPDX-License-Identifier: MIT */
/*
 * Abstract states and their order. state_covers(old, cur) holds when every
 * concrete state cur describes is also described by old; then a path that
 * reaches a prune point in cur can stop if old was already explored to the
 * end from there (everything that can happen from cur happened from old).
 *
 * Dead registers (cfg.c liveness) and never-written stack bytes in old do
 * not constrain cur. Identities (null-check groups, scalar copies, packet
 * bases, references) only have to correspond, not be equal: a map from
 * old ids to cur ids is built while comparing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verifier_internal.h"

struct vstate *state_new(void)
{
	struct vstate *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->lock_map = -1;
	return st;
}

void state_free_frames(struct vstate *st)
{
	for (uint32_t i = 0; i < V_MAX_FRAMES; i++) {
		free(st->frames[i]);
		st->frames[i] = NULL;
	}
}

void state_free(struct vstate *st)
{
	if (!st)
		return;
	state_free_frames(st);
	free(st);
}

int state_copy(struct vstate *dst, const struct vstate *src)
{
	struct vframe *keep[V_MAX_FRAMES];

	memcpy(keep, dst->frames, sizeof(keep));
	for (uint32_t i = src->curframe + 1; i < V_MAX_FRAMES; i++) {
		free(keep[i]);
		keep[i] = NULL;
	}
	*dst = *src;
	for (uint32_t i = 0; i <= src->curframe; i++) {
		if (!keep[i]) {
			keep[i] = malloc(sizeof(struct vframe));
			if (!keep[i]) {
				memcpy(dst->frames, keep, sizeof(keep));
				return -ENOMEM;
			}
		}
		memcpy(keep[i], src->frames[i], sizeof(struct vframe));
	}
	memcpy(dst->frames, keep, sizeof(keep));
	return 0;
}

#define IDMAP_MAX 64

struct idmap {
	uint32_t n;
	uint32_t old[IDMAP_MAX], cur[IDMAP_MAX];
};

static bool id_match(struct idmap *m, uint32_t o, uint32_t c)
{
	if (!o)
		return true;
	if (!c)
		return false;
	for (uint32_t i = 0; i < m->n; i++)
		if (m->old[i] == o)
			return m->cur[i] == c;
	if (m->n == IDMAP_MAX)
		return false;
	m->old[m->n] = o;
	m->cur[m->n++] = c;
	return true;
}

static bool range_within(const struct vreg *o, const struct vreg *c)
{
	return o->umin <= c->umin && c->umax <= o->umax && o->smin <= c->smin &&
	       c->smax <= o->smax && o->u32min <= c->u32min && c->u32max <= o->u32max &&
	       o->s32min <= c->s32min && c->s32max <= o->s32max && tnum_in(o->var, c->var);
}

static bool reg_exact(const struct vreg *o, const struct vreg *c, struct idmap *m)
{
	return o->type == c->type && o->off == c->off && o->frameno == c->frameno &&
	       o->rdonly == c->rdonly && o->var.value == c->var.value &&
	       o->var.mask == c->var.mask && o->smin == c->smin && o->smax == c->smax &&
	       o->umin == c->umin && o->umax == c->umax && o->s32min == c->s32min &&
	       o->s32max == c->s32max && o->u32min == c->u32min && o->u32max == c->u32max &&
	       o->map_idx == c->map_idx && o->mem_size == c->mem_size &&
	       (o->id == 0) == (c->id == 0) && id_match(m, o->id, c->id) &&
	       (o->ref_id == 0) == (c->ref_id == 0) && id_match(m, o->ref_id, c->ref_id);
}

static bool reg_covers(const struct vreg *o, const struct vreg *c, struct idmap *m, bool exact,
		       bool relevant)
{
	if (!relevant && o->type == SCALAR && c->type == SCALAR)
		return true; /* no check or branch can tell its values apart */
	if (exact)
		return reg_exact(o, c, m);
	if (o->type == NOT_INIT)
		return true;
	if (o->type != c->type)
		return false;
	switch (o->type) {
	case SCALAR:
		return range_within(o, c) && id_match(m, o->id, c->id);
	case PTR_TO_PACKET:
		/* less proven range in old is fine: old was safe with less */
		return o->off == c->off && range_within(o, c) && o->mem_size <= c->mem_size &&
		       id_match(m, o->id, c->id);
	default:
		return o->off == c->off && o->frameno == c->frameno && o->rdonly == c->rdonly &&
		       o->map_idx == c->map_idx && o->mem_size == c->mem_size &&
		       range_within(o, c) && (o->id == 0) == (c->id == 0) &&
		       id_match(m, o->id, c->id) && (o->ref_id == 0) == (c->ref_id == 0) &&
		       id_match(m, o->ref_id, c->ref_id);
	}
}

static bool is_unknown_scalar(const struct vreg *r)
{
	return r->type == SCALAR && !r->id && tnum_is_unknown(r->var) && r->smin == INT64_MIN &&
	       r->smax == INT64_MAX && r->umin == 0 && r->umax == UINT64_MAX;
}

static bool stack_covers(const struct vframe *o, const struct vframe *c, struct idmap *m,
			 bool exact, const struct precision *prec)
{
	for (int s = 0; s < (int)V_SLOTS; s++) {
		const uint8_t *os = &o->stype[s * 8], *cs = &c->stype[s * 8];

		if (!exact && prec && !prec->all && !(prec->slots & (1ull << s)) &&
		    os[0] == STACK_SPILL && o->spill[s].type == SCALAR) {
			/* an imprecise spilled scalar: any scalar bytes will do */
			bool ok = true;

			for (int i = 0; i < 8; i++)
				if (!(cs[i] == STACK_MISC ||
				      (cs[i] == STACK_SPILL && c->spill[s].type == SCALAR)))
					ok = false;
			if (ok)
				continue;
		}
		if (exact) {
			if (memcmp(os, cs, 8))
				return false;
			if (os[0] == STACK_SPILL && !reg_exact(&o->spill[s], &c->spill[s], m))
				return false;
			continue;
		}
		if (os[0] == STACK_SPILL) {
			if (cs[0] == STACK_SPILL) {
				if (!reg_covers(&o->spill[s], &c->spill[s], m, false, true))
					return false;
				continue;
			}
			if (!is_unknown_scalar(&o->spill[s]))
				return false;
			for (int i = 0; i < 8; i++)
				if (cs[i] != STACK_MISC)
					return false;
			continue;
		}
		for (int i = 0; i < 8; i++) {
			if (os[i] == STACK_INVALID)
				continue;
			/* old MISC: cur must hold scalar bytes */
			if (cs[i] == STACK_MISC)
				continue;
			if (cs[i] == STACK_SPILL && c->spill[s].type == SCALAR)
				continue;
			return false;
		}
	}
	return true;
}

bool state_covers(struct venv *env, const struct vstate *old, const struct vstate *cur, bool exact,
		  const struct precision *prec)
{
	struct idmap mm, *m = &mm;
	bool ok = false;

	if (old->curframe != cur->curframe || old->pc != cur->pc || old->nrefs != cur->nrefs ||
	    old->lock_map != cur->lock_map || old->lock_off != cur->lock_off)
		return false;
	m->n = 0;
	for (uint32_t fi = 0; fi <= cur->curframe; fi++) {
		const struct vframe *of = old->frames[fi], *cf = cur->frames[fi];
		uint16_t live, rel;

		if (of->callsite != cf->callsite || of->is_callback != cf->is_callback)
			goto out;
		if (fi == cur->curframe) {
			live = env->aux[cur->pc].live_in;
			rel = env->aux[cur->pc].rel_in;
			if (prec && !exact && !prec->all)
				rel &= prec->regs | (1u << 10);
		} else {
			const struct vframe *child = cur->frames[fi + 1];

			live = child->is_callback ? env->aux[child->callsite].live_in
						  : env->aux[child->callsite + 1].live_in & ~1u;
			rel = child->is_callback ? env->aux[child->callsite].rel_in
						 : env->aux[child->callsite + 1].rel_in & ~1u;
		}
		for (int r = 0; r < 11; r++) {
			if (!(live & (1u << r)))
				continue;
			if (!reg_covers(&of->regs[r], &cf->regs[r], m, exact, rel & (1u << r)))
				goto out;
		}
		if (!stack_covers(of, cf, m, exact, fi == cur->curframe ? prec : NULL))
			goto out;
	}
	for (uint32_t i = 0; i < old->nrefs; i++)
		if (!id_match(m, old->refs[i].id, cur->refs[i].id))
			goto out;
	if (old->lock_map >= 0 && !id_match(m, old->lock_id, cur->lock_id))
		goto out;
	ok = true;
out:
	return ok;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t reg_hash(uint64_t h, const struct vreg *r)
{
	h = mix(h, r->type | (uint64_t)r->frameno << 8 | (uint64_t)r->rdonly << 16 |
		       (uint64_t)(r->id != 0) << 17 | (uint64_t)(r->ref_id != 0) << 18 |
		       (uint64_t)(uint32_t)r->off << 32);
	h = mix(h, r->var.value);
	h = mix(h, r->var.mask);
	h = mix(h, (uint64_t)r->smin ^ r->umax);
	h = mix(h, (uint64_t)r->smax ^ r->umin);
	/* the 32-bit views too: 32-bit branches narrow only them */
	h = mix(h, (uint64_t)(uint32_t)r->s32min << 32 | (uint32_t)r->s32max);
	h = mix(h, (uint64_t)r->u32min << 32 | r->u32max);
	h = mix(h, r->map_idx | (uint64_t)r->mem_size << 32);
	return h;
}

uint64_t state_hash(struct venv *env, const struct vstate *st)
{
	const struct vframe *f = st->frames[st->curframe];
	uint16_t live = env->aux[st->pc].live_in, rel = env->aux[st->pc].rel_in;
	uint64_t h = mix(st->pc, st->curframe | (uint64_t)st->nrefs << 8);

	for (int r = 0; r < 11; r++) {
		if (!(live & (1u << r)))
			continue;
		if (f->regs[r].type == SCALAR && !(rel & (1u << r)))
			h = mix(h, SCALAR);
		else
			h = reg_hash(h, &f->regs[r]);
	}
	for (int s = 0; s < (int)V_SLOTS; s++) {
		uint64_t w;

		memcpy(&w, &f->stype[s * 8], 8);
		if (!w)
			continue;
		h = mix(h, w ^ (uint64_t)s << 56);
		if (f->stype[s * 8] == STACK_SPILL)
			h = reg_hash(h, &f->spill[s]);
	}
	/* avalanche: the bucket index (low bits) must depend on every bit */
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

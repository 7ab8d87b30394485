/* SPDX-License-Identifier: MIT */
/*
 * Path exploration and the per-instruction rules.
 *
 * do_check() walks the program depth-first over abstract states: one
 * current state, a stack of pending branch states, and at prune points a
 * list of states already seen. A state seen at a prune point is "in
 * progress" until every path from it has ended (tracked by the size of the
 * pending stack when it was stored); only complete states may prune a new
 * one, because only they prove that everything after them terminates. A
 * new state equal to an in-progress one at the same instruction means the
 * loop makes no progress: it is rejected as an unbounded loop. Loops that
 * do make progress are unrolled until their exit condition holds or the
 * complexity limit (instructions processed) runs out.
 *
 * Every instruction is handled as "what must hold" (a vreject() naming the
 * rule) followed by "how the state changes".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "verifier_internal.h"

#define MAX_PACKET_OFF 0xffff
#define MAX_MEM_SIZE (1u << 29)

static struct vframe *curf(struct vstate *st)
{
	return st->frames[st->curframe];
}

static void ptr_init(struct vreg *r, enum reg_type t)
{
	reg_mark_const(r, 0);
	r->type = t;
}

static int reg_read(struct venv *env, struct vstate *st, int regno)
{
	if (curf(st)->regs[regno].type == NOT_INIT)
		return vreject(env, -EACCES, st->pc, "R%d !read_ok", regno);
	return 0;
}

/* ---- every register and spill of every frame ----------------------- */

#define FOR_EACH_REG(st, r, body)                                      \
	do {                                                           \
		for (uint32_t _f = 0; _f <= (st)->curframe; _f++) {    \
			struct vframe *_fr = (st)->frames[_f];         \
			for (int _i = 0; _i < 11; _i++) {              \
				struct vreg *r = &_fr->regs[_i];       \
				body;                                  \
			}                                              \
			for (int _s = 0; _s < (int)V_SLOTS; _s++) {    \
				if (_fr->stype[_s * 8] != STACK_SPILL) \
					continue;                      \
				struct vreg *r = &_fr->spill[_s];      \
				body;                                  \
			}                                              \
		}                                                      \
	} while (0)

static void release_ref(struct vstate *st, uint32_t ref)
{
	for (uint32_t i = 0; i < st->nrefs; i++)
		if (st->refs[i].id == ref) {
			st->refs[i] = st->refs[--st->nrefs];
			break;
		}
	for (uint32_t f = 0; f <= st->curframe; f++) {
		struct vframe *fr = st->frames[f];

		for (int i = 0; i < 11; i++)
			if (fr->regs[i].ref_id == ref)
				memset(&fr->regs[i], 0, sizeof(fr->regs[i]));
		for (int s = 0; s < (int)V_SLOTS; s++)
			if (fr->stype[s * 8] == STACK_SPILL && fr->spill[s].ref_id == ref)
				memset(&fr->stype[s * 8], STACK_INVALID, 8);
	}
}

static void mark_null_check(struct vstate *st, uint32_t id, bool is_null)
{
	uint32_t ref = 0;

	FOR_EACH_REG(st, r, {
		if ((r->type == PTR_TO_MAP_VALUE_OR_NULL || r->type == PTR_TO_MEM_OR_NULL) &&
		    r->id == id) {
			if (is_null) {
				if (r->ref_id)
					ref = r->ref_id;
				reg_mark_const(r, 0);
			} else {
				r->type = r->type == PTR_TO_MAP_VALUE_OR_NULL ? PTR_TO_MAP_VALUE
									      : PTR_TO_MEM;
			}
		}
	});
	if (ref) /* a NULL reservation holds nothing */
		release_ref(st, ref);
}

static void mark_pkt_range(struct vstate *st, uint32_t id, int32_t range)
{
	if (range <= 0)
		return;
	if (range > MAX_PACKET_OFF)
		range = MAX_PACKET_OFF;
	FOR_EACH_REG(st, r, {
		if (r->type == PTR_TO_PACKET && r->id == id && r->mem_size < (uint32_t)range)
			r->mem_size = range;
	});
}

static void propagate_scalar(struct vstate *st, const struct vreg *src)
{
	if (!src->id)
		return;
	FOR_EACH_REG(st, r, {
		if (r->type == SCALAR && r->id == src->id)
			*r = *src;
	});
}

/* ---- precision ----------------------------------------------------- */

/*
 * Precision backtracking. A stored state may later cover a state whose
 * scalars differ, as long as its own exploration never depended on their
 * exact values. When a value is about to matter (pointer arithmetic, a size
 * argument, a branch decided by bounds, a checked return value), the
 * registers and stack slots it was computed from are followed backwards
 * through the current path's history, and every stored ancestor state on
 * the way is told that they matter. What the walk cannot follow (a frame
 * change, a store through a pointer it cannot resolve) marks every ancestor
 * as depending on everything, which only costs pruning.
 */
static bool back_step(struct venv *env, const struct hist_entry *e, uint16_t *R, uint64_t *S)
{
	const struct bext_insn *in = &env->insns[e->idx];
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code), mode = BEXT_MODE(in->code);
	uint16_t d = 1u << in->dst, sr = 1u << in->src;
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X;
	uint64_t bit = e->slot >= 0 ? 1ull << e->slot : 0;

	switch (cls) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		if (!(*R & d))
			return true;
		if (op == BEXT_ALU_MOV) {
			*R &= ~d;
			if (x)
				*R |= sr;
		} else if (x && op != BEXT_ALU_NEG && op != BEXT_ALU_END) {
			*R |= sr;
		}
		return true;
	case BEXT_CLS_LDX:
		if (!(*R & d))
			return true;
		*R &= ~d;
		if (e->opaque)
			return false;
		*S |= bit;
		return true;
	case BEXT_CLS_ST:
	case BEXT_CLS_STX:
		if (mode == BEXT_MODE_ATOMIC || e->opaque)
			return !(*R & (d | sr | 1)) && !(*S & bit) && !(e->opaque && *S);
		if (*S & bit) {
			if (BEXT_SIZE(in->code) == BEXT_SZ_DW)
				*S &= ~bit;
			if (cls == BEXT_CLS_STX)
				*R |= sr;
		}
		return true;
	case BEXT_CLS_LD:
		*R &= ~d;
		return true;
	default:
		if (op == BEXT_JMP_EXIT || (op == BEXT_JMP_CALL && in->src == BEXT_CALL_LOCAL) ||
		    (op == BEXT_JMP_CALL && env->aux[e->idx].callback_call))
			return !*R && !*S;
		if (op == BEXT_JMP_CALL)
			*R &= ~1u;
		return true;
	}
}

static void mark_precise(struct venv *env, uint16_t regs, uint64_t slots, bool all)
{
	int j = (int)env->n_inprog - 1;
	uint32_t h = env->n_hist;

	regs &= ~(1u << 10);
	if (!regs && !slots && !all)
		return;
	for (;;) {
		while (j >= 0 && env->inprog[j]->hist_pos >= h) {
			struct precision *p = &env->inprog[j]->prec;

			/* already known here: an earlier walk marked everything above
			 * (the backward transfer distributes over unions) */
			if (p->all || (!all && !(regs & ~p->regs) && !(slots & ~p->slots)))
				return;
			if (all) {
				p->all = true;
			} else {
				p->regs |= regs;
				p->slots |= slots;
			}
			j--;
		}
		if (j < 0 || (!all && !regs && !slots) || !h)
			return;
		h--;
		if (!all && !back_step(env, &env->hist[h], &regs, &slots))
			all = true;
	}
}

static void mark_reg_precise(struct venv *env, int regno)
{
	mark_precise(env, 1u << regno, 0, false);
}

/* ---- stack --------------------------------------------------------- */

/* Bytes [b, b + len) of the frame become scalar bytes; a spill they touch
 * is split: a scalar's other bytes become scalar bytes too, a pointer's
 * become unreadable (no partial pointer ever reaches a register). */
static void stack_mark_misc(struct vframe *f, int b, int len)
{
	for (int s = b / 8; s <= (b + len - 1) / 8; s++)
		if (f->stype[s * 8] == STACK_SPILL)
			memset(&f->stype[s * 8],
			       f->spill[s].type == SCALAR ? STACK_MISC : STACK_INVALID, 8);
	memset(&f->stype[b], STACK_MISC, len);
}

static void note_depth(struct venv *env, struct vframe *f, int64_t lo)
{
	struct subprog *sp = &env->subprogs[f->subprog];

	if (-lo > (int64_t)sp->stack_depth)
		sp->stack_depth = (uint32_t)-lo;
}

static int stack_write(struct venv *env, struct vstate *st, struct vframe *f, int o, int size,
		       const struct vreg *val)
{
	int b = o + (int)V_STACK;

	if (size == 8 && !(o % 8)) {
		if (val->type == SCALAR && !val->id && !reg_is_const(val) && env->cur_src_reg) {
			/* link the spill and the register, so a bound learnt on a
			 * later fill applies to both */
			env->cur_src_reg->id = ++env->id_gen;
			val = env->cur_src_reg;
		}
		f->spill[b / 8] = *val;
		memset(&f->stype[b], STACK_SPILL, 8);
		return 0;
	}
	if (reg_is_pointer(val))
		return vreject(
		    env, -EACCES, st->pc,
		    "invalid size of register spill: pointer stored with size %d at fp%d", size, o);
	stack_mark_misc(f, b, size);
	return 0;
}

/* The first byte of stype[from, to) that cannot be read as scalar data
 * (never written, or part of a spilled pointer), or `to` if there is none. */
static int stack_unreadable(const struct vframe *f, int from, int to)
{
	for (int b = from; b < to; b++)
		if (f->stype[b] == STACK_INVALID ||
		    (f->stype[b] == STACK_SPILL && f->spill[b / 8].type != SCALAR))
			return b;
	return to;
}

static int stack_read(struct venv *env, struct vstate *st, struct vframe *f, int o, int size,
		      struct vreg *out, bool sign)
{
	int b = o + (int)V_STACK, i;

	if (size == 8 && !(o % 8) && f->stype[b] == STACK_SPILL) {
		*out = f->spill[b / 8];
		return 0;
	}
	i = stack_unreadable(f, b, b + size);
	if (i < b + size && f->stype[i] == STACK_SPILL)
		return vreject(env, -EACCES, st->pc,
			       "invalid size of register fill: partial read of spilled %s at fp%d",
			       reg_type_name(f->spill[i / 8].type), (i / 8) * 8 - (int)V_STACK);
	if (i < b + size)
		return vreject(env, -EACCES, st->pc,
			       "invalid read from stack off %d+%d size %d (uninitialised)", o,
			       i - b, size);
	reg_set_size_unknown(out, size, sign);
	return 0;
}

/* ---- memory access ------------------------------------------------- */

/* [r->off + off + var, ... + size) inside [0, limit)? */
static int check_region(struct venv *env, struct vstate *st, int regno, const struct vreg *r,
			int off, int64_t size, uint32_t limit, const char *what)
{
	int64_t lo, hi;

	if (r->smin < -V_MAX_VAR_OFF)
		return vreject(env, -EACCES, st->pc,
			       "R%d min value is negative, either use unsigned index or do a if "
			       "(index >=0) check",
			       regno);
	if (r->smax > V_MAX_VAR_OFF)
		return vreject(
		    env, -EACCES, st->pc,
		    "R%d unbounded memory access, make sure to bounds check any such access",
		    regno);
	lo = (int64_t)r->off + off + r->smin;
	hi = (int64_t)r->off + off + r->smax + size;
	if (lo < 0 && r->smin < 0)
		return vreject(env, -EACCES, st->pc,
			       "R%d min value is negative, either use unsigned index or do a if "
			       "(index >=0) check",
			       regno);
	if (lo < 0 || hi > limit) {
		const char *lim = strcmp(what, "map value") ? "mem_size" : "value_size";

		if (lo == hi - size)
			return vreject(env, -EACCES, st->pc,
				       "invalid access to %s, %s=%u off=%" PRId64 " size=%" PRId64
				       " (R%d)",
				       what, lim, limit, lo, size, regno);
		return vreject(env, -EACCES, st->pc,
			       "invalid access to %s, %s=%u off=[%" PRId64 ",%" PRId64
			       "] size=%" PRId64 " (R%d)",
			       what, lim, limit, lo, hi - size, size, regno);
	}
	return 0;
}

/* Does the policy (if any) grant reading or writing ctx bytes [lo, hi)? */
static bool policy_allows_ctx(const struct venv *env, int64_t lo, int64_t hi, bool write)
{
	uint32_t plo = (uint32_t)lo, plen = (uint32_t)(hi - lo);

	if (!env->policy)
		return true;
	return write ? bext_policy__ctx_writable(env->policy, plo, plen)
		     : bext_policy__ctx_readable(env->policy, plo, plen);
}

/* A map value or ring buffer/key memory access: the region must allow a
 * write, and [off, off + size) from the pointer must lie inside it. */
static int check_value_or_mem(struct venv *env, struct vstate *st, int regno, const struct vreg *r,
			      int off, int64_t size, bool write)
{
	const struct bext_map_desc *map;

	if (r->type == PTR_TO_MEM) {
		if (write && r->rdonly)
			return vreject(env, -EACCES, st->pc, "R%d write into read-only memory",
				       regno);
		return check_region(env, st, regno, r, off, size, r->mem_size, "memory");
	}
	map = &env->opts.maps[r->map_idx];
	if (write && (map->flags & BPF_F_RDONLY_PROG))
		return vreject(env, -EACCES, st->pc,
			       "write into map forbidden, value is read-only");
	return check_region(env, st, regno, r, off, size, map->value_size, "map value");
}

/* The end of an allowed access to plain memory (`what`): no pointer may be
 * stored there, and a load gives an unknown scalar of its width. */
static int plain_access_done(struct venv *env, struct vstate *st, int regno, int size, bool write,
			     const struct vreg *val, struct vreg *out, bool sign, const char *what)
{
	if (write && reg_is_pointer(val))
		return vreject(env, -EACCES, st->pc, "R%d leaks addr into %s", regno, what);
	if (!write)
		reg_set_size_unknown(out, size, sign);
	return 0;
}

/* The program type's ctx rules, then sign extension for ldxs* of a scalar field. */
static int ctx_access(struct venv *env, struct vstate *st, int off, int size, bool write,
		      struct vreg *out, bool sign)
{
	int err = progtype_ctx_access(env, st->pc, off, size, write, out);

	if (err || write || !sign)
		return err;
	if (out->type != SCALAR)
		return vreject(
		    env, -EACCES, st->pc,
		    "invalid access to ctx: sign-extending load of a pointer field (off=%d)", off);
	reg_set_size_unknown(out, size, true);
	return 0;
}

static int check_mem_access(struct venv *env, struct vstate *st, int regno, int off, int size,
			    bool write, const struct vreg *val, struct vreg *out, bool sign)
{
	struct vreg r = curf(st)->regs[regno];
	int err;

	switch (r.type) {
	case PTR_TO_STACK: {
		struct vframe *f = st->frames[r.frameno];

		if (reg_is_const(&r)) {
			int64_t o = (int64_t)r.off + (int64_t)r.var.value + off;

			if (o < -(int64_t)V_STACK || o + size > 0)
				return vreject(env, -EACCES, st->pc,
					       "invalid stack access off=%" PRId64 " size=%d (R%d)",
					       o, size, regno);
			note_depth(env, f, o);
			if (r.frameno != st->curframe ||
			    (o + V_STACK) / 8 != (o + V_STACK + size - 1) / 8)
				env->step_opaque = true;
			else
				env->step_slot = (int16_t)((o + V_STACK) / 8);
			return write ? stack_write(env, st, f, (int)o, size, val)
				     : stack_read(env, st, f, (int)o, size, out, sign);
		}
		env->step_opaque = true;
		if (write)
			return vreject(env, -EACCES, st->pc,
				       "invalid stack access: variable-offset write through R%d",
				       regno);
		if (r.smin < -(int64_t)V_STACK || r.smax > (int64_t)V_STACK)
			return vreject(env, -EACCES, st->pc,
				       "invalid stack access: unbounded variable offset in R%d",
				       regno);
		{
			int64_t lo = r.off + off + r.smin, hi = r.off + off + r.smax + size;

			if (lo < -(int64_t)V_STACK || hi > 0)
				return vreject(
				    env, -EACCES, st->pc,
				    "invalid stack access: variable offset range [%" PRId64
				    ", %" PRId64 ") of R%d",
				    lo, hi, regno);
			note_depth(env, f, lo);
			if (stack_unreadable(f, (int)(lo + V_STACK), (int)(hi + V_STACK)) <
			    (int)(hi + V_STACK))
				return vreject(
				    env, -EACCES, st->pc,
				    "invalid read from stack: variable-offset read of R%d "
				    "may see uninitialised or pointer bytes",
				    regno);
			reg_set_size_unknown(out, size, sign);
			return 0;
		}
	}
	case PTR_TO_CTX:
		if (env->opts.prog_type == BEXT_PROG_EXT &&
		    (!reg_is_const(&r) || r.var.value || r.off)) {
			/* EXT ctx is plain memory: a moved pointer stays inside it */
			int64_t lo, hi;

			err = check_region(env, st, regno, &r, off, size, progtype_ctx_size(env),
					   "ctx");
			if (err)
				return err;
			if (reg_is_const(&r))
				return ctx_access(env, st,
						  (int)(r.off + (int64_t)r.var.value + off), size,
						  write, out, sign);
			lo = (int64_t)r.off + off + r.smin;
			hi = (int64_t)r.off + off + r.smax + size;
			if (write && !env->opts.ctx_writable)
				return vreject(env, -EACCES, st->pc,
					       "invalid access to ctx: write through R%d, ctx of "
					       "ext is read-only",
					       regno);
			if (!policy_allows_ctx(env, lo, hi, write))
				return vreject(env, -EACCES, st->pc,
					       "invalid access to ctx: %s of off=[%" PRId64
					       ",%" PRId64 ") not allowed by policy",
					       write ? "write" : "read", lo, hi);
			return plain_access_done(env, st, regno, size, write, val, out, sign,
						 "ctx");
		}
		if (!reg_is_const(&r) || r.var.value || r.off)
			return vreject(env, -EACCES, st->pc,
				       "dereference of modified ctx ptr R%d off=%d disallowed",
				       regno, r.off);
		if (write && reg_is_pointer(val))
			return vreject(env, -EACCES, st->pc, "R%d leaks addr into ctx", regno);
		return ctx_access(env, st, off, size, write, out, sign);
	case PTR_TO_MAP_VALUE:
	case PTR_TO_MEM:
		err = check_value_or_mem(env, st, regno, &r, off, size, write);
		if (err)
			return err;
		return plain_access_done(env, st, regno, size, write, val, out, sign,
					 r.type == PTR_TO_MEM ? "ring buffer memory" : "map");
	case PTR_TO_PACKET: {
		int64_t lo = (int64_t)r.off + off, hi = lo + size;

		if (r.smin < 0 || r.umax > MAX_PACKET_OFF || lo < 0 || hi > r.mem_size)
			return vreject(
			    env, -EACCES, st->pc,
			    "invalid access to packet, off=%d size=%d, R%d(id=%u,off=%d,r=%u)", off,
			    size, regno, r.id, r.off, r.mem_size);
		return plain_access_done(env, st, regno, size, write, val, out, sign, "packet");
	}
	default:
		return vreject(env, -EACCES, st->pc, "R%d invalid mem access '%s'", regno,
			       reg_type_name(r.type));
	}
}

static int size_bytes(uint8_t code)
{
	switch (BEXT_SIZE(code)) {
	case BEXT_SZ_B:
		return 1;
	case BEXT_SZ_H:
		return 2;
	case BEXT_SZ_W:
		return 4;
	default:
		return 8;
	}
}

static int do_load(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	struct vreg out;
	int err = reg_read(env, st, in->src);

	if (err)
		return err;
	memset(&out, 0, sizeof(out));
	err = check_mem_access(env, st, in->src, in->off, size_bytes(in->code), false, NULL, &out,
			       BEXT_MODE(in->code) == BEXT_MODE_MEMSX);
	if (err)
		return err;
	curf(st)->regs[in->dst] = out;
	st->pc++;
	return 0;
}

static int do_store(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	struct vreg val;
	int size = size_bytes(in->code), err = reg_read(env, st, in->dst);

	if (err)
		return err;
	if (BEXT_CLASS(in->code) == BEXT_CLS_ST) {
		uint64_t v = (uint64_t)(int64_t)in->imm;

		if (size < 8)
			v &= (1ull << (size * 8)) - 1;
		reg_mark_const(&val, v);
	} else {
		err = reg_read(env, st, in->src);
		if (err)
			return err;
		val = curf(st)->regs[in->src];
		env->cur_src_reg = &curf(st)->regs[in->src];
	}
	err = check_mem_access(env, st, in->dst, in->off, size, true, &val, NULL, false);
	env->cur_src_reg = NULL;
	if (err)
		return err;
	st->pc++;
	return 0;
}

static int do_atomic(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	int size = size_bytes(in->code), err;
	struct vreg *base = &curf(st)->regs[in->dst], old, val;

	if ((err = reg_read(env, st, in->dst)) || (err = reg_read(env, st, in->src)))
		return err;
	if (curf(st)->regs[in->src].type != SCALAR)
		return vreject(env, -EACCES, st->pc, "R%d leaks addr into memory", in->src);
	if (in->imm == BEXT_ATOMIC_CMPXCHG) {
		if ((err = reg_read(env, st, 0)))
			return err;
		if (curf(st)->regs[0].type != SCALAR)
			return vreject(env, -EACCES, st->pc, "R0 leaks addr into memory");
	}
	if (base->type != PTR_TO_STACK && base->type != PTR_TO_MAP_VALUE &&
	    base->type != PTR_TO_MEM)
		return vreject(env, -EACCES, st->pc, "BPF_ATOMIC stores into R%d %s is not allowed",
			       in->dst, reg_type_name(base->type));
	{
		/* atomics need natural alignment (stack frames, map values and
		 * ring buffer records start 8-byte aligned) */
		struct tnum a =
		    tnum_add(base->var, tnum_const((uint64_t)(int64_t)(base->off + in->off)));

		if ((a.value | a.mask) & (uint64_t)(size - 1))
			return vreject(env, -EACCES, st->pc,
				       "misaligned BPF_ATOMIC access through R%d: off=%d size=%d",
				       in->dst, base->off + in->off, size);
	}
	memset(&old, 0, sizeof(old));
	env->step_opaque = true;
	err = check_mem_access(env, st, in->dst, in->off, size, false, NULL, &old, false);
	if (err)
		return err;
	if (old.type != SCALAR)
		return vreject(env, -EACCES, st->pc, "BPF_ATOMIC on a spilled pointer");
	reg_set_size_unknown(&val, size, false);
	err = check_mem_access(env, st, in->dst, in->off, size, true, &val, NULL, false);
	if (err)
		return err;
	if (in->imm == BEXT_ATOMIC_CMPXCHG)
		reg_set_size_unknown(&curf(st)->regs[0], size, false);
	else if (in->imm & BEXT_ATOMIC_FETCH)
		reg_set_size_unknown(&curf(st)->regs[in->src], size, false);
	st->pc++;
	return 0;
}

/* ---- lddw ---------------------------------------------------------- */

static int do_lddw(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	struct vreg *d = &curf(st)->regs[in->dst];
	int32_t imm = in->imm, next = env->insns[st->pc + 1].imm;
	const struct bext_map_desc *map;

	switch (in->src) {
	case BEXT_PSEUDO_NONE:
		reg_mark_const(d, (uint64_t)(uint32_t)imm | ((uint64_t)(uint32_t)next << 32));
		break;
	case BEXT_PSEUDO_MAP_FD:
	case BEXT_PSEUDO_MAP_IDX:
	case BEXT_PSEUDO_MAP_VALUE:
	case BEXT_PSEUDO_MAP_IDX_VALUE:
		if (imm < 0 || (uint32_t)imm >= env->opts.n_maps)
			return vreject(env, -EINVAL, st->pc,
				       "fd %d is not pointing to valid bpf_map", imm);
		map = &env->opts.maps[imm];
		if (in->src == BEXT_PSEUDO_MAP_FD || in->src == BEXT_PSEUDO_MAP_IDX) {
			ptr_init(d, CONST_PTR_TO_MAP);
		} else {
			if (map->type != BPF_MAP_TYPE_ARRAY)
				return vreject(
				    env, -EINVAL, st->pc,
				    "map %d (type %u) does not support direct value access", imm,
				    map->type);
			if (next < 0 || (uint32_t)next >= map->value_size)
				return vreject(
				    env, -EACCES, st->pc,
				    "invalid access to map value pointer, value_size=%u off=%d",
				    map->value_size, next);
			ptr_init(d, PTR_TO_MAP_VALUE);
			d->off = next;
		}
		d->map_idx = (uint32_t)imm;
		break;
	case BEXT_PSEUDO_FUNC:
		ptr_init(d, PTR_TO_FUNC);
		d->map_idx = st->pc + imm + 1;
		break;
	default:
		return vreject(env, -EINVAL, st->pc, "lddw src %d not supported", in->src);
	}
	st->pc += 2;
	return 0;
}

/* ---- ALU ----------------------------------------------------------- */

static const char *alu_name(uint8_t op)
{
	static const char *const n[16] = {"+",	 "-", "*", "/",	  "|",	 "&",	"<<", ">>",
					  "neg", "%", "^", "mov", "s>>", "end", "?",  "?"};

	return n[op >> 4];
}

static void do_end(struct vreg *d, const struct bext_insn *in)
{
	unsigned bits = in->imm;
	bool swap = BEXT_CLASS(in->code) == BEXT_CLS_ALU64 || BEXT_SRC(in->code) == BEXT_SRC_X;

	if (reg_is_const(d)) {
		uint64_t v = d->var.value;

		if (swap)
			v = bits == 16	 ? __builtin_bswap16(v)
			    : bits == 32 ? __builtin_bswap32(v)
					 : __builtin_bswap64(v);
		else if (bits < 64)
			v &= (1ull << bits) - 1;
		reg_mark_const(d, v);
		return;
	}
	if (!swap && bits == 64)
		return; /* le64 on a little-endian machine */
	if (!swap) {
		struct vreg t;

		reg_mark_const(&t, (1ull << bits) - 1);
		scalar_alu(d, &t, BEXT_ALU_AND, 0, true);
		return;
	}
	reg_set_size_unknown(d, bits / 8, false);
}

static int ptr_arith(struct venv *env, struct vstate *st, const struct bext_insn *in,
		     struct vreg *dst, const struct vreg *src)
{
	uint8_t op = BEXT_OP(in->code);
	bool is64 = BEXT_CLASS(in->code) == BEXT_CLS_ALU64;
	struct vreg ptr, k, t;
	int pregno = reg_is_pointer(dst) ? in->dst : in->src;

	if (!is64)
		return vreject(env, -EACCES, st->pc, "R%d 32-bit pointer arithmetic prohibited",
			       pregno);
	if (op != BEXT_ALU_ADD && op != BEXT_ALU_SUB)
		return vreject(env, -EACCES, st->pc,
			       "R%d pointer arithmetic with %s operator prohibited", pregno,
			       alu_name(op));
	if (reg_is_pointer(dst) && reg_is_pointer(src)) {
		bool same = dst->type == src->type ||
			    (dst->type == PTR_TO_PACKET_END && src->type == PTR_TO_PACKET);

		if (op != BEXT_ALU_SUB || !same || dst->type == CONST_PTR_TO_MAP ||
		    dst->type == PTR_TO_FUNC || dst->type == PTR_TO_MAP_VALUE_OR_NULL ||
		    dst->type == PTR_TO_MEM_OR_NULL)
			return vreject(env, -EACCES, st->pc, "R%d pointer %s= pointer prohibited",
				       in->dst, alu_name(op));
		reg_mark_unknown(dst);
		return 0;
	}
	if (!reg_is_pointer(dst) && op == BEXT_ALU_SUB)
		return vreject(env, -EACCES, st->pc, "R%d tried to subtract pointer from scalar",
			       in->dst);
	ptr = reg_is_pointer(dst) ? *dst : *src;
	k = reg_is_pointer(dst) ? *src : *dst;
	if (!reg_is_pointer(dst))
		mark_reg_precise(env, in->dst);
	else if (BEXT_SRC(in->code) == BEXT_SRC_X)
		mark_reg_precise(env, in->src);
	switch (ptr.type) {
	case PTR_TO_MAP_VALUE_OR_NULL:
	case PTR_TO_MEM_OR_NULL:
		return vreject(env, -EACCES, st->pc,
			       "R%d pointer arithmetic on %s prohibited, null-check it first",
			       pregno, reg_type_name(ptr.type));
	case CONST_PTR_TO_MAP:
	case PTR_TO_PACKET_END:
	case PTR_TO_FUNC:
		return vreject(env, -EACCES, st->pc, "R%d pointer arithmetic on %s prohibited",
			       pregno, reg_type_name(ptr.type));
	default:
		break;
	}
	if (reg_is_const(&k)) {
		int64_t delta = (int64_t)k.var.value, off;

		if (op == BEXT_ALU_SUB)
			delta = (int64_t)(0 - (uint64_t)delta);
		off = (int64_t)ptr.off + delta;
		if (delta < -V_MAX_VAR_OFF || delta > V_MAX_VAR_OFF || off < -V_MAX_VAR_OFF ||
		    off > V_MAX_VAR_OFF)
			return vreject(env, -EACCES, st->pc,
				       "value %" PRId64 " makes %s pointer be out of bounds", delta,
				       reg_type_name(ptr.type));
		ptr.off = (int32_t)off;
		*dst = ptr;
		return 0;
	}
	if (ptr.type == PTR_TO_CTX && env->opts.prog_type != BEXT_PROG_EXT)
		return vreject(env, -EACCES, st->pc, "R%d variable ctx access prohibited", pregno);
	if (k.smin < -V_MAX_VAR_OFF || k.smax > V_MAX_VAR_OFF)
		return vreject(
		    env, -EACCES, st->pc,
		    "math between %s pointer and register with unbounded min value is not allowed",
		    reg_type_name(ptr.type));
	t = ptr;
	t.type = SCALAR;
	t.id = 0;
	scalar_alu(&t, &k, op, 0, true);
	if (t.smin < -V_MAX_VAR_OFF || t.smax > V_MAX_VAR_OFF)
		return vreject(env, -EACCES, st->pc,
			       "R%d variable offset of %s pointer out of range", pregno,
			       reg_type_name(ptr.type));
	ptr.var = t.var;
	ptr.smin = t.smin;
	ptr.smax = t.smax;
	ptr.umin = t.umin;
	ptr.umax = t.umax;
	ptr.s32min = t.s32min;
	ptr.s32max = t.s32max;
	ptr.u32min = t.u32min;
	ptr.u32max = t.u32max;
	if (ptr.type == PTR_TO_PACKET) {
		ptr.id = ++env->id_gen; /* a new base: nothing proven about it yet */
		ptr.mem_size = 0;
	}
	*dst = ptr;
	return 0;
}

/* The second operand of an ALU op or a jump: the src register, or the
 * immediate sign-extended to 64 bits (wide) or zero-extended from 32. */
static int src_operand(struct venv *env, struct vstate *st, const struct bext_insn *in, bool wide,
		       struct vreg *out)
{
	int err;

	if (BEXT_SRC(in->code) == BEXT_SRC_X) {
		if ((err = reg_read(env, st, in->src)))
			return err;
		*out = curf(st)->regs[in->src];
		return 0;
	}
	reg_mark_const(out, wide ? (uint64_t)(int64_t)in->imm : (uint64_t)(uint32_t)in->imm);
	return 0;
}

static int do_alu(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	struct vframe *f = curf(st);
	struct vreg *dst = &f->regs[in->dst], src;
	uint8_t op = BEXT_OP(in->code);
	bool is64 = BEXT_CLASS(in->code) == BEXT_CLS_ALU64, x = BEXT_SRC(in->code) == BEXT_SRC_X;
	int err;

	if (op == BEXT_ALU_END || op == BEXT_ALU_NEG) {
		if ((err = reg_read(env, st, in->dst)))
			return err;
		if (reg_is_pointer(dst))
			return vreject(env, -EACCES, st->pc,
				       "R%d pointer arithmetic with %s prohibited", in->dst,
				       alu_name(op));
		if (op == BEXT_ALU_END)
			do_end(dst, in);
		else
			scalar_alu(dst, dst, op, 0, is64);
		st->pc++;
		return 0;
	}
	if ((err = src_operand(env, st, in, is64, &src)))
		return err;
	if (op == BEXT_ALU_MOV) {
		if (x && in->off == 0) {
			if (is64) {
				if (src.type == SCALAR && !src.id) {
					f->regs[in->src].id = ++env->id_gen;
					src.id = env->id_gen;
				}
				*dst = src;
			} else {
				if (reg_is_pointer(&src))
					return vreject(env, -EACCES, st->pc,
						       "R%d partial copy of pointer", in->src);
				*dst = src;
				dst->id = 0;
				reg_zext32(dst);
			}
		} else if (x) {
			if (reg_is_pointer(&src))
				return vreject(env, -EACCES, st->pc,
					       "R%d sign-extension of pointer prohibited", in->src);
			*dst = src;
			scalar_alu(dst, &src, BEXT_ALU_MOV, in->off, is64);
		} else {
			*dst = src;
		}
		st->pc++;
		return 0;
	}
	if ((err = reg_read(env, st, in->dst)))
		return err;
	if (reg_is_pointer(dst) || reg_is_pointer(&src)) {
		err = ptr_arith(env, st, in, dst, &src);
		if (err)
			return err;
	} else {
		scalar_alu(dst, &src, op, in->off, is64);
	}
	st->pc++;
	return 0;
}

/* ---- branches ------------------------------------------------------ */

static int push_state(struct venv *env, struct vstate *st)
{
	if (env->n_pending == env->cap_pending) {
		uint32_t cap = env->cap_pending ? env->cap_pending * 2 : 64;
		struct vstate **p = realloc(env->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		env->pending = p;
		env->cap_pending = cap;
	}
	if (env->n_pending >= 8192)
		return vreject(env, -E2BIG, st->pc,
			       "BPF program is too complex: too many pending branches");
	st->hist_len = env->n_hist + 1; /* the forking insn is appended after its step */
	env->pending[env->n_pending++] = st;
	return 0;
}

static struct vstate *fork_state(struct venv *env, struct vstate *st)
{
	struct vstate *o = state_new();

	(void)env;
	if (!o)
		return NULL;
	if (state_copy(o, st)) {
		state_free(o);
		return NULL;
	}
	return o;
}

/* What a conditional jump tells each edge about (a, b). */
struct cmp_plan {
	enum cmp_op op_t, op_f;
	bool swap_t, swap_f; /* compare (b, a) instead of (a, b) */
	bool self_taken;     /* `r op r` always holds (jset aside) */
};

/* Indexed by BEXT_OP(code) >> 4. The fall-through edge holds the negation:
 * `a > b` fails as `b >= a`, hence the other strictness with a swap. */
static const struct cmp_plan cmp_plans[16] = {
    [BEXT_JMP_JEQ >> 4] = {CMP_EQ, CMP_NE, false, false, true},
    [BEXT_JMP_JNE >> 4] = {CMP_NE, CMP_EQ, false, false, false},
    [BEXT_JMP_JSET >> 4] = {CMP_SET, CMP_NSET, false, false, false},
    [BEXT_JMP_JGT >> 4] = {CMP_GT, CMP_GE, false, true, false},
    [BEXT_JMP_JGE >> 4] = {CMP_GE, CMP_GT, false, true, true},
    [BEXT_JMP_JLT >> 4] = {CMP_GT, CMP_GE, true, false, false},
    [BEXT_JMP_JLE >> 4] = {CMP_GE, CMP_GT, true, false, true},
    [BEXT_JMP_JSGT >> 4] = {CMP_SGT, CMP_SGE, false, true, false},
    [BEXT_JMP_JSGE >> 4] = {CMP_SGE, CMP_SGT, false, true, true},
    [BEXT_JMP_JSLT >> 4] = {CMP_SGT, CMP_SGE, true, false, false},
    [BEXT_JMP_JSLE >> 4] = {CMP_SGE, CMP_SGT, true, false, true},
};

static bool refine(struct vreg *a, struct vreg *b, enum cmp_op op, bool swap, bool is32)
{
	return swap ? scalar_refine(b, a, op, is32) : scalar_refine(a, b, op, is32);
}

/* What a pointer comparison tells each edge. */
enum edge_fact { EDGE_NONE, EDGE_DEAD, EDGE_NULL, EDGE_NONNULL, EDGE_PKT_RANGE };

static void apply_edge(struct vstate *s, const struct bext_insn *in, bool x, bool scalars,
		       const struct vreg *ra, const struct vreg *rb, enum edge_fact fact,
		       uint32_t fact_id, int32_t fact_range)
{
	struct vframe *sf = s->frames[s->curframe];

	if (scalars) {
		sf->regs[in->dst] = *ra;
		propagate_scalar(s, ra);
		if (x) {
			sf->regs[in->src] = *rb;
			propagate_scalar(s, rb);
		}
		return;
	}
	if (fact == EDGE_NULL)
		mark_null_check(s, fact_id, true);
	else if (fact == EDGE_NONNULL)
		mark_null_check(s, fact_id, false);
	else if (fact == EDGE_PKT_RANGE)
		mark_pkt_range(s, fact_id, fact_range);
}

static int do_cond(struct venv *env, struct vstate **pst, const struct bext_insn *in)
{
	struct vstate *st = *pst, *other;
	struct vframe *f = curf(st);
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X, is32 = BEXT_CLASS(in->code) == BEXT_CLS_JMP32;
	uint8_t jop = BEXT_OP(in->code);
	uint32_t target = st->pc + in->off + 1;
	struct vreg a = f->regs[in->dst], b, ta, tb, fa, fb;
	enum edge_fact fact_t = EDGE_NONE, fact_f = EDGE_NONE;
	bool ok_t = true, ok_f = true, scalars;
	const struct cmp_plan *p = &cmp_plans[jop >> 4];
	uint32_t fact_id = 0;
	int32_t fact_range = 0;
	int err;

	if ((err = reg_read(env, st, in->dst)))
		return err;
	if ((err = src_operand(env, st, in, !is32, &b)))
		return err;
	scalars = a.type == SCALAR && b.type == SCALAR;
	ta = fa = a;
	tb = fb = b;
	if (scalars && x && in->src == in->dst) {
		/* a register against itself: decided whatever its value, except
		 * jset (r & r != 0 iff r != 0) */
		if (jop == BEXT_JMP_JSET) {
			struct vreg z_t, z_f;

			reg_mark_const(&z_t, 0);
			z_f = z_t;
			ok_t = scalar_refine(&ta, &z_t, CMP_NE, is32);
			ok_f = scalar_refine(&fa, &z_f, CMP_EQ, is32);
			tb = ta; /* apply_edge writes src (== dst) last */
			fb = fa;
			if (ok_t != ok_f)
				mark_reg_precise(env, in->dst);
		} else {
			ok_t = p->self_taken;
			ok_f = !ok_t;
		}
	} else if (scalars) {
		ok_t = refine(&ta, &tb, p->op_t, p->swap_t, is32);
		ok_f = refine(&fa, &fb, p->op_f, p->swap_f, is32);
		if (ok_t != ok_f) { /* decided by the bounds: they matter */
			mark_reg_precise(env, in->dst);
			if (x)
				mark_reg_precise(env, in->src);
		}
	} else {
		const struct vreg *ptr = reg_is_pointer(&a) ? &a : &b, *oth = ptr == &a ? &b : &a;
		bool null_cmp = oth->type == SCALAR && reg_is_const(oth) && !oth->var.value;

		if (is32)
			return vreject(env, -EACCES, st->pc,
				       "R%d 32-bit pointer comparison prohibited",
				       ptr == &a ? in->dst : in->src);
		if (null_cmp && (jop == BEXT_JMP_JEQ || jop == BEXT_JMP_JNE)) {
			bool maybe_null = ptr->type == PTR_TO_MAP_VALUE_OR_NULL ||
					  ptr->type == PTR_TO_MEM_OR_NULL;
			enum edge_fact eq = maybe_null ? EDGE_NULL : EDGE_DEAD;
			enum edge_fact ne = maybe_null ? EDGE_NONNULL : EDGE_NONE;

			fact_t = jop == BEXT_JMP_JEQ ? eq : ne;
			fact_f = jop == BEXT_JMP_JEQ ? ne : eq;
			fact_id = ptr->id;
			if (x)
				mark_reg_precise(env, ptr == &a ? in->src : in->dst);
		} else if ((a.type == PTR_TO_PACKET && b.type == PTR_TO_PACKET_END) ||
			   (a.type == PTR_TO_PACKET_END && b.type == PTR_TO_PACKET)) {
			/* which edge proves pkt < end or pkt <= end */
			bool pkt_left = a.type == PTR_TO_PACKET;
			const struct vreg *pkt = pkt_left ? &a : &b;

			fact_id = pkt->id;
			fact_range = pkt->off;
			switch (jop) {
			case BEXT_JMP_JGT:
			case BEXT_JMP_JGE:
				if (pkt_left)
					fact_f = EDGE_PKT_RANGE;
				else
					fact_t = EDGE_PKT_RANGE;
				break;
			case BEXT_JMP_JLT:
			case BEXT_JMP_JLE:
				if (pkt_left)
					fact_t = EDGE_PKT_RANGE;
				else
					fact_f = EDGE_PKT_RANGE;
				break;
			default:
				break;
			}
		} else if (reg_is_pointer(&a) && reg_is_pointer(&b) && (a.type == b.type) &&
			   a.type != PTR_TO_MAP_VALUE_OR_NULL && a.type != PTR_TO_MEM_OR_NULL) {
			/* same-kind pointers: allowed, nothing learned */
		} else {
			return vreject(env, -EACCES, st->pc, "R%d pointer comparison prohibited",
				       ptr == &a ? in->dst : in->src);
		}
		ok_t = fact_t != EDGE_DEAD;
		ok_f = fact_f != EDGE_DEAD;
	}
	{
		struct vstate *s_t = NULL, *s_f = NULL;

		if (ok_t && ok_f) {
			other = fork_state(env, st);
			if (!other)
				return -ENOMEM;
			other->pc = target;
			st->pc++;
			err = push_state(env, other);
			if (err) {
				state_free(other);
				return err;
			}
			s_t = other;
			s_f = st;
		} else if (ok_t) {
			st->pc = target;
			s_t = st;
		} else if (ok_f) {
			st->pc++;
			s_f = st;
		} else {
			st->pc = UINT32_MAX; /* cannot happen with sound refinement: end the path */
		}
		if (s_t)
			apply_edge(s_t, in, x, scalars, &ta, &tb, fact_t, fact_id, fact_range);
		if (s_f)
			apply_edge(s_f, in, x, scalars, &fa, &fb, fact_f, fact_id, fact_range);
	}
	*pst = st;
	return 0;
}

/* ---- calls --------------------------------------------------------- */

struct call_meta {
	int map;       /* -1: none */
	int mem_regno; /* pending ARG_MEM*: register, 0: none */
	int mem_kind;
	uint32_t release; /* ref to release */
	int64_t alloc;	  /* ARG_CONST_ALLOC_SIZE */
	uint64_t size_max;
	uint32_t func; /* callback target */
	struct vreg cb_ctx;
	int lock_off;
};

/* Checks that [reg, reg + size) may be read (initialised) or written by a helper. */
static int check_helper_mem(struct venv *env, struct vstate *st, int regno, uint64_t size,
			    bool write, uint64_t size_min)
{
	struct vreg *r = &curf(st)->regs[regno];

	if (!size)
		return 0;
	if (size > MAX_MEM_SIZE)
		return vreject(env, -EACCES, st->pc,
			       "R%d memory access of %" PRIu64 " bytes too large", regno, size);
	switch (r->type) {
	case PTR_TO_STACK: {
		struct vframe *f = st->frames[r->frameno];
		int64_t o;
		int b, end;

		if (!reg_is_const(r))
			return vreject(env, -EACCES, st->pc,
				       "R%d variable-offset stack pointer passed to helper", regno);
		o = (int64_t)r->off + (int64_t)r->var.value;
		if (o < -(int64_t)V_STACK || o + (int64_t)size > 0)
			return vreject(env, -EACCES, st->pc,
				       "invalid indirect access to stack R%d off=%" PRId64
				       " size=%" PRIu64,
				       regno, o, size);
		note_depth(env, f, o);
		if (write) {
			if (size_min)
				stack_mark_misc(f, (int)(o + V_STACK), (int)size_min);
			return 0;
		}
		end = (int)(o + V_STACK + (int64_t)size);
		b = stack_unreadable(f, (int)(o + V_STACK), end);
		if (b < end && f->stype[b] == STACK_SPILL)
			return vreject(env, -EACCES, st->pc,
				       "R%d invalid indirect read from stack: spilled "
				       "pointer at off %" PRId64,
				       regno, (int64_t)b - (int64_t)V_STACK);
		if (b < end)
			return vreject(env, -EACCES, st->pc,
				       "invalid indirect read from stack R%d off %" PRId64
				       "+%" PRId64 " size %" PRIu64,
				       regno, o, (int64_t)b - o - (int64_t)V_STACK, size);
		return 0;
	}
	case PTR_TO_MAP_VALUE:
	case PTR_TO_MEM:
		return check_value_or_mem(env, st, regno, r, 0, (int64_t)size, write);
	case PTR_TO_PACKET:
		if (r->smin < 0 || r->umax > MAX_PACKET_OFF || r->off < 0 ||
		    (uint64_t)r->off + size > r->mem_size)
			return vreject(env, -EACCES, st->pc,
				       "invalid access to packet, off=0 size=%" PRIu64
				       ", R%d(id=%u,off=%d,r=%u)",
				       size, regno, r->id, r->off, r->mem_size);
		return 0;
	case PTR_TO_CTX:
		if (env->opts.prog_type == BEXT_PROG_EXT) { /* plain memory, scalars only */
			int64_t lo = (int64_t)r->off + r->smin;
			int64_t hi = (int64_t)r->off + r->smax + (int64_t)size;
			int err;

			if (write && !env->opts.ctx_writable)
				return vreject(
				    env, -EACCES, st->pc,
				    "R%d helper writes into the ctx, ctx of ext is read-only",
				    regno);
			err = check_region(env, st, regno, r, 0, (int64_t)size,
					   progtype_ctx_size(env), "ctx");
			if (err)
				return err;
			if (!policy_allows_ctx(env, lo, hi, write))
				return vreject(env, -EACCES, st->pc,
					       "invalid access to ctx: helper %s of off=[%" PRId64
					       ",%" PRId64 ") not allowed by policy",
					       write ? "write" : "read", lo, hi);
			return 0;
		}
		/* fall through */
	default:
		return vreject(env, -EACCES, st->pc, "R%d type=%s expected=fp, pkt, map_value, mem",
			       regno, reg_type_name(r->type));
	}
}

static int check_arg(struct venv *env, struct vstate *st, const struct helper_proto *p,
		     uint32_t hid, const char *hname, int regno, enum arg_kind kind,
		     struct call_meta *m)
{
	struct vreg *r = &curf(st)->regs[regno];
	const struct bext_map_desc *map = m->map >= 0 ? &env->opts.maps[m->map] : NULL;
	int err;

	(void)p;
	if ((err = reg_read(env, st, regno)))
		return err;
	switch (kind) {
	case ARG_NONE:
	case ARG_ANYTHING:
		return 0;
	case ARG_SCALAR:
		if (r->type != SCALAR)
			goto bad_type;
		return 0;
	case ARG_CONST_MAP_PTR:
		if (r->type != CONST_PTR_TO_MAP)
			goto bad_type;
		m->map = (int)r->map_idx;
		map = &env->opts.maps[m->map];
		if (!helper_map_compatible(hid, map->type))
			return vreject(env, -EACCES, st->pc,
				       "cannot pass map_type %u into func %s#%u", map->type, hname,
				       hid);
		return 0;
	case ARG_MAP_KEY:
		return check_helper_mem(env, st, regno, map->key_size, false, 0);
	case ARG_MAP_VALUE:
		return check_helper_mem(env, st, regno, map->value_size, false, 0);
	case ARG_MAP_VALUE_UNINIT:
		return check_helper_mem(env, st, regno, map->value_size, true, map->value_size);
	case ARG_MEM:
	case ARG_MEM_UNINIT:
	case ARG_MEM_OR_NULL:
		if (kind == ARG_MEM_OR_NULL && r->type == SCALAR && reg_is_const(r) &&
		    !r->var.value) {
			mark_reg_precise(env, regno);
			m->mem_regno = -1; /* NULL: its size must be 0 */
			return 0;
		}
		if (r->type != PTR_TO_STACK && r->type != PTR_TO_MAP_VALUE &&
		    r->type != PTR_TO_MEM && r->type != PTR_TO_PACKET &&
		    !(r->type == PTR_TO_CTX && env->opts.prog_type == BEXT_PROG_EXT))
			return vreject(env, -EACCES, st->pc,
				       "R%d type=%s expected=fp, pkt, map_value, mem", regno,
				       reg_type_name(r->type));
		m->mem_regno = regno;
		m->mem_kind = kind;
		return 0;
	case ARG_SIZE:
	case ARG_SIZE_OR_ZERO:
		if (r->type != SCALAR)
			goto bad_type;
		mark_reg_precise(env, regno);
		if (r->smin < 0)
			return vreject(
			    env, -EACCES, st->pc,
			    "R%d min value is negative, either use unsigned or 'var &= const'",
			    regno);
		if (r->umax > MAX_MEM_SIZE)
			return vreject(
			    env, -EACCES, st->pc,
			    "R%d unbounded memory access, use 'var &= const' or 'if (var < const)'",
			    regno);
		if (kind == ARG_SIZE && r->umin == 0)
			return vreject(env, -EACCES, st->pc,
				       "R%d invalid zero-sized read: u64=[0,%" PRIu64 "]", regno,
				       r->umax);
		m->size_max = r->umax;
		if (m->mem_regno < 0) {
			if (r->umax)
				return vreject(env, -EACCES, st->pc,
					       "R%d must be 0 when the memory argument is NULL",
					       regno);
			return 0;
		}
		return check_helper_mem(env, st, m->mem_regno, r->umax,
					m->mem_kind == ARG_MEM_UNINIT, r->umin);
	case ARG_CTX:
		if (r->type != PTR_TO_CTX)
			goto bad_type;
		if (r->off || !reg_is_const(r) || r->var.value)
			return vreject(env, -EACCES, st->pc,
				       "dereference of modified ctx ptr R%d off=%d disallowed",
				       regno, r->off);
		return 0;
	case ARG_RINGBUF_MEM:
		if (r->type != PTR_TO_MEM || !r->ref_id)
			return vreject(env, -EACCES, st->pc,
				       "R%d type=%s expected=ringbuf_mem (a record from "
				       "bpf_ringbuf_reserve, null-checked)",
				       regno, reg_type_name(r->type));
		if (r->off || !reg_is_const(r) || r->var.value)
			return vreject(env, -EACCES, st->pc,
				       "R%d must have zero offset when passed to release func",
				       regno);
		m->release = r->ref_id;
		return 0;
	case ARG_CONST_ALLOC_SIZE:
		mark_reg_precise(env, regno);
		if (r->type != SCALAR || !reg_is_const(r))
			return vreject(env, -EACCES, st->pc, "R%d is not a known constant", regno);
		if (!r->var.value || r->var.value > MAX_MEM_SIZE)
			return vreject(env, -EACCES, st->pc,
				       "R%d invalid reservation size %" PRIu64, regno,
				       r->var.value);
		m->alloc = (int64_t)r->var.value;
		return 0;
	case ARG_FUNC:
		if (r->type != PTR_TO_FUNC)
			goto bad_type;
		m->func = r->map_idx;
		return 0;
	case ARG_STACK_OR_NULL:
		if (r->type == SCALAR)
			mark_reg_precise(env, regno);
		if (!(r->type == PTR_TO_STACK ||
		      (r->type == SCALAR && reg_is_const(r) && !r->var.value)))
			goto bad_type;
		m->cb_ctx = *r;
		return 0;
	case ARG_SPIN_LOCK: {
		int64_t o;

		if (r->type != PTR_TO_MAP_VALUE || !reg_is_const(r))
			return vreject(env, -EACCES, st->pc,
				       "R%d doesn't point to a bpf_spin_lock in a map value",
				       regno);
		map = &env->opts.maps[r->map_idx];
		o = (int64_t)r->off + (int64_t)r->var.value;
		if (o < 0 || o % 4 || o + 4 > map->value_size)
			return vreject(
			    env, -EACCES, st->pc,
			    "R%d doesn't point to a bpf_spin_lock in a map value (off=%" PRId64 ")",
			    regno, o);
		m->map = (int)r->map_idx;
		m->lock_off = (int)o;
		return 0;
	}
	case ARG_CONST_STR:
		if (r->type == PTR_TO_MAP_VALUE && reg_is_const(r))
			return check_helper_mem(env, st, regno, 1, false, 0);
		if (r->type == PTR_TO_STACK)
			return check_helper_mem(env, st, regno, 1, false, 0);
		return vreject(env, -EACCES, st->pc,
			       "R%d type=%s expected=const string (map value or stack)", regno,
			       reg_type_name(r->type));
	}
	return 0;
bad_type : {
	static const char *const want[] = {
	    [ARG_SCALAR] = "scalar",
	    [ARG_CONST_MAP_PTR] = "map_ptr",
	    [ARG_SIZE] = "scalar",
	    [ARG_SIZE_OR_ZERO] = "scalar",
	    [ARG_CTX] = "ctx",
	    [ARG_FUNC] = "func",
	    [ARG_STACK_OR_NULL] = "fp or NULL",
	};
	const char *w =
	    (unsigned)kind < sizeof(want) / sizeof(want[0]) && want[kind] ? want[kind] : "?";

	return vreject(env, -EACCES, st->pc, "R%d type=%s expected=%s", regno,
		       reg_type_name(r->type), w);
}
}

/* Enters a new frame running the subprogram at insn target, called from
 * st->pc: r10 is its frame pointer, every other register uninitialised. */
static int push_frame(struct venv *env, struct vstate *st, uint32_t target, struct vframe **out)
{
	uint32_t fi = st->curframe + 1;
	struct vframe *f;

	if (fi >= V_MAX_FRAMES)
		return vreject(env, -EACCES, st->pc, "the call stack of %u frames is too deep",
			       fi + 1);
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	free(st->frames[fi]);
	st->frames[fi] = f;
	f->callsite = (int32_t)st->pc;
	f->subprog = env->aux[target].subprog;
	ptr_init(&f->regs[10], PTR_TO_STACK);
	f->regs[10].frameno = fi;
	st->curframe = fi;
	st->pc = target;
	*out = f;
	return 0;
}

static int push_callback_frame(struct venv *env, struct vstate *st, uint32_t hid,
			       const struct call_meta *m)
{
	struct vframe *f;
	int err = push_frame(env, st, m->func, &f);

	if (err)
		return err;
	f->is_callback = true;
	if (hid == 181) { /* bpf_loop: (index, ctx) */
		reg_mark_unknown(&f->regs[1]);
		f->regs[1].umax = UINT32_MAX;
		reg_sync(&f->regs[1]);
		f->regs[2] = m->cb_ctx;
	} else { /* bpf_for_each_map_elem: (map, key, value, ctx) */
		const struct bext_map_desc *map = &env->opts.maps[m->map];

		ptr_init(&f->regs[1], CONST_PTR_TO_MAP);
		f->regs[1].map_idx = m->map;
		ptr_init(&f->regs[2], PTR_TO_MEM);
		f->regs[2].mem_size = map->key_size;
		f->regs[2].rdonly = true;
		ptr_init(&f->regs[3], PTR_TO_MAP_VALUE);
		f->regs[3].map_idx = m->map;
		f->regs[4] = m->cb_ctx;
	}
	return 0;
}

static int do_helper_call(struct venv *env, struct vstate **pst, const struct bext_insn *in)
{
	struct vstate *st = *pst;
	uint32_t hid = (uint32_t)in->imm;
	const struct helper_proto *p = helper_proto(hid);
	const struct bext_host_func *hf =
	    env->policy ? bext_policy__host_func(env->policy, hid) : NULL;
	const char *hname = p ? p->name : hf ? hf->name : "unknown";
	struct call_meta m;
	struct vframe *f = curf(st);
	int err;

	memset(&m, 0, sizeof(m));
	m.map = -1;
	m.lock_off = -1;
	if (!p && !hf)
		return vreject(env, -EINVAL, st->pc, "invalid func unknown#%d", in->imm);
	if (p) {
		if (!(p->types & (1u << env->opts.prog_type)))
			return vreject(env, -EACCES, st->pc,
				       "helper %s#%u not allowed for this program: not available "
				       "to %s programs",
				       p->name, hid, progtype_get(env->opts.prog_type)->name);
		if (env->policy && !bext_policy__helper_allowed(env->policy, hid))
			return vreject(
			    env, -EACCES, st->pc,
			    "helper %s#%u not allowed for this program: not granted by the policy",
			    p->name, hid);
	}
	if (st->lock_map >= 0 && hid != 94)
		return vreject(env, -EACCES, st->pc,
			       "function calls are not allowed while holding a lock (%s#%u)", hname,
			       hid);
	for (int a = 0; a < 5; a++) {
		enum arg_kind k = p		       ? (enum arg_kind)p->args[a]
				  : a < (int)hf->nargs ? ARG_ANYTHING
						       : ARG_NONE;

		if (k == ARG_NONE)
			break;
		err = check_arg(env, st, p, hid, hname, a + 1, k, &m);
		if (err)
			return err;
	}
	/* effects */
	if (m.release) {
		bool held = false;

		for (uint32_t i = 0; i < st->nrefs; i++)
			held |= st->refs[i].id == m.release;
		if (!held)
			return vreject(
			    env, -EACCES, st->pc,
			    "R1 reference has not been acquired before (or was released)");
		release_ref(st, m.release);
	}
	if (hid == 93) {
		if (st->lock_map >= 0)
			return vreject(env, -EACCES, st->pc, "Locks held: nested bpf_spin_lock");
		st->lock_map = m.map;
		st->lock_off = m.lock_off;
		st->lock_id = curf(st)->regs[1].id;
	} else if (hid == 94) {
		if (st->lock_map < 0)
			return vreject(env, -EACCES, st->pc,
				       "bpf_spin_unlock without taking a lock");
		if (st->lock_map != m.map || st->lock_off != m.lock_off)
			return vreject(env, -EACCES, st->pc, "bpf_spin_unlock of a different lock");
		st->lock_map = -1;
		st->lock_off = 0;
		st->lock_id = 0;
	}
	if (hid == BEXT_HELPER_TAIL_CALL && st->nrefs)
		return vreject(env, -EACCES, st->pc,
			       "tail_call would lead to reference leak (ref id=%u)",
			       st->refs[0].id);
	if (env->aux[st->pc].callback_call) {
		struct vstate *after = fork_state(env, st);

		if (!after)
			return -ENOMEM;
		st = after; /* the "no more callbacks" edge is set up below and pushed */
		f = curf(st);
	}
	for (int r = 1; r <= 5; r++)
		memset(&f->regs[r], 0, sizeof(f->regs[r]));
	{
		struct vreg *r0 = &f->regs[0];

		switch (p ? p->ret : RET_INTEGER) {
		case RET_INTEGER:
			reg_mark_unknown(r0);
			if (p && p->ret_le_size) {
				r0->smin = -4095;
				r0->smax = (int64_t)m.size_max;
				reg_sync(r0);
			} else if (hid == 7 || hid == 8) { /* u32 results */
				reg_set_size_unknown(r0, 4, false);
			}
			break;
		case RET_VOID:
			memset(r0, 0, sizeof(*r0));
			break;
		case RET_MAP_VALUE_OR_NULL:
			ptr_init(r0, PTR_TO_MAP_VALUE_OR_NULL);
			r0->map_idx = (uint32_t)m.map;
			r0->id = ++env->id_gen;
			break;
		case RET_RINGBUF_MEM_OR_NULL:
			if (st->nrefs == V_MAX_REFS)
				return vreject(env, -EACCES, st->pc,
					       "too many unreleased references");
			ptr_init(r0, PTR_TO_MEM_OR_NULL);
			r0->mem_size = (uint32_t)m.alloc;
			r0->id = ++env->id_gen;
			r0->ref_id = r0->id;
			st->refs[st->nrefs].id = r0->id;
			st->refs[st->nrefs++].insn = st->pc;
			break;
		}
	}
	st->pc++;
	if (st != *pst) {
		/* callback helper: `st` continues after the helper, the original
		 * state runs the callback once more and then re-executes the call */
		err = push_state(env, st);
		if (err) {
			state_free(st);
			return err;
		}
		return push_callback_frame(env, *pst, hid, &m);
	}
	return 0;
}

static int do_local_call(struct venv *env, struct vstate *st, const struct bext_insn *in)
{
	struct vframe *f, *caller = curf(st);
	int err;

	if (st->lock_map >= 0)
		return vreject(env, -EACCES, st->pc,
			       "function calls are not allowed while holding a lock");
	if ((err = push_frame(env, st, st->pc + in->imm + 1, &f)))
		return err;
	for (int r = 1; r <= 5; r++)
		f->regs[r] = caller->regs[r];
	return 0;
}

static int do_exit(struct venv *env, struct vstate *st, bool *done)
{
	struct vframe *f = curf(st);
	struct vreg *r0 = &f->regs[0];
	char b[320];
	int err;

	if ((err = reg_read(env, st, 0)))
		return err;
	if (st->lock_map >= 0)
		return vreject(env, -EACCES, st->pc, "bpf_spin_unlock is missing");
	if (st->curframe) {
		struct vframe *caller = st->frames[st->curframe - 1];

		if (r0->type == PTR_TO_STACK && r0->frameno == st->curframe)
			return vreject(env, -EACCES, st->pc,
				       "cannot return stack pointer to the caller");
		if (f->is_callback) {
			mark_reg_precise(env, 0);
			if (r0->type != SCALAR || r0->smin < 0 || r0->smax > 1) {
				reg_snprint(b, sizeof(b), r0);
				return vreject(env, -EACCES, st->pc,
					       "At callback return the register R0 has %s should "
					       "have been in [0, 1]",
					       b);
			}
			st->pc = (uint32_t)f->callsite;
			st->cb_return = true;
			st->cb_gen++;
		} else {
			caller->regs[0] = *r0;
			for (int r = 1; r <= 5; r++)
				memset(&caller->regs[r], 0, sizeof(caller->regs[r]));
			st->pc = (uint32_t)f->callsite + 1;
		}
		free(f);
		st->frames[st->curframe] = NULL;
		st->curframe--;
		return 0;
	}
	if (st->nrefs)
		return vreject(env, -EACCES, st->pc, "Unreleased reference id=%u alloc_insn=%u",
			       st->refs[0].id, st->refs[0].insn);
	if (r0->type != SCALAR)
		return vreject(env, -EACCES, st->pc, "R0 leaks addr as return value");
	{
		const struct progtype_desc *d = progtype_get(env->opts.prog_type);
		bool chk = d->ret_checked;
		int64_t lo = d->ret_min, hi = d->ret_max;

		if (env->opts.ret_min || env->opts.ret_max) {
			chk = true;
			lo = env->opts.ret_min;
			hi = env->opts.ret_max;
		}
		if (chk)
			mark_reg_precise(env, 0);
		if (chk && (r0->smin < lo || r0->smax > hi)) {
			reg_snprint(b, sizeof(b), r0);
			return vreject(
			    env, -EACCES, st->pc,
			    "At program exit the register R0 has %s should have been in [%" PRId64
			    ", %" PRId64 "]",
			    b, lo, hi);
		}
	}
	*done = true;
	return 0;
}

static int step(struct venv *env, struct vstate **pst, bool *done)
{
	struct vstate *st = *pst;
	const struct bext_insn *in = &env->insns[st->pc];

	switch (BEXT_CLASS(in->code)) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		return do_alu(env, st, in);
	case BEXT_CLS_LDX:
		return do_load(env, st, in);
	case BEXT_CLS_ST:
		return do_store(env, st, in);
	case BEXT_CLS_STX:
		if (BEXT_MODE(in->code) == BEXT_MODE_ATOMIC)
			return do_atomic(env, st, in);
		return do_store(env, st, in);
	case BEXT_CLS_LD:
		return do_lddw(env, st, in);
	default:
		break;
	}
	switch (BEXT_OP(in->code)) {
	case BEXT_JMP_JA:
		st->pc += (BEXT_CLASS(in->code) == BEXT_CLS_JMP32 ? in->imm : in->off) + 1;
		return 0;
	case BEXT_JMP_EXIT:
		return do_exit(env, st, done);
	case BEXT_JMP_CALL:
		if (in->src == BEXT_CALL_LOCAL)
			return do_local_call(env, st, in);
		return do_helper_call(env, pst, in);
	default:
		return do_cond(env, pst, in);
	}
}

/* ---- exploration --------------------------------------------------- */

/* Level 1 prints the state after these: where paths fork or frames change. */
static bool is_branch_point(const struct bext_insn *in)
{
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);

	return (cls == BEXT_CLS_JMP || cls == BEXT_CLS_JMP32) && op != BEXT_JMP_JA;
}

static void unhash_inprog(struct venv *env, struct sl_node *node)
{
	struct sl_node **l = &env->ibucket[node->hash % 4096];

	while (*l && *l != node)
		l = &(*l)->hnext;
	if (*l)
		*l = node->hnext;
}

/* Ancestors whose every path has ended become complete: they may prune. */
static void finish_inprog(struct venv *env)
{
	while (env->n_inprog && env->inprog[env->n_inprog - 1]->rec_depth >= env->n_pending) {
		struct sl_node *node = env->inprog[--env->n_inprog];
		uint32_t pc = node->st.pc;

		unhash_inprog(env, node);
		node->complete = true;
		if (env->n_explored[pc] >= V_MAX_STATES_PER_INSN) {
			state_free_frames(&node->st);
			free(node);
			continue;
		}
		node->next = env->explored[pc];
		env->explored[pc] = node;
		env->n_explored[pc]++;
	}
}

static bool scalar_same(const struct vreg *a, const struct vreg *b)
{
	return a->var.value == b->var.value && a->var.mask == b->var.mask && a->smin == b->smin &&
	       a->smax == b->smax && a->umin == b->umin && a->umax == b->umax &&
	       a->s32min == b->s32min && a->s32max == b->s32max && a->u32min == b->u32min &&
	       a->u32max == b->u32max;
}

/*
 * Widening at a callback call site: a callback may run any number of times,
 * so scalars it keeps changing in the caller's frames (a counter in the
 * callback ctx) would never let the states converge. Scalars that differ
 * from the previous visit become unknown; the next visit is then covered.
 */
static void widen_callback_state(struct vstate *cur, const struct vstate *old)
{
	if (old->curframe != cur->curframe)
		return;
	for (uint32_t fi = 0; fi <= cur->curframe; fi++) {
		struct vframe *cf = cur->frames[fi];
		const struct vframe *of = old->frames[fi];

		for (int r = 0; r < 11; r++)
			if (cf->regs[r].type == SCALAR && of->regs[r].type == SCALAR &&
			    !scalar_same(&cf->regs[r], &of->regs[r]))
				reg_mark_unknown(&cf->regs[r]);
		for (int sl = 0; sl < (int)V_SLOTS; sl++)
			if (cf->stype[sl * 8] == STACK_SPILL && of->stype[sl * 8] == STACK_SPILL &&
			    cf->spill[sl].type == SCALAR && of->spill[sl].type == SCALAR &&
			    !scalar_same(&cf->spill[sl], &of->spill[sl]))
				reg_mark_unknown(&cf->spill[sl]);
	}
}

/* 1: pruned, 0: go on, <0: error. */
static int visit_state(struct venv *env, struct vstate *cur)
{
	uint32_t pc = cur->pc;
	struct sl_node *sl, *node, **link = &env->explored[pc];
	bool cb_iter = env->aux[pc].callback_call && cur->cb_return;
	bool in_cb = false;
	uint64_t hash = state_hash(env, cur);

	for (uint32_t fi = 1; fi <= cur->curframe; fi++)
		in_cb |= cur->frames[fi]->is_callback; /* somewhere below a callback */
	cur->cb_return = false;
	/* complete states: they prove safety and termination of what they cover */
	while ((sl = *link)) {
		if (state_covers(env, &sl->st, cur, false, &sl->prec)) {
			/* cur is safe for the reasons sl was: what sl depended on,
			 * cur's ancestors depend on too */
			mark_precise(env, sl->prec.regs & env->aux[pc].live_in, sl->prec.slots,
				     sl->prec.all);
			sl->hits++;
			env->states_pruned++;
			return 1;
		}
		/* a complete state that keeps failing to match costs more than it saves */
		if (++sl->miss > sl->hits * 8 + 64) {
			*link = sl->next;
			env->n_explored[pc]--;
			state_free_frames(&sl->st);
			free(sl);
			continue;
		}
		link = &sl->next;
	}
	/*
	 * In-progress ancestors. Covering one proves safety but not termination,
	 * except where a helper bounds the repetition: back at a callback's
	 * helper call from the callback (cb_iter), or at the same point of a
	 * callback body in a later iteration (a different cb_gen). Elsewhere an
	 * equal ancestor means the loop makes no progress.
	 */
	if (cb_iter || in_cb) {
		for (int j = (int)env->n_inprog - 1; j >= 0; j--) {
			sl = env->inprog[j];
			if (sl->st.pc != pc || (!cb_iter && sl->st.cb_gen == cur->cb_gen))
				continue;
			if (state_covers(env, &sl->st, cur, false, NULL)) {
				mark_precise(env, 0, 0, true);
				sl->hits++;
				env->states_pruned++;
				return 1;
			}
		}
	}
	for (sl = env->ibucket[hash % 4096]; sl; sl = sl->hnext)
		if (sl->hash == hash && sl->st.pc == pc &&
		    (!in_cb || sl->st.cb_gen == cur->cb_gen) &&
		    state_covers(env, &sl->st, cur, true, NULL))
			return vreject(
			    env, -EACCES, pc,
			    "unbounded loop at insn %u: the state repeats (infinite loop detected)",
			    pc);
	if (cb_iter)
		for (int j = (int)env->n_inprog - 1; j >= 0; j--)
			if (env->inprog[j]->st.pc == pc) {
				widen_callback_state(cur, &env->inprog[j]->st);
				hash = state_hash(env, cur);
				break;
			}
	/*
	 * A long path (a loop that keeps changing) would store a state at every
	 * prune point it passes, and each takes kilobytes. Past
	 * V_INPROG_EAGER in-progress states, store one only every
	 * n_inprog / 256 processed insns: memory grows with the square root
	 * of the path length. Not storing is always sound (it only costs
	 * pruning); callback call sites are always stored (they converge
	 * through in-progress states).
	 */
	if (env->n_inprog >= V_INPROG_EAGER && !env->aux[pc].callback_call &&
	    env->processed - env->last_store < env->n_inprog / 256)
		return 0;
	env->last_store = env->processed;
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	if (state_copy(&node->st, cur)) {
		state_free_frames(&node->st);
		free(node);
		return -ENOMEM;
	}
	if (env->n_inprog == env->cap_inprog) {
		uint32_t cap = env->cap_inprog ? env->cap_inprog * 2 : 64;
		struct sl_node **p = realloc(env->inprog, cap * sizeof(*p));

		if (!p) {
			state_free_frames(&node->st);
			free(node);
			return -ENOMEM;
		}
		env->inprog = p;
		env->cap_inprog = cap;
	}
	node->rec_depth = env->n_pending;
	node->hist_pos = env->n_hist;
	node->hash = hash;
	node->hnext = env->ibucket[hash % 4096];
	env->ibucket[hash % 4096] = node;
	env->inprog[env->n_inprog++] = node;
	env->states_stored++;
	return 0;
}

static int init_state(struct venv *env, struct vstate *st)
{
	struct vframe *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	st->frames[0] = f;
	f->callsite = -1;
	ptr_init(&f->regs[1], PTR_TO_CTX);
	ptr_init(&f->regs[10], PTR_TO_STACK);
	if (env->opts.prog_type == BEXT_PROG_EXT && env->opts.ctx_len_in_r2)
		reg_mark_const(&f->regs[2], env->opts.ctx_size);
	return 0;
}

/*
 * Level 1 on a rejection: the instructions of the failing path (env->hist,
 * the steps that succeeded), executed again from the initial state with the
 * state printed after every branch point. At a fork the edge the path took
 * is followed. Pruning, precision and stored states are left alone; the
 * rejection itself is the caller's to print.
 */
static struct vstate *replay_path(struct venv *env, uint32_t fail_pc)
{
	uint32_t n = env->n_hist, saved_inprog = env->n_inprog, base = env->n_pending;
	uint32_t *path = malloc((n ? n : 1) * sizeof(*path));
	struct vstate *cur = state_new();
	char reason[sizeof(env->reason)];
	int err_insn = env->err_insn;
	uint32_t i_done = UINT32_MAX; /* steps replayed, when all went through */

	if (!path || !cur || init_state(env, cur)) {
		vlog(env, "(path not shown: out of memory)\n");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		path[i] = env->hist[i].idx;
	memcpy(reason, env->reason, sizeof(reason));
	env->n_inprog = 0; /* no precision marks into stored states */
	env->id_gen = 0;   /* ids as the first exploration of this path made them */
	for (uint32_t i = 0; i <= n; i++) {
		const struct bext_insn *in;
		bool done = false;
		uint32_t next;

		if (i == n) {
			if (cur->pc == fail_pc)
				i_done = n;
			break;
		}
		in = &env->insns[path[i]];
		if (cur->pc != path[i]) {
			vlog(env, "(path replay lost at insn %u)\n", path[i]);
			break;
		}
		vlog_insn(env, cur->pc);
		env->step_slot = -1;
		env->step_opaque = false;
		if (step(env, &cur, &done) || done)
			break;
		/* a fork: continue on the edge the path took (to the next step,
		 * or to the failing insn after the last one) */
		next = i + 1 < n ? path[i + 1] : fail_pc;
		for (uint32_t k = base; k < env->n_pending; k++) {
			if (cur->pc != next && env->pending[k]->pc == next) {
				struct vstate *t = cur;

				cur = env->pending[k];
				env->pending[k] = t;
			}
		}
		while (env->n_pending > base)
			state_free(env->pending[--env->n_pending]);
		if (is_branch_point(in))
			vlog_state(env, cur);
	}
	env->n_inprog = saved_inprog;
	memcpy(env->reason, reason, sizeof(reason)); /* unchanged: the first reason wins */
	env->err_insn = err_insn;
	if (i_done == n) { /* at the failing insn: its state, with the ids the log used */
		while (env->n_pending > base)
			state_free(env->pending[--env->n_pending]);
		free(path);
		return cur;
	}
out:
	while (env->n_pending > base)
		state_free(env->pending[--env->n_pending]);
	state_free(cur);
	free(path);
	return NULL;
}

int do_check(struct venv *env)
{
	struct vstate *cur = state_new();
	uint32_t last_back_from = 0, last_back_to = 0;
	int64_t logged = -1; /* the last insn the log printed */
	int err = 0;

	if (!cur)
		return -ENOMEM;
	err = init_state(env, cur);
	if (err)
		goto out;
	for (;;) {
		bool done = false;
		uint32_t pc = cur->pc;
		const struct bext_insn *in;

		if (pc >= env->n) { /* an edge proven infeasible: the path ends */
			goto path_end;
		}
		if (++env->processed > env->limit) {
			if (env->has_loops)
				err = vreject(env, -E2BIG, pc,
					      "BPF program is too complex: back-edge from insn %u "
					      "to %u, complexity limit of %" PRIu64
					      " insns reached (loop not proven to end)",
					      last_back_from, last_back_to, env->limit);
			else
				err = vreject(env, -E2BIG, pc,
					      "BPF program is too complex: processed %" PRIu64
					      " insns (limit %" PRIu64 ")",
					      env->processed - 1, env->limit);
			goto fail;
		}
		env->aux[pc].seen = true;
		if (env->aux[pc].prune_point) {
			err = visit_state(env, cur);
			if (err < 0)
				goto fail;
			if (err == 1) {
				err = 0;
				if (env->opts.log_level >= 2)
					vlog(env, "%u: safe (pruned)\n", pc);
				goto path_end;
			}
		}
		in = &env->insns[pc];
		if (env->opts.log_level >= 2) {
			vlog_insn(env, pc);
			logged = pc;
		}
		env->step_slot = -1;
		env->step_opaque = false;
		err = step(env, &cur, &done);
		if (err)
			goto fail;
		if (env->n_hist == env->cap_hist) {
			uint32_t cap = env->cap_hist ? env->cap_hist * 2 : 1024;
			struct hist_entry *h = realloc(env->hist, cap * sizeof(*h));

			if (!h) {
				err = -ENOMEM;
				goto fail;
			}
			env->hist = h;
			env->cap_hist = cap;
		}
		env->hist[env->n_hist].idx = pc;
		env->hist[env->n_hist].slot = env->step_slot;
		env->hist[env->n_hist++].opaque = env->step_opaque;
		if (!done && cur->pc <= pc && cur->pc < env->n) {
			last_back_from = pc;
			last_back_to = cur->pc;
		}
		(void)in;
		if (!done && env->opts.log_level >= 2)
			vlog_state(env, cur);
		if (!done)
			continue;
		if (env->opts.log_level >= 2)
			vlog(env, "%u: exit, path safe\n", pc);
	path_end:
		finish_inprog(env);
		if (!env->n_pending)
			break;
		state_free(cur);
		cur = env->pending[--env->n_pending];
		env->n_hist = cur->hist_len;
		if (env->opts.log_level >= 2) {
			vlog(env, "from %u to %u:\n", env->hist[cur->hist_len - 1].idx, cur->pc);
			vlog_state(env, cur);
		}
	}
	goto out;
fail:
	if (env->opts.log_level && env->err_insn >= 0 && (uint32_t)env->err_insn < env->n) {
		/* level 1: the path that led here, replayed with the states at
		 * its branch points */
		struct vstate *rs = env->opts.log_level == 1 ? replay_path(env, cur->pc) : NULL;

		if (env->opts.log_level == 1 || env->err_insn != logged)
			vlog_insn(env, env->err_insn);
		vlog_state(env, rs ? rs : cur);
		state_free(rs);
	}
out:
	state_free(cur);
	return err;
}

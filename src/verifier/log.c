/* SPDX-License-Identifier: MIT */
/*
 * The verifier log: a growable buffer (up to LOG_MAX; past it the older half
 * is dropped) whose tail is copied into the caller's buffer at the end. Register and
 * stack states print in the kernel's spirit: `R1=ctx(off=0) R10=fp0
 * fp-8=mmmmmmmm`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/isa.h>

#include "verifier_internal.h"

#define LOG_MAX (64u << 20)

static void vlog_va(struct venv *env, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	if (env->log_oom)
		return;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if ((size_t)n + 1 > LOG_MAX / 2) /* one enormous line: never happens */
		return;
	if (env->log_len + n + 1 > LOG_MAX) {
		/* only the tail reaches the caller: drop the older half */
		size_t drop = env->log_len / 2;

		memmove(env->log, env->log + drop, env->log_len - drop);
		env->log_len -= drop;
		env->log_base += drop;
	}
	if (env->log_len + n + 1 > env->log_cap) {
		size_t cap = env->log_cap ? env->log_cap : 4096;
		char *p;

		while (cap < env->log_len + n + 1)
			cap *= 2;
		if (cap > LOG_MAX)
			cap = LOG_MAX;
		p = realloc(env->log, cap);
		if (!p) {
			env->log_oom = true;
			return;
		}
		env->log = p;
		env->log_cap = cap;
	}
	vsnprintf(env->log + env->log_len, n + 1, fmt, ap);
	env->log_len += n;
}

void vlog(struct venv *env, const char *fmt, ...)
{
	va_list ap;

	if (!env->opts.log_level)
		return;
	va_start(ap, fmt);
	vlog_va(env, fmt, ap);
	va_end(ap);
}

int vreject(struct venv *env, int err, int insn, const char *fmt, ...)
{
	va_list ap;

	if (env->reason[0]) /* the first reason wins */
		return err;
	va_start(ap, fmt);
	vsnprintf(env->reason, sizeof(env->reason), fmt, ap);
	va_end(ap);
	env->err_insn = insn;
	return err;
}

const char *reg_type_name(enum reg_type t)
{
	static const char *const names[REG_TYPE__MAX] = {
	    [NOT_INIT] = "?",
	    [SCALAR] = "scalar",
	    [PTR_TO_CTX] = "ctx",
	    [PTR_TO_STACK] = "fp",
	    [CONST_PTR_TO_MAP] = "map_ptr",
	    [PTR_TO_MAP_VALUE] = "map_value",
	    [PTR_TO_MAP_VALUE_OR_NULL] = "map_value_or_null",
	    [PTR_TO_MEM] = "mem",
	    [PTR_TO_MEM_OR_NULL] = "mem_or_null",
	    [PTR_TO_PACKET] = "pkt",
	    [PTR_TO_PACKET_END] = "pkt_end",
	    [PTR_TO_FUNC] = "func",
	};

	return (unsigned)t < REG_TYPE__MAX ? names[t] : "invalid";
}

/* ",smin=..,..." for the bounds that say something. */
static int bounds_snprint(char *buf, size_t len, const struct vreg *r)
{
	size_t n = 0;
	char t[64];

#define ADD(...)                                                                \
	do {                                                                    \
		int _k = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (_k > 0)                                                     \
			n += _k;                                                \
	} while (0)
	if (r->smin != INT64_MIN)
		ADD(",smin=%" PRId64, r->smin);
	if (r->smax != INT64_MAX)
		ADD(",smax=%" PRId64, r->smax);
	if (r->umin)
		ADD(",umin=%" PRIu64, r->umin);
	if (r->umax != UINT64_MAX)
		ADD(",umax=%" PRIu64, r->umax);
	if (r->s32min != INT32_MIN && (int64_t)r->s32min != r->smin)
		ADD(",smin32=%d", r->s32min);
	if (r->s32max != INT32_MAX && (int64_t)r->s32max != r->smax)
		ADD(",smax32=%d", r->s32max);
	if (r->u32min && r->u32min != r->umin)
		ADD(",umin32=%u", r->u32min);
	if (r->u32max != UINT32_MAX && r->u32max != r->umax)
		ADD(",umax32=%u", r->u32max);
	if (!tnum_is_unknown(r->var)) {
		tnum_snprint(t, sizeof(t), r->var);
		ADD(",var_off=%s", t);
	}
#undef ADD
	return (int)n;
}

void reg_snprint(char *buf, size_t len, const struct vreg *r)
{
	char b[320] = "";
	int n;

	switch (r->type) {
	case SCALAR:
		if (reg_is_const(r)) {
			snprintf(buf, len, "%" PRId64, (int64_t)r->var.value);
			return;
		}
		bounds_snprint(b, sizeof(b), r);
		if (r->id)
			snprintf(buf, len, "scalar(id=%u%s)", r->id, b);
		else
			snprintf(buf, len, "scalar(%s)", b[0] ? b + 1 : "");
		return;
	case PTR_TO_STACK:
		if (reg_is_const(r)) {
			snprintf(buf, len, "fp%d", r->off + (int32_t)r->var.value);
			return;
		}
		bounds_snprint(b, sizeof(b), r);
		snprintf(buf, len, "fp(frame=%u,off=%d%s)", r->frameno, r->off, b);
		return;
	default:
		break;
	}
	n = snprintf(buf, len, "%s(", reg_type_name(r->type));
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= n;
	switch (r->type) {
	case CONST_PTR_TO_MAP:
		snprintf(buf, len, "map=%u)", r->map_idx);
		return;
	case PTR_TO_FUNC:
		snprintf(buf, len, "insn=%u)", r->map_idx);
		return;
	default:
		break;
	}
	if (!reg_is_const(r) || r->var.value)
		bounds_snprint(b, sizeof(b), r);
	if (r->type == PTR_TO_MAP_VALUE || r->type == PTR_TO_MAP_VALUE_OR_NULL)
		snprintf(buf, len, "%s%.0u%smap=%u,off=%d%s)", r->id ? "id=" : "", r->id,
			 r->id ? "," : "", r->map_idx, r->off, b);
	else if (r->type == PTR_TO_MEM || r->type == PTR_TO_MEM_OR_NULL)
		snprintf(buf, len, "id=%u,ref=%u,sz=%u,off=%d%s)", r->id, r->ref_id, r->mem_size,
			 r->off, b);
	else if (r->type == PTR_TO_PACKET)
		snprintf(buf, len, "id=%u,off=%d,r=%u%s)", r->id, r->off, r->mem_size, b);
	else
		snprintf(buf, len, "off=%d%s)", r->off, b);
}

void vlog_insn(struct venv *env, uint32_t idx)
{
	char text[128];
	const struct bext_insn *in = &env->insns[idx];

	if (!env->opts.log_level)
		return;
	if (bext_disasm_insn(env->insns, env->n, idx, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "code=0x%02x dst=r%u src=r%u off=%d imm=%d", in->code,
			 in->dst, in->src, in->off, in->imm);
	vlog(env, "%u: (%02x) %s\n", idx, in->code, text);
}

static void slot_snprint(char *buf, size_t len, const struct vframe *f, int slot)
{
	const uint8_t *st = &f->stype[slot * 8];

	if (st[0] == STACK_SPILL) {
		reg_snprint(buf, len, &f->spill[slot]);
		return;
	}
	for (int i = 0; i < 8 && (size_t)i + 1 < len; i++) {
		buf[i] = st[7 - i] == STACK_MISC ? 'm' : '?';
		buf[i + 1] = 0;
	}
}

void vlog_state(struct venv *env, const struct vstate *st)
{
	char b[400];

	if (!env->opts.log_level)
		return;
	for (uint32_t fi = 0; fi <= st->curframe; fi++) {
		const struct vframe *f = st->frames[fi];

		if (st->curframe)
			vlog(env, "frame%u:", fi);
		for (int i = 0; i < 11; i++) {
			if (f->regs[i].type == NOT_INIT)
				continue;
			reg_snprint(b, sizeof(b), &f->regs[i]);
			vlog(env, " R%d=%s", i, b);
		}
		for (int s = V_SLOTS - 1; s >= 0; s--) {
			bool any = false;

			for (int i = 0; i < 8; i++)
				any |= f->stype[s * 8 + i] != STACK_INVALID;
			if (!any)
				continue;
			slot_snprint(b, sizeof(b), f, s);
			vlog(env, " fp%d=%s", (s - V_SLOTS) * 8, b);
		}
		vlog(env, "\n");
	}
	if (st->nrefs) {
		vlog(env, "refs:");
		for (uint32_t i = 0; i < st->nrefs; i++)
			vlog(env, " %u(insn %u)", st->refs[i].id, st->refs[i].insn);
		vlog(env, "\n");
	}
}

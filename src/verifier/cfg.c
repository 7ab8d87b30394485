/* SPDX-License-Identifier: MIT */
/*
 * Structure: what must hold before any abstract interpretation.
 *
 *  1. decode: every opcode known, fields reserved for an opcode are zero,
 *     registers < 11, r10 never written, lddw has its second slot;
 *  2. subprograms: starts are insn 0, every `call local` target and every
 *     lddw PSEUDO_FUNC target; jumps stay inside their subprogram; each
 *     subprogram ends in exit or ja;
 *  3. CFG: one depth-first walk from insn 0 (calls are edges to the callee)
 *     finds unreachable code, loops (back-edges) and recursion (a back-edge
 *     that is a call), and gives a post-order for the longest-path bound;
 *  4. liveness: registers read before written, per instruction (backward
 *     dataflow to a fixpoint), so pruning can ignore dead registers; and
 *     relevance: registers whose value may flow into something a safety
 *     rule or a branch looks at (an address, a helper argument, a stored
 *     value, a comparison, a checked return value). A live scalar that is
 *     not relevant only has to be a scalar for pruning: no check and no
 *     branch can tell its values apart (a static stand-in for the kernel's
 *     precision tracking);
 *  5. after exploration: combined stack depth over the call graph.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verifier_internal.h"

static bool is_lddw(const struct bext_insn *in)
{
	return in->code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM);
}

static int bad(struct venv *env, int i, const char *what)
{
	return vreject(env, -EINVAL, i, "invalid insn %d: %s (code 0x%02x)", i, what,
		       env->insns[i].code);
}

static int check_alu(struct venv *env, int i, const struct bext_insn *in)
{
	uint8_t op = BEXT_OP(in->code);
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X, is64 = BEXT_CLASS(in->code) == BEXT_CLS_ALU64;

	if (op > BEXT_ALU_END)
		return bad(env, i, "unknown ALU operation");
	if (op == BEXT_ALU_NEG) {
		if (x || in->src || in->off || in->imm)
			return bad(env, i, "BPF_NEG uses reserved fields");
		return 0;
	}
	if (op == BEXT_ALU_END) {
		if (in->src || in->off)
			return bad(env, i, "BPF_END uses reserved fields");
		if (is64 && x)
			return bad(env, i, "bswap takes no source register");
		if (in->imm != 16 && in->imm != 32 && in->imm != 64)
			return bad(env, i, "BPF_END width must be 16, 32 or 64");
		return 0;
	}
	if (!x && in->src)
		return bad(env, i, "BPF_K operation uses the src field");
	if (x && in->imm)
		return bad(env, i, "BPF_X operation uses the imm field");
	if (op == BEXT_ALU_DIV || op == BEXT_ALU_MOD) {
		if (in->off != 0 && in->off != 1)
			return bad(env, i, "div/mod offset must be 0 or 1");
	} else if (op == BEXT_ALU_MOV) {
		if (in->off && !(x && (in->off == 8 || in->off == 16 || (is64 && in->off == 32))))
			return bad(env, i, "invalid movsx width");
	} else if (in->off) {
		return bad(env, i, "ALU operation uses the off field");
	}
	if (!x && (op == BEXT_ALU_LSH || op == BEXT_ALU_RSH || op == BEXT_ALU_ARSH) &&
	    (in->imm < 0 || in->imm >= (is64 ? 64 : 32)))
		return vreject(env, -EINVAL, i, "invalid shift %d", in->imm);
	return 0;
}

static int check_decode(struct venv *env)
{
	for (uint32_t i = 0; i < env->n; i++) {
		const struct bext_insn *in = &env->insns[i];
		uint8_t cls = BEXT_CLASS(in->code), mode = BEXT_MODE(in->code);
		uint8_t sz = BEXT_SIZE(in->code);
		int err = 0;

		if (in->dst > 10 || in->src > 10)
			return vreject(env, -EINVAL, i, "invalid insn %u: R%d is invalid", i,
				       in->dst > 10 ? in->dst : in->src);
		switch (cls) {
		case BEXT_CLS_ALU:
		case BEXT_CLS_ALU64:
			err = check_alu(env, i, in);
			if (!err && in->dst == 10)
				err = vreject(env, -EACCES, i, "frame pointer is read only");
			break;
		case BEXT_CLS_LDX:
			if (mode != BEXT_MODE_MEM && !(mode == BEXT_MODE_MEMSX && sz != BEXT_SZ_DW))
				err = bad(env, i, "unknown load mode");
			else if (in->imm)
				err = bad(env, i, "BPF_LDX uses reserved fields");
			else if (in->dst == 10)
				err = vreject(env, -EACCES, i, "frame pointer is read only");
			break;
		case BEXT_CLS_ST:
			if (mode != BEXT_MODE_MEM || in->src)
				err = bad(env, i, "BPF_ST uses reserved fields");
			break;
		case BEXT_CLS_STX:
			if (mode == BEXT_MODE_ATOMIC) {
				int op = in->imm;

				if (sz != BEXT_SZ_W && sz != BEXT_SZ_DW)
					err = bad(env, i, "atomic operations are 4 or 8 bytes");
				else if (op != BEXT_ATOMIC_ADD && op != BEXT_ATOMIC_OR &&
					 op != BEXT_ATOMIC_AND && op != BEXT_ATOMIC_XOR &&
					 op != (BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH) &&
					 op != (BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH) &&
					 op != (BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH) &&
					 op != (BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH) &&
					 op != BEXT_ATOMIC_XCHG && op != BEXT_ATOMIC_CMPXCHG)
					err = bad(env, i, "unknown atomic operation");
			} else if (mode != BEXT_MODE_MEM || in->imm) {
				err = bad(env, i, "BPF_STX uses reserved fields");
			}
			break;
		case BEXT_CLS_LD:
			if (mode == BEXT_MODE_ABS || mode == BEXT_MODE_IND) {
				err =
				    vreject(env, -EINVAL, i,
					    "BPF_LD_[ABS|IND] not supported for this program type");
				break;
			}
			if (!is_lddw(in)) {
				err = bad(env, i, "unknown BPF_LD form");
				break;
			}
			if (i + 1 >= env->n) {
				err = vreject(env, -EINVAL, i,
					      "invalid insn %u: lddw without its second slot", i);
				break;
			}
			{
				const struct bext_insn *n2 = &env->insns[i + 1];

				if (n2->code || n2->dst || n2->src || n2->off || in->off)
					err = bad(env, i, "lddw uses reserved fields");
				else if (in->src == BEXT_PSEUDO_BTF_ID ||
					 in->src > BEXT_PSEUDO_MAP_IDX_VALUE)
					err = vreject(env, -EINVAL, i, "lddw src %d not supported",
						      in->src);
				else if (in->dst == 10)
					err =
					    vreject(env, -EACCES, i, "frame pointer is read only");
			}
			env->aux[i + 1].second_slot = true;
			i++;
			break;
		case BEXT_CLS_JMP:
		case BEXT_CLS_JMP32: {
			uint8_t op = BEXT_OP(in->code);
			bool x = BEXT_SRC(in->code) == BEXT_SRC_X;

			if (op == 0xe0 || op == 0xf0) {
				err = bad(env, i, "unknown jump operation");
			} else if (op == BEXT_JMP_JA) {
				if (x || in->src || in->dst ||
				    (cls == BEXT_CLS_JMP ? in->imm : in->off))
					err = bad(env, i, "BPF_JA uses reserved fields");
			} else if (op == BEXT_JMP_CALL) {
				if (cls == BEXT_CLS_JMP32 || x || in->dst || in->off)
					err = bad(env, i, "BPF_CALL uses reserved fields");
				else if (in->src == BEXT_CALL_KFUNC)
					err = vreject(env, -EINVAL, i,
						      "kfunc calls are not supported");
				else if (in->src > BEXT_CALL_KFUNC)
					err = bad(env, i, "BPF_CALL uses reserved fields");
			} else if (op == BEXT_JMP_EXIT) {
				if (cls == BEXT_CLS_JMP32 || x || in->src || in->dst || in->off ||
				    in->imm)
					err = bad(env, i, "BPF_EXIT uses reserved fields");
			} else if (!x && in->src) {
				err = bad(env, i, "BPF_K jump uses the src field");
			} else if (x && in->imm) {
				err = bad(env, i, "BPF_X jump uses the imm field");
			}
			break;
		}
		}
		if (err)
			return err;
	}
	return 0;
}

/* Target of a jump or local call at i, or -1 when i is neither. */
static int64_t jump_target(const struct bext_insn *in, uint32_t i)
{
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);

	if (cls != BEXT_CLS_JMP && cls != BEXT_CLS_JMP32)
		return -1;
	if (op == BEXT_JMP_EXIT)
		return -1;
	if (op == BEXT_JMP_CALL)
		return in->src == BEXT_CALL_LOCAL ? (int64_t)i + in->imm + 1 : -1;
	if (cls == BEXT_CLS_JMP32 && op == BEXT_JMP_JA)
		return (int64_t)i + in->imm + 1;
	return (int64_t)i + in->off + 1;
}

static bool is_call_local(const struct bext_insn *in)
{
	return in->code == (BEXT_CLS_JMP | BEXT_JMP_CALL) && in->src == BEXT_CALL_LOCAL;
}

static bool is_helper_call(const struct bext_insn *in)
{
	return in->code == (BEXT_CLS_JMP | BEXT_JMP_CALL) && in->src == BEXT_CALL_HELPER;
}

static bool is_uncond(const struct bext_insn *in)
{
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);

	return (cls == BEXT_CLS_JMP && (op == BEXT_JMP_JA || op == BEXT_JMP_EXIT)) ||
	       (cls == BEXT_CLS_JMP32 && op == BEXT_JMP_JA);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int find_subprogs(struct venv *env)
{
	uint32_t *starts, n = 0;
	int err = 0;

	starts = malloc((env->n + 1) * sizeof(*starts));
	if (!starts)
		return -ENOMEM;
	starts[n++] = 0;
	for (uint32_t i = 0; i < env->n; i++) {
		const struct bext_insn *in = &env->insns[i];
		int64_t t = -1;
		bool func = false;

		if (env->aux[i].second_slot)
			continue;
		if (is_call_local(in)) {
			t = jump_target(in, i);
		} else if (is_lddw(in) && in->src == BEXT_PSEUDO_FUNC) {
			t = (int64_t)i + in->imm + 1;
			func = true;
		} else {
			continue;
		}
		if (t < 0 || t >= env->n || env->aux[t].second_slot) {
			err =
			    vreject(env, -EINVAL, i, "%s target out of range from insn %u to %lld",
				    func ? "callback" : "call", i, (long long)t);
			goto out_free;
		}
		starts[n++] = (uint32_t)t;
	}
	qsort(starts, n, sizeof(*starts), cmp_u32);
	env->subprogs = calloc(n, sizeof(*env->subprogs));
	if (!env->subprogs) {
		err = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (env->n_subprogs && env->subprogs[env->n_subprogs - 1].start == starts[i])
			continue;
		env->subprogs[env->n_subprogs++].start = starts[i];
	}
	for (uint32_t s = 0; s < env->n_subprogs; s++) {
		struct subprog *sp = &env->subprogs[s];

		sp->end = s + 1 < env->n_subprogs ? env->subprogs[s + 1].start : env->n;
		for (uint32_t i = sp->start; i < sp->end; i++)
			env->aux[i].subprog = s;
	}
	for (uint32_t i = 0; i < env->n; i++) {
		const struct bext_insn *in = &env->insns[i];

		if (is_lddw(in) && in->src == BEXT_PSEUDO_FUNC) {
			uint32_t t = i + in->imm + 1;

			env->subprogs[env->aux[t].subprog].is_callback = true;
		}
	}
out_free:
	free(starts);
	return err;
}

static int check_jumps(struct venv *env)
{
	for (uint32_t i = 0; i < env->n; i++) {
		const struct bext_insn *in = &env->insns[i];
		int64_t t;

		if (env->aux[i].second_slot || is_call_local(in))
			continue;
		if ((BEXT_CLASS(in->code) == BEXT_CLS_JMP ||
		     BEXT_CLASS(in->code) == BEXT_CLS_JMP32) &&
		    BEXT_OP(in->code) != BEXT_JMP_EXIT && BEXT_OP(in->code) != BEXT_JMP_CALL) {
			const struct subprog *sp = &env->subprogs[env->aux[i].subprog];

			t = jump_target(in, i);
			if (t < 0 || t >= env->n || env->aux[t].second_slot)
				return vreject(env, -EINVAL, i,
					       "jump out of range from insn %u to %lld", i,
					       (long long)t);
			if (t < sp->start || t >= sp->end)
				return vreject(env, -EINVAL, i,
					       "jump out of range from insn %u to %lld (leaves its "
					       "subprogram)",
					       i, (long long)t);
			env->aux[t].prune_point = true;
			if (BEXT_OP(in->code) != BEXT_JMP_JA && i + 1 < env->n)
				env->aux[i + 1].prune_point = true;
		}
		if (is_helper_call(in) && (in->imm == 181 || in->imm == 164)) {
			env->aux[i].callback_call = true;
			env->aux[i].prune_point = true;
		}
	}
	for (uint32_t s = 0; s < env->n_subprogs; s++) {
		uint32_t last = env->subprogs[s].end - 1;

		if (env->aux[last].second_slot || !is_uncond(&env->insns[last]))
			return vreject(
			    env, -EINVAL, last,
			    "last insn is not an exit or jmp (insn %u falls through%s)", last,
			    s + 1 < env->n_subprogs ? " into the next subprogram" : " off the end");
	}
	return 0;
}

/* Successors of insn i: up to two flow edges plus a call edge. */
static int successors(struct venv *env, uint32_t i, uint32_t out[3], bool is_call[3])
{
	const struct bext_insn *in = &env->insns[i];
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);
	int n = 0;
	uint32_t next = i + (is_lddw(in) ? 2 : 1);

	if (is_lddw(in) && in->src == BEXT_PSEUDO_FUNC) {
		is_call[n] = true;
		out[n++] = i + in->imm + 1;
	}
	if (cls == BEXT_CLS_JMP || cls == BEXT_CLS_JMP32) {
		if (op == BEXT_JMP_EXIT)
			return n;
		if (op == BEXT_JMP_CALL) {
			if (in->src == BEXT_CALL_LOCAL) {
				is_call[n] = true;
				out[n++] = (uint32_t)jump_target(in, i);
			}
			is_call[n] = false;
			out[n++] = next;
			return n;
		}
		is_call[n] = false;
		out[n++] = (uint32_t)jump_target(in, i);
		if (op != BEXT_JMP_JA) {
			is_call[n] = false;
			out[n++] = next;
		}
		return n;
	}
	is_call[n] = false;
	out[n++] = next;
	return n;
}

/* Depth-first walk: reachability, back-edges, recursion, post-order. */
static int walk(struct venv *env, uint32_t *post, uint32_t *n_post)
{
	uint8_t *color = calloc(env->n, 1);
	uint32_t *stk = malloc(env->n * sizeof(*stk));
	uint8_t *edge = calloc(env->n, 1);
	uint32_t sp = 0;
	int err = 0;

	if (!color || !stk || !edge) {
		err = -ENOMEM;
		goto out;
	}
	stk[sp++] = 0;
	color[0] = 1;
	*n_post = 0;
	while (sp) {
		uint32_t i = stk[sp - 1], succ[3];
		bool call[3];
		int ns = successors(env, i, succ, call);

		if (edge[i] < ns) {
			int e = edge[i]++;
			uint32_t t = succ[e];

			if (color[t] == 1) {
				if (call[e]) {
					err = vreject(
					    env, -EINVAL, i,
					    "recursive call from insn %u to subprogram at insn %u",
					    i, t);
					goto out;
				}
				env->has_loops = true;
			} else if (!color[t]) {
				color[t] = 1;
				stk[sp++] = t;
			}
			continue;
		}
		color[i] = 2;
		post[(*n_post)++] = i;
		sp--;
	}
	for (uint32_t i = 0; i < env->n; i++)
		if (!color[i] && !env->aux[i].second_slot) {
			err = vreject(env, -EINVAL, i, "unreachable insn %u", i);
			goto out;
		}
out:
	free(color);
	free(stk);
	free(edge);
	return err;
}

static void use_def(struct venv *env, uint32_t i, uint16_t *use, uint16_t *def)
{
	const struct bext_insn *in = &env->insns[i];
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code), mode = BEXT_MODE(in->code);
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X;
	uint16_t d = 1u << in->dst, s = 1u << in->src;

	*use = 1u << 10;
	*def = 0;
	switch (cls) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		if (op != BEXT_ALU_MOV)
			*use |= d;
		if (x && op != BEXT_ALU_END && op != BEXT_ALU_NEG)
			*use |= s;
		*def = d;
		break;
	case BEXT_CLS_LDX:
		*use |= s;
		*def = d;
		break;
	case BEXT_CLS_ST:
		*use |= d;
		break;
	case BEXT_CLS_STX:
		*use |= d | s;
		if (mode == BEXT_MODE_ATOMIC) {
			if (in->imm == BEXT_ATOMIC_CMPXCHG) {
				*use |= 1;
				*def = 1;
			} else if (in->imm & BEXT_ATOMIC_FETCH) {
				*def = s;
			}
		}
		break;
	case BEXT_CLS_LD:
		*def = d;
		break;
	default: /* jumps */
		if (op == BEXT_JMP_EXIT) {
			*use |= 1;
		} else if (op == BEXT_JMP_CALL) {
			const struct helper_proto *p =
			    in->src == BEXT_CALL_HELPER ? helper_proto(in->imm) : NULL;
			int nargs = 5;

			if (p)
				for (nargs = 0; nargs < 5 && p->args[nargs]; nargs++)
					;
			*use |= ((1u << (nargs + 1)) - 1) & ~1u;
			*def = 0x3f;
		} else if (op != BEXT_JMP_JA) {
			*use |= d;
			if (x)
				*use |= s;
		}
	}
}

/* Registers whose value matters at insn i given those that matter after it. */
static uint16_t rel_step(struct venv *env, uint32_t i, uint16_t out)
{
	const struct bext_insn *in = &env->insns[i];
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code), mode = BEXT_MODE(in->code);
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X;
	uint16_t d = 1u << in->dst, s = 1u << in->src, r = out;

	switch (cls) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		if (!(out & d))
			return out & ~d;
		r &= ~d;
		if (op != BEXT_ALU_MOV)
			r |= d;
		if (x && op != BEXT_ALU_END && op != BEXT_ALU_NEG)
			r |= s;
		return r;
	case BEXT_CLS_LDX:
		return (out & ~d) | s;
	case BEXT_CLS_ST:
		return out | d;
	case BEXT_CLS_STX:
		r |= d | s;
		if (mode == BEXT_MODE_ATOMIC && in->imm == BEXT_ATOMIC_CMPXCHG)
			r |= 1;
		return r;
	case BEXT_CLS_LD:
		return out & ~d;
	default:
		if (op == BEXT_JMP_EXIT) {
			const struct progtype_desc *pd = progtype_get(env->opts.prog_type);
			bool checked = env->aux[i].subprog != 0 || pd->ret_checked ||
				       env->opts.ret_min || env->opts.ret_max;

			return checked ? 1 : 0;
		}
		if (op == BEXT_JMP_CALL)
			return (out & ~0x3fu) | 0x3e;
		if (op == BEXT_JMP_JA)
			return out;
		r |= d;
		if (x)
			r |= s;
		return r;
	}
}

/* The two backward register flows over the control-flow graph. */
enum reg_flow {
	FLOW_LIVE, /* live_in: read before written on some path */
	FLOW_REL,  /* rel_in: live and may reach a check (needs live_in) */
};

static uint16_t *flow_in(struct insn_aux *a, enum reg_flow fl)
{
	return fl == FLOW_LIVE ? &a->live_in : &a->rel_in;
}

/* The flow's registers before insn i given those after it. */
static uint16_t flow_step(struct venv *env, uint32_t i, uint16_t out, enum reg_flow fl)
{
	uint16_t use, def;

	if (fl == FLOW_REL)
		return (rel_step(env, i, out) | (1u << 10)) & env->aux[i].live_in;
	use_def(env, i, &use, &def);
	return use | (out & ~def);
}

static void backward_fixpoint(struct venv *env, const uint32_t *post, uint32_t n_post,
			      enum reg_flow fl)
{
	bool changed = true;

	/* post-order visits successors first: few passes reach the fixpoint */
	while (changed) {
		changed = false;
		for (uint32_t k = 0; k < n_post; k++) {
			uint32_t i = post[k], succ[3];
			bool call[3];
			int ns = successors(env, i, succ, call);
			uint16_t out = 0, in;

			for (int e = 0; e < ns; e++)
				if (!call[e])
					out |= *flow_in(&env->aux[succ[e]], fl);
			in = flow_step(env, i, out, fl);
			if (in != *flow_in(&env->aux[i], fl)) {
				*flow_in(&env->aux[i], fl) = in;
				changed = true;
			}
		}
	}
}

static void longest_path(struct venv *env, const uint32_t *post, uint32_t n_post)
{
	uint64_t *lp;

	env->max_path = 0;
	if (env->has_loops)
		return;
	for (uint32_t i = 0; i < env->n; i++)
		if (env->aux[i].callback_call ||
		    (is_helper_call(&env->insns[i]) && env->insns[i].imm == BEXT_HELPER_TAIL_CALL))
			return; /* bound depends on the callee: not proven statically */
	lp = calloc(env->n, sizeof(*lp));
	if (!lp)
		return;
	for (uint32_t k = 0; k < n_post; k++) {
		uint32_t i = post[k], succ[3];
		bool call[3];
		int ns = successors(env, i, succ, call);
		uint64_t best = 0, callee = 0;

		for (int e = 0; e < ns; e++) {
			if (call[e])
				callee += lp[succ[e]];
			else if (lp[succ[e]] > best)
				best = lp[succ[e]];
		}
		lp[i] = 1 + best + callee;
	}
	env->max_path = lp[0];
	free(lp);
}

int cfg_check(struct venv *env)
{
	uint32_t *post, n_post = 0;
	int err;

	if (!env->n)
		return vreject(env, -EINVAL, -1, "empty program");
	err = check_decode(env);
	if (err)
		return err;
	err = find_subprogs(env);
	if (err)
		return err;
	err = check_jumps(env);
	if (err)
		return err;
	post = malloc(env->n * sizeof(*post));
	if (!post)
		return -ENOMEM;
	err = walk(env, post, &n_post);
	if (!err) {
		backward_fixpoint(env, post, n_post, FLOW_LIVE);
		backward_fixpoint(env, post, n_post, FLOW_REL);
		longest_path(env, post, n_post);
	}
	free(post);
	return err;
}

/* Worst combined stack depth from subprogram s down its call chains. */
static int depth_from(struct venv *env, uint32_t s, int level, uint32_t *out, uint32_t *memo)
{
	const struct subprog *sp = &env->subprogs[s];
	uint32_t own = ((sp->stack_depth ? sp->stack_depth : 1) + 31) & ~31u, worst = 0;

	if (memo[s] != UINT32_MAX) {
		*out = memo[s];
		return 0;
	}
	if (level > (int)V_MAX_FRAMES)
		return vreject(env, -EACCES, sp->start, "the call stack of %d frames is too deep",
			       level);
	for (uint32_t i = sp->start; i < sp->end; i++) {
		const struct bext_insn *in = &env->insns[i];
		uint32_t d, t;
		int err;

		if (env->aux[i].second_slot)
			continue;
		if (is_call_local(in))
			t = i + in->imm + 1;
		else if (is_lddw(in) && in->src == BEXT_PSEUDO_FUNC)
			t = i + in->imm + 1;
		else
			continue;
		err = depth_from(env, env->aux[t].subprog, level + 1, &d, memo);
		if (err)
			return err;
		if (d > worst)
			worst = d;
	}
	memo[s] = *out = own + worst;
	return 0;
}

int cfg_check_stack_depth(struct venv *env)
{
	uint32_t *memo = malloc(env->n_subprogs * sizeof(*memo)), d = 0;
	int err;

	if (!memo)
		return -ENOMEM;
	memset(memo, 0xff, env->n_subprogs * sizeof(*memo));
	err = depth_from(env, 0, 1, &d, memo);
	free(memo);
	if (err)
		return err;
	env->stack_depth = d;
	if (d > V_STACK)
		return vreject(env, -EACCES, -1,
			       "combined stack size of the call chain is %u. Too large", d);
	return 0;
}

uint64_t cfg_longest_path(struct venv *env)
{
	return env->max_path;
}

/* SPDX-License-Identifier: MIT */
/*
 * The vm object: configuration (helpers, regions, resolvers), loading with
 * the structural checks every engine relies on, and the run entry points.
 *
 * Loading copies the program, resolves pseudo lddw forms (except
 * BPF_PSEUDO_FUNC, which stays for the engines to turn into their own
 * function values) and checks, per instruction: a known opcode, registers in
 * range and r10 never written, jump/call targets inside the program and not
 * on the second slot of an lddw, helpers registered. The last instruction
 * must be exit or ja, so no engine can run off the end. Engines may then
 * dispatch without re-checking any of this.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

__thread int bext_jit_run_error;
__thread int64_t bext_jit_run_error_insn = -1;
__thread struct bext_run *bext_cur_run;

void bext_jit_set_run_error(int err_no, int64_t insn)
{
	/* Keep the first error of a run: later ones are consequences. */
	if (!bext_jit_run_error) {
		bext_jit_run_error = err_no;
		bext_jit_run_error_insn = insn;
	}
}

/* Weak default: no JIT back end on this architecture. */
__attribute__((weak)) const struct bext_jit_ops *const bext_arch_jit_ops = NULL;

int bext_vm_error(struct bext_vm *vm, int err_no, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	va_end(ap);
	return -err_no;
}

struct bext_vm *bext_vm__new(const struct bext_vm_opts *opts)
{
	struct bext_vm *vm;

	if (opts && opts->sz && opts->sz < offsetof(struct bext_vm_opts, checked)) {
		errno = EINVAL;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts) {
		/* Copy only what the caller's (possibly older) struct holds. */
		size_t sz = opts->sz ? opts->sz : sizeof(*opts);

		if (sz > sizeof(vm->opts))
			sz = sizeof(vm->opts);
		memcpy(&vm->opts, opts, sz);
	}
	vm->opts.sz = sizeof(vm->opts);
	vm->unwind_helper = -1;
	return vm;
}

void bext_vm__free(struct bext_vm *vm)
{
	if (!vm)
		return;
	bext_jit_release(vm);
	free(vm->jit_funcs); /* NULL once released */
	for (size_t i = 0; i < BEXT_MAX_HELPERS; i++)
		free(vm->helpers[i].name);
	free(vm->regions);
	free(vm->insns);
	free(vm->func_entry);
	free(vm->map_lddw);
	free(vm);
}

int bext_vm__register_helper(struct bext_vm *vm, uint32_t id, const char *name, bext_helper_fn fn)
{
	char *copy;

	if (!vm || !fn || id >= BEXT_MAX_HELPERS)
		return -EINVAL;
	if (vm->helpers[id].fn)
		return -EEXIST;
	copy = strdup(name ? name : "");
	if (!copy)
		return -ENOMEM;
	vm->helpers[id].fn = fn;
	vm->helpers[id].name = copy;
	return 0;
}

const char *bext_vm__helper_name(const struct bext_vm *vm, uint32_t id)
{
	if (!vm || id >= BEXT_MAX_HELPERS || !vm->helpers[id].fn)
		return NULL;
	return vm->helpers[id].name;
}

int bext_vm__set_unwind_helper(struct bext_vm *vm, uint32_t id)
{
	if (!vm || id >= BEXT_MAX_HELPERS)
		return -EINVAL;
	vm->unwind_helper = id;
	return 0;
}

int bext_vm__add_region(struct bext_vm *vm, void *base, size_t len, bool writable)
{
	struct bext_region *r;

	if (!vm || !base || !len || (uintptr_t)base + len < (uintptr_t)base)
		return -EINVAL;
	r = realloc(vm->regions, (vm->n_regions + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	vm->regions = r;
	r[vm->n_regions++] =
	    (struct bext_region){.base = (uintptr_t)base, .len = len, .writable = writable};
	return 0;
}

int bext_vm__set_inline_lookup(struct bext_vm *vm, bext_inline_lookup_fn fn, void *user)
{
	if (!vm)
		return -EINVAL;
	vm->inline_lookup = fn;
	vm->inline_lookup_user = user;
	return 0;
}

size_t bext_vm__jit_inlined(const struct bext_vm *vm)
{
	return vm && vm->jit_fn ? vm->jit_inlined : 0;
}

int bext_vm__set_pseudo_resolver(struct bext_vm *vm, bext_pseudo_fn fn, void *user)
{
	if (!vm)
		return -EINVAL;
	vm->pseudo = fn;
	vm->pseudo_user = user;
	return 0;
}

int bext_vm__set_tail_call_resolver(struct bext_vm *vm, bext_tail_call_fn fn, void *user)
{
	if (!vm)
		return -EINVAL;
	vm->tail_call = fn;
	vm->tail_call_user = user;
	return 0;
}

const struct bext_insn *bext_vm__insns(const struct bext_vm *vm, size_t *n_insns)
{
	if (!vm || !vm->loaded) {
		if (n_insns)
			*n_insns = 0;
		return NULL;
	}
	if (n_insns)
		*n_insns = vm->n_insns;
	return vm->insns;
}

const char *bext_vm__last_error(const struct bext_vm *vm)
{
	return vm ? vm->err : "";
}

/* ---- loading ------------------------------------------------------------ */

struct load_ctx {
	struct bext_vm *vm;
	struct bext_insn *insns;
	size_t n;
	uint8_t *second;   /* second[i]: insn i is the second slot of an lddw */
	uint8_t *map_lddw; /* map_lddw[i]: insn i was a map pointer lddw (MAP_FD/MAP_IDX) */
};

static bool is_alu_op_known(uint8_t op)
{
	return op <= BEXT_ALU_END;
}

static bool is_jmp_cond(uint8_t op)
{
	switch (op) {
	case BEXT_JMP_JEQ:
	case BEXT_JMP_JGT:
	case BEXT_JMP_JGE:
	case BEXT_JMP_JSET:
	case BEXT_JMP_JNE:
	case BEXT_JMP_JSGT:
	case BEXT_JMP_JSGE:
	case BEXT_JMP_JLT:
	case BEXT_JMP_JLE:
	case BEXT_JMP_JSLT:
	case BEXT_JMP_JSLE:
		return true;
	}
	return false;
}

static int check_target(struct load_ctx *lc, size_t pc, int64_t rel, const char *what)
{
	int64_t t = (int64_t)pc + 1 + rel;

	if (t < 0 || t >= (int64_t)lc->n)
		return bext_vm_error(lc->vm, EINVAL,
				     "insn %zu: %s target %lld out of range [0, %zu)", pc, what,
				     (long long)t, lc->n);
	if (lc->second[t])
		return bext_vm_error(lc->vm, EINVAL,
				     "insn %zu: %s target %lld is the second slot of an lddw", pc,
				     what, (long long)t);
	return 0;
}

#define REG_CHECK(lc, pc, r, which)                                                             \
	do {                                                                                    \
		if ((r) > 10)                                                                   \
			return bext_vm_error((lc)->vm, EINVAL, "insn %zu: bad %s register r%u", \
					     (pc), (which), (unsigned)(r));                     \
	} while (0)

#define DST_WRITE_CHECK(lc, pc, r)                                                                \
	do {                                                                                      \
		REG_CHECK(lc, pc, r, "destination");                                              \
		if ((r) == 10)                                                                    \
			return bext_vm_error((lc)->vm, EINVAL,                                    \
					     "insn %zu: r10 is read-only (frame pointer)", (pc)); \
	} while (0)

static int check_alu(struct load_ctx *lc, size_t pc, const struct bext_insn *in)
{
	uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);
	bool x = BEXT_SRC(in->code) == BEXT_SRC_X;

	if (!is_alu_op_known(op))
		return bext_vm_error(lc->vm, EINVAL, "insn %zu: unknown opcode 0x%02x", pc,
				     in->code);
	DST_WRITE_CHECK(lc, pc, in->dst);
	if (x && op != BEXT_ALU_END && op != BEXT_ALU_NEG)
		REG_CHECK(lc, pc, in->src, "source");
	switch (op) {
	case BEXT_ALU_DIV:
	case BEXT_ALU_MOD:
		if (in->off != 0 && in->off != 1)
			return bext_vm_error(lc->vm, EINVAL, "insn %zu: bad offset %d for div/mod",
					     pc, in->off);
		break;
	case BEXT_ALU_MOV:
		if (in->off == 0)
			break;
		if (!x ||
		    !(in->off == 8 || in->off == 16 || (in->off == 32 && cls == BEXT_CLS_ALU64)))
			return bext_vm_error(lc->vm, EINVAL, "insn %zu: bad offset %d for mov", pc,
					     in->off);
		break;
	case BEXT_ALU_END:
		if (cls == BEXT_CLS_ALU64 && x)
			return bext_vm_error(lc->vm, EINVAL, "insn %zu: unknown opcode 0x%02x", pc,
					     in->code);
		if (in->imm != 16 && in->imm != 32 && in->imm != 64)
			return bext_vm_error(lc->vm, EINVAL,
					     "insn %zu: byte swap width %d is not 16, 32 or 64", pc,
					     in->imm);
		break;
	}
	return 0;
}

static int resolve_lddw(struct load_ctx *lc, size_t pc)
{
	struct bext_insn *in = &lc->insns[pc];
	struct bext_insn *next;
	uint64_t value;
	int err;

	if (pc + 1 >= lc->n)
		return bext_vm_error(lc->vm, EINVAL, "insn %zu: lddw without its second slot", pc);
	next = &lc->insns[pc + 1];
	if (next->code || next->dst || next->src || next->off)
		return bext_vm_error(lc->vm, EINVAL,
				     "insn %zu: malformed second slot of lddw (must be all zero "
				     "but imm)",
				     pc + 1);
	DST_WRITE_CHECK(lc, pc, in->dst);
	switch (in->src) {
	case BEXT_PSEUDO_NONE:
		return 0;
	case BEXT_PSEUDO_FUNC:
		/* Checked with the other targets in the second pass. */
		return 0;
	case BEXT_PSEUDO_MAP_FD:
	case BEXT_PSEUDO_MAP_VALUE:
	case BEXT_PSEUDO_BTF_ID:
	case BEXT_PSEUDO_MAP_IDX:
	case BEXT_PSEUDO_MAP_IDX_VALUE:
		if (!lc->vm->pseudo)
			return bext_vm_error(lc->vm, EINVAL,
					     "insn %zu: lddw pseudo form %u needs a resolver "
					     "(none set)",
					     pc, (unsigned)in->src);
		err = lc->vm->pseudo(lc->vm->pseudo_user, in->src, in->imm, next->imm, &value);
		if (err)
			return bext_vm_error(
			    lc->vm, err < 0 ? -err : EINVAL,
			    "insn %zu: cannot resolve lddw pseudo form %u (imm %d): "
			    "%s",
			    pc, (unsigned)in->src, in->imm, strerror(err < 0 ? -err : EINVAL));
		if (in->src == BEXT_PSEUDO_MAP_FD || in->src == BEXT_PSEUDO_MAP_IDX)
			lc->map_lddw[pc] = 1;
		in->src = BEXT_PSEUDO_NONE;
		in->imm = (int32_t)(uint32_t)value;
		next->imm = (int32_t)(uint32_t)(value >> 32);
		return 0;
	}
	return bext_vm_error(lc->vm, EINVAL, "insn %zu: unknown lddw pseudo form %u", pc,
			     (unsigned)in->src);
}

static int check_insn(struct load_ctx *lc, size_t pc)
{
	const struct bext_insn *in = &lc->insns[pc];
	struct bext_vm *vm = lc->vm;
	uint8_t code = in->code, op = BEXT_OP(code);

	switch (BEXT_CLASS(code)) {
	case BEXT_CLS_ALU:
	case BEXT_CLS_ALU64:
		return check_alu(lc, pc, in);
	case BEXT_CLS_LD:
		if (code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
			break;
		if (in->src == BEXT_PSEUDO_FUNC)
			return check_target(lc, pc, in->imm, "function");
		return 0;
	case BEXT_CLS_LDX:
		if (BEXT_MODE(code) != BEXT_MODE_MEM &&
		    !(BEXT_MODE(code) == BEXT_MODE_MEMSX && BEXT_SIZE(code) != BEXT_SZ_DW))
			break;
		DST_WRITE_CHECK(lc, pc, in->dst);
		REG_CHECK(lc, pc, in->src, "source");
		return 0;
	case BEXT_CLS_ST:
		if (BEXT_MODE(code) != BEXT_MODE_MEM)
			break;
		REG_CHECK(lc, pc, in->dst, "destination");
		return 0;
	case BEXT_CLS_STX:
		if (BEXT_MODE(code) == BEXT_MODE_MEM) {
			REG_CHECK(lc, pc, in->dst, "destination");
			REG_CHECK(lc, pc, in->src, "source");
			return 0;
		}
		if (BEXT_MODE(code) != BEXT_MODE_ATOMIC ||
		    (BEXT_SIZE(code) != BEXT_SZ_W && BEXT_SIZE(code) != BEXT_SZ_DW))
			break;
		REG_CHECK(lc, pc, in->dst, "destination");
		REG_CHECK(lc, pc, in->src, "source");
		switch (in->imm) {
		case BEXT_ATOMIC_ADD:
		case BEXT_ATOMIC_OR:
		case BEXT_ATOMIC_AND:
		case BEXT_ATOMIC_XOR:
		case BEXT_ATOMIC_CMPXCHG:
			return 0;
		case BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH:
		case BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH:
		case BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH:
		case BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH:
		case BEXT_ATOMIC_XCHG:
			if (in->src == 10)
				return bext_vm_error(
				    vm, EINVAL, "insn %zu: r10 is read-only (frame pointer)", pc);
			return 0;
		}
		return bext_vm_error(vm, EINVAL, "insn %zu: unknown atomic operation 0x%x", pc,
				     (unsigned)in->imm);
	case BEXT_CLS_JMP:
	case BEXT_CLS_JMP32:
		if (op == BEXT_JMP_JA) {
			if (BEXT_SRC(code) != BEXT_SRC_K)
				break;
			if (BEXT_CLASS(code) == BEXT_CLS_JMP32)
				return check_target(lc, pc, in->imm, "jump");
			return check_target(lc, pc, in->off, "jump");
		}
		if (is_jmp_cond(op)) {
			REG_CHECK(lc, pc, in->dst, "destination");
			if (BEXT_SRC(code) == BEXT_SRC_X)
				REG_CHECK(lc, pc, in->src, "source");
			return check_target(lc, pc, in->off, "jump");
		}
		if (BEXT_CLASS(code) == BEXT_CLS_JMP32)
			break;
		if (code == (BEXT_CLS_JMP | BEXT_JMP_EXIT))
			return 0;
		if (code == (BEXT_CLS_JMP | BEXT_JMP_CALL | BEXT_SRC_X)) {
			REG_CHECK(lc, pc, in->dst, "callx");
			return 0;
		}
		if (code != (BEXT_CLS_JMP | BEXT_JMP_CALL))
			break;
		if (in->src == BEXT_CALL_LOCAL)
			return check_target(lc, pc, in->imm, "call");
		if (in->src != BEXT_CALL_HELPER)
			return bext_vm_error(vm, EOPNOTSUPP,
					     "insn %zu: call kind %u (kfunc) not supported", pc,
					     (unsigned)in->src);
		if (in->imm < 0 || (uint32_t)in->imm >= BEXT_MAX_HELPERS)
			return bext_vm_error(vm, EINVAL, "insn %zu: helper id %d out of range", pc,
					     in->imm);
		if (vm->helpers[in->imm].fn || (in->imm == BEXT_HELPER_TAIL_CALL && vm->tail_call))
			return 0;
		return bext_vm_error(vm, ENOENT, "insn %zu: call to unknown helper %d", pc,
				     in->imm);
	}
	return bext_vm_error(vm, EINVAL, "insn %zu: unknown opcode 0x%02x", pc, code);
}

int bext_vm__load(struct bext_vm *vm, const struct bext_insn *insns, size_t n_insns, char *err,
		  size_t err_len)
{
	struct load_ctx lc = {.vm = vm, .n = n_insns};
	const struct bext_insn *last;
	int ret = -EINVAL;

	if (!vm)
		return -EINVAL;
	vm->err[0] = '\0';
	if (vm->loaded) {
		ret = bext_vm_error(vm, EBUSY, "a program is already loaded");
		goto out;
	}
	if (!insns || !n_insns) {
		ret = bext_vm_error(vm, EINVAL, "empty program");
		goto out;
	}
	if (n_insns > BEXT_MAX_INSNS) {
		ret = bext_vm_error(vm, E2BIG, "program too long (%zu insns, max %u)", n_insns,
				    BEXT_MAX_INSNS);
		goto out;
	}
	lc.insns = malloc(n_insns * sizeof(*insns));
	lc.second = calloc(n_insns, 1);
	lc.map_lddw = calloc(n_insns, 1);
	if (!lc.insns || !lc.second || !lc.map_lddw) {
		ret = bext_vm_error(vm, ENOMEM, "out of memory");
		goto free_all;
	}
	memcpy(lc.insns, insns, n_insns * sizeof(*insns));

	/* Pass 1: lddw slots and pseudo forms, so that targets can be checked. */
	for (size_t pc = 0; pc < n_insns; pc++) {
		if (lc.insns[pc].code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))
			continue;
		ret = resolve_lddw(&lc, pc);
		if (ret)
			goto free_all;
		lc.second[++pc] = 1;
	}
	/* Pass 2: every instruction. */
	for (size_t pc = 0; pc < n_insns; pc++) {
		if (lc.second[pc])
			continue;
		ret = check_insn(&lc, pc);
		if (ret)
			goto free_all;
	}
	last = &lc.insns[n_insns - 1];
	if (lc.second[n_insns - 1] || !(last->code == (BEXT_CLS_JMP | BEXT_JMP_EXIT) ||
					last->code == (BEXT_CLS_JMP | BEXT_JMP_JA) ||
					last->code == (BEXT_CLS_JMP32 | BEXT_JMP_JA))) {
		ret = bext_vm_error(vm, EINVAL,
				    "insn %zu: last instruction must be exit or ja (execution "
				    "would fall off the end)",
				    n_insns - 1);
		goto free_all;
	}
	/* Function entries named by BPF_PSEUDO_FUNC: the only valid callx targets. */
	for (size_t pc = 0; pc < n_insns; pc++) {
		if (lc.second[pc] ||
		    lc.insns[pc].code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM) ||
		    lc.insns[pc].src != BEXT_PSEUDO_FUNC)
			continue;
		lc.second[pc + 1 + lc.insns[pc].imm] |= 2;
	}
	for (size_t pc = 0; pc < n_insns; pc++)
		lc.second[pc] = lc.second[pc] >> 1;

	vm->insns = lc.insns;
	vm->n_insns = n_insns;
	vm->func_entry = lc.second;
	vm->map_lddw = lc.map_lddw;
	vm->loaded = true;
	ret = 0;
	goto out;

free_all:
	free(lc.insns);
	free(lc.second);
	free(lc.map_lddw);
out:
	if (ret && err && err_len)
		snprintf(err, err_len, "%s", vm->err);
	return ret;
}

/* ---- running ------------------------------------------------------------ */

int bext_vm__exec(struct bext_vm *vm, void *ctx, size_t ctx_len, uint64_t *ret)
{
	if (!vm || !ret)
		return -EINVAL;
	if (!vm->loaded)
		return bext_vm_error(vm, EINVAL, "no program loaded");
	return bext_interp_run(vm, ctx, ctx_len, ret);
}

/* Turns the JIT's thread-local run error into a return value, and restores it. */
static int jit_run_result(struct bext_vm *vm, uint64_t r0, int saved_err, int64_t saved_insn,
			  uint64_t *ret)
{
	char msg[64];

	if (bext_jit_run_error) {
		int e = bext_jit_run_error;
		int64_t at = bext_jit_run_error_insn;

		bext_jit_run_error = saved_err;
		bext_jit_run_error_insn = saved_insn;
		if (at >= 0)
			snprintf(msg, sizeof(msg), "insn %lld: ", (long long)at);
		else
			msg[0] = '\0';
		return bext_vm_error(vm, -e, "%s%s", msg,
				     e == -E2BIG    ? "call depth exceeded"
				     : e == -EINVAL ? "callx to an invalid target"
						    : strerror(-e));
	}
	bext_jit_run_error = saved_err;
	bext_jit_run_error_insn = saved_insn;
	*ret = r0;
	return 0;
}

int bext_vm__run(struct bext_vm *vm, enum bext_engine engine, void *ctx, size_t ctx_len,
		 uint64_t *ret)
{
	char msg[256];
	uint64_t r0;
	int saved_err;
	int64_t saved_insn;

	if (!vm || !ret)
		return -EINVAL;
	if (!vm->loaded)
		return bext_vm_error(vm, EINVAL, "no program loaded");
	if (engine != BEXT_ENGINE_JIT)
		return bext_interp_run(vm, ctx, ctx_len, ret);
	if (vm->opts.checked) {
		/* Only the interpreter checks memory accesses and budgets. */
		return bext_interp_run(vm, ctx, ctx_len, ret);
	}
	if (!vm->jit_fn) {
		if (!vm->jit_tried) {
			msg[0] = '\0';
			if (!bext_vm__jit(vm, msg, sizeof(msg)))
				pr_warn("JIT cannot compile the program (%s): using the "
					"interpreter\n",
					msg[0] ? msg : strerror(errno));
			vm->jit_tried = true;
		}
		if (!vm->jit_fn)
			return bext_interp_run(vm, ctx, ctx_len, ret);
	}
	/* Save the word around the call: a helper may run another program. */
	saved_err = bext_jit_run_error;
	saved_insn = bext_jit_run_error_insn;
	bext_jit_run_error = 0;
	bext_jit_run_error_insn = -1;
	if (vm->jit_run_entry) {
		struct bext_run run = {.vm = vm,
				       .engine = BEXT_ENGINE_JIT,
				       .ctx = ctx,
				       .ctx_len = ctx_len,
				       .parent = bext_cur_run};

		bext_cur_run = &run;
		r0 = vm->jit_run_entry(ctx, ctx_len, &run);
		bext_cur_run = run.parent;
	} else {
		r0 = vm->jit_fn(ctx, ctx_len);
	}
	return jit_run_result(vm, r0, saved_err, saved_insn, ret);
}

struct bext_vm *bext_vm__current(void)
{
	return bext_cur_run ? bext_cur_run->vm : NULL;
}

static int cmp_uintptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static int call_jit(struct bext_run *run, uint64_t fv, const uint64_t a[5], uint64_t *ret)
{
	struct bext_vm *vm = run->vm;
	struct bext_run cb = {.vm = vm, .engine = BEXT_ENGINE_JIT, .parent = run, .callback = true};
	struct bext_jit_cb args = {.target = (uintptr_t)fv, .run = &cb};
	uintptr_t key = (uintptr_t)fv;
	int saved_err = bext_jit_run_error;
	int64_t saved_insn = bext_jit_run_error_insn;
	uint32_t depth;
	uint64_t r0;

	if (!run->jit_rc || !vm->jit_cb_entry)
		return bext_vm_error(vm, EINVAL,
				     "callback: the running JIT code has no run "
				     "context (called other than through bext_vm__run?)");
	if (!vm->n_jit_funcs ||
	    !bsearch(&key, vm->jit_funcs, vm->n_jit_funcs, sizeof(*vm->jit_funcs), cmp_uintptr))
		return bext_vm_error(vm, EINVAL,
				     "callback: 0x%llx is no function of the running "
				     "program",
				     (unsigned long long)fv);
	memcpy(&depth, run->jit_rc, sizeof(depth));
	if (depth + 1 >= BEXT_MAX_CALL_DEPTH)
		return bext_vm_error(vm, E2BIG, "callback: call depth exceeded (max %u frames)",
				     BEXT_MAX_CALL_DEPTH);
	args.depth = depth + 1;
	bext_jit_run_error = 0;
	bext_jit_run_error_insn = -1;
	bext_cur_run = &cb;
	r0 = vm->jit_cb_entry(a[0], a[1], a[2], a[3], a[4], &args);
	bext_cur_run = run;
	return jit_run_result(vm, r0, saved_err, saved_insn, ret);
}

int bext_vm__call_func(struct bext_vm *vm, uint64_t func_value, uint64_t r1, uint64_t r2,
		       uint64_t r3, uint64_t r4, uint64_t r5, uint64_t *ret)
{
	struct bext_run *run = bext_cur_run;
	const uint64_t args[5] = {r1, r2, r3, r4, r5};
	uintptr_t base, off;

	if (!ret)
		return -EINVAL;
	if (!run)
		return -ENOENT;
	if (vm && vm != run->vm)
		return bext_vm_error(vm, EINVAL,
				     "callback: this vm is not the program running "
				     "on this thread");
	vm = run->vm;
	if (run->engine == BEXT_ENGINE_JIT)
		return call_jit(run, func_value, args, ret);
	base = (uintptr_t)vm->insns;
	off = (uintptr_t)func_value - base;
	if ((uintptr_t)func_value < base || off >= vm->n_insns * sizeof(struct bext_insn) ||
	    off % sizeof(struct bext_insn) || !vm->func_entry[off / sizeof(struct bext_insn)])
		return bext_vm_error(vm, EINVAL,
				     "callback: 0x%llx is no function of the running "
				     "program",
				     (unsigned long long)func_value);
	if (run->depth + 1 >= BEXT_MAX_CALL_DEPTH)
		return bext_vm_error(vm, E2BIG, "callback: call depth exceeded (max %u frames)",
				     BEXT_MAX_CALL_DEPTH);
	return bext_interp_call(run, (const struct bext_insn *)(uintptr_t)func_value, args, ret);
}

/* SPDX-License-Identifier: MIT */
/*
 * x86-64 JIT back end.
 *
 * Register map (bpf -> x86-64), the kernel's choice, kept because it makes
 * helper calls free of moves and spills:
 *   r0 rax   the return register of both ABIs
 *   r1 rdi, r2 rsi, r3 rdx, r4 rcx, r5 r8
 *            the first five System V argument registers, in order, so a
 *            helper call is a bare `call`
 *   r6 rbx, r7 r13, r8 r14, r9 r15
 *            callee-saved in System V, so they survive helper calls without
 *            any save/restore around the call
 *   r10 rbp  frame pointer: top of the current 512-byte BPF stack
 * Scratch: r11 (AUX: blinded immediates, divisors, callx target), r10 (TMP)
 * and r9 (TMP2); r12 (CTX) points at the run context in the main native frame
 * for the whole run, across bpf-to-bpf calls and tail calls.
 *
 * Native frames. The main program (entry at offset 0, the bext_jit_fn):
 *
 *      caller's frame
 *   +----------------------+ <- rsp at entry + 8 (return address above)
 *   | saved rbp rbx r12    |
 *   | r13 r14 r15          |
 *   +----------------------+ <- rbp = BPF r10 (stack top)
 *   | BPF stack, 512 bytes |
 *   +----------------------+
 *   | run context 40 bytes | depth u32 @0, tail calls u32 @4, saved ctx @8,
 *   +----------------------+ <- rsp = r12    callx helper id @16, run @24
 *
 * A bpf-to-bpf call is a native `call` into the subprogram, whose prologue
 * pushes rbp rbx r13 r14 r15 (the caller's r6-r10) and opens its own 512-byte
 * stack; `exit` undoes it and `ret`s. rsp is 16-byte aligned at every BPF
 * instruction boundary in every frame, so helper calls need no adjustment.
 * The call depth lives in the run context and is checked before each call;
 * an error (depth, bad callx) calls bext_jit_set_run_error() and unwinds
 * straight to the main epilogue through r12, whatever the depth.
 *
 * A tail call lands on the target's jit_tail_entry: its first instruction,
 * with the main frame (and run context, so the tail-call count) reused.
 *
 * Two more entries follow the code (emit_stubs): L_RUN, the main entry with
 * a struct bext_run * in rdx (bext_vm__run() uses it; the run context
 * publishes itself there for callbacks), and L_CB, the callback trampoline
 * of bext_vm__call_func(): it builds a main-like frame and run context at
 * the caller's depth + 1 and `call`s a subprogram, so exits, errors and
 * unwinding from inside a callback work as in a run.
 *
 * Inlined map lookups: a `call 1` (bpf_map_lookup_elem) whose r1 is a map
 * lddw of the same basic block, on a map the vm's lookup describer knows
 * (arrays, per-CPU arrays: bext_vm__set_inline_lookup), becomes a bounds
 * check and an address computation (emit_inline_lookup), as in the kernel's
 * JIT; find_inline_lookups() picks the calls once before the passes.
 *
 * Layout: passes emit the whole image into a growing buffer, recording every
 * jump as a fixup (site, target label). After a pass all fixups are resolved
 * against that pass's addresses, so each pass yields a correct image; the
 * next pass picks rel8 encodings for the jumps whose displacement fit, and we
 * stop when no rel32 jump could shrink (sizes only shrink, so the choices
 * made from a previous pass stay valid; a rel8 that does not fit anyway is
 * forced to rel32 and the pass repeated). The final image is copied into an
 * anonymous RW mapping that is then made R+X (never W and X together).
 */
#if defined(__x86_64__)

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "../../vm/vm_internal.h"

/* Referenced by src/vm/jit.c so that this archive member is always linked. */
const char bext_arch_x86_64_anchor;

/* Test hooks (not exported from the shared library). */
BEXT_HIDDEN bool bext_x86_jit_no_bmi2;		       /* force the CL shift path */
BEXT_HIDDEN size_t bext_x86_jit_max_image = 64u << 20; /* bytes of code */
BEXT_HIDDEN bool bext_x86_jit_no_peephole;	       /* compile instructions one by one */
BEXT_HIDDEN bool bext_x86_jit_no_inline;	       /* never inline map lookups */

enum {
	RAX = 0,
	RCX,
	RDX,
	RBX,
	RSP,
	RBP,
	RSI,
	RDI,
	R8,
	R9,
	R10,
	R11,
	R12,
	R13,
	R14,
	R15,
};

static const uint8_t reg_map[11] = {
    [0] = RAX, [1] = RDI, [2] = RSI, [3] = RDX, [4] = RCX,  [5] = R8,
    [6] = RBX, [7] = R13, [8] = R14, [9] = R15, [10] = RBP,
};

#define AUX R11
#define TMP R10
#define TMP2 R9
#define CTXR R12

/* Run context, at r12. */
#define RC_DEPTH 0
#define RC_TAILS 4
#define RC_CTX 8
#define RC_CALLX_ID 16
#define RC_RUN 24  /* struct bext_run * of bext_vm__run() or a callback, or NULL */
#define RC_SIZE 40 /* 8 mod 16: keeps rsp 16-byte aligned below the 6 pushes */
#define MAIN_FRAME (BEXT_STACK_SIZE + RC_SIZE) /* rsp below the pushes */

#define HELPER_MAP_LOOKUP 1 /* bpf_map_lookup_elem, the one helper inlined */

/* x86 condition codes. */
enum {
	CC_B = 2,
	CC_AE = 3,
	CC_E = 4,
	CC_NE = 5,
	CC_BE = 6,
	CC_A = 7,
	CC_L = 0xc,
	CC_GE = 0xd,
	CC_LE = 0xe,
	CC_G = 0xf,
	CC_JMP = -1
};

/* emit_rr/emit_mem flags. */
#define F_W 0x1	   /* REX.W */
#define F_66 0x2   /* operand-size prefix */
#define F_BYTE 0x4 /* byte register operand: REX needed for spl..dil */
#define F_LOCK 0x8

struct fixup {
	uint32_t pos; /* offset of the rel field */
	uint32_t label;
	uint8_t size; /* 1 or 4 */
	bool shrink;  /* a jmp/jcc that has a rel8 form */
};

struct jit {
	struct bext_vm *vm;
	const struct bext_insn *insns;
	size_t n;

	uint8_t *buf;
	size_t cap, len;
	int err; /* sticky: 0 or a negative errno */
	char *msg;
	size_t msg_len;

	uint32_t *lab;	 /* label addresses: [0,n) bodies, [n,2n) entries, then L_* */
	uint8_t *fstart; /* function starts */
	uint8_t *tgt;	 /* jump targets and function starts: no fusion across them */

	struct fixup *fix;
	size_t n_fix, fix_cap;
	int32_t *fix_disp; /* previous pass: displacement of fixup k */
	uint8_t *fix_long; /* fixup k must stay rel32 */
	size_t n_fix_prev;
	int pass;

	bool blind;
	uint32_t key32;
	uint64_t key64;
	bool bmi2;
	size_t pc; /* instruction being compiled */
	bool in_main;
	bool invert_next; /* emit_jmp: invert the condition, jump to jmp_override */
	size_t jmp_override;

	/* Inlined map lookups: inl_at[i] = k + 1 when the call at insn i uses inl[k]. */
	uint32_t *inl_at;
	struct bext_inline_lookup *inl;
	size_t n_inl;
};

enum { L_EXIT0 = 0, L_ERR, L_RUN, L_CB, L_COUNT };

static uint32_t lab_body(struct jit *j, size_t i)
{
	(void)j;
	return (uint32_t)i;
}
static uint32_t lab_entry(struct jit *j, size_t i)
{
	return (uint32_t)(j->n + i);
}
static uint32_t lab_special(struct jit *j, int l)
{
	return (uint32_t)(2 * j->n + l);
}

__attribute__((format(printf, 2, 3))) static void jit_fail(struct jit *j, const char *fmt, ...)
{
	va_list ap;

	if (j->err)
		return;
	j->err = -ENOTSUP;
	va_start(ap, fmt);
	vsnprintf(j->msg, j->msg_len, fmt, ap);
	va_end(ap);
}

static bool grow(struct jit *j, size_t need)
{
	size_t cap = j->cap ? j->cap : 4096;
	uint8_t *p;

	if (j->err)
		return false;
	while (cap < need)
		cap *= 2;
	p = realloc(j->buf, cap);
	if (!p) {
		j->err = -ENOMEM;
		snprintf(j->msg, j->msg_len, "out of memory");
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

static inline void emit1(struct jit *j, uint8_t b)
{
	if (__builtin_expect(j->len >= j->cap, 0) && !grow(j, j->len + 1))
		return;
	j->buf[j->len++] = b;
}

static inline void emit4(struct jit *j, uint32_t v)
{
	if (__builtin_expect(j->len + 4 > j->cap, 0) && !grow(j, j->len + 4))
		return;
	memcpy(j->buf + j->len, &v, 4);
	j->len += 4;
}

static inline void emit8(struct jit *j, uint64_t v)
{
	emit4(j, (uint32_t)v);
	emit4(j, (uint32_t)(v >> 32));
}

static inline bool is_imm8(int64_t v)
{
	return v >= -128 && v <= 127;
}

static inline void emit_prefix(struct jit *j, unsigned f, int reg, int idx, int rm)
{
	uint8_t rex =
	    0x40 | (f & F_W ? 8 : 0) | (reg & 8 ? 4 : 0) | (idx & 8 ? 2 : 0) | (rm & 8 ? 1 : 0);

	if (f & F_LOCK)
		emit1(j, 0xf0);
	if (f & F_66)
		emit1(j, 0x66);
	if (rex != 0x40 || ((f & F_BYTE) && ((reg >= 4 && reg < 8) || (rm >= 4 && rm < 8))))
		emit1(j, rex);
}

static inline void emit_opc(struct jit *j, uint32_t opc)
{
	if (opc > 0xff)
		emit1(j, (uint8_t)(opc >> 8));
	emit1(j, (uint8_t)opc);
}

/* [prefixes] opcode modrm(reg, rm), rm a register. */
static void emit_rr(struct jit *j, unsigned f, uint32_t opc, int reg, int rm)
{
	emit_prefix(j, f, reg, 0, rm);
	emit_opc(j, opc);
	emit1(j, 0xc0 | (reg & 7) << 3 | (rm & 7));
}

/* [prefixes] opcode modrm(reg, [base + disp]). */
static void emit_mem(struct jit *j, unsigned f, uint32_t opc, int reg, int base, int32_t disp)
{
	int mod;

	emit_prefix(j, f, reg, 0, base);
	emit_opc(j, opc);
	if (disp == 0 && (base & 7) != RBP)
		mod = 0;
	else if (is_imm8(disp))
		mod = 1;
	else
		mod = 2;
	emit1(j, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP)
		emit1(j, 0x24);
	if (mod == 1)
		emit1(j, (uint8_t)disp);
	else if (mod == 2)
		emit4(j, (uint32_t)disp);
}

static void emit_mov_rr(struct jit *j, bool w, int dst, int src)
{
	if (w && dst == src)
		return;
	emit_rr(j, w ? F_W : 0, 0x89, src, dst);
}

/* dst = imm, zero-extended (32-bit forms; xor for 0, which clobbers flags). */
static void emit_mov_imm32(struct jit *j, int dst, uint32_t imm)
{
	if (!imm) {
		emit_rr(j, 0, 0x31, dst, dst);
		return;
	}
	emit_prefix(j, 0, 0, 0, dst);
	emit1(j, 0xb8 | (dst & 7));
	emit4(j, imm);
}

static void emit_mov_imm64(struct jit *j, int dst, uint64_t v)
{
	if (v <= 0xffffffffull) {
		emit_mov_imm32(j, dst, (uint32_t)v);
	} else if ((int64_t)v == (int32_t)v) {
		emit_rr(j, F_W, 0xc7, 0, dst);
		emit4(j, (uint32_t)v);
	} else {
		emit_prefix(j, F_W, 0, 0, dst);
		emit1(j, 0xb8 | (dst & 7));
		emit8(j, v);
	}
}

/* op r/m, imm with an /ext opcode (0x81/0x83 group). */
static void emit_alu_ri(struct jit *j, bool w, int ext, int rm, int32_t imm)
{
	if (is_imm8(imm)) {
		emit_rr(j, w ? F_W : 0, 0x83, ext, rm);
		emit1(j, (uint8_t)imm);
	} else {
		emit_rr(j, w ? F_W : 0, 0x81, ext, rm);
		emit4(j, (uint32_t)imm);
	}
}

/*
 * Loads an instruction immediate into reg: sign-extended to 64 bits (w) or
 * zero-extended from 32. Blinded: (imm ^ key) then xor key, so imm itself
 * never appears in the code.
 */
static void emit_load_imm(struct jit *j, bool w, int reg, int32_t imm)
{
	if (j->blind) {
		if (w) {
			emit_rr(j, F_W, 0xc7, 0, reg);
			emit4(j, (uint32_t)imm ^ j->key32);
		} else {
			emit_prefix(j, 0, 0, 0, reg);
			emit1(j, 0xb8 | (reg & 7));
			emit4(j, (uint32_t)imm ^ j->key32);
		}
		emit_rr(j, w ? F_W : 0, 0x81, 6, reg);
		emit4(j, j->key32);
		return;
	}
	if (w)
		emit_mov_imm64(j, reg, (uint64_t)(int64_t)imm);
	else
		emit_mov_imm32(j, reg, (uint32_t)imm);
}

/* ---- jumps ------------------------------------------------------------- */

static void add_fixup(struct jit *j, uint32_t label, uint8_t size, bool shrink)
{
	if (j->n_fix == j->fix_cap) {
		size_t cap = j->fix_cap ? 2 * j->fix_cap : 64;
		struct fixup *f = realloc(j->fix, cap * sizeof(*f));

		if (!f) {
			if (!j->err) {
				j->err = -ENOMEM;
				snprintf(j->msg, j->msg_len, "out of memory");
			}
			return;
		}
		j->fix = f;
		j->fix_cap = cap;
	}
	j->fix[j->n_fix++] =
	    (struct fixup){.pos = (uint32_t)j->len, .label = label, .size = size, .shrink = shrink};
}

/* jmp (cc == CC_JMP) or jcc to a label, rel8 when the previous pass allows it. */
static void emit_jump(struct jit *j, int cc, uint32_t label)
{
	size_t k = j->n_fix;
	bool short_ok =
	    j->pass > 0 && k < j->n_fix_prev && !j->fix_long[k] && is_imm8(j->fix_disp[k]);

	if (short_ok) {
		emit1(j, cc == CC_JMP ? 0xeb : (uint8_t)(0x70 | cc));
		add_fixup(j, label, 1, true);
		emit1(j, 0);
	} else {
		if (cc == CC_JMP) {
			emit1(j, 0xe9);
		} else {
			emit1(j, 0x0f);
			emit1(j, (uint8_t)(0x80 | cc));
		}
		add_fixup(j, label, 4, true);
		emit4(j, 0);
	}
}

static void emit_call_label(struct jit *j, uint32_t label)
{
	emit1(j, 0xe8);
	add_fixup(j, label, 4, false);
	emit4(j, 0);
}

/* lea reg, [rip + label] */
static void emit_lea_label(struct jit *j, int reg, uint32_t label)
{
	emit_prefix(j, F_W, reg, 0, 0);
	emit1(j, 0x8d);
	emit1(j, 0x05 | (reg & 7) << 3);
	add_fixup(j, label, 4, false);
	emit4(j, 0);
}

/* Local forward jumps inside one instruction's code. */
static size_t emit_fwd8(struct jit *j, int cc)
{
	emit1(j, cc == CC_JMP ? 0xeb : (uint8_t)(0x70 | cc));
	emit1(j, 0);
	return j->len;
}

static void patch8(struct jit *j, size_t end)
{
	size_t d = j->len - end;

	if (j->err)
		return;
	if (d > 127) {
		j->err = -EFAULT;
		snprintf(j->msg, j->msg_len, "insn %zu: internal error: local jump too far", j->pc);
		return;
	}
	j->buf[end - 1] = (uint8_t)d;
}

static size_t emit_fwd32(struct jit *j, int cc)
{
	if (cc == CC_JMP) {
		emit1(j, 0xe9);
	} else {
		emit1(j, 0x0f);
		emit1(j, (uint8_t)(0x80 | cc));
	}
	emit4(j, 0);
	return j->len;
}

static void patch32(struct jit *j, size_t end)
{
	uint32_t d = (uint32_t)(j->len - end);

	if (!j->err)
		memcpy(j->buf + end - 4, &d, 4);
}

/* ---- ALU ----------------------------------------------------------------- */

static void emit_shift_var(struct jit *j, bool w, int ext, int dst, int src)
{
	unsigned f = w ? F_W : 0;

	if (j->bmi2) {
		/* shlx/shrx/sarx dst, dst, src: VEX.LZ.0F38.W F7 /r, count in vvvv. */
		static const uint8_t pp[8] = {[4] = 1, [5] = 3, [7] = 2};

		emit1(j, 0xc4);
		emit1(j, (uint8_t)((dst & 8 ? 0 : 0x80) | 0x40 | (dst & 8 ? 0 : 0x20) | 0x02));
		emit1(j, (uint8_t)((w ? 0x80 : 0) | ((~src & 15) << 3) | pp[ext]));
		emit1(j, 0xf7);
		emit1(j, (uint8_t)(0xc0 | (dst & 7) << 3 | (dst & 7)));
		return;
	}
	/* Variable shifts take their count in cl, which is BPF r4. */
	if (src == RCX) {
		emit_rr(j, f, 0xd3, ext, dst);
	} else if (dst == RCX) {
		emit_mov_rr(j, true, TMP, RCX);
		emit_mov_rr(j, true, RCX, src);
		emit_rr(j, f, 0xd3, ext, TMP);
		emit_mov_rr(j, true, RCX, TMP);
	} else {
		emit_mov_rr(j, true, TMP2, RCX);
		emit_mov_rr(j, true, RCX, src);
		emit_rr(j, f, 0xd3, ext, dst);
		emit_mov_rr(j, true, RCX, TMP2);
	}
}

/*
 * div/mod/sdiv/smod. x86 div raises #DE on a zero divisor and on
 * INT_MIN / -1, so both are tested and handled before the division.
 * src < 0: immediate divisor imm.
 */
static void emit_div(struct jit *j, bool w, bool mod, bool sgn, int dst, int src, int32_t imm)
{
	unsigned f = w ? F_W : 0;
	size_t nz = 0, norm = 0, done1 = 0, done2 = 0;
	int res = mod ? RDX : RAX;

	if (src < 0) {
		if (imm == 0) {
			if (!mod)
				emit_rr(j, 0, 0x31, dst, dst);
			else if (!w)
				emit_mov_rr(j, false, dst, dst);
			return;
		}
		if (sgn && imm == -1) {
			if (mod)
				emit_rr(j, 0, 0x31, dst, dst);
			else
				emit_rr(j, f, 0xf7, 3, dst); /* neg: INT_MIN / -1 = INT_MIN */
			return;
		}
		emit_load_imm(j, w, AUX, imm);
	} else {
		emit_mov_rr(j, true, AUX, src);
		emit_rr(j, f, 0x85, AUX, AUX);
		nz = emit_fwd8(j, CC_NE);
		if (!mod)
			emit_rr(j, 0, 0x31, dst, dst);
		else if (!w)
			emit_mov_rr(j, false, dst, dst);
		done1 = emit_fwd8(j, CC_JMP);
		patch8(j, nz);
		if (sgn) {
			emit_alu_ri(j, w, 7, AUX, -1);
			norm = emit_fwd8(j, CC_NE);
			if (mod)
				emit_rr(j, 0, 0x31, dst, dst);
			else
				emit_rr(j, f, 0xf7, 3, dst);
			done2 = emit_fwd8(j, CC_JMP);
			patch8(j, norm);
		}
	}
	if (dst != RAX)
		emit_mov_rr(j, true, TMP2, RAX);
	if (dst != RDX)
		emit_mov_rr(j, true, TMP, RDX);
	emit_mov_rr(j, true, RAX, dst);
	if (sgn) {
		if (w)
			emit1(j, 0x48);
		emit1(j, 0x99); /* cqo / cdq */
	} else {
		emit_rr(j, 0, 0x31, RDX, RDX);
	}
	emit_rr(j, f, 0xf7, sgn ? 7 : 6, AUX);
	if (dst != res)
		emit_mov_rr(j, w, dst, res);
	if (dst != RAX)
		emit_mov_rr(j, true, RAX, TMP2);
	if (dst != RDX)
		emit_mov_rr(j, true, RDX, TMP);
	if (done1)
		patch8(j, done1);
	if (done2)
		patch8(j, done2);
}

static void emit_alu(struct jit *j, const struct bext_insn *in)
{
	bool w = BEXT_CLASS(in->code) == BEXT_CLS_ALU64;
	unsigned f = w ? F_W : 0;
	bool k = BEXT_SRC(in->code) == BEXT_SRC_K;
	int dst = reg_map[in->dst], src = reg_map[in->src];
	int32_t imm = in->imm;
	int op = BEXT_OP(in->code);
	static const uint8_t rr_opc[16] = {
	    [BEXT_ALU_ADD >> 4] = 0x01, [BEXT_ALU_SUB >> 4] = 0x29, [BEXT_ALU_OR >> 4] = 0x09,
	    [BEXT_ALU_AND >> 4] = 0x21, [BEXT_ALU_XOR >> 4] = 0x31,
	};
	static const uint8_t ri_ext[16] = {
	    [BEXT_ALU_ADD >> 4] = 0, [BEXT_ALU_SUB >> 4] = 5,  [BEXT_ALU_OR >> 4] = 1,
	    [BEXT_ALU_AND >> 4] = 4, [BEXT_ALU_XOR >> 4] = 6,  [BEXT_ALU_LSH >> 4] = 4,
	    [BEXT_ALU_RSH >> 4] = 5, [BEXT_ALU_ARSH >> 4] = 7,
	};

	if (in->off && !(op == BEXT_ALU_MOV && !k) && op != BEXT_ALU_DIV && op != BEXT_ALU_MOD) {
		jit_fail(j, "insn %zu: unexpected offset %d", j->pc, in->off);
		return;
	}
	switch (op) {
	case BEXT_ALU_ADD:
	case BEXT_ALU_SUB:
	case BEXT_ALU_OR:
	case BEXT_ALU_AND:
	case BEXT_ALU_XOR:
		if (!k) {
			emit_rr(j, f, rr_opc[op >> 4], src, dst);
		} else if (j->blind) {
			emit_load_imm(j, w, AUX, imm);
			emit_rr(j, f, rr_opc[op >> 4], AUX, dst);
		} else if (imm == 0 && op != BEXT_ALU_AND) {
			if (!w)
				emit_mov_rr(j, false, dst, dst);
		} else {
			emit_alu_ri(j, w, ri_ext[op >> 4], dst, imm);
		}
		break;
	case BEXT_ALU_MUL:
		if (!k) {
			emit_rr(j, f, 0x0faf, dst, src);
		} else if (j->blind) {
			emit_load_imm(j, w, AUX, imm);
			emit_rr(j, f, 0x0faf, dst, AUX);
		} else if (is_imm8(imm)) {
			emit_rr(j, f, 0x6b, dst, dst);
			emit1(j, (uint8_t)imm);
		} else {
			emit_rr(j, f, 0x69, dst, dst);
			emit4(j, (uint32_t)imm);
		}
		break;
	case BEXT_ALU_DIV:
	case BEXT_ALU_MOD:
		if (in->off != 0 && in->off != 1) {
			jit_fail(j, "insn %zu: bad div/mod offset %d", j->pc, in->off);
			return;
		}
		emit_div(j, w, op == BEXT_ALU_MOD, in->off == 1, dst, k ? -1 : src, imm);
		break;
	case BEXT_ALU_LSH:
	case BEXT_ALU_RSH:
	case BEXT_ALU_ARSH:
		if (!k) {
			emit_shift_var(j, w, ri_ext[op >> 4], dst, src);
		} else if (j->blind) {
			emit_load_imm(j, w, AUX, imm);
			emit_shift_var(j, w, ri_ext[op >> 4], dst, AUX);
		} else if ((imm & (w ? 63 : 31)) == 0) {
			if (!w)
				emit_mov_rr(j, false, dst, dst);
		} else {
			emit_rr(j, f, 0xc1, ri_ext[op >> 4], dst);
			emit1(j, (uint8_t)(imm & (w ? 63 : 31)));
		}
		break;
	case BEXT_ALU_NEG:
		emit_rr(j, f, 0xf7, 3, dst);
		break;
	case BEXT_ALU_MOV:
		if (k) {
			if (j->blind)
				emit_load_imm(j, w, dst, imm);
			else if (w)
				emit_mov_imm64(j, dst, (uint64_t)(int64_t)imm);
			else
				emit_mov_imm32(j, dst, (uint32_t)imm);
		} else if (in->off == 0) {
			emit_mov_rr(j, w, dst, src);
		} else if (in->off == 8) {
			emit_rr(j, f | F_BYTE, 0x0fbe, dst, src);
		} else if (in->off == 16) {
			emit_rr(j, f, 0x0fbf, dst, src);
		} else if (in->off == 32 && w) {
			emit_rr(j, F_W, 0x63, dst, src);
		} else {
			jit_fail(j, "insn %zu: bad movsx offset %d", j->pc, in->off);
		}
		break;
	case BEXT_ALU_END:
		if (w && !k) {
			jit_fail(j, "insn %zu: unsupported opcode 0x%02x", j->pc, in->code);
			return;
		}
		if (imm != 16 && imm != 32 && imm != 64) {
			jit_fail(j, "insn %zu: bad byte swap width %d", j->pc, imm);
			return;
		}
		if (!w && k) { /* to le: truncate */
			if (imm == 16)
				emit_rr(j, 0, 0x0fb7, dst, dst);
			else if (imm == 32)
				emit_mov_rr(j, false, dst, dst);
		} else if (imm == 16) {
			emit_rr(j, F_66, 0xc1, 0, dst); /* rol dst16, 8 */
			emit1(j, 8);
			emit_rr(j, 0, 0x0fb7, dst, dst);
		} else {
			emit_prefix(j, imm == 64 ? F_W : 0, 0, 0, dst);
			emit1(j, 0x0f);
			emit1(j, 0xc8 | (dst & 7));
		}
		break;
	default:
		jit_fail(j, "insn %zu: unsupported ALU opcode 0x%02x", j->pc, in->code);
	}
}

/* ---- memory ---------------------------------------------------------------- */

static void emit_ldx(struct jit *j, const struct bext_insn *in)
{
	int dst = reg_map[in->dst], src = reg_map[in->src];
	bool sx = BEXT_MODE(in->code) == BEXT_MODE_MEMSX;

	switch (BEXT_SIZE(in->code)) {
	case BEXT_SZ_B:
		emit_mem(j, sx ? F_W : 0, sx ? 0x0fbe : 0x0fb6, dst, src, in->off);
		break;
	case BEXT_SZ_H:
		emit_mem(j, sx ? F_W : 0, sx ? 0x0fbf : 0x0fb7, dst, src, in->off);
		break;
	case BEXT_SZ_W:
		emit_mem(j, sx ? F_W : 0, sx ? 0x63 : 0x8b, dst, src, in->off);
		break;
	default:
		if (sx)
			jit_fail(j, "insn %zu: ldxsx of a double word", j->pc);
		else
			emit_mem(j, F_W, 0x8b, dst, src, in->off);
	}
}

/* Store reg (size sz) to [base + off]. */
static void emit_store_reg(struct jit *j, int sz, int base, int off, int reg)
{
	switch (sz) {
	case BEXT_SZ_B:
		emit_mem(j, F_BYTE, 0x88, reg, base, off);
		break;
	case BEXT_SZ_H:
		emit_mem(j, F_66, 0x89, reg, base, off);
		break;
	case BEXT_SZ_W:
		emit_mem(j, 0, 0x89, reg, base, off);
		break;
	default:
		emit_mem(j, F_W, 0x89, reg, base, off);
	}
}

static void emit_st(struct jit *j, const struct bext_insn *in)
{
	int dst = reg_map[in->dst];
	int sz = BEXT_SIZE(in->code);

	if (j->blind) {
		emit_load_imm(j, true, AUX, in->imm);
		emit_store_reg(j, sz, dst, in->off, AUX);
		return;
	}
	switch (sz) {
	case BEXT_SZ_B:
		emit_mem(j, 0, 0xc6, 0, dst, in->off);
		emit1(j, (uint8_t)in->imm);
		break;
	case BEXT_SZ_H:
		emit_mem(j, F_66, 0xc7, 0, dst, in->off);
		emit1(j, (uint8_t)in->imm);
		emit1(j, (uint8_t)(in->imm >> 8));
		break;
	case BEXT_SZ_W:
		emit_mem(j, 0, 0xc7, 0, dst, in->off);
		emit4(j, (uint32_t)in->imm);
		break;
	default:
		emit_mem(j, F_W, 0xc7, 0, dst, in->off);
		emit4(j, (uint32_t)in->imm);
	}
}

static void emit_atomic(struct jit *j, const struct bext_insn *in)
{
	int dst = reg_map[in->dst], src = reg_map[in->src];
	int sz = BEXT_SIZE(in->code);
	unsigned f = sz == BEXT_SZ_DW ? F_W : 0;
	int32_t op = in->imm;
	size_t loop;

	if (sz != BEXT_SZ_W && sz != BEXT_SZ_DW) {
		jit_fail(j, "insn %zu: atomic operation on a %s", j->pc,
			 sz == BEXT_SZ_B ? "byte" : "half word");
		return;
	}
	switch (op) {
	case BEXT_ATOMIC_ADD:
		emit_mem(j, f | F_LOCK, 0x01, src, dst, in->off);
		return;
	case BEXT_ATOMIC_OR:
		emit_mem(j, f | F_LOCK, 0x09, src, dst, in->off);
		return;
	case BEXT_ATOMIC_AND:
		emit_mem(j, f | F_LOCK, 0x21, src, dst, in->off);
		return;
	case BEXT_ATOMIC_XOR:
		emit_mem(j, f | F_LOCK, 0x31, src, dst, in->off);
		return;
	case BEXT_ATOMIC_ADD | BEXT_ATOMIC_FETCH:
		emit_mem(j, f | F_LOCK, 0x0fc1, src, dst, in->off); /* lock xadd */
		return;
	case BEXT_ATOMIC_XCHG:
		emit_mem(j, f, 0x87, src, dst, in->off); /* xchg with memory is locked */
		return;
	case BEXT_ATOMIC_CMPXCHG:
		emit_mem(j, f | F_LOCK, 0x0fb1, src, dst, in->off);
		if (!f)
			emit_mov_rr(j, false, RAX, RAX); /* r0 = old value, zero-extended */
		return;
	case BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH:
	case BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH:
	case BEXT_ATOMIC_XOR | BEXT_ATOMIC_FETCH: {
		/*
		 * No x86 instruction fetches the old value of or/and/xor: loop on
		 * lock cmpxchg, which needs rax (BPF r0, saved in TMP).
		 *   lea r9, [dst+off]; mov r10, rax; mov rax, [r9]
		 * 1: mov r11, rax; op r11, src; lock cmpxchg [r9], r11; jne 1b
		 *   src = rax (old); rax = r10
		 */
		uint8_t opc = op == (BEXT_ATOMIC_OR | BEXT_ATOMIC_FETCH)    ? 0x09
			      : op == (BEXT_ATOMIC_AND | BEXT_ATOMIC_FETCH) ? 0x21
									    : 0x31;
		int s = src == RAX ? TMP : src;

		emit_mem(j, F_W, 0x8d, TMP2, dst, in->off);
		emit_mov_rr(j, true, TMP, RAX);
		emit_mem(j, f, 0x8b, RAX, TMP2, 0);
		loop = j->len;
		emit_mov_rr(j, true, AUX, RAX);
		emit_rr(j, f, opc, s, AUX);
		emit_mem(j, f | F_LOCK, 0x0fb1, AUX, TMP2, 0);
		emit1(j, 0x70 | CC_NE);
		emit1(j, (uint8_t)(loop - (j->len + 1)));
		if (src == RAX) {
			if (!f)
				emit_mov_rr(j, false, RAX, RAX);
		} else {
			emit_mov_rr(j, f, src, RAX);
			emit_mov_rr(j, true, RAX, TMP);
		}
		return;
	}
	default:
		jit_fail(j, "insn %zu: unsupported atomic operation 0x%x", j->pc, (unsigned)op);
	}
}

/* ---- calls ----------------------------------------------------------------- */

static void *tail_lookup(struct bext_vm *vm, uint64_t map, uint64_t index, uint8_t *rc)
{
	struct bext_vm *t = vm->tail_call(vm->tail_call_user, map, (uint32_t)index);
	struct bext_run *run;

	if (!t || !t->loaded || !t->jit_tail_entry)
		return NULL;
	/* The run now executes t: callbacks must find t's functions. */
	memcpy(&run, rc + RC_RUN, sizeof(run));
	if (run)
		run->vm = t;
	return t->jit_tail_entry;
}

/* Sets the run error (edi, rsi = insn) and leaves with r0 = 0; see emit_stubs(). */
static void emit_error(struct jit *j, int err_no)
{
	emit_mov_imm32(j, RSI, (uint32_t)j->pc);
	emit_rr(j, 0, 0xc7, 0, RDI);
	emit4(j, (uint32_t)-err_no);
	emit_jump(j, CC_JMP, lab_special(j, L_ERR));
}

/* Depth check, then call the function whose address is at label (or in AUX). */
static void emit_local_call(struct jit *j, long label)
{
	size_t ok;

	/* cmp dword [r12], MAX-1; jb ok; error */
	emit_mem(j, 0, 0x83, 7, CTXR, RC_DEPTH);
	emit1(j, BEXT_MAX_CALL_DEPTH - 1);
	ok = emit_fwd8(j, CC_B);
	emit_error(j, E2BIG);
	patch8(j, ok);
	emit_mem(j, 0, 0xff, 0, CTXR, RC_DEPTH); /* inc dword [r12] */
	if (label >= 0)
		emit_call_label(j, (uint32_t)label);
	else
		emit_rr(j, 0, 0xff, 2, AUX);	 /* call r11 */
	emit_mem(j, 0, 0xff, 1, CTXR, RC_DEPTH); /* dec dword [r12] */
}

static void emit_tail_call(struct jit *j)
{
	size_t f1, f2, f3;

	/* Only from the main frame, at most BEXT_MAX_TAIL_CALLS per run. */
	emit_mem(j, 0, 0x83, 7, CTXR, RC_DEPTH);
	emit1(j, 0);
	f1 = emit_fwd8(j, CC_NE);
	emit_mem(j, 0, 0x83, 7, CTXR, RC_TAILS);
	emit1(j, BEXT_MAX_TAIL_CALLS);
	f2 = emit_fwd8(j, CC_AE);
	emit_mem(j, F_W, 0x89, RDI, CTXR, RC_CTX);
	emit_mov_imm64(j, RDI, (uint64_t)(uintptr_t)j->vm);
	emit_mov_rr(j, false, RDX, RDX);
	emit_mov_rr(j, true, RCX, CTXR);
	emit_mov_imm64(j, RAX, (uint64_t)(uintptr_t)&tail_lookup);
	emit_rr(j, 0, 0xff, 2, RAX);
	emit_rr(j, F_W, 0x85, RAX, RAX);
	f3 = emit_fwd8(j, CC_E);
	emit_mem(j, 0, 0xff, 0, CTXR, RC_TAILS);
	emit_mem(j, F_W, 0x8b, RDI, CTXR, RC_CTX);
	emit_mov_rr(j, true, RSP, CTXR);
	emit_rr(j, 0, 0xff, 4, RAX); /* jmp rax */
	patch8(j, f1);
	patch8(j, f2);
	patch8(j, f3);
	emit_rr(j, F_W, 0xc7, 0, RAX);
	emit4(j, (uint32_t)-ENOENT);
}

static void emit_helper_call_addr(struct jit *j, bext_helper_fn fn, bool unwind)
{
	emit_mov_imm64(j, RAX, (uint64_t)(uintptr_t)fn);
	emit_rr(j, 0, 0xff, 2, RAX);
	if (unwind) {
		emit_rr(j, F_W, 0x85, RAX, RAX);
		emit_jump(j, CC_E, lab_special(j, L_EXIT0));
	}
}

/* reg *= stride (64-bit), stride > 0 and < 2^31. */
static void emit_scale(struct jit *j, int reg, uint64_t stride)
{
	if (stride == 1)
		return;
	if (!(stride & (stride - 1))) {
		emit_rr(j, F_W, 0xc1, 4, reg); /* shl reg, k */
		emit1(j, (uint8_t)__builtin_ctzll(stride));
	} else if (is_imm8((int64_t)stride)) {
		emit_rr(j, F_W, 0x6b, reg, reg);
		emit1(j, (uint8_t)stride);
	} else {
		emit_rr(j, F_W, 0x69, reg, reg);
		emit4(j, (uint32_t)stride);
	}
}

/*
 * bpf_map_lookup_elem(map, key) for an array or per-CPU array known at
 * compile time (struct bext_inline_lookup in <bext/vm.h>), r1-r5 clobbered
 * as by the call:
 *
 *       mov eax, [rsi]                  key
 *       cmp eax, max_entries ; jae null
 *   per-CPU only:
 *       mov ecx, fs:[cpu_tp_off]        rseq cpu_id (s32)
 *       cmp ecx, nr_cpus ; jae slow     negative or too large: the helper decides
 *       imul/shl rcx, cpu_stride
 *       imul/shl rax, elem_stride
 *       add rax, rcx
 *   both:
 *       mov r10, base ; add rax, r10 ; jmp done
 *   null: xor eax, eax ; jmp done
 *   slow: call helper                   rdi, rsi untouched
 *   done:
 */
static void emit_inline_lookup(struct jit *j, const struct bext_inline_lookup *d,
			       bext_helper_fn helper)
{
	bool pcpu = d->kind == BEXT_INLINE_PERCPU_ARRAY;
	size_t to_null, to_slow = 0, done1, done2 = 0;

	emit_mem(j, 0, 0x8b, RAX, RSI, 0);
	emit_alu_ri(j, false, 7, RAX, (int32_t)d->max_entries);
	to_null = emit_fwd8(j, CC_AE);
	if (pcpu) {
		emit1(j, 0x64); /* fs: */
		emit1(j, 0x8b); /* mov ecx, [disp32] (SIB, no base, no index) */
		emit1(j, 0x0c);
		emit1(j, 0x25);
		emit4(j, (uint32_t)(int32_t)d->cpu_tp_off);
		emit_alu_ri(j, false, 7, RCX, (int32_t)d->nr_cpus);
		to_slow = emit_fwd8(j, CC_AE);
		if (d->cpu_stride) {
			emit_scale(j, RCX, d->cpu_stride);
			emit_scale(j, RAX, d->elem_stride);
			emit_rr(j, F_W, 0x01, RCX, RAX);
		} else {
			emit_scale(j, RAX, d->elem_stride);
		}
	} else {
		emit_scale(j, RAX, d->elem_stride);
	}
	emit_mov_imm64(j, TMP, d->base);
	emit_rr(j, F_W, 0x01, TMP, RAX);
	done1 = emit_fwd8(j, CC_JMP);
	patch8(j, to_null);
	emit_rr(j, 0, 0x31, RAX, RAX);
	if (pcpu) {
		done2 = emit_fwd8(j, CC_JMP);
		patch8(j, to_slow);
		emit_helper_call_addr(j, helper, false);
	}
	patch8(j, done1);
	if (done2)
		patch8(j, done2);
}

static void emit_call(struct jit *j, const struct bext_insn *in)
{
	struct bext_vm *vm = j->vm;

	if (in->src == BEXT_CALL_LOCAL) {
		size_t t = j->pc + 1 + (size_t)(int64_t)in->imm;

		if (t == 0 || t >= j->n) {
			jit_fail(j, "insn %zu: local call to insn %zu", j->pc, t);
			return;
		}
		emit_local_call(j, lab_entry(j, t));
		return;
	}
	if (in->src != BEXT_CALL_HELPER) {
		jit_fail(j, "insn %zu: %s calls are not supported", j->pc,
			 in->src == BEXT_CALL_KFUNC ? "kfunc" : "unknown");
		return;
	}
	if (in->imm == BEXT_HELPER_TAIL_CALL && vm->tail_call) {
		emit_tail_call(j);
		return;
	}
	if (in->imm < 0 || (uint32_t)in->imm >= BEXT_MAX_HELPERS || !vm->helpers[in->imm].fn) {
		jit_fail(j, "insn %zu: helper %d is not registered", j->pc, in->imm);
		return;
	}
	if (j->inl_at && j->inl_at[j->pc]) {
		emit_inline_lookup(j, &j->inl[j->inl_at[j->pc] - 1], vm->helpers[in->imm].fn);
		return;
	}
	emit_helper_call_addr(j, vm->helpers[in->imm].fn, in->imm == vm->unwind_helper);
}

/*
 * callx reg: a helper id (< BEXT_MAX_HELPERS, looked up in vm->helpers at run
 * time) or a function value of this program (compared with each
 * BPF_PSEUDO_FUNC target); anything else ends the run with -EINVAL.
 */
static void emit_callx(struct jit *j, const struct bext_insn *in)
{
	struct bext_vm *vm = j->vm;
	size_t to_func, bad, done_tail = 0, done_helper, t, n_hits = 0, *hits = NULL;

	for (t = 1; vm->func_entry && t < j->n; t++)
		n_hits += vm->func_entry[t] != 0;
	if (n_hits && !(hits = malloc(n_hits * sizeof(*hits)))) {
		if (!j->err) {
			j->err = -ENOMEM;
			snprintf(j->msg, j->msg_len, "out of memory");
		}
		return;
	}

	emit_mov_rr(j, true, AUX, reg_map[in->dst]);
	emit_rr(j, F_W, 0x81, 7, AUX);
	emit4(j, BEXT_MAX_HELPERS);
	to_func = emit_fwd32(j, CC_AE);

	/* A helper id: the tail-call helper, or vm->helpers[id].fn. */
	if (vm->tail_call) {
		size_t not_tail;

		emit_alu_ri(j, true, 7, AUX, BEXT_HELPER_TAIL_CALL);
		not_tail = emit_fwd32(j, CC_NE);
		emit_tail_call(j);
		done_tail = emit_fwd32(j, CC_JMP);
		patch32(j, not_tail);
	}
	_Static_assert(sizeof(struct bext_helper) == 16, "helper table stride");
	emit_mem(j, F_W, 0x89, AUX, CTXR, RC_CALLX_ID);
	emit_mov_imm64(j, TMP, (uint64_t)(uintptr_t)&vm->helpers[0].fn);
	emit_rr(j, F_W, 0xc1, 4, AUX); /* shl r11, 4 */
	emit1(j, 4);
	emit_rr(j, F_W, 0x01, TMP, AUX);
	emit_mem(j, F_W, 0x8b, AUX, AUX, 0);
	emit_rr(j, F_W, 0x85, AUX, AUX);
	bad = emit_fwd32(j, CC_E);
	emit_rr(j, 0, 0xff, 2, AUX); /* call r11 */
	if (vm->unwind_helper >= 0) {
		size_t skip;

		emit_mem(j, F_W, 0x81, 7, CTXR, RC_CALLX_ID);
		emit4(j, (uint32_t)vm->unwind_helper);
		skip = emit_fwd8(j, CC_NE);
		emit_rr(j, F_W, 0x85, RAX, RAX);
		emit_jump(j, CC_E, lab_special(j, L_EXIT0));
		patch8(j, skip);
	}
	done_helper = emit_fwd32(j, CC_JMP);

	/* A function value: one of this program's BPF_PSEUDO_FUNC targets. */
	patch32(j, to_func);
	n_hits = 0;
	for (t = 1; vm->func_entry && t < j->n; t++) {
		if (!vm->func_entry[t])
			continue;
		emit_lea_label(j, TMP, lab_entry(j, t));
		emit_rr(j, F_W, 0x39, TMP, AUX);
		hits[n_hits++] = emit_fwd32(j, CC_E);
	}
	patch32(j, bad);
	emit_error(j, EINVAL);
	for (size_t h = 0; h < n_hits; h++)
		patch32(j, hits[h]);
	free(hits);
	emit_local_call(j, -1);

	patch32(j, done_helper);
	if (done_tail)
		patch32(j, done_tail);
}

/* ---- jumps ------------------------------------------------------------------- */

static void emit_jmp(struct jit *j, const struct bext_insn *in)
{
	bool w = BEXT_CLASS(in->code) == BEXT_CLS_JMP;
	unsigned f = w ? F_W : 0;
	int op = BEXT_OP(in->code);
	int dst = reg_map[in->dst], src = reg_map[in->src];
	size_t t;
	int cc;

	switch (op) {
	case BEXT_JMP_JA:
		t = j->pc + 1 + (size_t)(int64_t)(w ? in->off : in->imm);
		if (t != j->pc + 1)
			emit_jump(j, CC_JMP, lab_body(j, t));
		return;
	case BEXT_JMP_CALL:
		if (!w) {
			jit_fail(j, "insn %zu: call in the JMP32 class", j->pc);
			return;
		}
		if (BEXT_SRC(in->code) == BEXT_SRC_X)
			emit_callx(j, in);
		else
			emit_call(j, in);
		return;
	case BEXT_JMP_EXIT:
		/* mov rsp, rbp; pop r15; pop r14; pop r13; [pop r12]; pop rbx; pop rbp; ret */
		emit_mov_rr(j, true, RSP, RBP);
		emit1(j, 0x41);
		emit1(j, 0x5f);
		emit1(j, 0x41);
		emit1(j, 0x5e);
		emit1(j, 0x41);
		emit1(j, 0x5d);
		if (j->in_main) {
			emit1(j, 0x41);
			emit1(j, 0x5c);
		}
		emit1(j, 0x5b);
		emit1(j, 0x5d);
		emit1(j, 0xc3);
		return;
	case BEXT_JMP_JEQ:
		cc = CC_E;
		break;
	case BEXT_JMP_JNE:
		cc = CC_NE;
		break;
	case BEXT_JMP_JSET:
		cc = CC_NE;
		break;
	case BEXT_JMP_JGT:
		cc = CC_A;
		break;
	case BEXT_JMP_JGE:
		cc = CC_AE;
		break;
	case BEXT_JMP_JLT:
		cc = CC_B;
		break;
	case BEXT_JMP_JLE:
		cc = CC_BE;
		break;
	case BEXT_JMP_JSGT:
		cc = CC_G;
		break;
	case BEXT_JMP_JSGE:
		cc = CC_GE;
		break;
	case BEXT_JMP_JSLT:
		cc = CC_L;
		break;
	case BEXT_JMP_JSLE:
		cc = CC_LE;
		break;
	default:
		jit_fail(j, "insn %zu: unsupported jump opcode 0x%02x", j->pc, in->code);
		return;
	}
	if (BEXT_SRC(in->code) == BEXT_SRC_X) {
		emit_rr(j, f, op == BEXT_JMP_JSET ? 0x85 : 0x39, src, dst);
	} else if (j->blind) {
		emit_load_imm(j, w, AUX, in->imm);
		emit_rr(j, f, op == BEXT_JMP_JSET ? 0x85 : 0x39, AUX, dst);
	} else if (op == BEXT_JMP_JSET) {
		if (in->imm >= 0 && in->imm <= 0xff && dst < 4) {
			emit_rr(j, 0, 0xf6, 0, dst); /* test r8, imm8 */
			emit1(j, (uint8_t)in->imm);
		} else {
			emit_rr(j, f, 0xf7, 0, dst);
			emit4(j, (uint32_t)in->imm);
		}
	} else if (in->imm == 0) {
		emit_rr(j, f, 0x85, dst, dst); /* same flags as cmp dst, 0 */
	} else {
		emit_alu_ri(j, w, 7, dst, in->imm);
	}
	t = j->pc + 1 + (size_t)(int64_t)in->off;
	if (j->invert_next) {
		cc ^= 1; /* x86 condition codes come in complementary pairs */
		t = j->jmp_override;
	}
	emit_jump(j, cc, lab_body(j, t));
}

/* ---- program ------------------------------------------------------------------ */

static size_t emit_fused(struct jit *j, size_t pc);

/* The main frame: push rbp rbx r12 r13 r14 r15, rbp = stack top, r12 = rsp. */
static void emit_main_pushes(struct jit *j)
{
	emit1(j, 0x55); /* push rbp */
	emit1(j, 0x53); /* push rbx */
	emit1(j, 0x41);
	emit1(j, 0x54); /* push r12 */
	emit1(j, 0x41);
	emit1(j, 0x55); /* push r13 */
	emit1(j, 0x41);
	emit1(j, 0x56); /* push r14 */
	emit1(j, 0x41);
	emit1(j, 0x57); /* push r15 */
	emit_mov_rr(j, true, RBP, RSP);
	emit_rr(j, F_W, 0x81, 5, RSP);
	emit4(j, MAIN_FRAME);
	emit_mov_rr(j, true, CTXR, RSP);
}

/* Leaves the main frame (or a callback trampoline's) from any depth, through r12. */
static void emit_main_epilogue(struct jit *j)
{
	emit_mem(j, F_W, 0x8d, RSP, CTXR, MAIN_FRAME);
	emit1(j, 0x41);
	emit1(j, 0x5f);
	emit1(j, 0x41);
	emit1(j, 0x5e);
	emit1(j, 0x41);
	emit1(j, 0x5d);
	emit1(j, 0x41);
	emit1(j, 0x5c);
	emit1(j, 0x5b);
	emit1(j, 0x5d);
	emit1(j, 0xc3);
}

/*
 * Main entry. run: the bext_vm__run() entry, whose third argument (rdx) is
 * the struct bext_run of the run: stored in the run context, and the run
 * context published in it for bext_vm__call_func().
 */
static void emit_prologue_main(struct jit *j, bool run)
{
	static const uint8_t zero[] = {RDX, RCX, R8, RBX, R13, R14, R15};

	emit_main_pushes(j);
	/* Registers other than r1, r2, r10 start at 0; so do the counters. */
	emit_rr(j, 0, 0x31, RAX, RAX);
	emit_mem(j, F_W, 0x89, RAX, CTXR, RC_DEPTH);
	if (run) {
		emit_mem(j, F_W, 0x89, RDX, CTXR, RC_RUN);
		emit_mem(j, F_W, 0x89, CTXR, RDX, (int32_t)offsetof(struct bext_run, jit_rc));
	} else {
		emit_mem(j, F_W, 0x89, RAX, CTXR, RC_RUN);
	}
	for (size_t i = 0; i < sizeof(zero); i++)
		emit_rr(j, 0, 0x31, zero[i], zero[i]);
}

static void emit_prologue_sub(struct jit *j)
{
	emit1(j, 0x55);
	emit1(j, 0x53);
	emit1(j, 0x41);
	emit1(j, 0x55);
	emit1(j, 0x41);
	emit1(j, 0x56);
	emit1(j, 0x41);
	emit1(j, 0x57);
	emit_mov_rr(j, true, RBP, RSP);
	emit_rr(j, F_W, 0x81, 5, RSP);
	emit4(j, BEXT_STACK_SIZE);
}

static void emit_stubs(struct jit *j)
{
	/* L_ERR: edi = -errno, esi = insn. */
	j->lab[lab_special(j, L_ERR)] = (uint32_t)j->len;
	emit_mov_rr(j, true, RSP, CTXR); /* aligned: r12 is 16-byte aligned */
	emit_mov_imm64(j, RAX, (uint64_t)(uintptr_t)&bext_jit_set_run_error);
	emit_rr(j, 0, 0xff, 2, RAX);
	/* L_EXIT0: leave the run with r0 = 0 from any depth. */
	j->lab[lab_special(j, L_EXIT0)] = (uint32_t)j->len;
	emit_rr(j, 0, 0x31, RAX, RAX);
	emit_main_epilogue(j);

	/* L_RUN: the bext_vm__run() entry (see emit_prologue_main()). */
	j->lab[lab_special(j, L_RUN)] = (uint32_t)j->len;
	emit_prologue_main(j, true);
	emit_jump(j, CC_JMP, lab_body(j, 0));

	/*
	 * L_CB: callback trampoline (struct bext_jit_cb in vm_internal.h),
	 * r1-r5 in rdi rsi rdx rcx r8 already, the block in r9. Same frame as
	 * the main program's, so that L_EXIT0/L_ERR unwind it too.
	 */
	j->lab[lab_special(j, L_CB)] = (uint32_t)j->len;
	emit_main_pushes(j);
	emit_mem(j, 0, 0x8b, RAX, R9, (int32_t)offsetof(struct bext_jit_cb, depth));
	emit_mem(j, F_W, 0x89, RAX, CTXR, RC_DEPTH); /* depth, tail calls = 0 */
	emit_mem(j, F_W, 0x8b, RAX, R9, (int32_t)offsetof(struct bext_jit_cb, run));
	emit_mem(j, F_W, 0x89, RAX, CTXR, RC_RUN);
	emit_mem(j, F_W, 0x89, CTXR, RAX, (int32_t)offsetof(struct bext_run, jit_rc));
	emit_mem(j, F_W, 0x8b, AUX, R9, (int32_t)offsetof(struct bext_jit_cb, target));
	emit_rr(j, 0, 0xff, 2, AUX); /* call r11 */
	emit_main_epilogue(j);
}

static void emit_lddw(struct jit *j, const struct bext_insn *in)
{
	int dst = reg_map[in->dst];
	uint64_t v = (uint64_t)(uint32_t)in->imm | (uint64_t)(uint32_t)in[1].imm << 32;

	if (in->src == BEXT_PSEUDO_FUNC) {
		size_t t = j->pc + 1 + (size_t)(int64_t)in->imm;

		if (t == 0 || t >= j->n || !j->fstart[t]) {
			jit_fail(j, "insn %zu: function value of insn %zu", j->pc, t);
			return;
		}
		emit_lea_label(j, dst, lab_entry(j, t));
		return;
	}
	if (in->src != BEXT_PSEUDO_NONE) {
		jit_fail(j, "insn %zu: unresolved lddw pseudo form %u", j->pc, in->src);
		return;
	}
	if (j->blind) {
		emit_prefix(j, F_W, 0, 0, dst);
		emit1(j, 0xb8 | (dst & 7));
		emit8(j, v ^ j->key64);
		emit_prefix(j, F_W, 0, 0, AUX);
		emit1(j, 0xb8 | (AUX & 7));
		emit8(j, j->key64);
		emit_rr(j, F_W, 0x31, AUX, dst);
		return;
	}
	emit_mov_imm64(j, dst, v);
}

static void emit_program(struct jit *j)
{
	const struct bext_insn *insns = j->insns;

	j->len = 0;
	j->n_fix = 0;
	j->in_main = true;
	j->lab[lab_entry(j, 0)] = 0;
	emit_prologue_main(j, false);
	for (size_t i = 0; i < j->n && !j->err; i++) {
		const struct bext_insn *in = &insns[i];

		j->pc = i;
		if (i && j->fstart[i]) {
			j->in_main = false;
			j->lab[lab_entry(j, i)] = (uint32_t)j->len;
			emit_prologue_sub(j);
		}
		j->lab[lab_body(j, i)] = (uint32_t)j->len;
		if (!bext_x86_jit_no_peephole) {
			size_t used = emit_fused(j, i);

			if (used) {
				/* Not jump targets (checked): labels only for completeness. */
				for (size_t k = 1; k < used; k++)
					j->lab[lab_body(j, i + k)] = (uint32_t)j->len;
				i += used - 1;
				continue;
			}
		}
		switch (BEXT_CLASS(in->code)) {
		case BEXT_CLS_ALU:
		case BEXT_CLS_ALU64:
			emit_alu(j, in);
			break;
		case BEXT_CLS_JMP:
		case BEXT_CLS_JMP32:
			emit_jmp(j, in);
			break;
		case BEXT_CLS_LDX:
			if (BEXT_MODE(in->code) != BEXT_MODE_MEM &&
			    BEXT_MODE(in->code) != BEXT_MODE_MEMSX)
				jit_fail(j, "insn %zu: unsupported load mode 0x%02x", i, in->code);
			else
				emit_ldx(j, in);
			break;
		case BEXT_CLS_ST:
			if (BEXT_MODE(in->code) != BEXT_MODE_MEM)
				jit_fail(j, "insn %zu: unsupported store 0x%02x", i, in->code);
			else
				emit_st(j, in);
			break;
		case BEXT_CLS_STX:
			if (BEXT_MODE(in->code) == BEXT_MODE_MEM)
				emit_store_reg(j, BEXT_SIZE(in->code), reg_map[in->dst], in->off,
					       reg_map[in->src]);
			else if (BEXT_MODE(in->code) == BEXT_MODE_ATOMIC)
				emit_atomic(j, in);
			else
				jit_fail(j, "insn %zu: unsupported store 0x%02x", i, in->code);
			break;
		case BEXT_CLS_LD:
			if (in->code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM) ||
			    i + 1 >= j->n) {
				jit_fail(j,
					 "insn %zu: unsupported load 0x%02x (legacy packet access)",
					 i, in->code);
				break;
			}
			emit_lddw(j, in);
			i++;
			j->lab[lab_body(j, i)] = (uint32_t)j->len;
			break;
		}
	}
	emit_stubs(j);
}

/* ---- peephole: fused instruction pairs --------------------------------------------- */

/* lea dst, [base + index << scale + disp] (32-bit operand size: result zero-extended). */
static void emit_lea(struct jit *j, bool w, int dst, int base, int index, int scale, int32_t disp)
{
	int mod;

	if (index < 0) {
		emit_mem(j, w ? F_W : 0, 0x8d, dst, base, disp);
		return;
	}
	emit_prefix(j, w ? F_W : 0, dst, index, base);
	emit1(j, 0x8d);
	if (disp == 0 && (base & 7) != RBP)
		mod = 0;
	else if (is_imm8(disp))
		mod = 1;
	else
		mod = 2;
	emit1(j, (uint8_t)(mod << 6 | (dst & 7) << 3 | 4));
	emit1(j, (uint8_t)(scale << 6 | (index & 7) << 3 | (base & 7)));
	if (mod == 1)
		emit1(j, (uint8_t)disp);
	else if (mod == 2)
		emit4(j, (uint32_t)disp);
}

static bool is_alu(const struct bext_insn *in, int cls, int op, int src)
{
	return in->code == (cls | op | src) && in->off == 0;
}

/* dst = src * imm as one lea or shift when imm is 2^k or 3, 5, 9; false otherwise. */
static bool emit_mul_cheap(struct jit *j, bool w, int dst, int src, int32_t imm)
{
	static const int8_t lea_scale[10] = {[3] = 1, [5] = 2, [9] = 3};

	if (imm >= 3 && imm <= 9 && lea_scale[imm]) {
		emit_lea(j, w, dst, src, src, lea_scale[imm], 0);
		return true;
	}
	if (imm > 1 && !(imm & (imm - 1))) {
		if (dst != src)
			emit_mov_rr(j, w, dst, src);
		emit_rr(j, w ? F_W : 0, 0xc1, 4, dst); /* shl dst, k (32-bit: zero-extends) */
		emit1(j, (uint8_t)__builtin_ctz((uint32_t)imm));
		return true;
	}
	return false;
}

/*
 * Instruction patterns clang emits that x86 does in fewer instructions.
 * Returns how many BPF instructions were compiled (0: no pattern at pc). A
 * pattern never spans a jump target (j->tgt), so nothing can land on its
 * second instruction; results are exactly those of the separate
 * instructions, flags aside (no BPF instruction reads flags).
 */
static size_t emit_fused(struct jit *j, size_t pc)
{
	const struct bext_insn *a = &j->insns[pc], *b = pc + 1 < j->n ? a + 1 : NULL;
	const struct bext_insn *c = pc + 2 < j->n ? a + 2 : NULL;
	const int A64 = BEXT_CLS_ALU64, A32 = BEXT_CLS_ALU;
	int ra = reg_map[a->dst];

	if (b && j->tgt[pc + 1])
		b = NULL;
	if (!b || j->tgt[pc + 2 < j->n ? pc + 2 : pc + 1])
		c = NULL;

	/* rX <<= 32; rX >>= 32  =>  mov eX, eX */
	if (b && is_alu(a, A64, BEXT_ALU_LSH, BEXT_SRC_K) && a->imm == 32 &&
	    is_alu(b, A64, BEXT_ALU_RSH, BEXT_SRC_K) && b->imm == 32 && b->dst == a->dst) {
		emit_mov_rr(j, false, ra, ra);
		return 2;
	}
	if (!b ||
	    !(is_alu(a, A64, BEXT_ALU_MOV, BEXT_SRC_X) ||
	      is_alu(a, A32, BEXT_ALU_MOV, BEXT_SRC_X)) ||
	    a->dst == a->src || b->dst != a->dst)
		goto single;
	/*
	 * Pairs starting with rX = rY. A 32-bit mov only fuses with a 32-bit
	 * operation, whose result depends on the low 32 bits of rY alone.
	 */
	{
		int ry = reg_map[a->src];
		bool w = BEXT_CLASS(b->code) == A64;

		if (w && BEXT_CLASS(a->code) == A32)
			goto single;

		/* rX = rY; rX <<= 32; rX >>= 32  =>  mov eX, eY */
		if (c && is_alu(b, A64, BEXT_ALU_LSH, BEXT_SRC_K) && b->imm == 32 &&
		    is_alu(c, A64, BEXT_ALU_RSH, BEXT_SRC_K) && c->imm == 32 && c->dst == a->dst) {
			emit_mov_rr(j, false, ra, ry);
			return 3;
		}
		/* rX = rY; rX += imm  =>  lea rX, [rY + imm] (32-bit add: lea eX) */
		if (!j->blind && is_alu(b, w ? A64 : A32, BEXT_ALU_ADD, BEXT_SRC_K)) {
			emit_lea(j, w, ra, ry, -1, 0, b->imm);
			return 2;
		}
		/* rX = rY; rX += rZ  =>  lea rX, [rY + rZ] */
		if (is_alu(b, w ? A64 : A32, BEXT_ALU_ADD, BEXT_SRC_X)) {
			int rz = b->src == a->dst ? ry : reg_map[b->src];

			emit_lea(j, w, ra, ry, rz, 0, 0);
			return 2;
		}
		/* rX = rY; rX *= imm  =>  lea/shl, or imul rX, rY, imm */
		if (!j->blind && is_alu(b, w ? A64 : A32, BEXT_ALU_MUL, BEXT_SRC_K)) {
			if (emit_mul_cheap(j, w, ra, ry, b->imm))
				return 2;
			if (is_imm8(b->imm)) {
				emit_rr(j, w ? F_W : 0, 0x6b, ra, ry);
				emit1(j, (uint8_t)b->imm);
			} else {
				emit_rr(j, w ? F_W : 0, 0x69, ra, ry);
				emit4(j, (uint32_t)b->imm);
			}
			return 2;
		}
	}
single:
	/* rX *= 3/5/9/2^k  =>  lea/shl (imul has 3 cycles of latency) */
	if (!j->blind &&
	    (is_alu(a, A64, BEXT_ALU_MUL, BEXT_SRC_K) ||
	     is_alu(a, A32, BEXT_ALU_MUL, BEXT_SRC_K)) &&
	    emit_mul_cheap(j, BEXT_CLASS(a->code) == A64, ra, ra, a->imm))
		return 1;
	/*
	 * if (cond) goto +1; goto L  =>  if (!cond) goto L: a loop's backward
	 * edge becomes one conditional branch instead of a branch over a jump.
	 */
	if (b && (BEXT_CLASS(a->code) == BEXT_CLS_JMP || BEXT_CLASS(a->code) == BEXT_CLS_JMP32) &&
	    a->off == 1 &&
	    (b->code == (BEXT_CLS_JMP | BEXT_JMP_JA) ||
	     b->code == (BEXT_CLS_JMP32 | BEXT_JMP_JA))) {
		int op = BEXT_OP(a->code);
		int64_t t =
		    (int64_t)pc + 2 + (BEXT_CLASS(b->code) == BEXT_CLS_JMP32 ? b->imm : b->off);

		if (op == BEXT_JMP_JA || op == BEXT_JMP_CALL || op == BEXT_JMP_EXIT ||
		    op > BEXT_JMP_JSLE || t < 0 || (size_t)t >= j->n)
			return 0;
		j->invert_next = true;
		j->jmp_override = (size_t)t;
		emit_jmp(j, a);
		j->invert_next = false;
		return j->err ? 0 : 2;
	}
	return 0;
}

/* Resolves every fixup against this pass's layout; returns whether another pass helps. */
static bool resolve(struct jit *j, bool *again)
{
	bool shrinkable = false;

	*again = false;
	if (j->n_fix > j->n_fix_prev) {
		int32_t *d = realloc(j->fix_disp, j->n_fix * sizeof(*d));
		uint8_t *l;

		if (!d)
			return false;
		j->fix_disp = d;
		l = realloc(j->fix_long, j->n_fix);
		if (!l)
			return false;
		memset(l + j->n_fix_prev, 0, j->n_fix - j->n_fix_prev);
		j->fix_long = l;
	}
	j->n_fix_prev = j->n_fix;
	for (size_t k = 0; k < j->n_fix; k++) {
		const struct fixup *f = &j->fix[k];
		int64_t disp = (int64_t)j->lab[f->label] - (int64_t)(f->pos + f->size);

		j->fix_disp[k] = (int32_t)disp;
		if (f->size == 1) {
			if (!is_imm8(disp)) {
				j->fix_long[k] = 1;
				*again = true;
				continue;
			}
			j->buf[f->pos] = (uint8_t)disp;
		} else {
			int32_t d = (int32_t)disp;

			memcpy(j->buf + f->pos, &d, 4);
			if (f->shrink && !j->fix_long[k] && is_imm8(disp))
				shrinkable = true;
		}
	}
	if (shrinkable)
		*again = true;
	return true;
}

/*
 * Which bpf_map_lookup_elem calls to inline: those whose r1 is certainly a
 * map pointer loaded by a map lddw (vm->map_lddw) earlier in the same basic
 * block, directly or through 64-bit register moves. One forward walk
 * tracking, per register, "holds map lddw value v"; every jump target and
 * function start forgets everything (another path may arrive there), every
 * write to a register forgets that register, calls forget r0-r5, exit and ja
 * forget everything. A map the describer does not know (or cannot describe
 * within the limits of the emitted code) keeps its helper call.
 */
static int find_inline_lookups(struct jit *j)
{
	struct bext_vm *vm = j->vm;
	uint64_t val[11] = {0};
	unsigned known = 0; /* bit r: val[r] is a map lddw value */
	size_t cap = 0;

	if (bext_x86_jit_no_inline || j->blind || !vm->inline_lookup || !vm->map_lddw ||
	    !vm->helpers[HELPER_MAP_LOOKUP].fn || vm->unwind_helper == HELPER_MAP_LOOKUP)
		return 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct bext_insn *in = &j->insns[i];
		uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);
		struct bext_inline_lookup d;

		if (j->tgt[i])
			known = 0;
		switch (cls) {
		case BEXT_CLS_LD:
			if (in->code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM) ||
			    i + 1 >= j->n) {
				known = 0;
				break;
			}
			known &= ~(1u << in->dst);
			if (vm->map_lddw[i] && in->src == BEXT_PSEUDO_NONE) {
				known |= 1u << in->dst;
				val[in->dst] = (uint64_t)(uint32_t)in->imm |
					       (uint64_t)(uint32_t)in[1].imm << 32;
			}
			i++;
			break;
		case BEXT_CLS_ALU64:
			if (in->code == (BEXT_CLS_ALU64 | BEXT_ALU_MOV | BEXT_SRC_X) && !in->off &&
			    in->src < 11 && (known & 1u << in->src)) {
				known |= 1u << in->dst;
				val[in->dst] = val[in->src];
				break;
			}
			known &= ~(1u << in->dst);
			break;
		case BEXT_CLS_ALU:
		case BEXT_CLS_LDX:
			known &= ~(1u << in->dst);
			break;
		case BEXT_CLS_ST:
			break;
		case BEXT_CLS_STX:
			if (BEXT_MODE(in->code) == BEXT_MODE_ATOMIC)
				known &= ~(1u << in->src | 1u << 0);
			break;
		case BEXT_CLS_JMP:
		case BEXT_CLS_JMP32:
			if (op == BEXT_JMP_EXIT || op == BEXT_JMP_JA) {
				known = 0;
				break;
			}
			if (op != BEXT_JMP_CALL)
				break;
			if (in->code == (BEXT_CLS_JMP | BEXT_JMP_CALL) &&
			    in->src == BEXT_CALL_HELPER && in->imm == HELPER_MAP_LOOKUP &&
			    (known & 1u << 1) &&
			    !vm->inline_lookup(vm->inline_lookup_user, val[1], &d) &&
			    (d.kind == BEXT_INLINE_ARRAY || d.kind == BEXT_INLINE_PERCPU_ARRAY) &&
			    d.base && d.elem_stride && d.elem_stride <= INT32_MAX &&
			    (d.kind == BEXT_INLINE_ARRAY ||
			     (d.nr_cpus && d.cpu_stride <= INT32_MAX &&
			      d.cpu_tp_off == (int32_t)d.cpu_tp_off))) {
				if (j->n_inl == cap) {
					struct bext_inline_lookup *p;

					cap = cap ? 2 * cap : 8;
					p = realloc(j->inl, cap * sizeof(*p));
					if (!p)
						return -ENOMEM;
					j->inl = p;
				}
				if (!j->inl_at && !(j->inl_at = calloc(j->n, sizeof(*j->inl_at))))
					return -ENOMEM;
				j->inl[j->n_inl++] = d;
				j->inl_at[i] = (uint32_t)j->n_inl;
			}
			known &= ~0x3fu; /* r0-r5 */
			break;
		}
	}
	return 0;
}

static void x86_release(struct bext_vm *vm)
{
	if (vm->jit_mem)
		munmap(vm->jit_mem, vm->jit_mem_size);
	vm->jit_mem = NULL;
	vm->jit_mem_size = 0;
	vm->jit_size = 0;
	vm->jit_fn = NULL;
	vm->jit_tail_entry = NULL;
	vm->jit_run_entry = NULL;
	vm->jit_cb_entry = NULL;
	free(vm->jit_funcs);
	vm->jit_funcs = NULL;
	vm->n_jit_funcs = 0;
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static int x86_compile(struct bext_vm *vm, char *err, size_t err_len)
{
	struct jit j = {
	    .vm = vm, .insns = vm->insns, .n = vm->n_insns, .msg = err, .msg_len = err_len};
	size_t n = vm->n_insns, page, map_len;
	uintptr_t *funcs = NULL;
	void *mem;
	int ret = 0;

	if (!n) {
		snprintf(err, err_len, "empty program");
		return -EINVAL;
	}
	j.lab = malloc((2 * n + L_COUNT) * sizeof(*j.lab));
	j.fstart = calloc(n, 1);
	j.tgt = calloc(n, 1);
	if (!j.lab || !j.fstart || !j.tgt) {
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out_free;
	}
	/* Function starts: local call targets and BPF_PSEUDO_FUNC targets. */
	for (size_t i = 0; i < n; i++) {
		const struct bext_insn *in = &vm->insns[i];
		int64_t t = -1;

		if (in->code == (BEXT_CLS_JMP | BEXT_JMP_CALL) && in->src == BEXT_CALL_LOCAL)
			t = (int64_t)i + 1 + in->imm;
		else if (in->code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM) &&
			 in->src == BEXT_PSEUDO_FUNC)
			t = (int64_t)i + 1 + in->imm;
		if (t == 0) {
			snprintf(err, err_len, "insn %zu: calls the main program", i);
			ret = -ENOTSUP;
			goto out_free;
		}
		if (t > 0 && (size_t)t < n)
			j.fstart[t] = 1;
	}
	/* Jump targets: the second instruction of a fused pattern must not be one. */
	for (size_t i = 0; i < n; i++) {
		const struct bext_insn *in = &vm->insns[i];
		uint8_t cls = BEXT_CLASS(in->code), op = BEXT_OP(in->code);
		int64_t t;

		if (j.fstart[i])
			j.tgt[i] = 1;
		if ((cls != BEXT_CLS_JMP && cls != BEXT_CLS_JMP32) || op == BEXT_JMP_CALL ||
		    op == BEXT_JMP_EXIT)
			continue;
		t = (int64_t)i + 1 +
		    (cls == BEXT_CLS_JMP32 && op == BEXT_JMP_JA ? in->imm : in->off);
		if (t >= 0 && (size_t)t < n)
			j.tgt[t] = 1;
	}
	j.blind = vm->opts.blinding;
	if (j.blind) {
		do {
			if (getrandom(&j.key64, sizeof(j.key64), 0) != sizeof(j.key64)) {
				ret = -errno;
				snprintf(err, err_len, "getrandom: %s", strerror(errno));
				goto out_free;
			}
			j.key32 = (uint32_t)j.key64 ^ (uint32_t)(j.key64 >> 32);
		} while (!j.key32 || (uint32_t)j.key64 == 0);
	}
	j.bmi2 = !bext_x86_jit_no_bmi2 && __builtin_cpu_supports("bmi2");
	if (find_inline_lookups(&j)) {
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out_free;
	}

	for (j.pass = 0;; j.pass++) {
		bool again;

		emit_program(&j);
		if (j.err) {
			ret = j.err;
			goto out_free;
		}
		if (j.len > bext_x86_jit_max_image) {
			snprintf(err, err_len,
				 "program too large for the JIT: %zu bytes of code (limit %zu)",
				 j.len, bext_x86_jit_max_image);
			ret = -E2BIG;
			goto out_free;
		}
		if (!resolve(&j, &again)) {
			ret = -ENOMEM;
			snprintf(err, err_len, "out of memory");
			goto out_free;
		}
		if (!again)
			break;
		if (j.pass >= 32) {
			/* Still correct if only shrinkable jumps remain. */
			bool bad = false;

			for (size_t k = 0; k < j.n_fix; k++)
				bad |= j.fix[k].size == 1 && !is_imm8(j.fix_disp[k]);
			if (!bad)
				break;
			if (j.pass >= 40) {
				ret = -EFAULT;
				snprintf(err, err_len, "internal error: layout does not converge");
				goto out_free;
			}
		}
	}

	page = 4096;
	map_len = (j.len + page - 1) & ~(page - 1);
	mem = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ret = -errno;
		snprintf(err, err_len, "mmap: %s", strerror(errno));
		goto out_free;
	}
	funcs = malloc(n * sizeof(*funcs));
	if (!funcs) {
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		munmap(mem, map_len);
		goto out_free;
	}
	memcpy(mem, j.buf, j.len);
	/* int3 padding: a stray jump past the code traps. */
	memset((uint8_t *)mem + j.len, 0xcc, map_len - j.len);
	if (mprotect(mem, map_len, PROT_READ | PROT_EXEC)) {
		ret = -errno;
		snprintf(err, err_len, "mprotect: %s", strerror(errno));
		munmap(mem, map_len);
		goto out_free;
	}
	vm->jit_mem = mem;
	vm->jit_mem_size = map_len;
	vm->jit_size = j.len;
	vm->jit_fn = (bext_jit_fn)mem;
	vm->jit_tail_entry = (uint8_t *)mem + j.lab[lab_body(&j, 0)];
	*(void **)&vm->jit_run_entry = (uint8_t *)mem + j.lab[lab_special(&j, L_RUN)];
	*(void **)&vm->jit_cb_entry = (uint8_t *)mem + j.lab[lab_special(&j, L_CB)];
	vm->jit_funcs = funcs;
	vm->n_jit_funcs = 0;
	vm->jit_inlined = j.n_inl;
	for (size_t t = 1; t < n; t++) {
		if (vm->func_entry && vm->func_entry[t] && j.fstart[t])
			funcs[vm->n_jit_funcs++] = (uintptr_t)mem + j.lab[lab_entry(&j, t)];
	}
	qsort(funcs, vm->n_jit_funcs, sizeof(*funcs), cmp_addr);
	funcs = NULL;
out_free:
	free(funcs);
	free(j.buf);
	free(j.lab);
	free(j.fstart);
	free(j.tgt);
	free(j.fix);
	free(j.fix_disp);
	free(j.fix_long);
	free(j.inl_at);
	free(j.inl);
	return ret;
}

static const struct bext_jit_ops x86_64_jit_ops = {
    .name = "x86-64",
    .compile = x86_compile,
    .release = x86_release,
};

const struct bext_jit_ops *const bext_arch_jit_ops = &x86_64_jit_ops;

#endif /* __x86_64__ */

/* SPDX-License-Identifier: MIT */
/*
 * Text assembler for the bpf_conformance syntax (see docs/ISA.md).
 *
 * One pass over the lines encodes every instruction and records a fixup for
 * each jump or call that names a label; a second step resolves the fixups
 * once all labels are known. Labels name slot indices (lddw counts two).
 *
 * The label `exit`, when the program does not define it, means "end the
 * program": it resolves to the last instruction when that is an `exit`,
 * otherwise an `exit` is appended and it resolves to that. The conformance
 * files rely on this (`jne %r0, 1, exit` with no `exit:` label).
 *
 * The assembler is an encoder, not a verifier: whatever has an encoding is
 * accepted (r10 as a destination, a division by an immediate 0, a shift by
 * 64), and the verifier or bext_vm__load() rejects it later.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa_internal.h"

#define LABEL_MAX 64

struct label {
	char name[LABEL_MAX];
	size_t slot;
	int line;
};

enum fixup_kind {
	FIXUP_OFF, /* 16-bit off field (jumps) */
	FIXUP_IMM, /* 32-bit imm field (ja32, call local, lddw func) */
};

struct fixup {
	char name[LABEL_MAX];
	size_t slot;
	int line;
	enum fixup_kind kind;
};

struct asm_state {
	struct bext_insn *insns;
	size_t n, cap;
	struct label *labels;
	size_t n_labels, cap_labels;
	struct fixup *fixups;
	size_t n_fixups, cap_fixups;
	int line;
	const char *p; /* cursor in the current line (comment already cut) */
	const char *end;
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct asm_state *s, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	if (s->err && s->err_len) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(s->err, s->err_len, "line %d: %s", s->line, msg);
	}
	return -EINVAL;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int push(struct asm_state *s, struct bext_insn in)
{
	if (s->n >= BEXT_MAX_INSNS)
		return fail(s, "program too long (more than %u slots)", BEXT_MAX_INSNS);
	if (grow((void **)&s->insns, &s->cap, s->n + 1, sizeof(*s->insns)))
		return -ENOMEM;
	s->insns[s->n++] = in;
	return 0;
}

/* ---- lexing within one line ---- */

static void skip_ws(struct asm_state *s)
{
	while (s->p < s->end &&
	       (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\v' || *s->p == '\f'))
		s->p++;
}

/* For "%.*s": what is left of the line, at most 20 characters. */
#define HERE(s) (int)((s)->end - (s)->p > 20 ? 20 : (s)->end - (s)->p), (s)->p

static bool at_end(struct asm_state *s)
{
	skip_ws(s);
	return s->p >= s->end;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Reads an identifier into buf; returns its length (0: none there). */
static size_t read_ident(struct asm_state *s, char *buf, size_t len)
{
	const char *start;
	size_t n;

	skip_ws(s);
	start = s->p;
	if (s->p >= s->end || !is_ident_start(*s->p))
		return 0;
	while (s->p < s->end && is_ident_char(*s->p))
		s->p++;
	n = (size_t)(s->p - start);
	if (n >= len) {
		s->p = start;
		return 0;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	return n;
}

/* Consumes the word kw if it comes next (followed by a non-identifier char). */
static bool accept_word(struct asm_state *s, const char *kw)
{
	size_t n = strlen(kw);

	skip_ws(s);
	if ((size_t)(s->end - s->p) < n || strncmp(s->p, kw, n) ||
	    (s->p + n < s->end && is_ident_char(s->p[n])))
		return false;
	s->p += n;
	return true;
}

static bool accept_char(struct asm_state *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static int expect_char(struct asm_state *s, char c, const char *what)
{
	if (accept_char(s, c))
		return 0;
	if (at_end(s))
		return fail(s, "missing %s", what);
	return fail(s, "expected %s, found '%.*s'", what, HERE(s));
}

/* Length (at most 24) of the token starting at p, for error messages. */
static int token_len(struct asm_state *s, const char *p)
{
	const char *q = p;

	while (q < s->end && q - p < 24 &&
	       (is_ident_char(*q) || *q == '%' || *q == '+' || *q == '-'))
		q++;
	return q == p ? 1 : (int)(q - p);
}

/* Is a register (%rN or rN) next? */
static bool reg_next(struct asm_state *s)
{
	const char *q;

	skip_ws(s);
	q = s->p;
	if (q < s->end && *q == '%')
		q++;
	return q + 1 < s->end && q[0] == 'r' && q[1] >= '0' && q[1] <= '9';
}

static int parse_reg(struct asm_state *s, uint8_t *reg, const char *what)
{
	const char *start;
	unsigned v = 0;

	skip_ws(s);
	start = s->p;
	if (!reg_next(s)) {
		if (at_end(s))
			return fail(s, "missing %s register", what);
		return fail(s, "expected %s register, found '%.*s'", what, HERE(s));
	}
	if (*s->p == '%')
		s->p++;
	s->p++; /* 'r' */
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && v < 100)
		v = v * 10 + (unsigned)(*s->p++ - '0');
	if (v > 10 || (s->p < s->end && is_ident_char(*s->p)))
		return fail(s, "bad register '%.*s'", token_len(s, start), start);
	*reg = (uint8_t)v;
	return 0;
}

static bool num_next(struct asm_state *s)
{
	const char *q;

	skip_ws(s);
	q = s->p;
	if (q < s->end && (*q == '-' || *q == '+'))
		q++;
	return q < s->end && *q >= '0' && *q <= '9';
}

/*
 * Parses [+-]decimal or [+-]0xhex. The value must lie in [min, max] where
 * max may exceed INT64_MAX (it is given as an unsigned bound for positives).
 * The result is returned as the two's-complement 64-bit pattern.
 */
static int parse_num(struct asm_state *s, int64_t min, uint64_t max, uint64_t *out,
		     const char *what)
{
	const char *start;
	bool neg = false;
	uint64_t v = 0;
	unsigned base = 10, digits = 0;

	skip_ws(s);
	start = s->p;
	if (!num_next(s)) {
		if (at_end(s))
			return fail(s, "missing %s", what);
		return fail(s, "expected %s, found '%.*s'", what, HERE(s));
	}
	if (*s->p == '-' || *s->p == '+')
		neg = *s->p++ == '-';
	if (s->end - s->p > 2 && s->p[0] == '0' && (s->p[1] == 'x' || s->p[1] == 'X')) {
		base = 16;
		s->p += 2;
	}
	for (; s->p < s->end; s->p++, digits++) {
		char c = *s->p;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return fail(s, "%s '%.*s' out of range", what, token_len(s, start), start);
		v = v * base + d;
	}
	if (!digits || (s->p < s->end && is_ident_char(*s->p)))
		return fail(s, "bad number '%.*s'", token_len(s, start), start);
	if (neg) {
		/* -v >= min  <=>  v <= -min */
		if (v > (uint64_t)0 - (uint64_t)min)
			return fail(s, "%s '%.*s' out of range", what, (int)(s->p - start), start);
		*out = (uint64_t)0 - v;
	} else {
		if (v > max)
			return fail(s, "%s '%.*s' out of range", what, (int)(s->p - start), start);
		*out = v;
	}
	return 0;
}

static int parse_imm32(struct asm_state *s, int32_t *imm, const char *what)
{
	uint64_t v;
	int err = parse_num(s, INT32_MIN, UINT32_MAX, &v, what);

	if (!err)
		*imm = (int32_t)(uint32_t)v;
	return err;
}

static int parse_off16(struct asm_state *s, int16_t *off, const char *what)
{
	uint64_t v;
	int err = parse_num(s, INT16_MIN, INT16_MAX, &v, what);

	if (!err)
		*off = (int16_t)(uint16_t)v;
	return err;
}

/* [%rN], [%rN+OFF], [%rN-OFF] */
static int parse_mem(struct asm_state *s, uint8_t *reg, int16_t *off)
{
	int err;

	if ((err = expect_char(s, '[', "memory operand '['")))
		return err;
	if ((err = parse_reg(s, reg, "base")))
		return err;
	*off = 0;
	skip_ws(s);
	if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
		if ((err = parse_off16(s, off, "memory offset")))
			return err;
	}
	return expect_char(s, ']', "']'");
}

static int add_fixup(struct asm_state *s, const char *name, enum fixup_kind kind)
{
	struct fixup *f;

	if (grow((void **)&s->fixups, &s->cap_fixups, s->n_fixups + 1, sizeof(*s->fixups)))
		return -ENOMEM;
	f = &s->fixups[s->n_fixups++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->slot = s->n; /* the instruction about to be pushed */
	f->line = s->line;
	f->kind = kind;
	return 0;
}

/*
 * A jump or call target: a signed offset (`+3`, `-2`, `3`) or a label.
 * Offsets go into *val; labels get a fixup against the next pushed slot.
 */
static int parse_target(struct asm_state *s, enum fixup_kind kind, int64_t *val)
{
	char name[LABEL_MAX];
	uint64_t v;
	int err;

	*val = 0;
	if (num_next(s)) {
		if (kind == FIXUP_OFF)
			err = parse_num(s, INT16_MIN, INT16_MAX, &v, "jump offset");
		else
			err = parse_num(s, INT32_MIN, INT32_MAX, &v, "offset");
		if (!err)
			*val = (int64_t)v;
		return err;
	}
	if (!read_ident(s, name, sizeof(name))) {
		if (at_end(s))
			return fail(s, "missing jump target");
		return fail(s, "expected label or offset, found '%.*s'", HERE(s));
	}
	return add_fixup(s, name, kind);
}

static int finish_line(struct asm_state *s)
{
	if (!at_end(s))
		return fail(s, "trailing junk '%.*s'", HERE(s));
	return 0;
}

/* ---- instruction families ---- */

/* Register or immediate second operand: sets the X bit, src or imm. */
static int parse_src(struct asm_state *s, struct bext_insn *in)
{
	uint8_t reg;
	int err;

	if (reg_next(s)) {
		if ((err = parse_reg(s, &reg, "source")))
			return err;
		in->code |= BEXT_SRC_X;
		in->src = reg;
		return 0;
	}
	return parse_imm32(s, &in->imm, "immediate");
}

static int asm_alu(struct asm_state *s, const struct isa_alu_op *op, bool is32)
{
	struct bext_insn in = {0};
	uint8_t dst;
	int err;

	in.code = (uint8_t)((is32 ? BEXT_CLS_ALU : BEXT_CLS_ALU64) | op->op);
	in.off = op->off;
	if ((err = parse_reg(s, &dst, "destination")))
		return err;
	in.dst = dst;
	if (op->op != BEXT_ALU_NEG) {
		if ((err = expect_char(s, ',', "',' and source operand")))
			return err;
		if ((err = parse_src(s, &in)))
			return err;
	}
	if ((err = finish_line(s)))
		return err;
	return push(s, in);
}

static int asm_reg_reg(struct asm_state *s, uint8_t code, int16_t off)
{
	struct bext_insn in = {.code = code, .off = off};
	uint8_t dst, src;
	int err;

	if ((err = parse_reg(s, &dst, "destination")) ||
	    (err = expect_char(s, ',', "',' and source register")) ||
	    (err = parse_reg(s, &src, "source")) || (err = finish_line(s)))
		return err;
	in.dst = dst;
	in.src = src;
	return push(s, in);
}

static int asm_end(struct asm_state *s, const struct isa_end_op *op)
{
	struct bext_insn in = {.code = op->code, .imm = op->imm};
	uint8_t dst;
	int err;

	if ((err = parse_reg(s, &dst, "destination")) || (err = finish_line(s)))
		return err;
	in.dst = dst;
	return push(s, in);
}

static int asm_jcond(struct asm_state *s, uint8_t op, bool is32)
{
	struct bext_insn in = {0};
	uint8_t dst;
	int64_t off;
	int err;

	in.code = (uint8_t)((is32 ? BEXT_CLS_JMP32 : BEXT_CLS_JMP) | op);
	if ((err = parse_reg(s, &dst, "first compared")) ||
	    (err = expect_char(s, ',', "',' and second operand")) || (err = parse_src(s, &in)) ||
	    (err = expect_char(s, ',', "',' and jump target")) ||
	    (err = parse_target(s, FIXUP_OFF, &off)) || (err = finish_line(s)))
		return err;
	in.dst = dst;
	in.off = (int16_t)off;
	return push(s, in);
}

static int asm_ja(struct asm_state *s, bool is32)
{
	struct bext_insn in = {0};
	int64_t off;
	int err;

	in.code = is32 ? (BEXT_CLS_JMP32 | BEXT_JMP_JA) : (BEXT_CLS_JMP | BEXT_JMP_JA);
	if ((err = parse_target(s, is32 ? FIXUP_IMM : FIXUP_OFF, &off)) || (err = finish_line(s)))
		return err;
	if (is32)
		in.imm = (int32_t)off;
	else
		in.off = (int16_t)off;
	return push(s, in);
}

static int asm_call(struct asm_state *s)
{
	struct bext_insn in = {.code = BEXT_CLS_JMP | BEXT_JMP_CALL};
	int64_t off;
	uint8_t reg;
	int err;

	if (accept_word(s, "local")) {
		in.src = BEXT_CALL_LOCAL;
		if ((err = parse_target(s, FIXUP_IMM, &off)))
			return err;
		in.imm = (int32_t)off;
	} else if (accept_word(s, "kfunc")) {
		in.src = BEXT_CALL_KFUNC;
		if ((err = parse_imm32(s, &in.imm, "kfunc BTF id")))
			return err;
		if (accept_char(s, ',') && (err = parse_off16(s, &in.off, "kfunc BTF fd index")))
			return err;
	} else if (reg_next(s)) {
		if ((err = parse_reg(s, &reg, "call target")))
			return err;
		in.code |= BEXT_SRC_X;
		in.dst = reg;
	} else if ((err = parse_imm32(s, &in.imm, "helper id"))) {
		return err;
	}
	if ((err = finish_line(s)))
		return err;
	return push(s, in);
}

static int asm_lddw(struct asm_state *s)
{
	struct bext_insn lo = {.code = BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM}, hi = {0};
	char kind[LABEL_MAX];
	uint64_t v;
	int64_t off;
	uint8_t dst;
	int err, src = -1;

	if ((err = parse_reg(s, &dst, "destination")) ||
	    (err = expect_char(s, ',', "',' and 64-bit immediate")))
		return err;
	lo.dst = dst;
	if (num_next(s)) {
		if ((err = parse_num(s, INT64_MIN, UINT64_MAX, &v, "64-bit immediate")))
			return err;
		lo.imm = (int32_t)(uint32_t)v;
		hi.imm = (int32_t)(uint32_t)(v >> 32);
		goto done;
	}
	if (!read_ident(s, kind, sizeof(kind))) {
		if (at_end(s))
			return fail(s, "missing 64-bit immediate");
		return fail(s, "expected 64-bit immediate, found '%.*s'", HERE(s));
	}
	for (int i = 1; i <= ISA_PSEUDO_MAX; i++)
		if (!strcmp(kind, isa_pseudo_names[i]))
			src = i;
	if (src < 0)
		return fail(s, "unknown lddw form '%s'", kind);
	lo.src = (uint8_t)src;
	switch (src) {
	case BEXT_PSEUDO_FUNC:
		if ((err = parse_target(s, FIXUP_IMM, &off)))
			return err;
		lo.imm = (int32_t)off;
		break;
	case BEXT_PSEUDO_MAP_VALUE:
	case BEXT_PSEUDO_MAP_IDX_VALUE:
		if ((err = parse_imm32(s, &lo.imm, "map")))
			return err;
		skip_ws(s);
		if (s->p >= s->end || *s->p != '+')
			return fail(s, "missing '+OFFSET' of %s", kind);
		if ((err = parse_imm32(s, &hi.imm, "map value offset")))
			return err;
		break;
	case BEXT_PSEUDO_BTF_ID:
		if ((err = parse_imm32(s, &lo.imm, "BTF id")))
			return err;
		if (accept_word(s, "fd") && (err = parse_imm32(s, &hi.imm, "BTF object fd")))
			return err;
		break;
	default: /* map_fd, map_idx */
		if ((err = parse_imm32(s, &lo.imm, "map")))
			return err;
		break;
	}
done:
	if ((err = finish_line(s)) || (err = push(s, lo)) || (err = push(s, hi)))
		return err;
	return 0;
}

/* Longest-suffix size match: "ldx" + "dw" etc. Returns the size code or -1. */
static int size_of(const char *suffix)
{
	for (unsigned i = 0; i < isa_n_sizes; i++)
		if (!strcmp(suffix, isa_sizes[i].suffix))
			return isa_sizes[i].sz;
	return -1;
}

static int asm_ldx(struct asm_state *s, uint8_t code)
{
	struct bext_insn in = {.code = code};
	uint8_t dst, src;
	int err;

	if ((err = parse_reg(s, &dst, "destination")) ||
	    (err = expect_char(s, ',', "',' and memory operand")) ||
	    (err = parse_mem(s, &src, &in.off)) || (err = finish_line(s)))
		return err;
	in.dst = dst;
	in.src = src;
	return push(s, in);
}

static int asm_store(struct asm_state *s, uint8_t code, bool reg)
{
	struct bext_insn in = {.code = code};
	uint8_t dst, src;
	int err;

	if ((err = parse_mem(s, &dst, &in.off)) ||
	    (err = expect_char(s, ',', reg ? "',' and source register" : "',' and immediate")))
		return err;
	in.dst = dst;
	if (reg) {
		if ((err = parse_reg(s, &src, "source")))
			return err;
		in.src = src;
	} else if ((err = parse_imm32(s, &in.imm, "immediate"))) {
		return err;
	}
	if ((err = finish_line(s)))
		return err;
	return push(s, in);
}

static int asm_lock(struct asm_state *s)
{
	char name[LABEL_MAX], full[LABEL_MAX + 8];
	bool fetch = accept_word(s, "fetch");
	size_t n;
	uint8_t sz = BEXT_SZ_DW;

	n = read_ident(s, name, sizeof(name));
	if (!n)
		return fail(s, at_end(s) ? "missing atomic operation after 'lock'"
					 : "bad atomic operation after 'lock'");
	if (n > 2 && !strcmp(name + n - 2, "32")) {
		name[n - 2] = '\0';
		sz = BEXT_SZ_W;
	}
	snprintf(full, sizeof(full), "%s%s", fetch ? "fetch " : "", name);
	for (unsigned i = 0; i < isa_n_atomic_ops; i++) {
		if (strcmp(full, isa_atomic_ops[i].name))
			continue;
		struct bext_insn in = {.code = BEXT_CLS_STX | BEXT_MODE_ATOMIC | sz,
				       .imm = isa_atomic_ops[i].imm};
		uint8_t dst, src;
		int err;

		if ((err = parse_mem(s, &dst, &in.off)) ||
		    (err = expect_char(s, ',', "',' and source register")) ||
		    (err = parse_reg(s, &src, "source")) || (err = finish_line(s)))
			return err;
		in.dst = dst;
		in.src = src;
		return push(s, in);
	}
	return fail(s, "unknown atomic operation 'lock %s%s'", full, sz == BEXT_SZ_W ? "32" : "");
}

static int asm_ld_legacy(struct asm_state *s, uint8_t code, bool ind)
{
	struct bext_insn in = {.code = code};
	uint8_t src;
	int err;

	if (ind) {
		if ((err = parse_reg(s, &src, "index")) ||
		    (err = expect_char(s, ',', "',' and immediate")))
			return err;
		in.src = src;
	}
	if ((err = parse_imm32(s, &in.imm, "packet offset")) || (err = finish_line(s)))
		return err;
	return push(s, in);
}

/* Loads and stores by prefix: ldx, ldxs, st, stx, ldabs, ldind. Returns 1 if not one. */
static int asm_mem_family(struct asm_state *s, const char *mn)
{
	static const struct {
		const char *prefix;
		uint8_t base;
		bool no_dw;
	} fam[] = {
	    {"ldxs", BEXT_CLS_LDX | BEXT_MODE_MEMSX, true},
	    {"ldx", BEXT_CLS_LDX | BEXT_MODE_MEM, false},
	    {"stx", BEXT_CLS_STX | BEXT_MODE_MEM, false},
	    {"st", BEXT_CLS_ST | BEXT_MODE_MEM, false},
	    {"ldabs", BEXT_CLS_LD | BEXT_MODE_ABS, true},
	    {"ldind", BEXT_CLS_LD | BEXT_MODE_IND, true},
	};

	for (unsigned i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		size_t n = strlen(fam[i].prefix);
		int sz;

		if (strncmp(mn, fam[i].prefix, n))
			continue;
		sz = size_of(mn + n);
		if (sz < 0 || (fam[i].no_dw && sz == BEXT_SZ_DW))
			continue;
		uint8_t code = (uint8_t)(fam[i].base | sz);

		switch (BEXT_CLASS(code)) {
		case BEXT_CLS_LDX:
			return asm_ldx(s, code);
		case BEXT_CLS_ST:
			return asm_store(s, code, false);
		case BEXT_CLS_STX:
			return asm_store(s, code, true);
		default:
			return asm_ld_legacy(s, code, BEXT_MODE(code) == BEXT_MODE_IND);
		}
	}
	return 1;
}

static int asm_insn(struct asm_state *s, const char *mn)
{
	size_t len = strlen(mn);
	bool is32 = len > 2 && !strcmp(mn + len - 2, "32");
	char base[LABEL_MAX];
	int ret;

	if (!strcmp(mn, "exit")) {
		if ((ret = finish_line(s)))
			return ret;
		return push(s, BEXT_EXIT_INSN());
	}
	if (!strcmp(mn, "call"))
		return asm_call(s);
	if (!strcmp(mn, "lddw"))
		return asm_lddw(s);
	if (!strcmp(mn, "lock"))
		return asm_lock(s);
	if (!strcmp(mn, "ja"))
		return asm_ja(s, false);
	if (!strcmp(mn, "ja32") || !strcmp(mn, "gotol"))
		return asm_ja(s, true);
	for (unsigned i = 0; i < isa_n_movsx_ops; i++)
		if (!strcmp(mn, isa_movsx_ops[i].name))
			return asm_reg_reg(
			    s, (uint8_t)(isa_movsx_ops[i].cls | BEXT_ALU_MOV | BEXT_SRC_X),
			    isa_movsx_ops[i].off);
	for (unsigned i = 0; i < isa_n_end_ops; i++)
		if (!strcmp(mn, isa_end_ops[i].name))
			return asm_end(s, &isa_end_ops[i]);

	snprintf(base, sizeof(base), "%.*s", (int)(is32 ? len - 2 : len), mn);
	for (unsigned i = 0; i < isa_n_alu_ops; i++)
		if (!strcmp(base, isa_alu_ops[i].name))
			return asm_alu(s, &isa_alu_ops[i], is32);
	for (unsigned i = 0; i < isa_n_jmp_ops; i++)
		if (!strcmp(base, isa_jmp_ops[i].name))
			return asm_jcond(s, isa_jmp_ops[i].op, is32);
	ret = asm_mem_family(s, mn);
	if (ret <= 0)
		return ret;
	return fail(s, "unknown mnemonic '%s'", mn);
}

static int add_label(struct asm_state *s, const char *name)
{
	struct label *l;

	for (size_t i = 0; i < s->n_labels; i++)
		if (!strcmp(s->labels[i].name, name))
			return fail(s, "duplicate label '%s' (first defined on line %d)", name,
				    s->labels[i].line);
	if (grow((void **)&s->labels, &s->cap_labels, s->n_labels + 1, sizeof(*s->labels)))
		return -ENOMEM;
	l = &s->labels[s->n_labels++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->slot = s->n;
	l->line = s->line;
	return 0;
}

static int assemble_line(struct asm_state *s)
{
	char word[LABEL_MAX];
	int err;

	if (at_end(s))
		return 0;
	if (!read_ident(s, word, sizeof(word))) {
		if (is_ident_start(*s->p))
			return fail(s, "name too long '%.*s...'", HERE(s));
		return fail(s, "expected mnemonic or label, found '%.*s'", HERE(s));
	}
	/* A label: `name:` (an instruction may follow on the same line). */
	if (s->p < s->end && *s->p == ':') {
		s->p++;
		if ((err = add_label(s, word)))
			return err;
		if (at_end(s))
			return 0;
		if (!read_ident(s, word, sizeof(word)))
			return fail(s, "expected mnemonic after label, found '%.*s'", HERE(s));
	}
	if (s->p < s->end && !(*s->p == ' ' || *s->p == '\t' || *s->p == '\r'))
		return fail(s, "unknown mnemonic '%s'", word);
	return asm_insn(s, word);
}

static int resolve_fixups(struct asm_state *s)
{
	size_t exit_slot = SIZE_MAX;
	int err;

	for (size_t i = 0; i < s->n_fixups; i++) {
		struct fixup *f = &s->fixups[i];
		struct bext_insn *in = &s->insns[f->slot];
		size_t target = SIZE_MAX;
		int64_t off;

		for (size_t j = 0; j < s->n_labels; j++)
			if (!strcmp(s->labels[j].name, f->name))
				target = s->labels[j].slot;
		if (target == SIZE_MAX && !strcmp(f->name, "exit")) {
			/* The implicit end-of-program label (see the top of the file). */
			if (exit_slot == SIZE_MAX) {
				/* (the second slot of an lddw always has code 0) */
				if (s->n &&
				    s->insns[s->n - 1].code == (BEXT_CLS_JMP | BEXT_JMP_EXIT)) {
					exit_slot = s->n - 1;
				} else {
					s->line = f->line;
					if ((err = push(s, BEXT_EXIT_INSN())))
						return err;
					exit_slot = s->n - 1;
					in = &s->insns[f->slot];
				}
			}
			target = exit_slot;
		}
		s->line = f->line;
		if (target == SIZE_MAX)
			return fail(s, "undefined label '%s'", f->name);
		off = (int64_t)target - (int64_t)f->slot - 1;
		if (f->kind == FIXUP_OFF) {
			if (off < INT16_MIN || off > INT16_MAX)
				return fail(s, "jump to '%s' out of range (offset %" PRId64 ")",
					    f->name, off);
			in->off = (int16_t)off;
		} else {
			if (off < INT32_MIN || off > INT32_MAX)
				return fail(s, "target '%s' out of range", f->name);
			in->imm = (int32_t)off;
		}
	}
	return 0;
}

int bext_asm(const char *text, struct bext_insn **insns, size_t *n_insns, char *err, size_t err_len)
{
	struct asm_state s = {.err = err, .err_len = err_len};
	const char *line;
	int ret = 0;

	if (err && err_len)
		err[0] = '\0';
	if (!text || !insns || !n_insns)
		return -EINVAL;
	for (line = text; *line;) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *hash = memchr(line, '#', (size_t)(end - line));

		s.line++;
		s.p = line;
		s.end = hash ? hash : end;
		while (s.end > line && (s.end[-1] == ' ' || s.end[-1] == '\t' || s.end[-1] == '\r'))
			s.end--;
		ret = assemble_line(&s);
		if (ret)
			goto out;
		if (!nl)
			break;
		line = nl + 1;
	}
	ret = resolve_fixups(&s);
	if (ret)
		goto out;
	if (!s.n) {
		/* An empty program is fine: a zero-length array. */
		free(s.insns);
		s.insns = NULL;
	}
	*insns = s.insns;
	*n_insns = s.n;
	s.insns = NULL;
out:
	if (ret == -ENOMEM && err && err_len)
		snprintf(err, err_len, "line %d: out of memory", s.line);
	free(s.insns);
	free(s.labels);
	free(s.fixups);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * Differential fuzzing: interpreter versus JIT.
 *
 * The fuzz input is not a program: it is the stream of choices a generator
 * makes, so every input becomes a *valid, terminating* program (assembler
 * text, assembled with bext_asm):
 *
 *   prologue   r9 = r1 (the buffer); 64 bytes of stack at [r10-64, r10) and
 *              r0..r8 set from the input
 *   body       ALU/ALU32 (all ops incl. div/mod/sdiv/smod by anything, movsx,
 *              le/be/bswap, neg), lddw, loads/stores/atomics at in-bounds
 *              offsets of the buffer (via r9) or of that stack window (via
 *              r10), forward jumps only, optional helper and local calls
 *              (direct, or callx with a helper id or a `lddw func` value)
 *   epilogue   r0..r8 and the stack window copied into the buffer, exit
 *   fn         an optional subprogram (ALU on its arguments, returns r0)
 *
 * r9 and r10 are never read as values (their addresses differ between the
 * runs), registers are never read before they are written, r1-r5 are set
 * again after every call (calls clobber them). The program runs on the
 * (checked) interpreter and on the JIT, each on its own copy of the buffer;
 * r0 and the buffers must be equal, otherwise the program, its disassembly
 * and the difference go to stderr and we abort().
 *
 * While an engine is not there yet (bext_vm__new/load -ENOSYS, JIT NULL) the
 * input is skipped, not failed; BEXT_FUZZ_STRICT=1 makes a JIT that cannot
 * compile a valid program an error too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bext/isa.h>
#include <bext/vm.h>

#define DATA_SIZE 64 /* bytes of the buffer the program reads and writes */
#define STACK_WIN 64 /* bytes of stack the program uses */
#define REGS_OFF (DATA_SIZE + STACK_WIN)
#define BUF_SIZE (REGS_OFF + 9 * 8) /* + r0..r8 */
#define MAX_OPS 96
#define HELPER_ID 1

struct gen {
	const uint8_t *data;
	size_t size, pos;
	char *text;
	size_t len, cap;
	bool oom;
};

static uint8_t byte(struct gen *g)
{
	return g->pos < g->size ? g->data[g->pos++] : 0;
}

static uint32_t u32(struct gen *g)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)byte(g) << (8 * i);
	return v;
}

static uint64_t u64(struct gen *g)
{
	return u32(g) | (uint64_t)u32(g) << 32;
}

static unsigned pick(struct gen *g, unsigned n)
{
	return byte(g) % n;
}

/* Immediates: often small or special, sometimes anything. */
static int32_t imm(struct gen *g)
{
	static const int32_t special[] = {0,	  1,	   -1,	 2,	    7,	       31,
					  32,	  63,	   64,	 INT32_MIN, INT32_MAX, 0xff,
					  0xffff, -0x8000, 0x80, 0x8000};

	switch (pick(g, 4)) {
	case 0:
		return special[pick(g, sizeof(special) / sizeof(special[0]))];
	case 1:
		return (int8_t)byte(g);
	default:
		return (int32_t)u32(g);
	}
}

__attribute__((format(printf, 2, 3))) static void emit(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (g->oom)
			return;
		if (!g->text) {
			g->text = malloc(4096);
			if (!g->text) {
				g->oom = true;
				return;
			}
			g->cap = 4096;
		}
		va_start(ap, fmt);
		n = vsnprintf(g->text + g->len, g->cap - g->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < g->cap - g->len) {
			g->len += (size_t)n;
			return;
		}
		char *p = realloc(g->text, g->cap * 2 + 256);

		if (!p) {
			g->oom = true;
			return;
		}
		g->text = p;
		g->cap = g->cap * 2 + 256;
	}
}

static const char *const alu_names[] = {"add", "sub", "mul", "div",  "sdiv", "or",  "and",
					"lsh", "rsh", "mod", "smod", "xor",  "mov", "arsh"};
static const char *const movsx_names[] = {"movsx832", "movsx1632", "movsx864", "movsx1664",
					  "movsx3264"};
static const char *const end_names[] = {"le16", "le32",	   "le64",    "be16",	"be32",
					"be64", "bswap16", "bswap32", "bswap64"};
static const char *const jmp_names[] = {"jeq",	"jgt", "jge", "jset", "jne", "jsgt",
					"jsge", "jlt", "jle", "jslt", "jsle"};
static const char *const atomic_names[] = {"add",	"or",	    "and",	 "xor",
					   "fetch add", "fetch or", "fetch and", "fetch xor",
					   "xchg",	"cmpxchg"};
static const char *const size_names[] = {"b", "h", "w", "dw"};

/* A register that holds a value: r0..r8 in main, the initialized ones in fn. */
static unsigned src_reg(struct gen *g, uint16_t live)
{
	unsigned r = pick(g, 9);

	while (!(live & (1u << r)))
		r = (r + 1) % 9;
	return r;
}

static void gen_alu(struct gen *g, unsigned dst, uint16_t live)
{
	if (!(live & (1u << dst))) {
		/* most ALU ops read dst: give it a value first */
		if (pick(g, 2))
			emit(g, "mov%s %%r%u, %%r%u\n", pick(g, 2) ? "32" : "", dst,
			     src_reg(g, live));
		else
			emit(g, "mov%s %%r%u, %d\n", pick(g, 2) ? "32" : "", dst, imm(g));
		return;
	}
	switch (pick(g, 8)) {
	case 0:
		emit(g, "neg%s %%r%u\n", pick(g, 2) ? "32" : "", dst);
		return;
	case 1:
		emit(g, "%s %%r%u, %%r%u\n", movsx_names[pick(g, 5)], dst, src_reg(g, live));
		return;
	case 2:
		emit(g, "%s %%r%u\n", end_names[pick(g, 9)], dst);
		return;
	default: {
		const char *name = alu_names[pick(g, sizeof(alu_names) / sizeof(alu_names[0]))];
		const char *sfx = pick(g, 2) ? "32" : "";

		if (pick(g, 2))
			emit(g, "%s%s %%r%u, %%r%u\n", name, sfx, dst, src_reg(g, live));
		else
			emit(g, "%s%s %%r%u, %d\n", name, sfx, dst, imm(g));
	}
	}
}

/* A memory operand of `size` bytes: the buffer via r9 or the stack window via r10. */
static void mem_operand(struct gen *g, unsigned size, bool aligned, char *out, size_t len)
{
	unsigned slots;

	if (pick(g, 2)) {
		slots = aligned ? DATA_SIZE / size : DATA_SIZE - size + 1;
		unsigned off = pick(g, slots) * (aligned ? size : 1);

		snprintf(out, len, "[%%r9+%u]", off);
	} else {
		slots = aligned ? STACK_WIN / size : STACK_WIN - size + 1;
		unsigned off = size + pick(g, slots) * (aligned ? size : 1);

		snprintf(out, len, "[%%r10-%u]", off);
	}
}

static void gen_mem(struct gen *g, unsigned dst, uint16_t live)
{
	unsigned sz = pick(g, 4), size = 1u << sz;
	char mem[32];

	switch (pick(g, 5)) {
	case 0: /* ldx */
		mem_operand(g, size, false, mem, sizeof(mem));
		emit(g, "ldx%s %%r%u, %s\n", size_names[sz], dst, mem);
		break;
	case 1: /* ldxs */
		sz = pick(g, 3);
		mem_operand(g, 1u << sz, false, mem, sizeof(mem));
		emit(g, "ldxs%s %%r%u, %s\n", size_names[sz], dst, mem);
		break;
	case 2:
		mem_operand(g, size, false, mem, sizeof(mem));
		emit(g, "st%s %s, %d\n", size_names[sz], mem, imm(g));
		break;
	case 3:
		mem_operand(g, size, false, mem, sizeof(mem));
		emit(g, "stx%s %s, %%r%u\n", size_names[sz], mem, src_reg(g, live));
		break;
	default: { /* atomics: W or DW, aligned (no split locks) */
		bool w = pick(g, 2);

		mem_operand(g, w ? 4 : 8, true, mem, sizeof(mem));
		emit(g, "lock %s%s %s, %%r%u\n", atomic_names[pick(g, 10)], w ? "32" : "", mem,
		     dst);
		break;
	}
	}
}

static void reinit_args(struct gen *g)
{
	for (unsigned r = 1; r <= 5; r++)
		emit(g, "mov %%r%u, %d\n", r, imm(g));
}

/* Builds the program text. Returns false on allocation failure. */
static bool generate(struct gen *g)
{
	unsigned n_ops = 1 + pick(g, MAX_OPS);
	bool with_fn = pick(g, 2);
	const uint16_t all = 0x1ff; /* r0..r8 */

	emit(g, "mov %%r9, %%r1\n");
	for (unsigned k = 1; k <= STACK_WIN / 8; k++)
		emit(g, "lddw %%r0, 0x%" PRIx64 "\nstxdw [%%r10-%u], %%r0\n", u64(g), 8 * k);
	for (unsigned r = 0; r <= 8; r++)
		emit(g, "lddw %%r%u, 0x%" PRIx64 "\n", r, u64(g));

	for (unsigned i = 0; i < n_ops; i++) {
		unsigned dst = pick(g, 9);

		emit(g, "L%u:\n", i);
		switch (pick(g, 16)) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
		case 5:
			gen_alu(g, dst, all);
			break;
		case 6:
			emit(g, "lddw %%r%u, 0x%" PRIx64 "\n", dst, u64(g));
			break;
		case 7:
		case 8:
		case 9:
			gen_mem(g, dst, all);
			break;
		case 10:
		case 11:
		case 12: { /* forward conditional jump, to a later op or to the end */
			unsigned t = i + 1 + pick(g, n_ops - i);
			const char *sfx = pick(g, 2) ? "32" : "";
			const char *name = jmp_names[pick(g, 11)];
			char target[16];

			snprintf(target, sizeof(target), t >= n_ops ? "end" : "L%u", t);
			if (pick(g, 2))
				emit(g, "%s%s %%r%u, %%r%u, %s\n", name, sfx, dst, src_reg(g, all),
				     target);
			else
				emit(g, "%s%s %%r%u, %d, %s\n", name, sfx, dst, imm(g), target);
			break;
		}
		case 13: {
			unsigned t = i + 1 + pick(g, n_ops - i);

			if (t >= n_ops)
				emit(g, "%s end\n", pick(g, 2) ? "ja" : "ja32");
			else
				emit(g, "%s L%u\n", pick(g, 2) ? "ja" : "ja32", t);
			break;
		}
		case 14: /* helper call: by id, or callx with the id in a register */
			if (pick(g, 2)) {
				emit(g, "call %d\n", HELPER_ID);
			} else {
				emit(g, "mov %%r%u, %d\ncall %%r%u\n", dst, HELPER_ID, dst);
			}
			reinit_args(g);
			break;
		default: /* local call: direct, or callx through a func lddw */
			if (!with_fn) {
				gen_alu(g, dst, all);
				break;
			}
			if (pick(g, 2))
				emit(g, "call local fn\n");
			else { /* the function value is engine-specific: never in an argument
				* register (the callee would see it), overwritten after the call */
				static const unsigned fv_regs[] = {0, 6, 7, 8};
				unsigned r = fv_regs[pick(g, 4)];

				emit(g, "lddw %%r%u, func fn\ncall %%r%u\n", r, r);
				if (r)
					emit(g, "mov %%r%u, %d\n", r, imm(g));
			}
			reinit_args(g);
			break;
		}
	}

	emit(g, "end:\n");
	for (unsigned r = 0; r <= 8; r++)
		emit(g, "stxdw [%%r9+%u], %%r%u\n", REGS_OFF + 8 * r, r);
	for (unsigned k = 1; k <= STACK_WIN / 8; k++)
		emit(g, "ldxdw %%r1, [%%r10-%u]\nstxdw [%%r9+%u], %%r1\n", 8 * k,
		     DATA_SIZE + STACK_WIN - 8 * k);
	emit(g, "exit\n");

	if (with_fn) {
		/* The callee: r1..r5 hold arguments, r0 is set first; may write r6..r8. */
		uint16_t live = 0x3f;
		unsigned n = 1 + pick(g, 12);

		emit(g, "fn:\nmov %%r0, %%r%u\n", 1 + pick(g, 5));
		for (unsigned i = 0; i < n; i++) {
			unsigned dst = pick(g, 9);

			gen_alu(g, dst, live);
			live |= (uint16_t)(1u << dst);
		}
		emit(g, "exit\n");
	}
	return !g->oom;
}

/* Reported at exit, so that a run that compared nothing says so. */
static unsigned long n_compared, n_skipped, n_insns_total;

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr,
		"fuzz_diff: %lu programs compared on both engines (%lu slots), %lu skipped\n",
		n_compared, n_insns_total, n_skipped);
}

static uint64_t helper_mix(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return (r1 * 0x9e3779b97f4a7c15ull) ^ (r2 + 3 * r3) ^ (r4 << 7) ^ (r5 >> 3);
}

static void dump(const char *text, const struct bext_insn *insns, size_t n)
{
	fprintf(stderr, "--- program (generated text) ---\n%s--- disassembly ---\n", text);
	bext_disasm(insns, n, stderr);
}

static void dump_buf(const char *what, const uint8_t *b)
{
	fprintf(stderr, "%s:", what);
	for (size_t i = 0; i < BUF_SIZE; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", b[i]);
	fprintf(stderr, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bext_vm_opts opts = {.sz = sizeof(opts), .checked = true, .insn_budget = 1u << 20};
	struct gen g = {.data = data, .size = size};
	uint8_t init[BUF_SIZE], buf_i[BUF_SIZE], buf_j[BUF_SIZE];
	struct bext_insn *insns = NULL;
	struct bext_vm *vm = NULL;
	uint64_t r_i = 0, r_j;
	bext_jit_fn fn;
	size_t n = 0;
	char err[512];
	int ret;

	if (size < 16)
		return 0;
	for (size_t i = 0; i < DATA_SIZE; i++)
		init[i] = byte(&g);
	memset(init + DATA_SIZE, 0xa5, BUF_SIZE - DATA_SIZE);
	if (!generate(&g))
		goto out;
	ret = bext_asm(g.text, &insns, &n, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "fuzz_diff: generated text does not assemble: %s\n%s", err, g.text);
		abort();
	}

	vm = bext_vm__new(&opts);
	if (!vm)
		goto out; /* vm not there yet (ENOSYS) or no memory */
	if (bext_vm__register_helper(vm, HELPER_ID, "mix", helper_mix))
		goto out;
	ret = bext_vm__load(vm, insns, n, err, sizeof(err));
	if (ret == -ENOSYS)
		goto out;
	if (ret) {
		fprintf(stderr, "fuzz_diff: the vm rejects a valid program (%d): %s\n", ret, err);
		dump(g.text, insns, n);
		abort();
	}

	memcpy(buf_i, init, BUF_SIZE);
	ret = bext_vm__exec(vm, buf_i, BUF_SIZE, &r_i);
	if (ret == -ENOSYS)
		goto out;
	if (ret) {
		fprintf(stderr, "fuzz_diff: interpreter failed on a valid program (%d): %s\n", ret,
			bext_vm__last_error(vm));
		dump(g.text, insns, n);
		abort();
	}

	fn = bext_vm__jit(vm, err, sizeof(err));
	if (!fn) {
		static bool told;

		if (getenv("BEXT_FUZZ_STRICT")) {
			fprintf(stderr, "fuzz_diff: JIT cannot compile a valid program: %s\n", err);
			dump(g.text, insns, n);
			abort();
		}
		if (!told) {
			fprintf(stderr, "fuzz_diff: JIT unavailable (%s): comparing nothing\n",
				err);
			told = true;
		}
		goto out;
	}
	memcpy(buf_j, init, BUF_SIZE);
	r_j = fn(buf_j, BUF_SIZE);

	if (r_i != r_j || memcmp(buf_i, buf_j, BUF_SIZE)) {
		fprintf(stderr,
			"fuzz_diff: MISMATCH: interpreter r0 = 0x%" PRIx64 ", JIT r0 = 0x%" PRIx64
			"\n",
			r_i, r_j);
		dump_buf("interpreter buffer (data | stack window | r0..r8)", buf_i);
		dump_buf("JIT buffer", buf_j);
		for (size_t r = 0; r <= 8; r++) {
			uint64_t a, b;

			memcpy(&a, buf_i + REGS_OFF + 8 * r, 8);
			memcpy(&b, buf_j + REGS_OFF + 8 * r, 8);
			if (a != b)
				fprintf(stderr, "  r%zu: interp 0x%" PRIx64 " jit 0x%" PRIx64 "\n",
					r, a, b);
		}
		dump(g.text, insns, n);
		abort();
	}
	n_compared++;
	n_insns_total += n;
	goto done;
out:
	n_skipped++;
done:
	bext_vm__free(vm);
	free(insns);
	free(g.text);
	return 0;
}

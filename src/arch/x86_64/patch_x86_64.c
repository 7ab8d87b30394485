// SPDX-License-Identifier: MIT
/*
 * x86-64 binary rewriting pieces: site analysis, relocation of the displaced
 * instructions, memory within rel32 reach and text writes.
 *
 *   function:                         trampoline page (within +-2 GiB, never freed):
 *   addr:       [endbr64]  (kept)      template: pt_regs, dispatcher call, restore
 *   patch:      jmp rel32 ───────────► relocated displaced instructions
 *   patch+5..:  (tail of the displaced   (RIP-relative displacements rewritten,
 *                bytes, never executed)   jmp/jcc widened to rel32 or absolute,
 *   patch+len:  rest of the function ◄── call -> push original next + jmp)
 *                                        jmp patch+len
 *
 * Relocation rules and refusals are listed in docs/ATTACH.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <Zydis/Zydis.h>

#include "arch/x86_64/patch_x86_64.h"

#define REACH (((int64_t)1 << 31) - (1 << 20)) /* rel32 reach, with 1 MiB slack */

static void decoder_init(ZydisDecoder *d)
{
	ZydisDecoderInit(d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

static bool is_endbr64(const uint8_t *p)
{
	return p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa;
}

/* Absolute target of a relative branch or of a RIP-relative memory operand; 0 if none. */
static bool insn_target(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			uint64_t ip, uint64_t *target, bool *is_branch)
{
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *op = &ops[i];

		if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative) {
			*is_branch = true;
			return ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, op, ip, target));
		}
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.base == ZYDIS_REGISTER_RIP) {
			*is_branch = false;
			return ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, op, ip, target));
		}
	}
	return false;
}

int bext_x86_analyze(const uint8_t *func, size_t func_size, const uint8_t *addr,
		     struct bext_x86_site_info *si, char *err, size_t err_len)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	const uint8_t *patch, *end = func + func_size;
	size_t off;

	memset(si, 0, sizeof(*si));
	if (addr < func || addr >= end) {
		snprintf(err, err_len, "address %p outside its function [%p, %p)", (void *)addr,
			 (void *)func, (void *)end);
		return -EINVAL;
	}
	if (addr == func && end - addr >= 4 && is_endbr64(addr))
		si->skip = 4;
	patch = addr + si->skip;
	decoder_init(&dec);

	/* the displaced instructions */
	off = 0;
	while (off < BEXT_X86_JMP_LEN) {
		if (patch + off >= end) {
			snprintf(
			    err, err_len,
			    "function too short: %zu bytes from the patch point, a jmp needs %u",
			    (size_t)(end - patch), BEXT_X86_JMP_LEN);
			return -EINVAL;
		}
		if (!ZYAN_SUCCESS(
			ZydisDecoderDecodeFull(&dec, patch + off, end - (patch + off), &in, ops))) {
			snprintf(err, err_len, "undecodable instruction at %p (+%zu)",
				 (void *)(patch + off), (size_t)(patch + off - func));
			return -ENOTSUP;
		}
		if (in.mnemonic == ZYDIS_MNEMONIC_INT3) {
			snprintf(err, err_len,
				 "int3 at %p: a breakpoint (debugger or kernel uprobe?) is already "
				 "there",
				 (void *)(patch + off));
			return -EBUSY;
		}
		off += in.length;
		si->n_insn++;
	}
	if (patch + off > end) {
		snprintf(err, err_len, "function too short: displaced instructions end past it");
		return -EINVAL;
	}
	si->patch_len = (unsigned)off;

	/* linear scan of the whole function: addr on an instruction boundary,
	 * nothing landing inside the patch */
	for (off = 0; off < func_size; off += in.length) {
		uint64_t ip = (uint64_t)(func + off), t;
		bool br;

		if (func + off > addr && func + off - in.length < addr) {
			snprintf(err, err_len, "%p (+%zu) is not an instruction boundary",
				 (void *)addr, (size_t)(addr - func));
			return -EINVAL;
		}

		if (!ZYAN_SUCCESS(
			ZydisDecoderDecodeFull(&dec, func + off, func_size - off, &in, ops))) {
			/* trailing padding the symbol size may cover */
			bool pad = true;

			for (size_t k = off; k < func_size; k++)
				if (func[k] != 0xcc && func[k] != 0x90 && func[k] != 0)
					pad = false;
			if (pad)
				break;
			snprintf(err, err_len,
				 "undecodable instruction at %p (+%zu) in the function",
				 (void *)(func + off), off);
			return -ENOTSUP;
		}
		if (!insn_target(&in, ops, ip, &t, &br))
			continue;
		if (t > (uint64_t)patch && t < (uint64_t)patch + si->patch_len) {
			snprintf(err, err_len,
				 "%s at +%zu targets +%" PRIu64
				 ", inside the %u patched bytes at +%zu",
				 br ? "branch" : "RIP-relative address", off, t - (uint64_t)func,
				 si->patch_len, (size_t)(patch - func));
			return -ENOTSUP;
		}
	}
	return 0;
}

/* ---- relocation --------------------------------------------------------------------- */

struct emit {
	uint8_t *buf;
	size_t len, cap;
	uint64_t base; /* run-time address of buf[0] */
	bool overflow;
};

static void emit_bytes(struct emit *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		e->overflow = true;
		return;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void emit_u8(struct emit *e, uint8_t b)
{
	emit_bytes(e, &b, 1);
}

static void emit_u32(struct emit *e, uint32_t v)
{
	emit_bytes(e, &v, 4);
}

static bool fits_rel32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* jmp to target: rel32 when it reaches, else jmp *0(%rip); .quad target */
static void emit_jmp(struct emit *e, uint64_t target)
{
	int64_t rel = (int64_t)(target - (e->base + e->len + 5));

	if (fits_rel32(rel)) {
		emit_u8(e, 0xe9);
		emit_u32(e, (uint32_t)rel);
	} else {
		static const uint8_t jabs[] = {0xff, 0x25, 0, 0, 0, 0};

		emit_bytes(e, jabs, sizeof(jabs));
		emit_bytes(e, &target, 8);
	}
}

int bext_x86_relocate(const uint8_t *src, unsigned patch_len, uint64_t dst_addr,
		      struct bext_x86_reloc *r, char *err, size_t err_len)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	struct emit e = {.buf = r->code, .cap = sizeof(r->code), .base = dst_addr};
	unsigned off = 0;

	r->nb = 0;
	decoder_init(&dec);
	while (off < patch_len) {
		uint64_t ip = (uint64_t)(src + off), next, t;
		bool br = false, has_t;

		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, src + off, 15, &in, ops))) {
			snprintf(err, err_len, "undecodable instruction at %p", (void *)ip);
			return -ENOTSUP;
		}
		if (off > 0) {
			r->b_orig[r->nb] = (uint8_t)off;
			r->b_new[r->nb] = (uint16_t)e.len;
			r->nb++;
		}
		next = ip + in.length;
		has_t = insn_target(&in, ops, ip, &t, &br);
		if (!has_t) {
			emit_bytes(&e, src + off, in.length);
		} else if (!br) {
			/* RIP-relative memory operand: same bytes, new displacement */
			size_t at = e.len;
			int64_t disp = (int64_t)(t - (e.base + at + in.length));

			if (in.raw.disp.size != 32 || !fits_rel32(disp)) {
				snprintf(err, err_len,
					 "RIP-relative operand at %p: target %#" PRIx64
					 " is out of rel32 reach of the trampoline",
					 (void *)ip, t);
				return -ERANGE;
			}
			emit_bytes(&e, src + off, in.length);
			if (!e.overflow) {
				int32_t d32 = (int32_t)disp;

				memcpy(e.buf + at + in.raw.disp.offset, &d32, 4);
			}
		} else if (in.mnemonic == ZYDIS_MNEMONIC_JMP) {
			emit_jmp(&e, t);
		} else if (in.meta.category == ZYDIS_CATEGORY_COND_BR &&
			   in.mnemonic != ZYDIS_MNEMONIC_JRCXZ &&
			   in.mnemonic != ZYDIS_MNEMONIC_JECXZ &&
			   in.mnemonic != ZYDIS_MNEMONIC_JCXZ &&
			   in.mnemonic != ZYDIS_MNEMONIC_LOOP &&
			   in.mnemonic != ZYDIS_MNEMONIC_LOOPE &&
			   in.mnemonic != ZYDIS_MNEMONIC_LOOPNE) {
			uint8_t cc = in.opcode & 0x0f;
			int64_t rel = (int64_t)(t - (e.base + e.len + 6));

			if (fits_rel32(rel)) {
				emit_u8(&e, 0x0f);
				emit_u8(&e, 0x80 | cc);
				emit_u32(&e, (uint32_t)rel);
			} else {
				/* j!cc over an absolute jmp (6 + 8 bytes) */
				emit_u8(&e, 0x70 | (cc ^ 1));
				emit_u8(&e, 14);
				emit_jmp(&e, t);
			}
		} else if (in.mnemonic == ZYDIS_MNEMONIC_CALL) {
			/*
			 * call: the return address must be the original next
			 * instruction, which must then lie past the patch.
			 * lea -8(%rsp),%rsp; movl lo,(%rsp); movl hi,4(%rsp); jmp t
			 */
			static const uint8_t lea[] = {0x48, 0x8d, 0x64, 0x24, 0xf8};

			if (off + in.length != patch_len) {
				snprintf(
				    err, err_len,
				    "call at %p is not the last displaced instruction: its return "
				    "address would be inside the patch",
				    (void *)ip);
				return -ENOTSUP;
			}
			emit_bytes(&e, lea, sizeof(lea));
			emit_u8(&e, 0xc7);
			emit_u8(&e, 0x04);
			emit_u8(&e, 0x24);
			emit_u32(&e, (uint32_t)next);
			emit_u8(&e, 0xc7);
			emit_u8(&e, 0x44);
			emit_u8(&e, 0x24);
			emit_u8(&e, 0x04);
			emit_u32(&e, (uint32_t)(next >> 32));
			emit_jmp(&e, t);
		} else {
			snprintf(err, err_len,
				 "cannot relocate %s at %p (relative to %#" PRIx64 ")",
				 ZydisMnemonicGetString(in.mnemonic), (void *)ip, t);
			return -ENOTSUP;
		}
		off += in.length;
	}
	emit_jmp(&e, (uint64_t)(src + patch_len));
	if (e.overflow) {
		snprintf(err, err_len, "relocated code too large");
		return -E2BIG;
	}
	r->len = e.len;
	return 0;
}

long bext_x86_build_tramp(uint8_t *tramp, size_t size, bool at_entry, uint64_t ip, void *site,
			  int64_t tls_off, const uint8_t *patch, unsigned patch_len,
			  struct bext_x86_reloc *r, char *err, size_t err_len)
{
	const uint8_t *start = at_entry ? bext_tramp_entry_start : bext_tramp_mid_start;
	const uint8_t *end = at_entry ? bext_tramp_entry_end : bext_tramp_mid_end;
	const uint8_t *p_ip = at_entry ? bext_tramp_entry_ip : bext_tramp_mid_ip;
	const uint8_t *p_site = at_entry ? bext_tramp_entry_site : bext_tramp_mid_site;
	const uint8_t *p_tls = at_entry ? bext_tramp_entry_tls : bext_tramp_mid_tls;
	size_t tl = (size_t)(end - start);
	uint64_t v;
	int ret;

	ret = bext_x86_relocate(patch, patch_len, (uint64_t)(tramp + tl), r, err, err_len);
	if (ret)
		return ret;
	if (tl + r->len > size) {
		snprintf(err, err_len, "trampoline too large");
		return -E2BIG;
	}
	/* each patch point is the label right after a movabs: its imm64 ends there */
	memcpy(tramp, start, tl);
	v = ip;
	memcpy(tramp + (p_ip - 8 - start), &v, 8);
	v = (uint64_t)site;
	memcpy(tramp + (p_site - 8 - start), &v, 8);
	v = (uint64_t)tls_off;
	memcpy(tramp + (p_tls - 8 - start), &v, 8);
	memcpy(tramp + tl, r->code, r->len);
	return (long)tl;
}

/* ---- memory near a target ------------------------------------------------------------ */

/* Reads /proc/self/maps into buf (NUL-terminated). */
static int read_maps(char *buf, size_t cap)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -errno;
	while (n + 1 < cap) {
		ssize_t k = read(fd, buf + n, cap - 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = 0;
	return n + 1 < cap ? 0 : -E2BIG;
}

#define MAPS_CAP (1u << 20)
static char maps_buf[MAPS_CAP]; /* callers serialise (the attach lock) */

void *bext_x86_alloc_near(const void *near, size_t size)
{
	uint64_t n = (uint64_t)near, lo, hi, prev_end = 0x10000, best = 0, best_dist = UINT64_MAX;
	long pg = sysconf(_SC_PAGESIZE);
	char *line;
	int ret;

	lo = n > (uint64_t)REACH + 0x10000 ? n - REACH : 0x10000;
	hi = n + REACH < n || n + REACH > 0x7ffffffff000ull ? 0x7ffffffff000ull : n + REACH;
	for (int attempt = 0; attempt < 8; attempt++) {
		ret = read_maps(maps_buf, MAPS_CAP);
		if (ret) {
			errno = -ret;
			return NULL;
		}
		best = 0;
		best_dist = UINT64_MAX;
		prev_end = 0x10000;
		for (line = maps_buf; line && *line;) {
			unsigned long long s, e;
			char *nl = strchr(line, '\n');

			if (sscanf(line, "%llx-%llx", &s, &e) == 2) {
				/* gap [prev_end, s) */
				uint64_t gs = prev_end > lo ? prev_end : lo;
				uint64_t ge = s < hi ? s : hi;

				if (ge > gs && ge - gs >= size) {
					uint64_t cand = gs >= n ? gs : ge - size;
					uint64_t d = cand > n ? cand - n : n - cand;

					cand &= ~(uint64_t)(pg - 1);
					if (cand >= gs && cand + size <= ge && d < best_dist) {
						best = cand;
						best_dist = d;
					}
				}
				if (e > prev_end)
					prev_end = e;
			}
			line = nl ? nl + 1 : NULL;
		}
		if (!best) {
			errno = ENOMEM;
			return NULL;
		}
		void *p = mmap((void *)best, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p != MAP_FAILED && p == (void *)best)
			return p;
		if (p != MAP_FAILED)
			munmap(p, size); /* old kernels ignore MAP_FIXED_NOREPLACE */
					 /* raced with another mapping: look again */
	}
	errno = ENOMEM;
	return NULL;
}

/* Protection of the mapping holding addr, from /proc/self/maps. */
static int prot_of(uint64_t addr)
{
	char *line;

	for (line = maps_buf; line && *line;) {
		unsigned long long s, e;
		char perm[5];
		char *nl = strchr(line, '\n');

		if (sscanf(line, "%llx-%llx %4s", &s, &e, perm) == 3 && addr >= s && addr < e)
			return (perm[0] == 'r' ? PROT_READ : 0) |
			       (perm[1] == 'w' ? PROT_WRITE : 0) | (perm[2] == 'x' ? PROT_EXEC : 0);
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

int bext_x86_text_write(void *dst, const void *src, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t a = (uint64_t)dst & ~(uint64_t)(pg - 1);
	uint64_t end = ((uint64_t)dst + n + pg - 1) & ~(uint64_t)(pg - 1);
	int prot[4], np = 0, ret;

	if (end - a > 4 * (uint64_t)pg)
		return -EINVAL;
	ret = read_maps(maps_buf, MAPS_CAP);
	if (ret)
		return ret;
	for (uint64_t p = a; p < end; p += pg, np++) {
		prot[np] = prot_of(p);
		if (prot[np] < 0)
			return -EFAULT;
	}
	for (int i = 0; i < np; i++) {
		if (!(prot[i] & PROT_WRITE) &&
		    mprotect((void *)(a + i * pg), pg, prot[i] | PROT_WRITE | PROT_EXEC)) {
			ret = -errno;
			while (--i >= 0)
				mprotect((void *)(a + i * pg), pg, prot[i]);
			return ret;
		}
	}
	/* byte stores: a 1-byte write (the int3/jmp opcode) is atomic */
	for (size_t i = 0; i < n; i++)
		((volatile uint8_t *)dst)[i] = ((const uint8_t *)src)[i];
	__builtin___clear_cache((char *)dst, (char *)dst + n);
	for (int i = 0; i < np; i++)
		if (!(prot[i] & PROT_WRITE))
			mprotect((void *)(a + i * pg), pg, prot[i]);
	return 0;
}

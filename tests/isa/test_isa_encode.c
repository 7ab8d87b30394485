/* SPDX-License-Identifier: MIT */
/*
 * Encoding tests: every instruction form the assembler knows, against bytes
 * worked out by hand from the kernel's encoding (code; src<<4|dst; off le16;
 * imm le32), then the disassembler's canonical text for each, and the error
 * messages (with line numbers) for bad input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bext/isa.h>

struct enc_case {
	const char *text;  /* one instruction */
	const char *bytes; /* hex bytes, 8 per slot */
	const char *canon; /* disassembler text; NULL: same as text */
};

static const struct enc_case enc_cases[] = {
    /* ALU64, immediate and register source */
    {"add %r1, 2", "07 01 00 00 02 00 00 00"},
    {"add %r1, %r2", "0f 21 00 00 00 00 00 00"},
    {"sub %r3, -1", "17 03 00 00 ff ff ff ff"},
    {"sub %r3, %r4", "1f 43 00 00 00 00 00 00"},
    {"mul %r0, 7", "27 00 00 00 07 00 00 00"},
    {"mul %r0, %r9", "2f 90 00 00 00 00 00 00"},
    {"div %r5, 3", "37 05 00 00 03 00 00 00"},
    {"div %r5, %r6", "3f 65 00 00 00 00 00 00"},
    {"sdiv %r5, -3", "37 05 01 00 fd ff ff ff"},
    {"sdiv %r5, %r6", "3f 65 01 00 00 00 00 00"},
    {"or %r1, 0x10", "47 01 00 00 10 00 00 00", "or %r1, 16"},
    {"or %r1, %r2", "4f 21 00 00 00 00 00 00"},
    {"and %r1, 0xff", "57 01 00 00 ff 00 00 00", "and %r1, 255"},
    {"and %r1, %r2", "5f 21 00 00 00 00 00 00"},
    {"lsh %r1, 63", "67 01 00 00 3f 00 00 00"},
    {"lsh %r1, %r2", "6f 21 00 00 00 00 00 00"},
    {"rsh %r1, 1", "77 01 00 00 01 00 00 00"},
    {"rsh %r1, %r2", "7f 21 00 00 00 00 00 00"},
    {"neg %r7", "87 07 00 00 00 00 00 00"},
    {"mod %r1, 10", "97 01 00 00 0a 00 00 00"},
    {"mod %r1, %r2", "9f 21 00 00 00 00 00 00"},
    {"smod %r1, 10", "97 01 01 00 0a 00 00 00"},
    {"smod %r1, %r2", "9f 21 01 00 00 00 00 00"},
    {"xor %r1, -2147483648", "a7 01 00 00 00 00 00 80"},
    {"xor %r1, %r2", "af 21 00 00 00 00 00 00"},
    {"mov %r0, 1", "b7 00 00 00 01 00 00 00"},
    {"mov %r0, 0xffffffff", "b7 00 00 00 ff ff ff ff", "mov %r0, -1"},
    {"mov %r10, %r1", "bf 1a 00 00 00 00 00 00"},
    {"arsh %r1, 3", "c7 01 00 00 03 00 00 00"},
    {"arsh %r1, %r2", "cf 21 00 00 00 00 00 00"},
    /* ALU32 */
    {"add32 %r1, 2", "04 01 00 00 02 00 00 00"},
    {"add32 %r1, %r2", "0c 21 00 00 00 00 00 00"},
    {"sub32 %r1, 2", "14 01 00 00 02 00 00 00"},
    {"sub32 %r1, %r2", "1c 21 00 00 00 00 00 00"},
    {"mul32 %r1, 2", "24 01 00 00 02 00 00 00"},
    {"mul32 %r1, %r2", "2c 21 00 00 00 00 00 00"},
    {"div32 %r1, 2", "34 01 00 00 02 00 00 00"},
    {"div32 %r1, %r2", "3c 21 00 00 00 00 00 00"},
    {"sdiv32 %r1, 2", "34 01 01 00 02 00 00 00"},
    {"sdiv32 %r1, %r2", "3c 21 01 00 00 00 00 00"},
    {"or32 %r1, 2", "44 01 00 00 02 00 00 00"},
    {"or32 %r1, %r2", "4c 21 00 00 00 00 00 00"},
    {"and32 %r1, 2", "54 01 00 00 02 00 00 00"},
    {"and32 %r1, %r2", "5c 21 00 00 00 00 00 00"},
    {"lsh32 %r1, 2", "64 01 00 00 02 00 00 00"},
    {"lsh32 %r1, %r2", "6c 21 00 00 00 00 00 00"},
    {"rsh32 %r1, 2", "74 01 00 00 02 00 00 00"},
    {"rsh32 %r1, %r2", "7c 21 00 00 00 00 00 00"},
    {"neg32 %r1", "84 01 00 00 00 00 00 00"},
    {"mod32 %r1, 2", "94 01 00 00 02 00 00 00"},
    {"mod32 %r1, %r2", "9c 21 00 00 00 00 00 00"},
    {"smod32 %r1, 2", "94 01 01 00 02 00 00 00"},
    {"smod32 %r1, %r2", "9c 21 01 00 00 00 00 00"},
    {"xor32 %r1, 2", "a4 01 00 00 02 00 00 00"},
    {"xor32 %r1, %r2", "ac 21 00 00 00 00 00 00"},
    {"mov32 %r1, 2", "b4 01 00 00 02 00 00 00"},
    {"mov32 %r1, %r2", "bc 21 00 00 00 00 00 00"},
    {"arsh32 %r1, 2", "c4 01 00 00 02 00 00 00"},
    {"arsh32 %r1, %r2", "cc 21 00 00 00 00 00 00"},
    /* movsx */
    {"movsx832 %r1, %r2", "bc 21 08 00 00 00 00 00"},
    {"movsx1632 %r1, %r2", "bc 21 10 00 00 00 00 00"},
    {"movsx864 %r1, %r2", "bf 21 08 00 00 00 00 00"},
    {"movsx1664 %r1, %r2", "bf 21 10 00 00 00 00 00"},
    {"movsx3264 %r1, %r2", "bf 21 20 00 00 00 00 00"},
    /* byte order */
    {"le16 %r3", "d4 03 00 00 10 00 00 00"},
    {"le32 %r3", "d4 03 00 00 20 00 00 00"},
    {"le64 %r3", "d4 03 00 00 40 00 00 00"},
    {"be16 %r3", "dc 03 00 00 10 00 00 00"},
    {"be32 %r3", "dc 03 00 00 20 00 00 00"},
    {"be64 %r3", "dc 03 00 00 40 00 00 00"},
    {"bswap16 %r3", "d7 03 00 00 10 00 00 00"},
    {"bswap32 %r3", "d7 03 00 00 20 00 00 00"},
    {"bswap64 %r3", "d7 03 00 00 40 00 00 00"},
    {"swap16 %r3", "d7 03 00 00 10 00 00 00", "bswap16 %r3"},
    {"swap32 %r3", "d7 03 00 00 20 00 00 00", "bswap32 %r3"},
    {"swap64 %r3", "d7 03 00 00 40 00 00 00", "bswap64 %r3"},
    /* jumps */
    {"ja +3", "05 00 03 00 00 00 00 00"},
    {"ja -1", "05 00 ff ff 00 00 00 00"},
    {"ja 0", "05 00 00 00 00 00 00 00", "ja +0"},
    {"ja32 +70000", "06 00 00 00 70 11 01 00"},
    {"gotol -2", "06 00 00 00 fe ff ff ff", "ja32 -2"},
    {"jeq %r1, 5, +1", "15 01 01 00 05 00 00 00"},
    {"jeq %r1, %r2, +1", "1d 21 01 00 00 00 00 00"},
    {"jgt %r1, 5, +1", "25 01 01 00 05 00 00 00"},
    {"jgt %r1, %r2, +1", "2d 21 01 00 00 00 00 00"},
    {"jge %r1, 5, +1", "35 01 01 00 05 00 00 00"},
    {"jge %r1, %r2, +1", "3d 21 01 00 00 00 00 00"},
    {"jset %r1, 5, +1", "45 01 01 00 05 00 00 00"},
    {"jset %r1, %r2, +1", "4d 21 01 00 00 00 00 00"},
    {"jne %r1, 5, +1", "55 01 01 00 05 00 00 00"},
    {"jne %r1, %r2, +1", "5d 21 01 00 00 00 00 00"},
    {"jsgt %r1, -5, +1", "65 01 01 00 fb ff ff ff"},
    {"jsgt %r1, %r2, +1", "6d 21 01 00 00 00 00 00"},
    {"jsge %r1, 5, +1", "75 01 01 00 05 00 00 00"},
    {"jsge %r1, %r2, +1", "7d 21 01 00 00 00 00 00"},
    {"jlt %r1, 5, +1", "a5 01 01 00 05 00 00 00"},
    {"jlt %r1, %r2, +1", "ad 21 01 00 00 00 00 00"},
    {"jle %r1, 5, +1", "b5 01 01 00 05 00 00 00"},
    {"jle %r1, %r2, +1", "bd 21 01 00 00 00 00 00"},
    {"jslt %r1, 5, +1", "c5 01 01 00 05 00 00 00"},
    {"jslt %r1, %r2, +1", "cd 21 01 00 00 00 00 00"},
    {"jsle %r1, 5, -32768", "d5 01 00 80 05 00 00 00"},
    {"jsle %r1, %r2, +32767", "dd 21 ff 7f 00 00 00 00"},
    {"jeq32 %r1, 5, +1", "16 01 01 00 05 00 00 00"},
    {"jeq32 %r1, %r2, +1", "1e 21 01 00 00 00 00 00"},
    {"jgt32 %r1, 5, +1", "26 01 01 00 05 00 00 00"},
    {"jgt32 %r1, %r2, +1", "2e 21 01 00 00 00 00 00"},
    {"jge32 %r1, 5, +1", "36 01 01 00 05 00 00 00"},
    {"jge32 %r1, %r2, +1", "3e 21 01 00 00 00 00 00"},
    {"jset32 %r1, 5, +1", "46 01 01 00 05 00 00 00"},
    {"jset32 %r1, %r2, +1", "4e 21 01 00 00 00 00 00"},
    {"jne32 %r1, 5, +1", "56 01 01 00 05 00 00 00"},
    {"jne32 %r1, %r2, +1", "5e 21 01 00 00 00 00 00"},
    {"jsgt32 %r1, 5, +1", "66 01 01 00 05 00 00 00"},
    {"jsgt32 %r1, %r2, +1", "6e 21 01 00 00 00 00 00"},
    {"jsge32 %r1, 5, +1", "76 01 01 00 05 00 00 00"},
    {"jsge32 %r1, %r2, +1", "7e 21 01 00 00 00 00 00"},
    {"jlt32 %r1, 5, +1", "a6 01 01 00 05 00 00 00"},
    {"jlt32 %r1, %r2, +1", "ae 21 01 00 00 00 00 00"},
    {"jle32 %r1, 5, +1", "b6 01 01 00 05 00 00 00"},
    {"jle32 %r1, %r2, +1", "be 21 01 00 00 00 00 00"},
    {"jslt32 %r1, 5, +1", "c6 01 01 00 05 00 00 00"},
    {"jslt32 %r1, %r2, +1", "ce 21 01 00 00 00 00 00"},
    {"jsle32 %r1, 5, +1", "d6 01 01 00 05 00 00 00"},
    {"jsle32 %r1, %r2, +1", "de 21 01 00 00 00 00 00"},
    /* calls and exit */
    {"call 5", "85 00 00 00 05 00 00 00"},
    {"call local +2", "85 10 00 00 02 00 00 00"},
    {"call local -7", "85 10 00 00 f9 ff ff ff"},
    {"call kfunc 1234", "85 20 00 00 d2 04 00 00"},
    {"call kfunc 1234, 3", "85 20 03 00 d2 04 00 00"},
    {"call %r2", "8d 02 00 00 00 00 00 00"},
    {"exit", "95 00 00 00 00 00 00 00"},
    /* lddw and its pseudo forms */
    {"lddw %r0, 0x123456789abcdef0", "18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12"},
    {"lddw %r9, -1", "18 09 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff",
     "lddw %r9, 0xffffffffffffffff"},
    {"lddw %r1, 0", "18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "lddw %r1, 0x0"},
    {"lddw %r1, map_fd 3", "18 11 00 00 03 00 00 00 00 00 00 00 00 00 00 00"},
    {"lddw %r1, map_value 3+16", "18 21 00 00 03 00 00 00 00 00 00 00 10 00 00 00"},
    {"lddw %r1, btf_id 77", "18 31 00 00 4d 00 00 00 00 00 00 00 00 00 00 00"},
    {"lddw %r1, btf_id 77 fd 4", "18 31 00 00 4d 00 00 00 00 00 00 00 04 00 00 00"},
    {"lddw %r2, func +5", "18 42 00 00 05 00 00 00 00 00 00 00 00 00 00 00"},
    {"lddw %r1, map_idx 0", "18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
    {"lddw %r1, map_idx_value 2+8", "18 61 00 00 02 00 00 00 00 00 00 00 08 00 00 00"},
    /* legacy packet loads */
    {"ldabsw 12", "20 00 00 00 0c 00 00 00"},
    {"ldabsh 12", "28 00 00 00 0c 00 00 00"},
    {"ldabsb 12", "30 00 00 00 0c 00 00 00"},
    {"ldindw %r3, 4", "40 30 00 00 04 00 00 00"},
    {"ldindh %r3, 4", "48 30 00 00 04 00 00 00"},
    {"ldindb %r3, 4", "50 30 00 00 04 00 00 00"},
    /* loads */
    {"ldxw %r1, [%r2+8]", "61 21 08 00 00 00 00 00"},
    {"ldxh %r1, [%r2-8]", "69 21 f8 ff 00 00 00 00"},
    {"ldxb %r1, [%r2]", "71 21 00 00 00 00 00 00"},
    {"ldxdw %r1, [%r10-512]", "79 a1 00 fe 00 00 00 00"},
    {"ldxdw %r1, [%r2+0x10]", "79 21 10 00 00 00 00 00", "ldxdw %r1, [%r2+16]"},
    {"ldxdw %r1, [%r2+0]", "79 21 00 00 00 00 00 00", "ldxdw %r1, [%r2]"},
    {"ldxsw %r1, [%r2+8]", "81 21 08 00 00 00 00 00"},
    {"ldxsh %r1, [%r2+8]", "89 21 08 00 00 00 00 00"},
    {"ldxsb %r1, [%r2+8]", "91 21 08 00 00 00 00 00"},
    /* stores */
    {"stw [%r10-4], 5", "62 0a fc ff 05 00 00 00"},
    {"sth [%r10-4], 5", "6a 0a fc ff 05 00 00 00"},
    {"stb [%r10-4], -1", "72 0a fc ff ff ff ff ff"},
    {"stdw [%r1+32767], 0x7fffffff", "7a 01 ff 7f ff ff ff 7f", "stdw [%r1+32767], 2147483647"},
    {"stxw [%r1+4], %r2", "63 21 04 00 00 00 00 00"},
    {"stxh [%r1+4], %r2", "6b 21 04 00 00 00 00 00"},
    {"stxb [%r1], %r2", "73 21 00 00 00 00 00 00"},
    {"stxdw [%r10-8], %r0", "7b 0a f8 ff 00 00 00 00"},
    /* atomics: DW then W (32 suffix) */
    {"lock add [%r10-8], %r1", "db 1a f8 ff 00 00 00 00"},
    {"lock or [%r10-8], %r1", "db 1a f8 ff 40 00 00 00"},
    {"lock and [%r10-8], %r1", "db 1a f8 ff 50 00 00 00"},
    {"lock xor [%r10-8], %r1", "db 1a f8 ff a0 00 00 00"},
    {"lock fetch add [%r10-8], %r1", "db 1a f8 ff 01 00 00 00"},
    {"lock fetch or [%r10-8], %r1", "db 1a f8 ff 41 00 00 00"},
    {"lock fetch and [%r10-8], %r1", "db 1a f8 ff 51 00 00 00"},
    {"lock fetch xor [%r10-8], %r1", "db 1a f8 ff a1 00 00 00"},
    {"lock xchg [%r10-8], %r1", "db 1a f8 ff e1 00 00 00"},
    {"lock cmpxchg [%r10-8], %r1", "db 1a f8 ff f1 00 00 00"},
    {"lock add32 [%r1+4], %r2", "c3 21 04 00 00 00 00 00"},
    {"lock or32 [%r1+4], %r2", "c3 21 04 00 40 00 00 00"},
    {"lock and32 [%r1+4], %r2", "c3 21 04 00 50 00 00 00"},
    {"lock xor32 [%r1+4], %r2", "c3 21 04 00 a0 00 00 00"},
    {"lock fetch add32 [%r1+4], %r2", "c3 21 04 00 01 00 00 00"},
    {"lock fetch or32 [%r1+4], %r2", "c3 21 04 00 41 00 00 00"},
    {"lock fetch and32 [%r1+4], %r2", "c3 21 04 00 51 00 00 00"},
    {"lock fetch xor32 [%r1+4], %r2", "c3 21 04 00 a1 00 00 00"},
    {"lock xchg32 [%r1+4], %r2", "c3 21 04 00 e1 00 00 00"},
    {"lock cmpxchg32 [%r1+4], %r2", "c3 21 04 00 f1 00 00 00"},
    /* spelling variations the assembler accepts */
    {"  mov\t%r0 ,  %r1   # comment", "bf 10 00 00 00 00 00 00", "mov %r0, %r1"},
    {"mov r0, r1", "bf 10 00 00 00 00 00 00", "mov %r0, %r1"},
    {"mov32 %r0, 4294967295", "b4 00 00 00 ff ff ff ff", "mov32 %r0, -1"},
    {"mov %r0, -0x80000000", "b7 00 00 00 00 00 00 80", "mov %r0, -2147483648"},
};

static size_t parse_hex_bytes(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*hex && n < max) {
		unsigned v;
		int used;

		if (sscanf(hex, " %2x%n", &v, &used) != 1)
			break;
		out[n++] = (uint8_t)v;
		hex += used;
	}
	return n;
}

static void test_encodings(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];
		struct bext_insn *insns = NULL, *again = NULL;
		uint8_t want[16];
		size_t n = 0, n2 = 0, nb = parse_hex_bytes(c->bytes, want, sizeof(want));
		char err[256], text[128];
		int ret;

		ret = bext_asm(c->text, &insns, &n, err, sizeof(err));
		if (ret)
			fail_msg("'%s': %s", c->text, err);
		assert_int_equal(n * 8, nb);
		if (memcmp(insns, want, nb)) {
			print_error("'%s': bytes differ\n", c->text);
			for (size_t b = 0; b < nb; b++)
				print_error("%02x ", ((uint8_t *)insns)[b]);
			fail_msg("want %s", c->bytes);
		}
		/* canonical text and re-assembly */
		ret = bext_disasm_insn(insns, n, 0, text, sizeof(text));
		assert_int_equal(ret, (int)n);
		if (strcmp(text, c->canon ? c->canon : c->text))
			fail_msg("disasm of '%s' gave '%s'", c->text, text);
		assert_int_equal(bext_asm(text, &again, &n2, err, sizeof(err)), 0);
		assert_int_equal(n2, n);
		assert_memory_equal(again, insns, n * 8);
		assert_int_equal(bext_insn_slots(insns, n, 0), n);
		free(insns);
		free(again);
	}
}

/* Labels, forward and backward, count lddw as two slots. */
static void test_labels(void **state)
{
	static const char *prog = "start:\n"
				  "  lddw %r0, 1\n"
				  "  jeq %r0, 1, done   # forward over one slot\n"
				  "  ja start\n"
				  "done: mov %r0, 2\n"
				  "  call local fn\n"
				  "  lddw %r1, func fn\n"
				  "  ja32 start\n"
				  "fn:\n"
				  "  exit\n";
	struct bext_insn *insns = NULL;
	size_t n = 0;
	char err[128];

	(void)state;
	assert_int_equal(bext_asm(prog, &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 10);
	assert_int_equal(insns[2].code, 0x15);
	assert_int_equal(insns[2].off, 1);  /* 2 -> 4 */
	assert_int_equal(insns[3].off, -4); /* 3 -> 0 */
	assert_int_equal(insns[5].imm, 3);  /* 5 -> 9 */
	assert_int_equal(insns[6].src, 4);
	assert_int_equal(insns[6].imm, 2); /* 6 -> 9 */
	assert_int_equal(insns[8].code, 0x06);
	assert_int_equal(insns[8].imm, -9); /* 8 -> 0 */
	assert_int_equal(insns[9].code, 0x95);
	free(insns);
}

/* The implicit `exit` label: the last exit, or an exit appended. */
static void test_exit_label(void **state)
{
	struct bext_insn *insns = NULL;
	size_t n = 0;
	char err[128];

	(void)state;
	assert_int_equal(
	    bext_asm("jne %r0, 1, exit\nmov %r0, 2\nexit\n", &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(insns[0].off, 1);
	free(insns);

	/* no final exit: one is appended */
	assert_int_equal(bext_asm("ja exit\nmov %r0, 2\nja -2\n", &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(insns[0].off, 2);
	assert_int_equal(insns[3].code, 0x95);
	free(insns);

	/* an explicit exit: label wins */
	assert_int_equal(
	    bext_asm("ja exit\nexit:\nmov %r0, 2\nexit\n", &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(insns[0].off, 0);
	free(insns);

	/* empty text: empty program */
	assert_int_equal(bext_asm("# nothing\n\n", &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(insns);
}

struct err_case {
	const char *text;
	const char *msg; /* the whole message */
};

static const struct err_case err_cases[] = {
    {"mov %r0, 1\nfoo %r1, 2\n", "line 2: unknown mnemonic 'foo'"},
    {"mov %r11, 1", "line 1: bad register '%r11'"},
    {"mov %rx, 1", "line 1: expected destination register, found '%rx, 1'"},
    {"\n\nmov32 %r0, 4294967296", "line 3: immediate '4294967296' out of range"},
    {"mov %r0, -2147483649", "line 1: immediate '-2147483649' out of range"},
    {"ldxw %r0, [%r1+32768]", "line 1: memory offset '+32768' out of range"},
    {"jeq %r0, 0, +40000", "line 1: jump offset '+40000' out of range"},
    {"ja nowhere\nexit", "line 1: undefined label 'nowhere'"},
    {"a:\nmov %r0, 0\na:\nexit", "line 3: duplicate label 'a' (first defined on line 1)"},
    {"add %r0", "line 1: missing ',' and source operand"},
    {"add", "line 1: missing destination register"},
    {"exit now", "line 1: trailing junk 'now'"},
    {"mov %r0, 1 2", "line 1: trailing junk '2'"},
    {"mov %r0, 12ab", "line 1: bad number '12ab'"},
    {"lddw %r0, 0x10000000000000000",
     "line 1: 64-bit immediate '0x10000000000000000' out of range"},
    {"lddw %r0, map_thing 3", "line 1: unknown lddw form 'map_thing'"},
    {"lddw %r0, map_value 3", "line 1: missing '+OFFSET' of map_value"},
    {"lock fetch xchg [%r10-8], %r1", "line 1: unknown atomic operation 'lock fetch xchg'"},
    {"lock add16 [%r10-8], %r1", "line 1: unknown atomic operation 'lock add16'"},
    {"ldxsdw %r0, [%r1]", "line 1: unknown mnemonic 'ldxsdw'"},
    {"stxw [%r1+4], 5", "line 1: expected source register, found '5'"},
    {"ldxw %r0, %r1", "line 1: expected memory operand '[', found '%r1'"},
    {"ldxw %r0, [%r1+4", "line 1: missing ']'"},
    {"ja32 +2147483648", "line 1: offset '+2147483648' out of range"},
    {"jeq %r1, %r2\n", "line 1: missing ',' and jump target"},
    {"1abc:\n", "line 1: expected mnemonic or label, found '1abc:'"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		struct bext_insn *insns = (struct bext_insn *)0x1;
		size_t n = 12345;
		char err[256];
		int ret = bext_asm(err_cases[i].text, &insns, &n, err, sizeof(err));

		if (ret != -EINVAL)
			fail_msg("'%s': returned %d", err_cases[i].text, ret);
		if (strcmp(err, err_cases[i].msg))
			fail_msg("'%s': got \"%s\", want \"%s\"", err_cases[i].text, err,
				 err_cases[i].msg);
		/* outputs untouched on failure */
		assert_ptr_equal(insns, (struct bext_insn *)0x1);
		assert_int_equal(n, 12345);
	}
	/* a tiny buffer is truncated, never overrun; NULL err is fine */
	{
		struct bext_insn *insns = NULL;
		size_t n = 0;
		char small[8];

		assert_int_equal(bext_asm("bogus", &insns, &n, small, sizeof(small)), -EINVAL);
		assert_string_equal(small, "line 1:");
		assert_int_equal(bext_asm("bogus", &insns, &n, NULL, 0), -EINVAL);
		assert_int_equal(bext_asm(NULL, &insns, &n, NULL, 0), -EINVAL);
	}
}

/* Invalid encodings print as "invalid ..." and return -EINVAL. */
static void test_invalid_insns(void **state)
{
	static const struct bext_insn bad[] = {
	    BEXT_INSN(0xff, 0, 0, 0, 0),    /* unknown opcode */
	    BEXT_INSN(0x07, 11, 0, 0, 1),   /* dst r11 */
	    BEXT_INSN(0x0f, 1, 12, 0, 0),   /* src r12 */
	    BEXT_INSN(0x07, 1, 1, 0, 1),    /* src set on K form */
	    BEXT_INSN(0x0f, 1, 2, 0, 1),    /* imm set on X form */
	    BEXT_INSN(0x07, 1, 0, 1, 1),    /* add with off 1 */
	    BEXT_INSN(0xbc, 1, 2, 32, 0),   /* movsx3232 does not exist */
	    BEXT_INSN(0xb7, 1, 0, 8, 0),    /* movsx with K source */
	    BEXT_INSN(0xdf, 1, 0, 0, 16),   /* ALU64 X END */
	    BEXT_INSN(0xd4, 1, 0, 0, 8),    /* le8 */
	    BEXT_INSN(0x8f, 1, 0, 0, 0),    /* neg with X */
	    BEXT_INSN(0xe7, 1, 0, 0, 0),    /* ALU op 0xe0 */
	    BEXT_INSN(0x0d, 0, 0, 0, 0),    /* ja with X */
	    BEXT_INSN(0x05, 0, 0, 1, 1),    /* ja with imm */
	    BEXT_INSN(0x06, 0, 0, 1, 1),    /* ja32 with off */
	    BEXT_INSN(0x86, 0, 0, 0, 1),    /* call in JMP32 */
	    BEXT_INSN(0x96, 0, 0, 0, 0),    /* exit in JMP32 */
	    BEXT_INSN(0x95, 0, 0, 0, 1),    /* exit with imm */
	    BEXT_INSN(0x85, 0, 3, 0, 1),    /* call src 3 */
	    BEXT_INSN(0xe5, 1, 0, 0, 0),    /* jmp op 0xe0 */
	    BEXT_INSN(0x61, 1, 2, 0, 1),    /* ldx with imm */
	    BEXT_INSN(0x99, 1, 2, 0, 0),    /* ldxsdw */
	    BEXT_INSN(0x62, 1, 2, 0, 0),    /* st with src */
	    BEXT_INSN(0xd3, 1, 2, 0, 0),    /* atomic byte */
	    BEXT_INSN(0xdb, 1, 2, 0, 0x02), /* atomic op 2 */
	    BEXT_INSN(0xdb, 1, 2, 0, 0xe0), /* xchg without fetch */
	    BEXT_INSN(0x38, 0, 0, 0, 0),    /* ldabsdw */
	    BEXT_INSN(0x60, 0, 0, 0, 0),    /* LD MEM */
	    BEXT_INSN(0xa3, 0, 0, 0, 0),    /* STX mode 0xa0 */
	};
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret =
		    bext_disasm_insn(bad, sizeof(bad) / sizeof(bad[0]), i, text, sizeof(text));

		if (ret != -EINVAL || strncmp(text, "invalid ", 8))
			fail_msg("insn %zu (code 0x%02x): %d '%s'", i, bad[i].code, ret, text);
	}

	/* lddw: missing second slot, bad second slot, bad pseudo src, reserved next imm */
	struct bext_insn l[2] = {BEXT_LD_IMM64_LO(1, 0, 5), BEXT_LD_IMM64_HI(0)};

	assert_int_equal(bext_disasm_insn(l, 1, 0, text, sizeof(text)), -EINVAL);
	assert_string_equal(text, "invalid 0x0000000500000118 (lddw without its second slot)");
	assert_int_equal(bext_insn_slots(l, 1, 0), 0);
	l[1].code = 0x95;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), -EINVAL);
	l[1].code = 0;
	l[0].src = 7;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), -EINVAL);
	l[0].src = BEXT_PSEUDO_MAP_FD;
	l[1].imm = 1;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), -EINVAL);
	l[0].src = BEXT_PSEUDO_FUNC;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), -EINVAL);
	l[0].src = 0;
	l[0].off = 1;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), -EINVAL);
	l[0].off = 0;
	assert_int_equal(bext_disasm_insn(l, 2, 0, text, sizeof(text)), 2);
	assert_string_equal(text, "lddw %r1, 0x100000005");
	assert_int_equal(bext_disasm_insn(l, 2, 2, text, sizeof(text)), -EINVAL);
}

/* bext_disasm: whole program, one line each, first error returned. */
static void test_disasm_program(void **state)
{
	struct bext_insn prog[] = {
	    BEXT_MOV64_IMM(0, 1),
	    BEXT_LD_IMM64_LO(2, 0, 0x100000000ull),
	    BEXT_LD_IMM64_HI(0x100000000ull),
	    BEXT_INSN(0xff, 0, 0, 0, 0),
	    BEXT_EXIT_INSN(),
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(bext_disasm(prog, 5, f), -EINVAL);
	fclose(f);
	assert_string_equal(buf, "mov %r0, 1\n"
				 "lddw %r2, 0x100000000\n"
				 "invalid 0x00000000000000ff (unknown ALU operation)\n"
				 "exit\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encodings),	  cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_exit_label),	  cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_invalid_insns), cmocka_unit_test(test_disasm_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

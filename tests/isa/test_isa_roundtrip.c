/* SPDX-License-Identifier: MIT */
/*
 * Round trips: every file of the conformance suite goes asm -> bytes ->
 * disasm -> asm and must give identical bytes (and match its `-- raw`
 * section where there is one); then every opcode byte with a spread of
 * field values goes bytes -> disasm -> asm.
 *
 * The conformance directory: argv[1], else the BEXT_CONFORMANCE_DIR the build
 * was configured with. Missing => exit 77 after the opcode test.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bext/isa.h>

static const char *conf_dir;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Copies the lines of section `name` (after "-- name" up to the next "--" line). */
static char *section(const char *file, const char *name)
{
	size_t nlen = strlen(name), cap = strlen(file) + 1, used = 0;
	char *out = calloc(1, cap);
	bool in = false, found = false;

	for (const char *line = file; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len >= 2 && !strncmp(line, "--", 2)) {
			const char *t = line + 2;

			while (*t == ' ')
				t++;
			in = !strncmp(t, name, nlen) && (size_t)(t - line) + nlen <= len;
			found |= in;
		} else if (in) {
			memcpy(out + used, line, len);
			used += len;
			out[used++] = '\n';
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!found) {
		free(out);
		return NULL;
	}
	return out;
}

/* Disassembles a whole program into a text buffer; fails the test on an invalid insn. */
static char *disasm_text(const struct bext_insn *insns, size_t n, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	assert_non_null(f);
	ret = bext_disasm(insns, n, f);
	fclose(f);
	if (ret)
		fail_msg("%s: disasm returned %d:\n%s", what, ret, buf);
	return buf;
}

static void test_conformance(void **state)
{
	struct dirent **names;
	int n_names, n_files = 0, n_raw = 0;

	(void)state;
	n_names = scandir(conf_dir, &names, NULL, alphasort);
	assert_true(n_names > 0);
	for (int i = 0; i < n_names; i++) {
		const char *fname = names[i]->d_name;
		size_t flen = strlen(fname);
		struct bext_insn *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;
		char path[4096], err[256];
		char *file, *text, *raw, *dis;

		if (flen < 6 || strcmp(fname + flen - 5, ".data")) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", conf_dir, fname);
		file = read_file(path);
		assert_non_null(file);
		text = section(file, "asm");
		if (!text)
			fail_msg("%s: no asm section", fname);
		if (bext_asm(text, &a, &na, err, sizeof(err)))
			fail_msg("%s: %s", fname, err);
		assert_true(na > 0);
		/* every program ends in exit (directly or through the appended one) */
		raw = section(file, "raw");
		if (raw) {
			/* one 64-bit word per line */
			size_t k = 0;
			char *save = NULL;

			for (char *tok = strtok_r(raw, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save), k++) {
				uint64_t w = strtoull(tok, NULL, 0), got;

				assert_true(k < na);
				memcpy(&got, &a[k], 8);
				if (got != w)
					fail_msg("%s: slot %zu is 0x%016llx, raw says 0x%016llx",
						 fname, k, (unsigned long long)got,
						 (unsigned long long)w);
			}
			assert_int_equal(k, na);
			n_raw++;
			free(raw);
		}
		dis = disasm_text(a, na, fname);
		if (bext_asm(dis, &b, &nb, err, sizeof(err)))
			fail_msg("%s: re-assembling the disassembly: %s\n%s", fname, err, dis);
		assert_int_equal(nb, na);
		if (memcmp(a, b, na * sizeof(*a)))
			fail_msg("%s: bytes differ after round trip:\n%s", fname, dis);
		n_files++;
		free(a);
		free(b);
		free(dis);
		free(text);
		free(file);
		free(names[i]);
	}
	free(names);
	print_message("%d conformance files round-tripped (%d checked against -- raw)\n", n_files,
		      n_raw);
	assert_true(n_files >= 313);
	assert_int_equal(n_raw, 1);
}

/*
 * The valid opcode bytes, worked out from RFC 9669 / the kernel:
 * ALU64 26, ALU 27, JMP 26, JMP32 23, LD 7, LDX 7, ST 4, STX 6 = 126.
 */
static const uint8_t valid_codes[] = {
    /* ALU64 */
    0x07,
    0x0f,
    0x17,
    0x1f,
    0x27,
    0x2f,
    0x37,
    0x3f,
    0x47,
    0x4f,
    0x57,
    0x5f,
    0x67,
    0x6f,
    0x77,
    0x7f,
    0x87,
    0x97,
    0x9f,
    0xa7,
    0xaf,
    0xb7,
    0xbf,
    0xc7,
    0xcf,
    0xd7,
    /* ALU */
    0x04,
    0x0c,
    0x14,
    0x1c,
    0x24,
    0x2c,
    0x34,
    0x3c,
    0x44,
    0x4c,
    0x54,
    0x5c,
    0x64,
    0x6c,
    0x74,
    0x7c,
    0x84,
    0x94,
    0x9c,
    0xa4,
    0xac,
    0xb4,
    0xbc,
    0xc4,
    0xcc,
    0xd4,
    0xdc,
    /* JMP */
    0x05,
    0x15,
    0x1d,
    0x25,
    0x2d,
    0x35,
    0x3d,
    0x45,
    0x4d,
    0x55,
    0x5d,
    0x65,
    0x6d,
    0x75,
    0x7d,
    0x85,
    0x8d,
    0x95,
    0xa5,
    0xad,
    0xb5,
    0xbd,
    0xc5,
    0xcd,
    0xd5,
    0xdd,
    /* JMP32 */
    0x06,
    0x16,
    0x1e,
    0x26,
    0x2e,
    0x36,
    0x3e,
    0x46,
    0x4e,
    0x56,
    0x5e,
    0x66,
    0x6e,
    0x76,
    0x7e,
    0xa6,
    0xae,
    0xb6,
    0xbe,
    0xc6,
    0xce,
    0xd6,
    0xde,
    /* LD, LDX, ST, STX */
    0x18,
    0x20,
    0x28,
    0x30,
    0x40,
    0x48,
    0x50,
    0x61,
    0x69,
    0x71,
    0x79,
    0x81,
    0x89,
    0x91,
    0x62,
    0x6a,
    0x72,
    0x7a,
    0x63,
    0x6b,
    0x73,
    0x7b,
    0xc3,
    0xdb,
};

static void test_every_opcode(void **state)
{
	static const uint8_t regs[] = {0, 1, 10, 11};
	static const int16_t offs[] = {0, 1, 8, 16, 32, -1, 0x7fff, -0x8000};
	static const int32_t imms[] = {0,    1,	   16,	 32,	     64,	-1,	   0x40,
				       0x41, 0x50, 0x51, 0xa0,	     0xa1,	0xe1,	   0xf1,
				       0xe0, 7,	   1000, 0x7fffffff, INT32_MIN, 0x12345678};
	bool seen[256] = {false};
	unsigned n_checked = 0;

	(void)state;
	for (unsigned code = 0; code < 256; code++)
		for (unsigned d = 0; d < sizeof(regs); d++)
			for (unsigned sr = 0; sr < sizeof(regs); sr++)
				for (unsigned o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
					for (unsigned i = 0; i < sizeof(imms) / sizeof(imms[0]);
					     i++) {
						struct bext_insn in[2] = {
						    BEXT_INSN(code, regs[d], regs[sr], offs[o],
							      imms[i]),
						    BEXT_INSN(0, 0, 0, 0, imms[(i + 3) % 20]),
						};
						struct bext_insn *back = NULL;
						size_t nb = 0;
						char text[128], err[256];
						int ret =
						    bext_disasm_insn(in, 2, 0, text, sizeof(text));

						if (ret < 0) {
							if (strncmp(text, "invalid ", 8))
								fail_msg("code 0x%02x: '%s'", code,
									 text);
							continue;
						}
						/* never a register above r10 */
						assert_true(regs[d] <= 10 && regs[sr] <= 10);
						seen[code] = true;
						n_checked++;
						if (bext_asm(text, &back, &nb, err, sizeof(err)))
							fail_msg("'%s': %s", text, err);
						if (nb != (size_t)ret || memcmp(back, in, nb * 8))
							fail_msg("'%s' does not round-trip (code "
								 "0x%02x)",
								 text, code);
						free(back);
					}
	for (unsigned i = 0; i < sizeof(valid_codes); i++) {
		if (!seen[valid_codes[i]])
			fail_msg("valid code 0x%02x never disassembled", valid_codes[i]);
		seen[valid_codes[i]] = false;
	}
	for (unsigned code = 0; code < 256; code++)
		if (seen[code])
			fail_msg("code 0x%02x accepted but is not a valid opcode", code);
	print_message("%u valid encodings round-tripped over %zu opcodes\n", n_checked,
		      sizeof(valid_codes));
	assert_int_equal(sizeof(valid_codes), 126);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest conf_tests[] = {
	    cmocka_unit_test(test_conformance),
	};
	const struct CMUnitTest op_tests[] = {
	    cmocka_unit_test(test_every_opcode),
	};
	DIR *d;
	int ret;

	ret = cmocka_run_group_tests_name("opcodes", op_tests, NULL, NULL);
	conf_dir = argc > 1 ? argv[1] : BEXT_CONFORMANCE_DIR;
	d = opendir(conf_dir);
	if (!d) {
		printf(
		    "conformance directory '%s' not found (set BEXT_CONFORMANCE_DIR): skipping\n",
		    conf_dir);
		return ret ? ret : 77;
	}
	closedir(d);
	return ret | cmocka_run_group_tests_name("conformance", conf_tests, NULL, NULL);
}

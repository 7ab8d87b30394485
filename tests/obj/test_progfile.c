/* SPDX-License-Identifier: MIT */
/* load_program_file() (tools/bext/progfile.c): ELF, .bin and text inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bext/obj.h>

#include "../tools/bext/progfile.h"

static char err[1024];
static char tmpdir[] = "/tmp/bext-progfile-XXXXXX";

static const char *tmp_file(const char *name, const void *data, size_t size)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, size, f), size);
	fclose(f);
	return path;
}

static void test_elf(void **state)
{
	struct bext_insn *insns;
	const struct bext_insn *want;
	struct bext_obj *obj;
	size_t n, wn;

	(void)state;
	obj = bext_obj__open(OBJ_DIR "/multi.bpf.o", err, sizeof(err));
	assert_non_null(obj);

	/* default: the first program (prog_a in "xdp") */
	assert_int_equal(
	    load_program_file(OBJ_DIR "/multi.bpf.o", NULL, &insns, &n, err, sizeof(err)), 0);
	want = bext_obj_prog__insns(bext_obj__prog(obj, 0), &wn);
	assert_int_equal(n, wn);
	assert_memory_equal(insns, want, n * sizeof(*insns));
	free(insns);

	/* by function name and by section name */
	assert_int_equal(
	    load_program_file(OBJ_DIR "/multi.bpf.o", "prog_c", &insns, &n, err, sizeof(err)), 0);
	want = bext_obj_prog__insns(bext_obj__find_prog(obj, "prog_c"), &wn);
	assert_int_equal(n, wn);
	assert_memory_equal(insns, want, n * sizeof(*insns));
	free(insns);
	assert_int_equal(
	    load_program_file(OBJ_DIR "/multi.bpf.o", "tc", &insns, &n, err, sizeof(err)), 0);
	want = bext_obj_prog__insns(bext_obj__find_prog(obj, "prog_b"), &wn);
	assert_int_equal(n, wn);
	free(insns);

	/* unknown program: ENOENT, and the message lists what exists */
	assert_int_equal(
	    load_program_file(OBJ_DIR "/multi.bpf.o", "nope", &insns, &n, err, sizeof(err)),
	    -ENOENT);
	assert_non_null(strstr(err, "no program 'nope'"));
	assert_non_null(strstr(err, "prog_c (socket)"));
	assert_null(insns);
	bext_obj__close(obj);
}

static void test_bin(void **state)
{
	static const uint8_t bin[16] = {0xb7, 0x01, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
					0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t neg[8] = {0x05, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct bext_insn *insns;
	const char *p;
	size_t n;

	(void)state;
	p = tmp_file("a.bin", bin, sizeof(bin));
	assert_int_equal(load_program_file(p, NULL, &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(insns[0].code, 0xb7);
	assert_int_equal(insns[0].dst, 1);
	assert_int_equal(insns[0].imm, 42);
	assert_int_equal(insns[1].code, 0x95);
	free(insns);

	p = tmp_file("neg.bin", neg, sizeof(neg));
	assert_int_equal(load_program_file(p, NULL, &insns, &n, err, sizeof(err)), 0);
	assert_int_equal(insns[0].off, -2);
	assert_int_equal(insns[0].imm, -1);
	free(insns);

	p = tmp_file("odd.bin", bin, 12);
	assert_int_equal(load_program_file(p, NULL, &insns, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "odd.bin: 12 bytes"));

	/* binary data without the .bin name is not guessed at */
	p = tmp_file("a.raw", bin, sizeof(bin));
	assert_int_equal(load_program_file(p, NULL, &insns, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "binary data"));

	/* --prog only means something for ELF */
	p = tmp_file("b.bin", bin, sizeof(bin));
	assert_int_equal(load_program_file(p, "x", &insns, &n, err, sizeof(err)), -EINVAL);
}

static void test_text_and_missing(void **state)
{
	static const char text[] = "mov %r0, 7\nexit\n";
	struct bext_insn *insns;
	const char *p;
	size_t n;
	int ret;

	(void)state;
	p = tmp_file("t.s", text, strlen(text));
	ret = load_program_file(p, NULL, &insns, &n, err, sizeof(err));
	if (ret == -ENOSYS) /* assembler still a stub */
		skip();
	assert_int_equal(ret, 0);
	assert_int_equal(n, 2);
	assert_int_equal(insns[0].imm, 7);
	free(insns);

	assert_int_equal(
	    load_program_file("/nonexistent/p.bin", NULL, &insns, &n, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/p.bin"));
}

static int cleanup(void **state)
{
	static const char *const names[] = {"a.bin", "neg.bin", "odd.bin", "a.raw", "b.bin", "t.s"};
	char path[256];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_elf),
	    cmocka_unit_test(test_bin),
	    cmocka_unit_test(test_text_and_missing),
	};

	if (!mkdtemp(tmpdir))
		return 1;
	return cmocka_run_group_tests(tests, NULL, cleanup);
}

/* SPDX-License-Identifier: MIT */
/*
 * bext_obj: programs, maps and linking of real clang-built objects
 * (progs/NAME.bpf.c, compiled at build time), and refusal of malformed ELF.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bext/obj.h>

#define CALL_LOCAL(in) ((in).code == (BEXT_CLS_JMP | BEXT_JMP_CALL) && (in).src == BEXT_CALL_LOCAL)
#define IS_LDDW(in) ((in).code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM))

static char err[512];

static uint8_t *slurp(const char *name, size_t *size)
{
	char path[4096];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", OBJ_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static struct bext_obj *open_obj(const char *name)
{
	char path[4096];
	struct bext_obj *obj;

	snprintf(path, sizeof(path), "%s/%s", OBJ_DIR, name);
	obj = bext_obj__open(path, err, sizeof(err));
	if (!obj)
		fail_msg("%s", err);
	return obj;
}

static void test_maps(void **state)
{
	struct bext_obj *obj = open_obj("multi.bpf.o");
	const struct bext_obj_map *m;
	const void *init;
	size_t sz;

	(void)state;
	assert_int_equal(bext_obj__map_count(obj), 5);
	m = bext_obj__map(obj, 0);
	assert_string_equal(bext_obj_map__name(m), "counters");
	assert_int_equal(bext_obj_map__kind(m), BEXT_OBJ_MAP_BTF);
	assert_true(bext_obj_map__has_def(m));
	assert_int_equal(bext_obj_map__type(m), 2); /* BPF_MAP_TYPE_ARRAY */
	assert_int_equal(bext_obj_map__key_size(m), 4);
	assert_int_equal(bext_obj_map__value_size(m), 8);
	assert_int_equal(bext_obj_map__max_entries(m), 4);
	assert_int_equal(bext_obj_map__flags(m), 0);

	m = bext_obj__find_map(obj, "table");
	assert_ptr_equal(m, bext_obj__map(obj, 1));
	assert_int_equal(bext_obj_map__type(m), 1); /* BPF_MAP_TYPE_HASH */
	assert_int_equal(bext_obj_map__key_size(m), 8);
	assert_int_equal(bext_obj_map__value_size(m), 16);
	assert_int_equal(bext_obj_map__max_entries(m), 16);
	assert_int_equal(bext_obj_map__flags(m), 1); /* BPF_F_NO_PREALLOC */

	m = bext_obj__map(obj, 2);
	assert_string_equal(bext_obj_map__name(m), ".data");
	assert_int_equal(bext_obj_map__kind(m), BEXT_OBJ_MAP_DATA);
	init = bext_obj_map__initial_value(m, &sz);
	assert_int_equal(sz, 8);
	assert_non_null(init);
	assert_int_equal(*(const uint64_t *)init, 7);

	m = bext_obj__map(obj, 3);
	assert_string_equal(bext_obj_map__name(m), ".rodata");
	assert_int_equal(bext_obj_map__kind(m), BEXT_OBJ_MAP_RODATA);
	assert_int_equal(bext_obj_map__flags(m), 1u << 7);
	init = bext_obj_map__initial_value(m, &sz);
	assert_int_equal(sz, 4);
	assert_int_equal(*(const uint32_t *)init, 3);

	m = bext_obj__map(obj, 4);
	assert_string_equal(bext_obj_map__name(m), ".bss");
	assert_int_equal(bext_obj_map__kind(m), BEXT_OBJ_MAP_BSS);
	assert_null(bext_obj_map__initial_value(m, &sz));
	assert_int_equal(sz, 8);
	assert_int_equal(bext_obj_map__value_size(m), 8);

	assert_null(bext_obj__map(obj, 5));
	assert_null(bext_obj__find_map(obj, "nope"));
	assert_string_equal(bext_obj__license(obj), "GPL");
	bext_obj__close(obj);
}

static void test_progs(void **state)
{
	struct bext_obj *obj = open_obj("multi.bpf.o");
	static const char *const names[] = {"prog_a", "prog_d", "prog_b", "prog_c"};
	static const char *const secs[] = {"xdp", "xdp", "tc", "socket"};

	(void)state;
	assert_int_equal(bext_obj__prog_count(obj), 4);
	for (size_t i = 0; i < 4; i++) {
		const struct bext_obj_prog *p = bext_obj__prog(obj, i);

		assert_string_equal(bext_obj_prog__name(p), names[i]);
		assert_string_equal(bext_obj_prog__section_name(p), secs[i]);
		assert_ptr_equal(bext_obj__find_prog(obj, names[i]), p);
	}
	assert_null(bext_obj__prog(obj, 4));
	/* by section: the first program of the section */
	assert_ptr_equal(bext_obj__find_prog(obj, "xdp"), bext_obj__prog(obj, 0));
	assert_ptr_equal(bext_obj__find_prog(obj, "socket"), bext_obj__prog(obj, 3));
	errno = 0;
	assert_null(bext_obj__find_prog(obj, ".text")); /* subprograms are no programs */
	assert_int_equal(errno, ENOENT);
	bext_obj__close(obj);
}

/* Targets of the local calls in insns, checked to land inside the program. */
static size_t call_targets(const struct bext_insn *insns, size_t n, size_t *tgt, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (CALL_LOCAL(insns[i])) {
			int64_t t = (int64_t)i + insns[i].imm + 1;

			assert_true(t >= 0 && t < (int64_t)n);
			assert_true(k < max);
			tgt[k++] = (size_t)t;
		}
		if (IS_LDDW(insns[i]))
			i++;
	}
	return k;
}

static void test_link_calls(void **state)
{
	struct bext_obj *obj = open_obj("multi.bpf.o");
	const struct bext_obj_prog *a = bext_obj__find_prog(obj, "prog_a");
	const struct bext_obj_prog *b = bext_obj__find_prog(obj, "prog_b");
	const struct bext_insn *ia, *ib, *mix_a;
	size_t na, nb, ta[4], tb[8], k, mix_len, twice_at, mix_at;

	(void)state;
	ia = bext_obj_prog__insns(a, &na);
	ib = bext_obj_prog__insns(b, &nb);

	/* prog_a calls mix once; mix is all that follows prog_a's own code */
	assert_int_equal(call_targets(ia, na, ta, 4), 1);
	assert_int_equal(ta[0], bext_obj_prog__main_len(a));
	mix_a = ia + ta[0];
	mix_len = na - ta[0];
	assert_int_equal(mix_a[mix_len - 1].code, BEXT_CLS_JMP | BEXT_JMP_EXIT);

	/*
	 * prog_b calls twice and mix; twice calls mix: mix is linked once, so
	 * prog_b = own code + twice + mix, and both calls to mix hit one copy.
	 */
	k = call_targets(ib, nb, tb, 8);
	assert_int_equal(k, 3);
	twice_at = tb[0];
	assert_int_equal(twice_at, bext_obj_prog__main_len(b));
	mix_at = tb[1];
	assert_true(mix_at > twice_at); /* called from inside twice, appended after it */
	assert_true(tb[1] == tb[2]);
	assert_int_equal(nb - mix_at, mix_len);
	assert_memory_equal(ib + mix_at, mix_a, mix_len * sizeof(*mix_a));
	bext_obj__close(obj);
}

static void test_link_refs(void **state)
{
	struct bext_obj *obj = open_obj("multi.bpf.o");
	const struct bext_insn *in;
	size_t n, maps = 0, data = 0, funcs = 0;

	(void)state;
	/* prog_c: lddw of `counters` => MAP_IDX 0 */
	in = bext_obj_prog__insns(bext_obj__find_prog(obj, "prog_c"), &n);
	for (size_t i = 0; i < n; i++) {
		if (!IS_LDDW(in[i]))
			continue;
		if (in[i].src == BEXT_PSEUDO_MAP_IDX) {
			assert_int_equal(in[i].imm, 0);
			assert_int_equal(in[i + 1].imm, 0);
			maps++;
		} else if (in[i].src == BEXT_PSEUDO_MAP_IDX_VALUE) {
			assert_int_equal(in[i].imm, 2); /* gcount in .data at offset 0 */
			assert_int_equal(in[i + 1].imm, 0);
			data++;
		}
		i++;
	}
	assert_int_equal(maps, 1);
	assert_int_equal(data, 1);

	/* prog_a: gcount (.data), scale (.rodata), zeroed (.bss) */
	in = bext_obj_prog__insns(bext_obj__find_prog(obj, "prog_a"), &n);
	data = 0;
	for (size_t i = 0; i < n; i++) {
		if (IS_LDDW(in[i])) {
			assert_int_equal(in[i].src, BEXT_PSEUDO_MAP_IDX_VALUE);
			assert_in_range(in[i].imm, 2, 4);
			data |= 1u << in[i].imm;
			i++;
		}
	}
	assert_int_equal(data, (1u << 2) | (1u << 3) | (1u << 4));

	/* prog_d: the bpf_loop callback is a PSEUDO_FUNC lddw to the appended add_index */
	in = bext_obj_prog__insns(bext_obj__find_prog(obj, "prog_d"), &n);
	for (size_t i = 0; i < n; i++) {
		if (IS_LDDW(in[i]) && in[i].src == BEXT_PSEUDO_FUNC) {
			assert_int_equal(
			    i + in[i].imm + 1,
			    bext_obj_prog__main_len(bext_obj__find_prog(obj, "prog_d")));
			funcs++;
		}
	}
	assert_int_equal(funcs, 1);
	assert_int_equal(in[n - 1].code, BEXT_CLS_JMP | BEXT_JMP_EXIT);
	bext_obj__close(obj);
}

static void test_text_only(void **state)
{
	struct bext_obj *obj = open_obj("textonly.bpf.o");
	const struct bext_obj_prog *p;
	const struct bext_insn *in;
	size_t n, t[2];

	(void)state;
	assert_int_equal(bext_obj__prog_count(obj), 1);
	p = bext_obj__prog(obj, 0);
	assert_string_equal(bext_obj_prog__name(p), "entry");
	assert_string_equal(bext_obj_prog__section_name(p), ".text");
	in = bext_obj_prog__insns(p, &n);
	/* the call inside .text has no relocation: linked from its own offset */
	assert_int_equal(call_targets(in, n, t, 2), 1);
	assert_int_equal(t[0], bext_obj_prog__main_len(p));
	assert_int_equal(bext_obj__map_count(obj), 1);
	assert_string_equal(bext_obj_map__name(bext_obj__map(obj, 0)), ".data");
	bext_obj__close(obj);
}

static void expect_refusal(const void *buf, size_t size, const char *needle)
{
	struct bext_obj *obj;

	err[0] = 0;
	errno = 0;
	obj = bext_obj__open_mem(buf, size, "bad.o", err, sizeof(err));
	if (obj)
		fail_msg("accepted an object that should fail with '%s'", needle);
	assert_int_equal(errno, EINVAL);
	if (!strstr(err, needle))
		fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_malformed_simple(void **state)
{
	static const char text[] = "mov r0, 1\nexit\n";
	uint8_t garbage[4096];
	uint32_t x = 12345;

	(void)state;
	expect_refusal(text, sizeof(text), "not an ELF file");
	expect_refusal("", 0, "not an ELF file");
	for (size_t i = 0; i < sizeof(garbage); i++) {
		x = x * 1103515245 + 12345;
		garbage[i] = (uint8_t)(x >> 16);
	}
	expect_refusal(garbage, sizeof(garbage), "not an ELF file");
	memcpy(garbage, ELFMAG, SELFMAG); /* ELF magic, garbage after */
	garbage[EI_CLASS] = ELFCLASS64;
	garbage[EI_DATA] = ELFDATA2LSB;
	expect_refusal(garbage, sizeof(garbage), "not an eBPF object");
	expect_refusal(garbage, 20, "truncated ELF header");
}

static Elf64_Shdr *find_shdr(uint8_t *buf, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Shdr *sh = (Elf64_Shdr *)(buf + eh->e_shoff);
	const char *strs = (const char *)buf + sh[eh->e_shstrndx].sh_offset;

	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (!strcmp(strs + sh[i].sh_name, name))
			return &sh[i];
	fail_msg("no section %s", name);
	return NULL;
}

static void test_malformed_object(void **state)
{
	size_t size;
	uint8_t *orig = slurp("multi.bpf.o", &size), *buf = malloc(size);
	Elf64_Shdr *sh;
	Elf64_Rel *rel;

	(void)state;
	assert_non_null(buf);
	/* wrong machine: x86-64 */
	memcpy(buf, orig, size);
	((Elf64_Ehdr *)buf)->e_machine = EM_X86_64;
	expect_refusal(buf, size, "not an eBPF object (e_machine 62");

	/* big-endian */
	memcpy(buf, orig, size);
	buf[EI_DATA] = ELFDATA2MSB;
	expect_refusal(buf, size, "big-endian");

	/* truncated: the section headers sit at the end of the file */
	expect_refusal(orig, size - 100, "truncated");
	expect_refusal(orig, 200, "truncated");

	/* truncated section: code section claims to run past the end */
	memcpy(buf, orig, size);
	sh = find_shdr(buf, "xdp");
	sh->sh_size = size;
	expect_refusal(buf, size, "truncated: section xdp");

	/* relocation pointing outside its section */
	memcpy(buf, orig, size);
	sh = find_shdr(buf, ".relxdp");
	rel = (Elf64_Rel *)(buf + sh->sh_offset);
	rel->r_offset = 1u << 20;
	expect_refusal(buf, size, "points outside section xdp");

	/* unknown relocation type */
	memcpy(buf, orig, size);
	sh = find_shdr(buf, ".relxdp");
	rel = (Elf64_Rel *)(buf + sh->sh_offset);
	rel->r_info = ELF64_R_INFO(ELF64_R_SYM(rel->r_info), 99);
	expect_refusal(buf, size, "unknown relocation type 99");

	/* relocation naming a symbol that does not exist */
	memcpy(buf, orig, size);
	sh = find_shdr(buf, ".relxdp");
	rel = (Elf64_Rel *)(buf + sh->sh_offset);
	rel->r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(rel->r_info));
	expect_refusal(buf, size, "symbol index 100000 out of range");

	/* code section not a multiple of 8 bytes */
	memcpy(buf, orig, size);
	find_shdr(buf, "socket")->sh_size -= 4;
	expect_refusal(buf, size, "not a whole number of instructions");

	free(buf);
	free(orig);
}

/* A call whose target is outside the code. */
static void test_call_to_nowhere(void **state)
{
	size_t size;
	uint8_t *buf = slurp("textonly.bpf.o", &size);
	struct bext_insn *in = (struct bext_insn *)(buf + find_shdr(buf, ".text")->sh_offset);

	(void)state;
	assert_true(CALL_LOCAL(in[3]));
	in[3].imm = 1000;
	expect_refusal(buf, size, "outside section .text");
	in[3].imm = -10;
	expect_refusal(buf, size, "outside section .text");
	free(buf);
}

/* Every prefix and many corrupted copies: refused or accepted, never a crash. */
static void test_no_crash(void **state)
{
	size_t size, accepted = 0;
	uint8_t *orig = slurp("multi.bpf.o", &size), *buf = malloc(size);
	uint32_t x = 42;

	(void)state;
	assert_non_null(buf);
	for (size_t len = 0; len < size; len += 13) {
		struct bext_obj *obj = bext_obj__open_mem(orig, len, "prefix", err, sizeof(err));

		assert_null(obj); /* any proper prefix loses the section headers */
	}
	for (int round = 0; round < 1500; round++) {
		struct bext_obj *obj;

		memcpy(buf, orig, size);
		for (int k = 0; k < 1 + round % 8; k++) {
			x = x * 1103515245 + 12345;
			buf[(x >> 8) % size] ^= (uint8_t)(1u << ((x >> 4) % 8));
		}
		obj = bext_obj__open_mem(buf, size, "flipped", err, sizeof(err));
		accepted += obj != NULL;
		bext_obj__close(obj);
	}
	assert_true(accepted > 0); /* bits in DWARF and padding do not matter */
	free(buf);
	free(orig);
}

static void test_open_errors(void **state)
{
	(void)state;
	errno = 0;
	assert_null(bext_obj__open("/nonexistent/x.o", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.o"));
	errno = 0;
	assert_null(bext_obj__open("/", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	bext_obj__close(NULL);
	assert_null(bext_obj__open_mem("x", 1, NULL, NULL, 0)); /* no err buffer: fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_maps),
	    cmocka_unit_test(test_progs),
	    cmocka_unit_test(test_link_calls),
	    cmocka_unit_test(test_link_refs),
	    cmocka_unit_test(test_text_only),
	    cmocka_unit_test(test_malformed_simple),
	    cmocka_unit_test(test_malformed_object),
	    cmocka_unit_test(test_call_to_nowhere),
	    cmocka_unit_test(test_no_crash),
	    cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

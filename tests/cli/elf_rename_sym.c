// SPDX-License-Identifier: MIT
/*
 * elf_rename_sym IN OUT OLD NEW: copies the 64-bit ELF file IN to OUT with
 * the symbol name OLD in the symbol table's string table changed to NEW (of
 * the same length). Nothing else changes: .BTF still names OLD, so a BTF
 * variable loses its symbol (tests/cli/global_data.sh, an unusable DATASEC).
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Renames in the string table of the first SHT_SYMTAB; 0 when done. */
static int rename_sym(unsigned char *buf, size_t size, const char *old, const char *new)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	const Elf64_Shdr *sh;
	size_t len = strlen(old), i;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return -1;
	sh = (const Elf64_Shdr *)(buf + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *str;
		unsigned char *p, *end;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		if (str->sh_offset > size || size - str->sh_offset < str->sh_size)
			return -1;
		p = buf + str->sh_offset;
		end = p + str->sh_size;
		for (; p + len + 2 <= end; p++) {
			if (p[0] == 0 && !memcmp(p + 1, old, len) && p[len + 1] == 0) {
				memcpy(p + 1, new, len);
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	size_t size = 0;
	FILE *f;
	int ok;

	if (argc != 5 || strlen(argv[3]) != strlen(argv[4]) || !argv[3][0]) {
		fprintf(stderr, "usage: elf_rename_sym IN OUT OLD NEW (same length)\n");
		return 2;
	}
	buf = read_file(argv[1], &size);
	if (!buf) {
		fprintf(stderr, "elf_rename_sym: cannot read %s\n", argv[1]);
		return 1;
	}
	if (rename_sym(buf, size, argv[3], argv[4])) {
		fprintf(stderr, "elf_rename_sym: no symbol %s in %s\n", argv[3], argv[1]);
		free(buf);
		return 1;
	}
	f = fopen(argv[2], "wb");
	ok = f && fwrite(buf, 1, size, f) == size;
	if (f && fclose(f))
		ok = 0;
	free(buf);
	if (!ok) {
		fprintf(stderr, "elf_rename_sym: cannot write %s\n", argv[2]);
		return 1;
	}
	return 0;
}

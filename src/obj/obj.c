/* SPDX-License-Identifier: MIT */
/*
 * Reading eBPF ELF objects: sections, symbols, relocations (libelf/gelf),
 * map definitions (BTF, through libbpf's btf API), then linking each program
 * (link.c).
 *
 * Hostile input is expected (a fuzz target feeds this): every offset and size
 * read from the file is checked against the file or the section it points
 * into before use, so a malformed object fails with a message, never a
 * crash. The whole file is copied into obj->buf; sections, names and initial
 * map values point into that copy for the object's lifetime.
 *
 * Only the parts of the format a userspace runtime needs are interpreted:
 * CO-RE relocations (.BTF.ext) and DWARF are ignored, externs and the legacy
 * `maps` section are rejected.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "obj_internal.h"

int obj_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_data_name(const char *n, enum bext_obj_map_kind *kind)
{
	static const struct {
		const char *name;
		enum bext_obj_map_kind kind;
	} names[] = {
	    {".data", BEXT_OBJ_MAP_DATA},
	    {".rodata", BEXT_OBJ_MAP_RODATA},
	    {".bss", BEXT_OBJ_MAP_BSS},
	};

	for (size_t i = 0; i < BEXT_ARRAY_SIZE(names); i++) {
		size_t len = strlen(names[i].name);

		if (!strncmp(n, names[i].name, len) && (n[len] == 0 || n[len] == '.')) {
			*kind = names[i].kind;
			return true;
		}
	}
	return false;
}

/* Checks the ELF header by hand, so each refusal names its reason. */
static int check_header(const uint8_t *buf, size_t size, const char *name, char *err,
			size_t err_len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;

	if (size < SELFMAG || memcmp(buf, ELFMAG, SELFMAG))
		return obj_err(err, err_len, "%s: not an ELF file", name);
	if (size < EI_NIDENT || buf[EI_CLASS] != ELFCLASS64)
		return obj_err(err, err_len, "%s: not a 64-bit ELF file (eBPF objects are ELF64)",
			       name);
	if (buf[EI_DATA] != ELFDATA2LSB)
		return obj_err(err, err_len,
			       "%s: big-endian ELF (bpfeb) is not supported; compile with -target "
			       "bpf or bpfel",
			       name);
	if (size < sizeof(Elf64_Ehdr))
		return obj_err(err, err_len, "%s: truncated ELF header (%zu bytes)", name, size);
	if (eh->e_machine != EM_BPF)
		return obj_err(err, err_len,
			       "%s: not an eBPF object (e_machine %u, expected EM_BPF %u)", name,
			       eh->e_machine, EM_BPF);
	if (eh->e_type != ET_REL)
		return obj_err(err, err_len, "%s: not a relocatable object (e_type %u)", name,
			       eh->e_type);
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return obj_err(err, err_len, "%s: bad section header size %u", name,
			       eh->e_shentsize);
	if (eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return obj_err(err, err_len, "%s: truncated: section headers end beyond the file",
			       name);
	if (eh->e_shnum == 0)
		return obj_err(err, err_len, "%s: no sections", name);
	return 0;
}

static int read_sections(struct bext_obj *obj, Elf *elf, size_t *symtab, char *err, size_t err_len)
{
	size_t shstrndx;

	if (elf_getshdrnum(elf, &obj->n_secs) || elf_getshdrstrndx(elf, &shstrndx))
		return obj_err(err, err_len, "%s: bad section table: %s", obj->name,
			       elf_errmsg(-1));
	obj->secs = calloc(obj->n_secs, sizeof(*obj->secs));
	if (!obj->secs)
		return -ENOMEM;
	*symtab = 0;
	for (size_t i = 1; i < obj->n_secs; i++) {
		struct obj_sec *sec = &obj->secs[i];
		Elf_Scn *scn = elf_getscn(elf, i);
		enum bext_obj_map_kind kind;
		GElf_Shdr sh;

		sec->map_idx = -1;
		if (!scn || !gelf_getshdr(scn, &sh))
			return obj_err(err, err_len, "%s: section %zu: %s", obj->name, i,
				       elf_errmsg(-1));
		sec->name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sec->name)
			return obj_err(err, err_len,
				       "%s: section %zu: name outside the string table", obj->name,
				       i);
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > obj->size || obj->size - sh.sh_offset < sh.sh_size))
			return obj_err(err, err_len,
				       "%s: truncated: section %s (offset %llu, %llu bytes) ends "
				       "beyond the file (%zu bytes)",
				       obj->name, sec->name, (unsigned long long)sh.sh_offset,
				       (unsigned long long)sh.sh_size, obj->size);
		sec->size = sh.sh_size;
		sec->data = sh.sh_type == SHT_NOBITS ? NULL : obj->buf + sh.sh_offset;

		if (sh.sh_type == SHT_SYMTAB) {
			if (*symtab)
				return obj_err(err, err_len, "%s: more than one symbol table",
					       obj->name);
			*symtab = i;
		} else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR)) {
			if (sh.sh_size % 8)
				return obj_err(err, err_len,
					       "%s: code section %s is %llu bytes, not a whole "
					       "number of instructions",
					       obj->name, sec->name,
					       (unsigned long long)sh.sh_size);
			sec->kind = SEC_CODE;
			sec->reloc_of = malloc((sh.sh_size / 8 + 1) * sizeof(int32_t));
			if (!sec->reloc_of)
				return -ENOMEM;
			memset(sec->reloc_of, 0xff, (sh.sh_size / 8 + 1) * sizeof(int32_t));
		} else if (!strcmp(sec->name, ".maps")) {
			sec->kind = SEC_MAPS;
		} else if (!strcmp(sec->name, "maps")) {
			return obj_err(err, err_len,
				       "%s: legacy 'maps' section (struct bpf_map_def) is not "
				       "supported; define maps in SEC(\".maps\")",
				       obj->name);
		} else if ((sh.sh_flags & SHF_ALLOC) && is_data_name(sec->name, &kind)) {
			sec->kind = SEC_DATA;
		} else if (!strcmp(sec->name, "license") && sec->data && sec->size &&
			   memchr(sec->data, 0, sec->size)) {
			obj->license = (const char *)sec->data;
		}
	}
	if (!*symtab)
		return obj_err(err, err_len, "%s: no symbol table", obj->name);
	return 0;
}

static int read_symbols(struct bext_obj *obj, Elf *elf, size_t symtab, char *err, size_t err_len)
{
	Elf_Scn *scn = elf_getscn(elf, symtab);
	Elf_Data *data = elf_getdata(scn, NULL);
	GElf_Shdr sh;

	if (!data || !gelf_getshdr(scn, &sh))
		return obj_err(err, err_len, "%s: unreadable symbol table: %s", obj->name,
			       elf_errmsg(-1));
	if (sh.sh_entsize != sizeof(Elf64_Sym))
		return obj_err(err, err_len, "%s: bad symbol size %llu", obj->name,
			       (unsigned long long)sh.sh_entsize);
	obj->n_syms = data->d_size / sizeof(Elf64_Sym);
	obj->syms = calloc(obj->n_syms + 1, sizeof(*obj->syms));
	if (!obj->syms)
		return -ENOMEM;
	for (size_t i = 0; i < obj->n_syms; i++) {
		struct obj_sym *s = &obj->syms[i];
		GElf_Sym sym;

		if (!gelf_getsym(data, (int)i, &sym))
			return obj_err(err, err_len, "%s: symbol %zu: %s", obj->name, i,
				       elf_errmsg(-1));
		s->name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!s->name)
			return obj_err(err, err_len,
				       "%s: symbol %zu: name outside the string table", obj->name,
				       i);
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->type = GELF_ST_TYPE(sym.st_info);
		s->bind = GELF_ST_BIND(sym.st_info);
		if (sym.st_shndx >= SHN_LORESERVE) {
			s->shndx = 0; /* SHN_ABS, SHN_COMMON: treated as undefined */
			continue;
		}
		if (sym.st_shndx >= obj->n_secs)
			return obj_err(err, err_len,
				       "%s: symbol '%s': section index %u out of range", obj->name,
				       s->name, sym.st_shndx);
		s->shndx = sym.st_shndx;
		if (s->type == STT_FUNC && obj->secs[s->shndx].kind == SEC_CODE) {
			const struct obj_sec *sec = &obj->secs[s->shndx];

			if (s->value % 8 || s->size % 8 || s->value > sec->size ||
			    sec->size - s->value < s->size)
				return obj_err(err, err_len,
					       "%s: function '%s' (offset %llu, %llu bytes) lies "
					       "outside section %s or off instruction boundaries",
					       obj->name, s->name, (unsigned long long)s->value,
					       (unsigned long long)s->size, sec->name);
			if (!s->size) /* assembler without .size: up to the section end */
				s->size = sec->size - s->value;
		}
	}
	return 0;
}

static int read_relocs(struct bext_obj *obj, Elf *elf, size_t symtab, char *err, size_t err_len)
{
	size_t total = 0, n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 1; i < obj->n_secs; i++) {
			Elf_Scn *scn = elf_getscn(elf, i);
			struct obj_sec *tgt;
			Elf_Data *data;
			GElf_Shdr sh;
			size_t cnt;

			if (!gelf_getshdr(scn, &sh) ||
			    (sh.sh_type != SHT_REL && sh.sh_type != SHT_RELA))
				continue;
			if (sh.sh_info == 0 || sh.sh_info >= obj->n_secs)
				return obj_err(
				    err, err_len,
				    "%s: relocation section %s applies to section %u, out of range",
				    obj->name, obj->secs[i].name, sh.sh_info);
			tgt = &obj->secs[sh.sh_info];
			if (tgt->kind != SEC_CODE)
				continue; /* .BTF, .BTF.ext, DWARF, .maps inner maps: not needed */
			if (sh.sh_type == SHT_RELA)
				return obj_err(err, err_len,
					       "%s: %s: RELA relocations are not used by eBPF",
					       obj->name, obj->secs[i].name);
			if (sh.sh_link != symtab)
				return obj_err(err, err_len,
					       "%s: %s: relocations refer to another symbol table",
					       obj->name, obj->secs[i].name);
			if (sh.sh_entsize != sizeof(Elf64_Rel))
				return obj_err(err, err_len, "%s: %s: bad relocation entry size",
					       obj->name, obj->secs[i].name);
			data = elf_getdata(scn, NULL);
			if (!data)
				return obj_err(err, err_len, "%s: %s: %s", obj->name,
					       obj->secs[i].name, elf_errmsg(-1));
			cnt = data->d_size / sizeof(Elf64_Rel);
			if (pass == 0) {
				total += cnt;
				continue;
			}
			for (size_t k = 0; k < cnt; k++) {
				GElf_Rel rel;
				uint32_t type, sym;

				if (!gelf_getrel(data, (int)k, &rel))
					return obj_err(err, err_len, "%s: %s: %s", obj->name,
						       obj->secs[i].name, elf_errmsg(-1));
				type = GELF_R_TYPE(rel.r_info);
				sym = GELF_R_SYM(rel.r_info);
				if (rel.r_offset % 8 || rel.r_offset >= tgt->size)
					return obj_err(err, err_len,
						       "%s: relocation %zu of %s points outside "
						       "section %s (offset %llu, size %zu)",
						       obj->name, k, obj->secs[i].name, tgt->name,
						       (unsigned long long)rel.r_offset, tgt->size);
				if (sym >= obj->n_syms)
					return obj_err(err, err_len,
						       "%s: relocation %zu of %s: symbol index %u "
						       "out of range",
						       obj->name, k, obj->secs[i].name, sym);
				if (type != R_BPF_64_64 && type != R_BPF_64_32 &&
				    type != R_BPF_NONE)
					return obj_err(err, err_len,
						       "%s: relocation %zu of %s: unknown "
						       "relocation type %u for code",
						       obj->name, k, obj->secs[i].name, type);
				if (tgt->reloc_of[rel.r_offset / 8] >= 0)
					return obj_err(
					    err, err_len, "%s: two relocations on insn %llu of %s",
					    obj->name, (unsigned long long)(rel.r_offset / 8),
					    tgt->name);
				obj->relocs[n] = (struct obj_reloc){.type = type, .sym = sym};
				tgt->reloc_of[rel.r_offset / 8] = (int32_t)n++;
			}
		}
		if (pass == 0) {
			if (total > INT32_MAX)
				return obj_err(err, err_len, "%s: too many relocations", obj->name);
			obj->relocs = calloc(total + 1, sizeof(*obj->relocs));
			if (!obj->relocs)
				return -ENOMEM;
		}
	}
	obj->n_relocs = n;
	return 0;
}

/* The value N of a `__uint(name, N)` member: int (*name)[N]. */
static bool btf_uint_member(const struct btf *btf, uint32_t type_id, uint32_t *val)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);

	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_array(t))
		return false;
	*val = btf_array(t)->nelems;
	return true;
}

/* Size of the type a `__type(name, T)` member points to: T *name. */
static bool btf_type_member(const struct btf *btf, uint32_t type_id, uint32_t *size)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);
	long sz;

	if (!t || !btf_is_ptr(t))
		return false;
	sz = btf__resolve_size(btf, t->type);
	if (sz < 0 || sz > UINT32_MAX)
		return false;
	*size = (uint32_t)sz;
	return true;
}

/* The type id a pointer member points to (checked a pointer by btf_type_member). */
static uint32_t btf_pointee(const struct btf *btf, uint32_t type_id)
{
	return btf__type_by_id(btf, type_id)->type;
}

/* Kernel map types (UAPI numbers) this file needs to tell apart. */
#define MAP_TYPE_ARRAY 2
#define MAP_TYPE_PROG_ARRAY 3
#define MAP_TYPE_ARRAY_OF_MAPS 12
#define MAP_TYPE_HASH_OF_MAPS 13

static bool is_map_in_map(uint32_t type)
{
	return type == MAP_TYPE_ARRAY_OF_MAPS || type == MAP_TYPE_HASH_OF_MAPS;
}

/* Skips typedefs and modifiers (const, volatile, restrict, type tags). */
static uint32_t btf_skip_mods(const struct btf *btf, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	for (int depth = 0; t && depth < 32 && (btf_is_mod(t) || btf_is_typedef(t)); depth++) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	return id;
}

/*
 * `__array(values, T)`: a zero-length array of pointers to T. A function
 * prototype T (prog arrays) gives PROG, a struct T (an inner map definition)
 * gives MAP and its id in *inner; anything else 0.
 */
static enum bext_obj_init_kind btf_values_member(const struct btf *btf, uint32_t type_id,
						 uint32_t *inner)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);

	if (!t || !btf_is_array(t))
		return 0;
	t = btf__type_by_id(btf, btf_skip_mods(btf, btf_array(t)->type));
	if (!t || !btf_is_ptr(t))
		return 0;
	*inner = btf_skip_mods(btf, t->type);
	t = btf__type_by_id(btf, *inner);
	if (t && btf_is_func_proto(t))
		return BEXT_OBJ_INIT_PROG;
	if (t && btf_is_struct(t))
		return BEXT_OBJ_INIT_MAP;
	return 0;
}

/*
 * Reads the definition struct of a `.maps` variable into @map. A `values`
 * member is only recorded here (checked by check_values()); for a map-in-map
 * at the outer level (@outer) its inner definition becomes map->inner.
 * Returns 0 or -ENOMEM.
 */
static int parse_map_def(const struct btf *btf, uint32_t var_type, struct bext_obj_map *map,
			 bool outer)
{
	int id = btf__resolve_type(btf, var_type); /* skips typedef/const/volatile */
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_member *m;
	uint32_t inner_id = 0;

	if (!t || !btf_is_struct(t))
		return 0;
	m = btf_members(t);
	for (unsigned i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);

		if (!mn)
			continue;
		if (!strcmp(mn, "type"))
			btf_uint_member(btf, m->type, &map->type);
		else if (!strcmp(mn, "max_entries"))
			btf_uint_member(btf, m->type, &map->max_entries);
		else if (!strcmp(mn, "map_flags"))
			btf_uint_member(btf, m->type, &map->flags);
		else if (!strcmp(mn, "key_size"))
			btf_uint_member(btf, m->type, &map->key_size);
		else if (!strcmp(mn, "value_size"))
			btf_uint_member(btf, m->type, &map->value_size);
		else if (!strcmp(mn, "key") && btf_type_member(btf, m->type, &map->key_size))
			map->btf_key_type_id = btf_pointee(btf, m->type);
		else if (!strcmp(mn, "value") && btf_type_member(btf, m->type, &map->value_size))
			map->btf_value_type_id = btf_pointee(btf, m->type);
		else if (!strcmp(mn, "values")) {
			uint32_t bits = btf_member_bit_offset(t, i);

			map->has_values = true;
			map->values_kind = btf_values_member(btf, m->type, &inner_id);
			if (bits % 64)
				map->values_kind = 0; /* not pointer-aligned: refused later */
			map->values_off = bits / 8;
		}
	}
	map->has_def = true;
	if (map->has_values && !map->value_size)
		map->value_size = 4; /* the slots hold 4-byte ids */
	if (outer && map->has_values && map->values_kind == BEXT_OBJ_INIT_MAP &&
	    is_map_in_map(map->type)) {
		char name[512];

		snprintf(name, sizeof(name), "%s.inner", map->name);
		map->inner = calloc(1, sizeof(*map->inner));
		if (!map->inner || !(map->inner->name = strdup(name)))
			return -ENOMEM;
		map->inner->kind = BEXT_OBJ_MAP_BTF;
		return parse_map_def(btf, inner_id, map->inner, false);
	}
	return 0;
}

/* A `values` member that cannot describe this map's slots: -EINVAL with a message. */
static int check_values(const struct bext_obj *obj, const struct bext_obj_map *map, char *err,
			size_t err_len)
{
	if (!map->has_values)
		return 0;
	if (map->type != MAP_TYPE_PROG_ARRAY && !is_map_in_map(map->type))
		return obj_err(err, err_len,
			       "%s: map %s: __array(values, ...) is only for prog arrays and "
			       "maps of maps, not map type %u",
			       obj->name, map->name, map->type);
	if (map->type == MAP_TYPE_PROG_ARRAY && map->values_kind != BEXT_OBJ_INIT_PROG)
		return obj_err(err, err_len,
			       "%s: map %s: the values of a prog array must be function "
			       "pointers (__array(values, int (void *)))",
			       obj->name, map->name);
	if (is_map_in_map(map->type) && map->values_kind != BEXT_OBJ_INIT_MAP)
		return obj_err(err, err_len,
			       "%s: map %s: the values of a map of maps must be pointers to a "
			       "map definition (__array(values, struct inner))",
			       obj->name, map->name);
	if (map->value_size != 4)
		return obj_err(err, err_len,
			       "%s: map %s: value size %u, but its slots hold 4-byte ids",
			       obj->name, map->name, map->value_size);
	return 0;
}

/* libbpf's messages about broken BTF go to bext's channel, not to stderr. */
int obj_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[256];

	(void)level;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pr_debug("libbpf: %s", msg);
	return 0;
}

/*
 * BTF map definitions, through libbpf's btf API. libbpf prints complaints
 * about malformed BTF with its global print callback (stderr by default); it
 * is redirected for the duration of btf__new(). That swap is process-global:
 * a thread using libbpf at the same moment would see its messages go to
 * bext's channel too, which is harmless.
 */
static int read_map_defs(struct bext_obj *obj, char *err, size_t err_len)
{
	const struct obj_sec *btf_sec = NULL;
	const struct btf_var_secinfo *vs;
	const struct btf_type *ds;
	libbpf_print_fn_t old;
	struct btf *btf;
	int id, ret = 0;

	for (size_t i = 1; i < obj->n_secs; i++)
		if (!strcmp(obj->secs[i].name, ".BTF") && obj->secs[i].data)
			btf_sec = &obj->secs[i];
	if (!btf_sec || btf_sec->size > UINT32_MAX)
		return 0;
	old = libbpf_set_print(obj_libbpf_print);
	btf = btf__new(btf_sec->data, (uint32_t)btf_sec->size);
	libbpf_set_print(old);
	if (!btf) {
		pr_warn("%s: unreadable .BTF, map definitions unknown\n", obj->name);
		return 0;
	}
	id = btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
	ds = id > 0 ? btf__type_by_id(btf, id) : NULL;
	vs = ds ? btf_var_secinfos(ds) : NULL;
	for (unsigned i = 0; ds && i < btf_vlen(ds) && !ret; i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		const char *vn = var ? btf__name_by_offset(btf, var->name_off) : NULL;

		if (!var || !btf_is_var(var) || !vn)
			continue;
		for (size_t k = 0; k < obj->n_maps && !ret; k++)
			if (obj->maps[k].kind == BEXT_OBJ_MAP_BTF && !strcmp(obj->maps[k].name, vn))
				ret = parse_map_def(btf, var->type, &obj->maps[k], true);
	}
	btf__free(btf);
	for (size_t k = 0; k < obj->n_maps && !ret; k++)
		ret = check_values(obj, &obj->maps[k], err, err_len);
	return ret;
}

static int cmp_map_off(const void *a, const void *b)
{
	const struct bext_obj_map *x = a, *y = b;

	return x->sym_off < y->sym_off ? -1 : x->sym_off > y->sym_off;
}

static int read_maps(struct bext_obj *obj, char *err, size_t err_len)
{
	size_t n = 0, cap = 0;
	int ret;

	for (size_t i = 0; i < obj->n_syms; i++) {
		const struct obj_sym *s = &obj->syms[i];

		if (s->shndx && obj->secs[s->shndx].kind == SEC_MAPS && s->type != STT_SECTION &&
		    s->name[0])
			cap++;
	}
	for (size_t i = 1; i < obj->n_secs; i++)
		cap += obj->secs[i].kind == SEC_DATA;
	obj->maps = calloc(cap + 1, sizeof(*obj->maps));
	if (!obj->maps)
		return -ENOMEM;
	for (size_t i = 0; i < obj->n_syms; i++) {
		const struct obj_sym *s = &obj->syms[i];
		struct bext_obj_map *m = &obj->maps[n];

		if (!s->shndx || obj->secs[s->shndx].kind != SEC_MAPS || s->type == STT_SECTION ||
		    !s->name[0])
			continue;
		if (s->value >= obj->secs[s->shndx].size)
			return obj_err(err, err_len, "%s: map '%s' lies outside .maps", obj->name,
				       s->name);
		m->name = strdup(s->name);
		if (!m->name)
			return -ENOMEM;
		m->kind = BEXT_OBJ_MAP_BTF;
		m->sym_off = s->value;
		m->shndx = s->shndx;
		n++;
	}
	qsort(obj->maps, n, sizeof(*obj->maps), cmp_map_off);
	obj->n_maps = n;
	ret = read_map_defs(obj, err, err_len);
	if (ret)
		return ret;

	for (size_t i = 1; i < obj->n_secs; i++) {
		struct obj_sec *sec = &obj->secs[i];
		struct bext_obj_map *m = &obj->maps[obj->n_maps];

		if (sec->kind != SEC_DATA)
			continue;
		if (sec->size > UINT32_MAX)
			return obj_err(err, err_len, "%s: section %s too large", obj->name,
				       sec->name);
		m->name = strdup(sec->name);
		if (!m->name)
			return -ENOMEM;
		is_data_name(sec->name, &m->kind);
		m->has_def = true;
		m->type = MAP_TYPE_ARRAY;
		m->key_size = 4;
		m->value_size = (uint32_t)sec->size;
		m->max_entries = 1;
		m->flags = m->kind == BEXT_OBJ_MAP_RODATA ? (1u << 7) /* BPF_F_RDONLY_PROG */ : 0;
		m->init = m->kind == BEXT_OBJ_MAP_BSS ? NULL : sec->data;
		m->init_size = sec->size;
		m->shndx = (uint32_t)i;
		sec->map_idx = (int)obj->n_maps++;
	}
	return 0;
}

static int add_prog(struct bext_obj *obj, uint32_t shndx, const char *name, size_t off, size_t len)
{
	struct bext_obj_prog *p = &obj->progs[obj->n_progs];

	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	p->sec_name = obj->secs[shndx].name;
	p->shndx = shndx;
	p->off = off;
	p->len = len;
	obj->n_progs++;
	return 0;
}

/* Programs of section shndx: its functions in offset order, or the whole section. */
static int add_section_progs(struct bext_obj *obj, uint32_t shndx, bool global_only)
{
	const struct obj_sec *sec = &obj->secs[shndx];
	uint64_t pos = 0;
	bool any = false;
	int err;

	if (!sec->size)
		return 0;
	for (;;) { /* functions ordered by offset, without sorting the symbol table */
		const struct obj_sym *best = NULL;

		for (size_t i = 0; i < obj->n_syms; i++) {
			const struct obj_sym *s = &obj->syms[i];

			if (s->type != STT_FUNC || s->shndx != shndx || s->value < pos)
				continue;
			any = true;
			if (global_only && s->bind == STB_LOCAL)
				continue;
			if (!best || s->value < best->value)
				best = s;
		}
		if (!best)
			break;
		err = add_prog(obj, shndx, best->name, best->value / 8, best->size / 8);
		if (err)
			return err;
		pos = best->value + (best->size ? best->size : 8);
	}
	if (!any)
		return add_prog(obj, shndx, sec->name, 0, sec->size / 8);
	return 0;
}

static int read_progs(struct bext_obj *obj, char *err, size_t err_len)
{
	size_t text = 0;
	int ret;

	obj->progs = calloc(obj->n_syms + obj->n_secs + 1, sizeof(*obj->progs));
	if (!obj->progs)
		return -ENOMEM;
	for (size_t i = 1; i < obj->n_secs; i++) {
		if (obj->secs[i].kind != SEC_CODE)
			continue;
		if (!strcmp(obj->secs[i].name, ".text")) {
			text = i;
			continue;
		}
		ret = add_section_progs(obj, (uint32_t)i, false);
		if (ret)
			return ret;
	}
	if (!obj->n_progs && text) {
		ret = add_section_progs(obj, (uint32_t)text, true);
		if (ret)
			return ret;
	}
	if (!obj->n_progs)
		return obj_err(err, err_len, "%s: no programs (no code sections)", obj->name);
	for (size_t i = 0; i < obj->n_progs; i++) {
		ret = obj_link_prog(obj, &obj->progs[i], err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}

struct bext_obj *bext_obj__open_mem(const void *buf, size_t size, const char *name, char *err,
				    size_t err_len)
{
	struct bext_obj *obj;
	size_t symtab = 0;
	Elf *elf = NULL;
	int ret;

	if (err && err_len)
		err[0] = 0;
	if (!buf && size) {
		errno = EINVAL;
		return NULL;
	}
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		goto err_nomem;
	obj->name = strdup(name ? name : "<memory>");
	obj->buf = malloc(size ? size : 1);
	if (!obj->name || !obj->buf)
		goto err_nomem_obj;
	if (size)
		memcpy(obj->buf, buf, size);
	obj->size = size;
	obj->license = "";

	ret = check_header(obj->buf, size, obj->name, err, err_len);
	if (ret)
		goto err_obj;
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj->buf, size);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		ret = obj_err(err, err_len, "%s: libelf cannot read it: %s", obj->name,
			      elf_errmsg(-1));
		goto err_elf;
	}
	ret = read_sections(obj, elf, &symtab, err, err_len);
	if (!ret)
		ret = read_symbols(obj, elf, symtab, err, err_len);
	if (!ret)
		ret = read_relocs(obj, elf, symtab, err, err_len);
	if (!ret)
		ret = read_maps(obj, err, err_len);
	if (!ret)
		ret = read_progs(obj, err, err_len);
	if (!ret)
		ret = obj_read_map_inits(obj, elf, symtab, err, err_len);
	if (ret)
		goto err_elf;
	/* names point into obj->buf, which libelf never owned: safe to end it now */
	elf_end(elf);
	return obj;

err_elf:
	elf_end(elf);
err_obj:
	if (ret == -ENOMEM)
		obj_err(err, err_len, "%s: out of memory", obj->name);
	bext_obj__close(obj);
	errno = -ret;
	return NULL;
err_nomem_obj:
	bext_obj__close(obj);
err_nomem:
	obj_err(err, err_len, "%s: out of memory", name ? name : "<memory>");
	errno = ENOMEM;
	return NULL;
}

struct bext_obj *bext_obj__open(const char *path, char *err, size_t err_len)
{
	struct bext_obj *obj = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	int fd, saved;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		obj_err(err, err_len, "%s: %s", path, strerror(saved));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		saved = errno ? errno : EINVAL;
		if (!S_ISREG(st.st_mode))
			saved = EINVAL;
		obj_err(err, err_len, "%s: not a regular file", path);
		goto out_fd;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		saved = ENOMEM;
		obj_err(err, err_len, "%s: out of memory", path);
		goto out_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = n < 0 ? errno : EIO;
			obj_err(err, err_len, "%s: read: %s", path, strerror(saved));
			goto out_buf;
		}
		got += (size_t)n;
	}
	obj = bext_obj__open_mem(buf, got, path, err, err_len);
	saved = errno;
out_buf:
	free(buf);
out_fd:
	close(fd);
	errno = saved;
	return obj;
}

void bext_obj__close(struct bext_obj *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < obj->n_progs; i++) {
		free(obj->progs[i].name);
		free(obj->progs[i].insns);
	}
	for (size_t i = 0; i < obj->n_maps; i++) {
		free(obj->maps[i].name);
		free(obj->maps[i].inits);
		if (obj->maps[i].inner)
			free(obj->maps[i].inner->name);
		free(obj->maps[i].inner);
	}
	/* maps whose setup failed half-way: names beyond n_maps */
	if (obj->maps)
		for (size_t i = obj->n_maps; obj->maps[i].name; i++)
			free(obj->maps[i].name);
	for (size_t i = 0; i < obj->n_secs; i++)
		free(obj->secs[i].reloc_of);
	free(obj->progs);
	free(obj->maps);
	free(obj->relocs);
	free(obj->syms);
	free(obj->secs);
	free(obj->buf);
	free(obj->name);
	free(obj);
}

const char *bext_obj__license(const struct bext_obj *obj)
{
	return obj->license;
}

size_t bext_obj__prog_count(const struct bext_obj *obj)
{
	return obj->n_progs;
}

const struct bext_obj_prog *bext_obj__prog(const struct bext_obj *obj, size_t i)
{
	if (i >= obj->n_progs) {
		errno = ENOENT;
		return NULL;
	}
	return &obj->progs[i];
}

const struct bext_obj_prog *bext_obj__find_prog(const struct bext_obj *obj, const char *name)
{
	for (size_t i = 0; i < obj->n_progs; i++)
		if (!strcmp(obj->progs[i].name, name))
			return &obj->progs[i];
	for (size_t i = 0; i < obj->n_progs; i++)
		if (!strcmp(obj->progs[i].sec_name, name))
			return &obj->progs[i];
	errno = ENOENT;
	return NULL;
}

const char *bext_obj_prog__name(const struct bext_obj_prog *prog)
{
	return prog->name;
}

const char *bext_obj_prog__section_name(const struct bext_obj_prog *prog)
{
	return prog->sec_name;
}

const struct bext_insn *bext_obj_prog__insns(const struct bext_obj_prog *prog, size_t *n_insns)
{
	if (n_insns)
		*n_insns = prog->n_insns;
	return prog->insns;
}

size_t bext_obj_prog__main_len(const struct bext_obj_prog *prog)
{
	return prog->len;
}

size_t bext_obj__map_count(const struct bext_obj *obj)
{
	return obj->n_maps;
}

const struct bext_obj_map *bext_obj__map(const struct bext_obj *obj, size_t i)
{
	if (i >= obj->n_maps) {
		errno = ENOENT;
		return NULL;
	}
	return &obj->maps[i];
}

const struct bext_obj_map *bext_obj__find_map(const struct bext_obj *obj, const char *name)
{
	for (size_t i = 0; i < obj->n_maps; i++)
		if (!strcmp(obj->maps[i].name, name))
			return &obj->maps[i];
	errno = ENOENT;
	return NULL;
}

const char *bext_obj_map__name(const struct bext_obj_map *map)
{
	return map->name;
}

enum bext_obj_map_kind bext_obj_map__kind(const struct bext_obj_map *map)
{
	return map->kind;
}

bool bext_obj_map__has_def(const struct bext_obj_map *map)
{
	return map->has_def;
}

uint32_t bext_obj_map__type(const struct bext_obj_map *map)
{
	return map->type;
}

uint32_t bext_obj_map__key_size(const struct bext_obj_map *map)
{
	return map->key_size;
}

uint32_t bext_obj_map__value_size(const struct bext_obj_map *map)
{
	return map->value_size;
}

uint32_t bext_obj_map__max_entries(const struct bext_obj_map *map)
{
	return map->max_entries;
}

uint32_t bext_obj_map__flags(const struct bext_obj_map *map)
{
	return map->flags;
}

const void *bext_obj_map__initial_value(const struct bext_obj_map *map, size_t *size)
{
	if (size)
		*size = map->kind == BEXT_OBJ_MAP_BTF ? map->value_size : map->init_size;
	return map->init;
}

const void *bext_obj__btf(const struct bext_obj *obj, size_t *size)
{
	for (size_t i = 1; i < obj->n_secs; i++) {
		if (!strcmp(obj->secs[i].name, ".BTF") && obj->secs[i].data) {
			if (size)
				*size = obj->secs[i].size;
			return obj->secs[i].data;
		}
	}
	if (size)
		*size = 0;
	return NULL;
}

uint32_t bext_obj_map__btf_key_type_id(const struct bext_obj_map *map)
{
	return map->btf_key_type_id;
}

uint32_t bext_obj_map__btf_value_type_id(const struct bext_obj_map *map)
{
	return map->btf_value_type_id;
}

/* SPDX-License-Identifier: MIT */
/*
 * Static initialisers of prog arrays and maps of maps.
 *
 * BPF C declares them with a `values` member (`__array(values, T)`, a
 * zero-length array of pointers in the definition's BTF struct) and fills it
 * with `.values = { [i] = &prog_or_map }`. clang writes one R_BPF_64_ABS64
 * relocation into `.rel.maps` per initialised slot, at
 *
 *	offset = map symbol + offset of `values` + 8 * i
 *
 * against the program's function symbol, the inner map's symbol, or (for
 * static ones) the section symbol with the offset as implicit addend in the
 * 8 bytes relocated. Which slot and what it names is all this file keeps;
 * the loader creates the objects and fills the slots.
 */
#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "obj_internal.h"

#define MAP_TYPE_PROG_ARRAY 3

static int cmp_slot(const void *a, const void *b)
{
	const struct bext_obj_init_slot *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* The `.maps` map whose definition contains byte @off of section @shndx, or NULL. */
static struct bext_obj_map *map_at(struct bext_obj *obj, uint32_t shndx, uint64_t off)
{
	struct bext_obj_map *best = NULL;

	for (size_t i = 0; i < obj->n_maps; i++) {
		struct bext_obj_map *m = &obj->maps[i];

		if (m->kind == BEXT_OBJ_MAP_BTF && m->shndx == shndx && m->sym_off <= off &&
		    (!best || m->sym_off > best->sym_off))
			best = m;
	}
	return best;
}

/*
 * What symbol @sym + @addend names: a program (its index in *target) or a
 * `.maps` map. Returns the kind, or 0 with a message in err.
 */
static enum bext_obj_init_kind resolve(const struct bext_obj *obj, const struct bext_obj_map *m,
				       uint64_t index, const struct obj_sym *s, uint64_t addend,
				       size_t *target, char *err, size_t err_len)
{
	uint64_t off = s->value + addend;
	const struct obj_sec *sec;

	if (!s->shndx) {
		obj_err(err, err_len,
			"%s: map %s: slot [%llu] refers to the undefined symbol '%s' (an extern?)",
			obj->name, m->name, (unsigned long long)index, s->name);
		return 0;
	}
	sec = &obj->secs[s->shndx];
	if (sec->kind == SEC_CODE) {
		for (size_t i = 0; i < obj->n_progs; i++) {
			if (obj->progs[i].shndx == s->shndx && obj->progs[i].off * 8 == off) {
				*target = i;
				return BEXT_OBJ_INIT_PROG;
			}
		}
	} else if (sec->kind == SEC_MAPS) {
		for (size_t i = 0; i < obj->n_maps; i++) {
			if (obj->maps[i].kind == BEXT_OBJ_MAP_BTF &&
			    obj->maps[i].shndx == s->shndx && obj->maps[i].sym_off == off) {
				*target = i;
				return BEXT_OBJ_INIT_MAP;
			}
		}
	}
	obj_err(err, err_len,
		"%s: map %s: slot [%llu] refers to '%s' (section %s, offset %llu), which is "
		"neither a program nor a map of .maps",
		obj->name, m->name, (unsigned long long)index, s->name[0] ? s->name : sec->name,
		sec->name, (unsigned long long)off);
	return 0;
}

/* One relocation of a `.maps` section: checked, then added to its map's slots. */
static int add_reloc(struct bext_obj *obj, const struct obj_sec *maps, uint32_t shndx,
		     const GElf_Rel *rel, char *err, size_t err_len)
{
	uint32_t type = GELF_R_TYPE(rel->r_info), sym = GELF_R_SYM(rel->r_info);
	struct bext_obj_init_slot *slots;
	enum bext_obj_init_kind kind;
	struct bext_obj_map *m;
	uint64_t addend = 0, index, first;
	size_t target = 0;

	if (type == R_BPF_NONE)
		return 0;
	if (type != R_BPF_64_ABS64)
		return obj_err(err, err_len,
			       "%s: relocation at %s offset %llu has type %u, expected "
			       "R_BPF_64_ABS64 (%u)",
			       obj->name, maps->name, (unsigned long long)rel->r_offset, type,
			       R_BPF_64_ABS64);
	if (rel->r_offset > maps->size || maps->size - rel->r_offset < 8)
		return obj_err(err, err_len,
			       "%s: relocation at %s offset %llu lies outside the section "
			       "(%zu bytes)",
			       obj->name, maps->name, (unsigned long long)rel->r_offset,
			       maps->size);
	if (sym >= obj->n_syms)
		return obj_err(err, err_len,
			       "%s: relocation at %s offset %llu: symbol %u out of range",
			       obj->name, maps->name, (unsigned long long)rel->r_offset, sym);
	m = map_at(obj, shndx, rel->r_offset);
	if (!m)
		return obj_err(err, err_len,
			       "%s: relocation at %s offset %llu lies before every map", obj->name,
			       maps->name, (unsigned long long)rel->r_offset);
	if (!m->has_def)
		return 0; /* no BTF: the loader refuses the map anyway */
	first = m->sym_off + m->values_off;
	if (!m->has_values || rel->r_offset < first || (rel->r_offset - first) % 8)
		return obj_err(err, err_len,
			       "%s: map %s: relocation at %s offset %llu is not in its "
			       "__array(values, ...) initialiser",
			       obj->name, m->name, maps->name, (unsigned long long)rel->r_offset);
	index = (rel->r_offset - first) / 8;
	if (index >= m->max_entries)
		return obj_err(
		    err, err_len,
		    "%s: map %s: initialiser slot [%llu] is out of range (max_entries %u)",
		    obj->name, m->name, (unsigned long long)index, m->max_entries);
	/* the loader stores slot [i] under the 4-byte key i (a hash of maps may have others) */
	if (m->key_size != 4)
		return obj_err(err, err_len,
			       "%s: map %s: initialiser slot [%llu] needs 4-byte keys, but the "
			       "key size is %u",
			       obj->name, m->name, (unsigned long long)index, m->key_size);
	if (maps->data)
		memcpy(&addend, maps->data + rel->r_offset, sizeof(addend));
	kind = resolve(obj, m, index, &obj->syms[sym], addend, &target, err, err_len);
	if (!kind)
		return -EINVAL;
	if (kind != m->values_kind)
		return obj_err(
		    err, err_len, "%s: map %s: slot [%llu] is %s '%s', but a %s holds %s",
		    obj->name, m->name, (unsigned long long)index,
		    kind == BEXT_OBJ_INIT_PROG ? "program" : "map",
		    kind == BEXT_OBJ_INIT_PROG ? obj->progs[target].name : obj->maps[target].name,
		    m->type == MAP_TYPE_PROG_ARRAY ? "prog array" : "map of maps",
		    m->type == MAP_TYPE_PROG_ARRAY ? "programs" : "maps");
	/* duplicates are found once all are read (sorted): linear, whatever the count */
	if ((m->n_inits & (m->n_inits - 1)) == 0) { /* 0, 1, 2, 4...: grow by doubling */
		slots = realloc(m->inits, (m->n_inits ? 2 * m->n_inits : 1) * sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		m->inits = slots;
	}
	slots = m->inits;
	slots[m->n_inits++] = (struct bext_obj_init_slot){
	    .index = (uint32_t)index,
	    .kind = kind,
	    .target = target,
	    .name = kind == BEXT_OBJ_INIT_PROG ? obj->progs[target].name : obj->maps[target].name,
	};
	return 0;
}

int obj_read_map_inits(struct bext_obj *obj, Elf *elf, size_t symtab, char *err, size_t err_len)
{
	int ret;

	for (size_t i = 1; i < obj->n_secs; i++) {
		Elf_Scn *scn = elf_getscn(elf, i);
		const struct obj_sec *maps;
		Elf_Data *data;
		GElf_Shdr sh;
		size_t cnt;

		if (!scn || !gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_REL && sh.sh_type != SHT_RELA))
			continue;
		if (sh.sh_info == 0 || sh.sh_info >= obj->n_secs ||
		    obj->secs[sh.sh_info].kind != SEC_MAPS)
			continue; /* read_relocs() checked the range */
		maps = &obj->secs[sh.sh_info];
		if (sh.sh_type == SHT_RELA || sh.sh_link != symtab ||
		    sh.sh_entsize != sizeof(Elf64_Rel))
			return obj_err(err, err_len,
				       "%s: %s: not REL entries against the symbol table",
				       obj->name, obj->secs[i].name);
		data = elf_getdata(scn, NULL);
		if (!data)
			return obj_err(err, err_len, "%s: %s: %s", obj->name, obj->secs[i].name,
				       elf_errmsg(-1));
		cnt = data->d_size / sizeof(Elf64_Rel);
		for (size_t k = 0; k < cnt; k++) {
			GElf_Rel rel;

			if (!gelf_getrel(data, (int)k, &rel))
				return obj_err(err, err_len, "%s: %s: %s", obj->name,
					       obj->secs[i].name, elf_errmsg(-1));
			ret = add_reloc(obj, maps, sh.sh_info, &rel, err, err_len);
			if (ret)
				return ret;
		}
	}
	for (size_t i = 0; i < obj->n_maps; i++) {
		struct bext_obj_map *m = &obj->maps[i];

		if (m->n_inits < 2)
			continue;
		qsort(m->inits, m->n_inits, sizeof(*m->inits), cmp_slot);
		for (size_t k = 1; k < m->n_inits; k++)
			if (m->inits[k].index == m->inits[k - 1].index)
				return obj_err(err, err_len,
					       "%s: map %s: slot [%u] is initialised twice",
					       obj->name, m->name, m->inits[k].index);
	}
	return 0;
}

const struct bext_obj_init_slot *bext_obj_map__init_slots(const struct bext_obj_map *map, size_t *n)
{
	if (n)
		*n = map->n_inits;
	return map->n_inits ? map->inits : NULL;
}

const struct bext_obj_map *bext_obj_map__inner(const struct bext_obj_map *map)
{
	if (!map->inner)
		errno = ENOENT;
	return map->inner;
}

/* SPDX-License-Identifier: MIT */
/*
 * BTF for the global data maps (.data*, .rodata*, .bss*).
 *
 * clang describes each data section in .BTF by a DATASEC whose variables
 * (VAR types) are the section's globals, but in a relocatable object it
 * leaves the DATASEC's size and every variable's offset at 0: those are only
 * known from the ELF side (the section's size, each symbol's value). A map
 * whose value is the section needs them filled in before its BTF means
 * anything, so bext_obj__data_map_btf() builds a new blob: every type copied
 * unchanged (same ids) through libbpf's BTF writer, except the DATASECs of
 * the object's data sections, which are written again with the section's
 * size and each variable at its symbol's offset.
 *
 * A DATASEC that does not describe its section (a variable with no symbol in
 * the section, one that lies outside it or whose type has another size) is
 * left as clang wrote it; for the map asked about that is an error (EINVAL),
 * so the caller creates the map without BTF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <elf.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "obj_internal.h"

/* The data section (index) a DATASEC named @name stands for, or 0. */
static uint32_t data_sec_of(const struct bext_obj *obj, const char *name)
{
	for (size_t i = 1; i < obj->n_secs; i++)
		if (obj->secs[i].kind == SEC_DATA && !strcmp(obj->secs[i].name, name))
			return (uint32_t)i;
	return 0;
}

/* The offset in section @shndx of the variable called @name, from the symbol table. */
static int var_offset(const struct bext_obj *obj, uint32_t shndx, const char *name, uint64_t *off)
{
	for (size_t i = 0; i < obj->n_syms; i++) {
		const struct obj_sym *s = &obj->syms[i];

		if (s->shndx == shndx && s->type != STT_SECTION && s->type != STT_FUNC &&
		    !strcmp(s->name, name)) {
			*off = s->value;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Checks that DATASEC @t describes section @shndx and returns in @offs (one
 * per variable) where each variable lies in it; 0 or -EINVAL.
 */
static int datasec_layout(const struct bext_obj *obj, const struct btf *btf,
			  const struct btf_type *t, uint32_t shndx, uint32_t *offs)
{
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	uint64_t size = obj->secs[shndx].size;

	for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		const char *vn = var ? btf__name_by_offset(btf, var->name_off) : NULL;
		uint64_t off;

		if (!var || !btf_is_var(var) || !vn || !vn[0])
			return -EINVAL;
		if (var_offset(obj, shndx, vn, &off) || off > size || size - off < vs->size)
			return -EINVAL;
		if (btf__resolve_size(btf, var->type) != (long long)vs->size)
			return -EINVAL;
		offs[i] = (uint32_t)off;
	}
	return 0;
}

/* Appends to @out the type @id of @src: a copy, or for a data section's DATASEC the fixed one. */
static int copy_type(const struct bext_obj *obj, const struct btf *src, uint32_t id,
		     struct btf *out, uint32_t want_shndx, uint32_t *found)
{
	const struct btf_type *t = btf__type_by_id(src, id);
	const struct btf_var_secinfo *vs;
	uint32_t shndx, *offs;
	const char *name;
	int r;

	name = btf_is_datasec(t) ? btf__name_by_offset(src, t->name_off) : NULL;
	shndx = name ? data_sec_of(obj, name) : 0;
	if (!shndx || (*found && shndx == want_shndx))
		goto copy;
	offs = calloc(btf_vlen(t) + 1, sizeof(*offs));
	if (!offs)
		return -ENOMEM;
	if (datasec_layout(obj, src, t, shndx, offs)) {
		free(offs);
		goto copy; /* not usable: as clang wrote it (an error if it is the one asked for) */
	}
	r = btf__add_datasec(out, name, (uint32_t)obj->secs[shndx].size);
	vs = btf_var_secinfos(t);
	for (unsigned i = 0; r >= 0 && i < btf_vlen(t); i++, vs++)
		r = btf__add_datasec_var_info(out, (int)vs->type, offs[i], vs->size);
	free(offs);
	if (r < 0)
		return r;
	if (shndx == want_shndx && !*found)
		*found = id;
	return 0;
copy:
	r = btf__add_type(out, src, t);
	return r < 0 ? r : 0;
}

void *bext_obj__data_map_btf(const struct bext_obj *obj, const struct bext_obj_map *map,
			     size_t *size, uint32_t *type_id)
{
	struct btf *src = NULL, *out = NULL;
	libbpf_print_fn_t old;
	const void *raw, *blob;
	uint32_t n, id, found = 0, blob_size;
	size_t raw_size;
	void *ret = NULL;
	int err = -ENOENT;

	if (size)
		*size = 0;
	if (type_id)
		*type_id = 0;
	if (!obj || !map || !size || !type_id) {
		errno = EINVAL;
		return NULL;
	}
	raw = bext_obj__btf(obj, &raw_size);
	if (map->kind == BEXT_OBJ_MAP_BTF || !raw || !raw_size || raw_size > UINT32_MAX) {
		errno = ENOENT;
		return NULL;
	}
	old = libbpf_set_print(obj_libbpf_print);
	src = btf__new(raw, (uint32_t)raw_size);
	if (!src) {
		err = -EINVAL;
		goto out;
	}
	out = btf__new_empty();
	if (!out) {
		err = -ENOMEM;
		goto out;
	}
	n = btf__type_cnt(src);
	for (id = 1; id < n; id++) {
		err = copy_type(obj, src, id, out, map->shndx, &found);
		if (err)
			goto out;
	}
	/* no usable DATASEC: EINVAL when there is one, ENOENT when there is none */
	err = -ENOENT;
	if (!found) {
		for (id = 1; id < n; id++) {
			const struct btf_type *t = btf__type_by_id(src, id);

			const char *name = btf__name_by_offset(src, t->name_off);

			if (btf_is_datasec(t) && name && !strcmp(name, map->name))
				err = -EINVAL;
		}
		goto out;
	}
	blob = btf__raw_data(out, &blob_size);
	err = -ENOMEM;
	ret = blob ? malloc(blob_size) : NULL;
	if (!ret)
		goto out;
	memcpy(ret, blob, blob_size);
	*size = blob_size;
	*type_id = found;
	err = 0;
out:
	libbpf_set_print(old);
	btf__free(out);
	btf__free(src);
	if (err)
		errno = -err;
	return ret;
}

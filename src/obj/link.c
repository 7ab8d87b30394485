/* SPDX-License-Identifier: MIT */
/*
 * The static linker of the object reader: turns one program of an eBPF ELF
 * object into a self-contained instruction array, as libbpf does at load time
 * (Debian 12's libbpf 1.1 only does it inside bpf_object__load(), which needs
 * the kernel; issue 4 may switch to libbpf once the loader interposes bpf()).
 *
 * A program is linked as a list of "units": ranges of code-section slots
 * copied one after the other into the output. Unit 0 is the program's own
 * function. Walking the output in order, every bpf-to-bpf call and every lddw
 * of a function address names a (section, slot) target; the function holding
 * that slot is appended as a new unit unless an earlier unit already holds it
 * (so a subprogram called twice is copied once), and the instruction's imm
 * becomes pc-relative to the copy. Units appended later are walked too, so
 * subprograms calling subprograms link transitively.
 *
 *   out: [ prog (sec A, 0..n) ][ mix (.text 0..10) ][ twice (.text 17..22) ]
 *              call ------------------^                  |
 *                                     ^---- call --------'
 *
 * Map and global-data references become BEXT_PSEUDO_MAP_IDX(_VALUE) lddw's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "obj_internal.h"

struct unit {
	uint32_t shndx;
	size_t start, len; /* slots in the section */
	size_t base;	   /* first slot in the output */
};

struct linker {
	struct bext_obj *obj;
	struct bext_obj_prog *prog;
	struct unit *units;
	size_t n_units, cap_units;
	struct bext_insn *out;
	size_t n_out, cap_out;
	char *err;
	size_t err_len;
};

static int add_unit(struct linker *l, uint32_t shndx, size_t start, size_t len, size_t *base)
{
	const struct obj_sec *sec = &l->obj->secs[shndx];

	if (l->n_out + len > BEXT_MAX_INSNS)
		return obj_err(l->err, l->err_len,
			       "program %s: more than %u instructions once linked", l->prog->name,
			       BEXT_MAX_INSNS);
	if (l->n_units == l->cap_units) {
		size_t cap = l->cap_units ? 2 * l->cap_units : 8;
		struct unit *u = realloc(l->units, cap * sizeof(*u));

		if (!u)
			return -ENOMEM;
		l->units = u;
		l->cap_units = cap;
	}
	if (l->n_out + len > l->cap_out) {
		size_t cap = l->cap_out ? l->cap_out : 64;
		struct bext_insn *o;

		while (cap < l->n_out + len)
			cap *= 2;
		o = realloc(l->out, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		l->out = o;
		l->cap_out = cap;
	}
	memcpy(l->out + l->n_out, sec->data + start * 8, len * 8);
	l->units[l->n_units++] =
	    (struct unit){.shndx = shndx, .start = start, .len = len, .base = l->n_out};
	*base = l->n_out;
	l->n_out += len;
	return 0;
}

/* The function (symbol range) of section shndx holding slot `slot`. */
static int find_func(struct linker *l, uint32_t shndx, size_t slot, size_t *start, size_t *len)
{
	const struct bext_obj *obj = l->obj;
	bool any = false;

	for (size_t i = 0; i < obj->n_syms; i++) {
		const struct obj_sym *s = &obj->syms[i];

		if (s->type != 2 /* STT_FUNC */ || s->shndx != shndx)
			continue;
		any = true;
		if (slot >= s->value / 8 && slot < (s->value + s->size) / 8) {
			*start = s->value / 8;
			*len = s->size / 8;
			return 0;
		}
	}
	if (!any) { /* hand-written code without symbols: the whole section */
		*start = 0;
		*len = obj->secs[shndx].size / 8;
		return 0;
	}
	return obj_err(l->err, l->err_len,
		       "program %s: target insn %zu of section %s is in no function", l->prog->name,
		       slot, obj->secs[shndx].name);
}

/* Output slot of (shndx, slot), appending its function if no unit holds it yet. */
static int resolve_target(struct linker *l, uint32_t shndx, int64_t slot, size_t *out_slot)
{
	const struct obj_sec *sec = &l->obj->secs[shndx];
	size_t start = 0, len = 0, base;
	int err;

	if (slot < 0 || (uint64_t)slot >= sec->size / 8)
		return obj_err(l->err, l->err_len,
			       "program %s: call or function address to insn %lld, outside section "
			       "%s (%zu insns)",
			       l->prog->name, (long long)slot, sec->name, sec->size / 8);
	for (size_t i = 0; i < l->n_units; i++) {
		const struct unit *u = &l->units[i];

		if (u->shndx == shndx && (size_t)slot >= u->start &&
		    (size_t)slot < u->start + u->len) {
			*out_slot = u->base + ((size_t)slot - u->start);
			return 0;
		}
	}
	err = find_func(l, shndx, (size_t)slot, &start, &len);
	if (err)
		return err;
	err = add_unit(l, shndx, start, len, &base);
	if (err)
		return err;
	*out_slot = base + ((size_t)slot - start);
	return 0;
}

static const struct bext_obj_map *map_at(const struct bext_obj *obj, uint64_t off, size_t *idx)
{
	for (size_t i = 0; i < obj->n_maps; i++) {
		if (obj->maps[i].kind == BEXT_OBJ_MAP_BTF && obj->maps[i].sym_off == off) {
			*idx = i;
			return &obj->maps[i];
		}
	}
	return NULL;
}

static int link_lddw(struct linker *l, const struct unit *u, size_t j, const struct obj_reloc *r)
{
	const struct bext_obj *obj = l->obj;
	const char *usec = obj->secs[u->shndx].name;
	size_t pc = u->base + j, target, idx;
	const struct obj_sym *s;
	const struct obj_sec *sec;
	int64_t addend;
	int err;

	if (r->type != R_BPF_64_64)
		return obj_err(
		    l->err, l->err_len,
		    "section %s insn %zu: relocation type %u on lddw (expected R_BPF_64_64)", usec,
		    u->start + j, r->type);
	s = &obj->syms[r->sym];
	if (s->shndx == 0)
		return obj_err(l->err, l->err_len,
			       "section %s insn %zu: extern symbol '%s' is not supported", usec,
			       u->start + j, s->name);
	sec = &obj->secs[s->shndx];
	addend = l->out[pc].imm;
	switch (sec->kind) {
	case SEC_MAPS:
		if (!map_at(obj, s->value + (uint64_t)addend, &idx))
			return obj_err(
			    l->err, l->err_len,
			    "section %s insn %zu: reference to .maps offset %lld is no map", usec,
			    u->start + j, (long long)(s->value + addend));
		l->out[pc].src = BEXT_PSEUDO_MAP_IDX;
		l->out[pc].imm = (int32_t)idx;
		l->out[pc + 1].imm = 0;
		return 0;
	case SEC_DATA:
		if (addend < 0 || s->value + (uint64_t)addend > sec->size)
			return obj_err(l->err, l->err_len,
				       "section %s insn %zu: offset %lld is outside section %s",
				       usec, u->start + j, (long long)(s->value + addend),
				       sec->name);
		l->out[pc].src = BEXT_PSEUDO_MAP_IDX_VALUE;
		l->out[pc].imm = sec->map_idx;
		l->out[pc + 1].imm = (int32_t)(s->value + (uint64_t)addend);
		return 0;
	case SEC_CODE:
		if ((s->value + (uint64_t)addend) % 8)
			return obj_err(
			    l->err, l->err_len,
			    "section %s insn %zu: function address not on an instruction", usec,
			    u->start + j);
		err = resolve_target(l, s->shndx, (int64_t)(s->value + (uint64_t)addend) / 8,
				     &target);
		if (err)
			return err;
		l->out[pc].src = BEXT_PSEUDO_FUNC;
		l->out[pc].imm = (int32_t)((int64_t)target - (int64_t)pc - 1);
		l->out[pc + 1].imm = 0;
		return 0;
	default:
		return obj_err(l->err, l->err_len,
			       "section %s insn %zu: lddw of '%s' in section %s, which is no map, "
			       "global data or code",
			       usec, u->start + j, s->name, sec->name);
	}
}

static int link_call(struct linker *l, const struct unit *u, size_t j, const struct obj_reloc *r)
{
	const struct bext_obj *obj = l->obj;
	const char *usec = obj->secs[u->shndx].name;
	size_t pc = u->base + j, target;
	uint32_t shndx = u->shndx;
	int64_t slot;
	int err;

	if (r) {
		const struct obj_sym *s = &obj->syms[r->sym];

		if (r->type != R_BPF_64_32)
			return obj_err(l->err, l->err_len,
				       "section %s insn %zu: relocation type %u on a call "
				       "(expected R_BPF_64_32)",
				       usec, u->start + j, r->type);
		if (s->shndx == 0 || obj->secs[s->shndx].kind != SEC_CODE || s->value % 8)
			return obj_err(
			    l->err, l->err_len,
			    "section %s insn %zu: call to '%s', which is no function here", usec,
			    u->start + j, s->name);
		shndx = s->shndx;
		slot = (int64_t)(s->value / 8) + l->out[pc].imm + 1;
	} else {
		slot = (int64_t)(u->start + j) + l->out[pc].imm + 1;
	}
	err = resolve_target(l, shndx, slot, &target);
	if (err)
		return err;
	l->out[pc].imm = (int32_t)((int64_t)target - (int64_t)pc - 1);
	return 0;
}

static int link_units(struct linker *l)
{
	for (size_t ui = 0; ui < l->n_units; ui++) {
		/* copy: add_unit() may move l->units */
		const struct unit u = l->units[ui];
		const struct obj_sec *sec = &l->obj->secs[u.shndx];

		for (size_t j = 0; j < u.len; j++) {
			int32_t ri = sec->reloc_of[u.start + j];
			const struct obj_reloc *r = ri >= 0 ? &l->obj->relocs[ri] : NULL;
			struct bext_insn in = l->out[u.base + j];
			int err = 0;

			if (in.code == (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM)) {
				if (j + 1 >= u.len)
					return obj_err(
					    l->err, l->err_len,
					    "section %s insn %zu: lddw without its second slot",
					    sec->name, u.start + j);
				if (sec->reloc_of[u.start + j + 1] >= 0)
					return obj_err(l->err, l->err_len,
						       "section %s insn %zu: relocation on the "
						       "second slot of an lddw",
						       sec->name, u.start + j + 1);
				if (r)
					err = link_lddw(l, &u, j, r);
				j++;
			} else if (in.code == (BEXT_CLS_JMP | BEXT_JMP_CALL) &&
				   in.src == BEXT_CALL_LOCAL) {
				err = link_call(l, &u, j, r);
			} else if (r && r->type != R_BPF_NONE) {
				err = obj_err(l->err, l->err_len,
					      "section %s insn %zu: relocation type %u on an "
					      "instruction that is neither lddw nor call",
					      sec->name, u.start + j, r->type);
			}
			if (err)
				return err;
		}
	}
	return 0;
}

int obj_link_prog(struct bext_obj *obj, struct bext_obj_prog *prog, char *err, size_t err_len)
{
	struct linker l = {.obj = obj, .prog = prog, .err = err, .err_len = err_len};
	size_t base;
	int ret;

	ret = add_unit(&l, prog->shndx, prog->off, prog->len, &base);
	if (!ret)
		ret = link_units(&l);
	free(l.units);
	if (ret) {
		if (ret == -ENOMEM)
			obj_err(err, err_len, "out of memory linking %s", prog->name);
		free(l.out);
		return ret;
	}
	prog->insns = l.out;
	prog->n_insns = l.n_out;
	return 0;
}

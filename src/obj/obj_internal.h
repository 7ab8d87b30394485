/* SPDX-License-Identifier: MIT */
/* Private state of the ELF object reader (src/obj). */
#ifndef BEXT_OBJ_INTERNAL_H
#define BEXT_OBJ_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>
#include <libelf.h>

#include <bext/obj.h>

#include "common/common_internal.h"

/* ELF relocation types of EM_BPF (LLVM's BPF ELF ABI). */
#define R_BPF_NONE 0
#define R_BPF_64_64 1	    /* lddw: S + A, A in the first imm */
#define R_BPF_64_ABS64 2    /* data (.BTF, .maps inner maps) */
#define R_BPF_64_ABS32 3    /* data (DWARF, .BTF) */
#define R_BPF_64_NODYLD32 4 /* .BTF.ext */
#define R_BPF_64_32 10	    /* call: (S + A) / 8 - 1 in imm, A = (imm + 1) * 8 */

#ifndef EM_BPF
#define EM_BPF 247
#endif

/* What a section is to us. */
enum obj_sec_kind {
	SEC_OTHER = 0,
	SEC_CODE, /* SHF_EXECINSTR */
	SEC_MAPS, /* .maps */
	SEC_DATA, /* .data*, .rodata*, .bss* (has a data map) */
};

struct obj_sec {
	const char *name;
	enum obj_sec_kind kind;
	const uint8_t *data; /* NULL for NOBITS */
	size_t size;
	/* code sections: the relocation (index into obj->relocs) of each slot, -1 if none */
	int32_t *reloc_of;
	int map_idx; /* data sections: index of their map, else -1 */
};

struct obj_sym {
	const char *name;
	uint64_t value;
	uint64_t size;
	uint32_t shndx; /* 0 (undefined) or a valid section index; special indexes rejected */
	uint8_t type;	/* STT_* */
	uint8_t bind;	/* STB_* */
};

struct obj_reloc {
	uint32_t type;
	uint32_t sym;
};

struct bext_obj_prog {
	char *name;
	const char *sec_name;
	uint32_t shndx;
	size_t off, len; /* in slots, inside the section */
	struct bext_insn *insns;
	size_t n_insns;
};

struct bext_obj_map {
	char *name;
	enum bext_obj_map_kind kind;
	bool has_def;
	uint32_t type, key_size, value_size, max_entries, flags;
	const void *init; /* into the object's copy of the file; NULL for .bss / .maps */
	size_t init_size;
	/* .maps maps: offset of the symbol in .maps; data maps: section index */
	uint64_t sym_off;
	uint32_t shndx;
	/* .maps maps: .BTF type ids `key` / `value` point to (0: none, e.g. key_size given) */
	uint32_t btf_key_type_id, btf_value_type_id;
	/*
	 * `__array(values, ...)`: byte offset of the member in the definition,
	 * what its pointers point to (PROG: function prototypes, MAP: inner map
	 * definitions, 0: something else), the inner definition (map-in-map),
	 * and the slots `.rel.maps` initialises (sorted by index).
	 */
	bool has_values;
	uint32_t values_off;
	enum bext_obj_init_kind values_kind;
	struct bext_obj_map *inner;
	struct bext_obj_init_slot *inits;
	size_t n_inits;
};

struct bext_obj {
	char *name;
	uint8_t *buf; /* our copy of the file; everything points into it */
	size_t size;
	const char *license;

	size_t n_secs;
	struct obj_sec *secs;
	size_t n_syms;
	struct obj_sym *syms;
	size_t n_relocs;
	struct obj_reloc *relocs;

	size_t n_progs;
	struct bext_obj_prog *progs;
	size_t n_maps;
	struct bext_obj_map *maps;
};

/* link.c: links obj->progs[i] (fills insns/n_insns). Returns 0 or -errno with err set. */
BEXT_HIDDEN int obj_link_prog(struct bext_obj *obj, struct bext_obj_prog *prog, char *err,
			      size_t err_len);

/*
 * map_init.c: reads the `.rel.maps` relocations into the init slots of the
 * `.maps` maps (after the programs are known). 0 or -errno with err set.
 */
BEXT_HIDDEN int obj_read_map_inits(struct bext_obj *obj, Elf *elf, size_t symtab, char *err,
				   size_t err_len);

/* obj.c: a libbpf print callback sending libbpf's messages to pr_debug (not stderr). */
BEXT_HIDDEN int obj_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

/* Formats into err (when non-NULL); always returns -EINVAL, for `return obj_err(...)`. */
__attribute__((format(printf, 3, 4))) BEXT_HIDDEN int obj_err(char *err, size_t err_len,
							      const char *fmt, ...);

#endif

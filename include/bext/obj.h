/* SPDX-License-Identifier: MIT */
/*
 * bext/obj.h - reading eBPF ELF objects (`clang -O2 -g -target bpf -c x.bpf.c`).
 *
 * bext_obj__open() reads a relocatable little-endian EM_BPF ELF file, finds
 * its programs, its maps and its global data, and links every program the
 * way libbpf does at load time:
 *
 *  - bpf-to-bpf calls (`call` with src = BEXT_CALL_LOCAL) into .text or any
 *    other code section: each called subprogram is appended once after the
 *    program's own code and the call's imm is set to the pc-relative offset
 *    (target = pc + imm + 1). lddw of a function address
 *    (src = BEXT_PSEUDO_FUNC, e.g. a bpf_loop callback) is linked the same
 *    way, with the same pc-relative imm.
 *  - lddw of a map defined in `.maps` becomes src = BEXT_PSEUDO_MAP_IDX,
 *    imm = the map's index in this object (bext_obj__map()).
 *  - lddw of a global variable (.data*, .rodata*, .bss*) becomes
 *    src = BEXT_PSEUDO_MAP_IDX_VALUE, imm = index of the section's map,
 *    second imm = byte offset of the variable inside the section.
 *
 * Everything else (CO-RE relocations, externs, kfuncs, legacy `maps`
 * sections) is either left alone or rejected with a message; see
 * bext_obj__open().
 *
 * Ownership: the object owns its programs and maps; pointers returned by the
 * getters stay valid until bext_obj__close(). An opened object is immutable,
 * so it may be read from several threads at once.
 */
#ifndef BEXT_OBJ_H
#define BEXT_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/common.h>
#include <bext/isa.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bext_obj;
struct bext_obj_prog;
struct bext_obj_map;

/*
 * Opens and links the object at path. Returns NULL and sets errno on failure
 * (ENOENT/EACCES/... from the file system, EINVAL for a malformed or
 * unsupported object, ENOMEM), with a message in err (when err is non-NULL)
 * naming what is wrong: not an ELF file, not an eBPF (EM_BPF) object,
 * big-endian, a section outside the file, a relocation pointing outside its
 * section, an unknown relocation type, a call to nowhere, an extern symbol...
 */
BEXT_API struct bext_obj *bext_obj__open(const char *path, char *err, size_t err_len);
/* The same from memory (the buffer is copied; `name` is used in messages). */
BEXT_API struct bext_obj *bext_obj__open_mem(const void *buf, size_t size, const char *name,
					     char *err, size_t err_len);
/* Frees the object and everything it owns. Accepts NULL. */
BEXT_API void bext_obj__close(struct bext_obj *obj);

/* The `license` section's string, or "" when absent. */
BEXT_API const char *bext_obj__license(const struct bext_obj *obj);

/*
 * Programs: every function symbol in a code section other than .text (a code
 * section without symbols counts as one program named after the section).
 * When the object has no such section, the global functions of .text are the
 * programs. Order: section order, then offset inside the section.
 */
BEXT_API size_t bext_obj__prog_count(const struct bext_obj *obj);
/* The i-th program, or NULL (errno = ENOENT) when i is out of range. */
BEXT_API const struct bext_obj_prog *bext_obj__prog(const struct bext_obj *obj, size_t i);
/* The program with this function name or, failing that, the first one in the
 * section of this name. NULL (errno = ENOENT) when there is none. */
BEXT_API const struct bext_obj_prog *bext_obj__find_prog(const struct bext_obj *obj,
							 const char *name);

/* Function name (symbol), e.g. "handle_openat". */
BEXT_API const char *bext_obj_prog__name(const struct bext_obj_prog *prog);
/* ELF section, e.g. "tracepoint/syscalls/sys_enter_openat". */
BEXT_API const char *bext_obj_prog__section_name(const struct bext_obj_prog *prog);
/* The linked instructions (program first, then its subprograms); *n_insns in slots. */
BEXT_API const struct bext_insn *bext_obj_prog__insns(const struct bext_obj_prog *prog,
						      size_t *n_insns);
/* Number of slots of the program's own code (the linked subprograms follow it). */
BEXT_API size_t bext_obj_prog__main_len(const struct bext_obj_prog *prog);

enum bext_obj_map_kind {
	BEXT_OBJ_MAP_BTF = 0, /* defined in `.maps` */
	BEXT_OBJ_MAP_DATA,    /* .data, .data.* */
	BEXT_OBJ_MAP_RODATA,  /* .rodata, .rodata.* */
	BEXT_OBJ_MAP_BSS,     /* .bss, .bss.* */
};

/*
 * Maps: first those of `.maps` (in the order of their symbols), then one per
 * global data section (in section order). The index is what
 * BEXT_PSEUDO_MAP_IDX / BEXT_PSEUDO_MAP_IDX_VALUE immediates refer to.
 */
BEXT_API size_t bext_obj__map_count(const struct bext_obj *obj);
BEXT_API const struct bext_obj_map *bext_obj__map(const struct bext_obj *obj, size_t i);
BEXT_API const struct bext_obj_map *bext_obj__find_map(const struct bext_obj *obj,
						       const char *name);

/* Symbol name for `.maps` maps, section name (".data", ".rodata", ...) for data. */
BEXT_API const char *bext_obj_map__name(const struct bext_obj_map *map);
BEXT_API enum bext_obj_map_kind bext_obj_map__kind(const struct bext_obj_map *map);
/*
 * Definition. For `.maps` maps these come from BTF (`__uint(type, ...)`,
 * `__type(key, ...)` or `__uint(key_size, ...)`, ...); without BTF they are 0
 * and bext_obj_map__has_def() is false. Data sections read as a one-element
 * BPF_MAP_TYPE_ARRAY (2) with a 4-byte key and the section as value
 * (BPF_F_RDONLY_PROG for .rodata).
 */
BEXT_API bool bext_obj_map__has_def(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__type(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__key_size(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__value_size(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__max_entries(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__flags(const struct bext_obj_map *map);
/* Initial contents of a data section's value (*size bytes); NULL with *size =
 * value size for .bss (all zero) and for `.maps` maps. */
BEXT_API const void *bext_obj_map__initial_value(const struct bext_obj_map *map, size_t *size);

/*
 * BTF, for whoever creates the maps (as libbpf hands the kernel a btf_fd and
 * type ids): the object's raw .BTF section as the compiler wrote it (*size
 * bytes; NULL and 0 when there is none), and for a `.maps` map the ids in it
 * of the types its `key` / `value` members point to (`__type(key, T)`). 0
 * when the size was given instead (`__uint(key_size, N)`), for data maps
 * (their DATASEC has no size in the raw blob: see bext_obj__data_map_btf())
 * and without BTF.
 */
BEXT_API const void *bext_obj__btf(const struct bext_obj *obj, size_t *size);
BEXT_API uint32_t bext_obj_map__btf_key_type_id(const struct bext_obj_map *map);
BEXT_API uint32_t bext_obj_map__btf_value_type_id(const struct bext_obj_map *map);

/*
 * Static initialisation of a prog array or map-in-map (libbpf's
 * `__array(values, ...)` member with `.values = { [i] = &prog_or_map }`):
 * the object's `.rel.maps` relocations that fall in the definition's
 * `values` member, one per initialised slot, sorted by slot. A prog array
 * names programs (bext_obj__prog(obj, target)), an array or hash of maps
 * names `.maps` maps (bext_obj__map(obj, target)). bext_obj__open() refuses
 * a malformed initialiser with a message naming the map: a relocation to a
 * symbol that is neither a program nor a `.maps` map, a slot >= max_entries,
 * a program in a map-in-map or a map in a prog array, a slot given twice.
 */
enum bext_obj_init_kind {
	BEXT_OBJ_INIT_PROG = 1,
	BEXT_OBJ_INIT_MAP = 2,
};

struct bext_obj_init_slot {
	uint32_t index; /* the slot (key) */
	enum bext_obj_init_kind kind;
	size_t target;	  /* program index (kind PROG) or map index (kind MAP) */
	const char *name; /* the program's or the map's name */
};

/* The initialised slots of @map (*n of them; NULL and 0 when there are none). */
BEXT_API const struct bext_obj_init_slot *bext_obj_map__init_slots(const struct bext_obj_map *map,
								   size_t *n);
/*
 * A map-in-map's inner map definition (`__array(values, struct inner)`), as
 * libbpf creates its template map: a definition named "<outer>.inner" that the
 * map getters read (type, sizes, max_entries, flags, BTF type ids). NULL
 * (errno ENOENT) when @map is no map-in-map or has no `values` member.
 */
BEXT_API const struct bext_obj_map *bext_obj_map__inner(const struct bext_obj_map *map);

/*
 * BTF for a global data map (.data*, .rodata*, .bss*), as libbpf gives the
 * kernel for it: a new copy of the object's .BTF in which the DATASEC of each
 * data section has the section's size and each of its variables the offset
 * of its symbol (clang leaves both 0 in a .bpf.o); other types are copied
 * unchanged and keep their ids. Returns the blob (malloc'd, *size bytes, the
 * caller frees it) and in *type_id the id of @map's DATASEC, whose size is
 * the map's value size; the key has no type (0), as for libbpf. NULL with
 * errno ENOENT when there is nothing to describe the map (no .BTF, no DATASEC
 * for the section, a `.maps` map), EINVAL when the DATASEC does not fit the
 * section (a variable with no symbol there, lying outside it, or whose type
 * has another size), ENOMEM.
 */
BEXT_API void *bext_obj__data_map_btf(const struct bext_obj *obj, const struct bext_obj_map *map,
				      size_t *size, uint32_t *type_id);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_OBJ_H */

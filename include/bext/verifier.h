/* SPDX-License-Identifier: MIT */
/*
 * bext/verifier.h - the load-time safety proof.
 *
 * bext_verify() proves, by abstract interpretation over every path, that a
 * program: is well formed (opcodes, registers, jumps, subprograms); ends
 * (loops are explored until their states converge or a complexity limit is
 * hit); touches only memory it may (stack initialised before it is read, ctx
 * offsets and widths of its program type, map values after a null check,
 * ring buffer records it holds, packet bytes after a bounds check) and leaks
 * no pointer into maps, ctx, packets or its return value; calls only
 * helpers enabled for its program type and allowed by the policy, with
 * arguments that match their prototypes; releases every ring buffer
 * reservation; and returns a value in the range of its program type.
 *
 * The instructions are those of a program as loaded: lddw pseudo forms
 * still carry map indices (BPF_PSEUDO_MAP_FD / _IDX: imm = index into
 * opts->maps; _VALUE forms: imm = index, next imm = offset in the value).
 *
 * See docs/VERIFIER.md for the abstract domains, messages and limits.
 */
#ifndef BEXT_VERIFIER_H
#define BEXT_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/isa.h>
#include <bext/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bext_prog_type {
	BEXT_PROG_EXT = 0,     /* plain extension: ctx of opts->ctx_size bytes */
	BEXT_PROG_UPROBE,      /* uprobe/uretprobe/kprobe-like: x86-64 struct pt_regs, 168 bytes,
				  read-only */
	BEXT_PROG_TRACEPOINT,  /* syscall tracepoint: tracefs record (ctx_size bytes, 64 if 0),
				  read-only */
	BEXT_PROG_RAW_SYSCALL, /* raw_syscalls: 8-byte header, long id @8, unsigned long args[6] @16
				*/
	BEXT_PROG_XDP,	       /* XDP-like: struct xdp_md (data @0, data_end @4, ...) */
	BEXT_PROG__MAX,
};

/* One map the program may reference, by its index (the imm of lddw pseudo forms). */
struct bext_map_desc {
	uint32_t type; /* BPF_MAP_TYPE_* (kernel UAPI numbers) */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t flags; /* BPF_F_RDONLY_PROG (1 << 7) makes values read-only to programs */
};

/* Filled by bext_verify() when opts->stats is set (also on rejection). */
struct bext_verify_stats {
	uint64_t insns_processed; /* instructions symbolically executed */
	uint32_t states_stored;	  /* states kept for pruning */
	uint32_t states_pruned;	  /* paths cut because an explored state covered them */
	uint32_t n_subprogs;
	uint32_t stack_depth;	 /* worst combined stack depth over the call graph, bytes */
	bool has_loops;		 /* the CFG has a back-edge */
	uint64_t max_path_insns; /* loop-free programs: longest path (calls included); else 0 */
	bool
	    needs_runtime_budget; /* the policy sets an instruction budget no static bound proves */
	uint64_t map_memory;	  /* bytes of key+value storage of the referenced maps */
	int32_t err_insn;	  /* rejected: index of the offending instruction, else -1 */
	char reason[192];	  /* rejected: the one-line reason (also the log's last line) */
};

struct bext_verify_opts {
	size_t sz; /* sizeof(struct bext_verify_opts) */
	enum bext_prog_type prog_type;
	/* EXT: ctx size in bytes (readable; writable too if ctx_writable).
	 * TRACEPOINT: record size (0 means 64). Ignored by the other types. */
	uint32_t ctx_size;
	bool ctx_writable;
	const struct bext_map_desc *maps;
	uint32_t n_maps;
	const struct bext_policy *policy; /* NULL: the program type's rules only */
	/* 0: no log; 1: on rejection, the failing instruction, its register
	 * state and the reason, plus a summary line; 2: every instruction. */
	uint32_t log_level;
	/* Most instructions to process in all (0 means 1,000,000, as the kernel). */
	uint32_t complexity_limit;
	/* The allowed range of r0 at exit (both 0: any scalar), e.g. [0, 4]
	 * to hold an XDP program to the XDP actions. */
	int64_t ret_min, ret_max;
	struct bext_verify_stats *stats; /* optional output */
	/* EXT: r2 holds ctx_size at entry (the vm's calling convention, r1 =
	 * ctx and r2 = ctx_len, for a runtime that passes exactly ctx_size
	 * bytes, as `bext run --mem` does); otherwise r2 is uninitialised. */
	bool ctx_len_in_r2;
};

/*
 * Verifies insns[0..n). opts may be NULL (EXT program, 0-byte ctx, no maps).
 * Returns 0 when the program is proven safe, -EACCES when it is rejected by
 * a safety rule, -EINVAL when it is malformed (bad opcode, register, jump,
 * map index, options), -E2BIG when it is too large or too complex, -ENOMEM.
 * The log (NUL-terminated, may be NULL) keeps its tail when it overflows,
 * so the reason, which comes last, survives.
 */
BEXT_API int bext_verify(const struct bext_insn *insns, size_t n,
			 const struct bext_verify_opts *opts, char *log, size_t log_len);

/* "uprobe", "tracepoint", ... or NULL. */
BEXT_API const char *bext_prog_type_name(enum bext_prog_type type);
/* Parses a program type name (also "kprobe", "uretprobe", "tp", "raw_tp",
 * "raw_syscall", "ext"); -EINVAL when unknown. */
BEXT_API int bext_prog_type_from_name(const char *name, enum bext_prog_type *type);
/*
 * The program type for a libbpf-style ELF section name, as bext load picks
 * it: "uprobe*", "uretprobe*", "kprobe*", "kretprobe*", "usdt*" -> uprobe;
 * "tracepoint/..", "tp/.." -> tracepoint (*ctx_size = 24 for a sys_exit
 * record, else 0: the type's default); "raw_tp*", "raw_tracepoint*" or a
 * name with "raw_syscalls" -> raw syscall; "xdp*" -> xdp; anything else ->
 * ext. @ctx_size may be NULL.
 */
BEXT_API enum bext_prog_type bext_prog_type_from_section(const char *sec, uint32_t *ctx_size);
/* The name of helper id ("bpf_map_lookup_elem"), or NULL if the verifier
 * does not know it. */
BEXT_API const char *bext_helper_name(uint32_t id);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_VERIFIER_H */

/* SPDX-License-Identifier: MIT */
/*
 * Verifier internals. The pipeline, one file per stage:
 *
 *   cfg.c      decode + structure: opcodes, registers, jumps, subprograms,
 *              reachability, call graph (recursion), register liveness
 *   tnum.c     tristate numbers (pure)
 *   bounds.c   scalar domain: tnum + s64/u64/s32/u32 bounds, ALU transfer
 *              functions, branch refinement
 *   progtype.c what each program type's ctx allows and what it returns
 *   helpers.c  helper prototypes
 *   check.c    per-instruction rules (what must hold) and the abstract
 *              step (how the state changes), the path exploration loop
 *   state.c    abstract states: copy, subsumption (pruning), stored states
 *   log.c      the kernel-style log
 *   verifier.c bext_verify(): runs the stages, fills stats
 */
#ifndef BEXT_VERIFIER_INTERNAL_H
#define BEXT_VERIFIER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/verifier.h>

#include "tnum.h"

#define V_MAX_FRAMES BEXT_MAX_CALL_DEPTH
#define V_STACK BEXT_STACK_SIZE
#define V_SLOTS (V_STACK / 8)
#define V_MAX_REFS 16
#define V_MAX_VAR_OFF (1ll << 29) /* bound on variable pointer offsets */
#define V_DEFAULT_LIMIT 1000000u
#define V_MAX_STATES_PER_INSN 1024
#define V_INPROG_EAGER 2048 /* in-progress states stored at every prune point */

enum reg_type {
	NOT_INIT = 0,
	SCALAR,
	PTR_TO_CTX,
	PTR_TO_STACK,
	CONST_PTR_TO_MAP,
	PTR_TO_MAP_VALUE,
	PTR_TO_MAP_VALUE_OR_NULL,
	PTR_TO_MEM,	    /* ring buffer record (mem_size bytes) or read-only map key */
	PTR_TO_MEM_OR_NULL, /* result of bpf_ringbuf_reserve */
	PTR_TO_PACKET,
	PTR_TO_PACKET_END,
	PTR_TO_FUNC,
	REG_TYPE__MAX,
};

/*
 * A register's abstract value. For SCALAR the bounds and var describe the
 * value; for pointers they describe the variable part of the offset, and
 * `off` is the constant part.
 */
struct vreg {
	uint8_t type;
	uint8_t frameno; /* PTR_TO_STACK: whose frame */
	bool rdonly;	 /* PTR_TO_MEM: read-only (map keys given to callbacks) */
	int32_t off;
	struct tnum var;
	int64_t smin, smax;
	uint64_t umin, umax;
	int32_t s32min, s32max;
	uint32_t u32min, u32max;
	uint32_t id;	   /* scalars: copies share it; *_OR_NULL: null check group; packet: base */
	uint32_t ref_id;   /* ring buffer reservation this pointer belongs to */
	uint32_t map_idx;  /* map pointers and values; PTR_TO_FUNC: target insn */
	uint32_t mem_size; /* PTR_TO_MEM: bytes; PTR_TO_PACKET: proven range from base */
};

enum slot_type {
	STACK_INVALID = 0, /* never written: reading it is an error */
	STACK_MISC,	   /* scalar bytes */
	STACK_SPILL,	   /* part of a spilled register (all 8 bytes of the slot) */
};

struct vframe {
	struct vreg regs[11];
	uint8_t stype[V_STACK]; /* byte i describes fp - V_STACK + i */
	struct vreg spill[V_SLOTS];
	int32_t callsite; /* insn of the call in the caller, -1 for the main frame */
	uint32_t subprog;
	bool is_callback;
};

struct vref {
	uint32_t id;
	uint32_t insn;
};

struct vstate {
	uint32_t curframe;
	uint32_t pc;
	struct vframe *frames[V_MAX_FRAMES];
	uint32_t nrefs;
	struct vref refs[V_MAX_REFS];
	int32_t lock_map; /* -1: no spin lock held */
	int32_t lock_off;
	uint32_t lock_id;
	bool cb_return;	   /* just came back from a callback to its helper call */
	uint32_t hist_len; /* pending states: path history length at the fork */
	uint32_t cb_gen;   /* callback returns along this path */
};

struct subprog {
	uint32_t start, end; /* [start, end) */
	uint32_t stack_depth;
	bool is_callback; /* target of a PSEUDO_FUNC lddw */
};

/* Per-instruction facts from the structural pass. */
struct insn_aux {
	bool prune_point;
	bool seen;	    /* reached by the exploration */
	bool second_slot;   /* second half of an lddw */
	bool callback_call; /* helper call that runs a callback (loop, for_each) */
	uint16_t live_in;   /* registers read before written on some path from here */
	uint16_t rel_in;    /* live registers whose value may reach a check (a subset) */
	uint32_t subprog;
};

/*
 * Which values of a stored state its exploration depended on (current frame
 * only): a scalar not marked here may differ in a later state without
 * changing any check or branch decision below the stored state.
 */
struct precision {
	uint16_t regs;
	uint64_t slots; /* bit i: stack slot fp - 512 + 8 * i */
	bool all;	/* everything (after a case the backtracking cannot follow) */
};

struct sl_node {
	struct sl_node *next;  /* explored list of its insn (complete states) */
	struct sl_node *hnext; /* in-progress hash bucket */
	struct vstate st;
	uint32_t rec_depth; /* pending-stack size when recorded */
	uint32_t hist_pos;  /* path history length when recorded */
	bool complete;	    /* every path from here was explored */
	uint32_t hits, miss;
	uint64_t hash; /* state_hash(): equal states hash equal */
	struct precision prec;
};

/* One executed instruction of the current path (for precision backtracking). */
struct hist_entry {
	uint32_t idx;
	int16_t slot; /* stack slot of the current frame it loaded/stored through, -1 none */
	bool opaque;  /* memory access backtracking cannot follow (other frame, variable) */
};

enum arg_kind {
	ARG_NONE = 0,
	ARG_ANYTHING, /* any initialised value */
	ARG_SCALAR,   /* a scalar */
	ARG_CONST_MAP_PTR,
	ARG_MAP_KEY,	      /* readable, initialised key_size bytes */
	ARG_MAP_VALUE,	      /* readable, initialised value_size bytes */
	ARG_MAP_VALUE_UNINIT, /* writable value_size bytes */
	ARG_MEM,	      /* readable initialised memory, size in the next arg */
	ARG_MEM_OR_NULL,      /* same, or NULL with size 0 */
	ARG_MEM_UNINIT,	      /* memory the helper fills, size in the next arg */
	ARG_SIZE,	      /* size of the previous mem arg, > 0 */
	ARG_SIZE_OR_ZERO,
	ARG_CTX,
	ARG_RINGBUF_MEM,      /* a reservation to release */
	ARG_CONST_ALLOC_SIZE, /* constant size of a reservation */
	ARG_FUNC,	      /* callback subprogram */
	ARG_STACK_OR_NULL,    /* callback ctx */
	ARG_SPIN_LOCK,	      /* map value, constant offset, 4-aligned */
	ARG_CONST_STR,	      /* readable memory holding a string */
};

enum ret_kind {
	RET_INTEGER = 0,
	RET_VOID,
	RET_MAP_VALUE_OR_NULL,
	RET_RINGBUF_MEM_OR_NULL,
};

struct helper_proto {
	uint32_t id;
	const char *name;
	enum ret_kind ret;
	uint8_t args[5];
	uint32_t types;	  /* bitmask over enum bext_prog_type */
	bool ret_le_size; /* r0 <= size argument (str/stack helpers) */
	bool gpl_only;
};

struct progtype_desc {
	const char *name;
	uint32_t ctx_size;
	bool ret_checked;
	int64_t ret_min, ret_max;
};

struct venv {
	const struct bext_insn *insns;
	uint32_t n;
	struct bext_verify_opts opts;
	const struct bext_policy *policy;
	struct insn_aux *aux;
	struct subprog *subprogs;
	uint32_t n_subprogs;
	/* exploration */
	struct vstate **pending;
	uint32_t n_pending, cap_pending;
	struct sl_node **explored; /* per insn: complete states */
	uint32_t *n_explored;
	struct sl_node **inprog;       /* the stored ancestors of the current path */
	struct sl_node *ibucket[4096]; /* in-progress states by hash */
	uint32_t n_inprog, cap_inprog;
	uint64_t processed, limit;
	uint64_t last_store; /* processed count when the last state was stored */
	uint32_t id_gen;
	uint32_t states_stored, states_pruned;
	bool has_loops;
	uint64_t max_path;
	uint32_t stack_depth;
	/* log */
	char *log;
	size_t log_len, log_cap;
	size_t log_base; /* bytes dropped from the front of the log */
	bool log_oom;
	int err_insn;
	char reason[192];
	uint32_t prev_pc;	  /* level 2: print state at jumps */
	struct vreg *cur_src_reg; /* the register a STX stores, to link spills */
	struct hist_entry *hist;  /* the current path */
	uint32_t n_hist, cap_hist;
	int16_t step_slot; /* set by the memory checks of the current step */
	bool step_opaque;
	struct vstate *cur; /* the state being stepped */
};

/* log.c */
void vlog(struct venv *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the one-line reason (and logs it) and returns err. */
int vreject(struct venv *env, int err, int insn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vlog_insn(struct venv *env, uint32_t idx);
void vlog_state(struct venv *env, const struct vstate *st);
const char *reg_type_name(enum reg_type t);
void reg_snprint(char *buf, size_t len, const struct vreg *r);

/* bounds.c */
void reg_mark_unknown(struct vreg *r);
void reg_mark_const(struct vreg *r, uint64_t v);
void reg_set_bounds_from_var(struct vreg *r);
bool reg_sync(struct vreg *r); /* false: no value fits (contradiction) */
bool reg_is_const(const struct vreg *r);
void reg_zext32(struct vreg *r);
void reg_set_size_unknown(struct vreg *r, unsigned size, bool sign_ext);
/* dst = dst op src on scalars; is64 false for ALU32. Returns -1 on an
 * unsupported op (never happens after cfg.c). */
int scalar_alu(struct vreg *dst, const struct vreg *src, uint8_t op, int16_t off, bool is64);
enum cmp_op { CMP_EQ, CMP_NE, CMP_GT, CMP_GE, CMP_SGT, CMP_SGE, CMP_SET, CMP_NSET };
/* Narrows a and b assuming `a op b` holds; false if it cannot hold. */
bool scalar_refine(struct vreg *a, struct vreg *b, enum cmp_op op, bool is32);

/* progtype.c */
const struct progtype_desc *progtype_get(enum bext_prog_type t);
uint32_t progtype_ctx_size(const struct venv *env);
/* Checks a ctx access; on success fills *out with the loaded value's type.
 * Returns 0 or -EACCES with the reason logged. */
int progtype_ctx_access(struct venv *env, int insn, int off, int size, bool write,
			struct vreg *out);

/* helpers.c */
const struct helper_proto *helper_proto(uint32_t id);
bool helper_map_compatible(uint32_t helper_id, uint32_t map_type);

/* cfg.c */
int cfg_check(struct venv *env);
int cfg_check_stack_depth(struct venv *env);
uint64_t cfg_longest_path(struct venv *env);

/* state.c */
struct vstate *state_new(void);
void state_free(struct vstate *st);
int state_copy(struct vstate *dst, const struct vstate *src);
void state_free_frames(struct vstate *st);
/* True if every concrete state cur allows, old allows too (registers dead
 * at insn are ignored). exact: equality instead of inclusion. */
bool state_covers(struct venv *env, const struct vstate *old, const struct vstate *cur, bool exact,
		  const struct precision *prec);

/* A filter for exact comparisons: states state_covers(exact) finds equal
 * have equal hashes (it looks at a subset of what the comparison does). */
uint64_t state_hash(struct venv *env, const struct vstate *st);

/* check.c */
int do_check(struct venv *env);

static inline bool reg_is_pointer(const struct vreg *r)
{
	return r->type != NOT_INIT && r->type != SCALAR;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Program types: the shape of each ctx (which offsets and widths may be read
 * or written and what a load yields) and the range of the return value.
 *
 *   uprobe      x86-64 struct pt_regs (21 x 8 bytes), read-only, any
 *               naturally aligned 1/2/4/8-byte read.
 *   tracepoint  tracefs record of a syscall tracepoint: 8-byte common
 *               header, int __syscall_nr @8, then 8-byte fields from @16;
 *               read-only, naturally aligned reads inside the record.
 *   raw syscall 8-byte header, long id @8, unsigned long args[6] @16.
 *   xdp         struct xdp_md: u32 data @0, data_end @4, data_meta @8,
 *               ingress_ifindex @12, rx_queue_index @16, egress_ifindex @20;
 *               4-byte reads only; data/data_end load packet pointers.
 *   ext         opts->ctx_size bytes; reads, and writes if ctx_writable.
 *
 * Return values: always a scalar (never a pointer); a range only when the
 * caller sets opts->ret_min/ret_max (no type imposes one by default, as in
 * the kernel for these types).
 *
 * A policy, when given, must also grant the bytes (read or write).
 */
#include <errno.h>
#include <string.h>

#include "verifier_internal.h"

static const struct progtype_desc descs[BEXT_PROG__MAX] = {
    [BEXT_PROG_EXT] = {"ext", 0, false, 0, 0},
    [BEXT_PROG_UPROBE] = {"uprobe", 168, false, 0, 0},
    [BEXT_PROG_TRACEPOINT] = {"tracepoint", 64, false, 0, 0},
    [BEXT_PROG_RAW_SYSCALL] = {"raw_syscall", 64, false, 0, 0},
    /* XDP actions are 0..4, but like the kernel an out-of-range value is
     * not a safety problem (the runtime treats it as XDP_ABORTED), and
     * programs in SEC("xdp") are used to return computed results; a
     * caller that wants the range asks for it with opts->ret_min/ret_max. */
    [BEXT_PROG_XDP] = {"xdp", 24, false, 0, 4},
};

const struct progtype_desc *progtype_get(enum bext_prog_type t)
{
	return (unsigned)t < BEXT_PROG__MAX ? &descs[t] : NULL;
}

const char *bext_prog_type_name(enum bext_prog_type t)
{
	return (unsigned)t < BEXT_PROG__MAX ? descs[t].name : NULL;
}

int bext_prog_type_from_name(const char *name, enum bext_prog_type *type)
{
	static const struct {
		const char *name;
		enum bext_prog_type t;
	} names[] = {
	    {"ext", BEXT_PROG_EXT},
	    {"uprobe", BEXT_PROG_UPROBE},
	    {"uretprobe", BEXT_PROG_UPROBE},
	    {"kprobe", BEXT_PROG_UPROBE},
	    {"tracepoint", BEXT_PROG_TRACEPOINT},
	    {"tp", BEXT_PROG_TRACEPOINT},
	    {"raw_tp", BEXT_PROG_RAW_SYSCALL},
	    {"raw_syscall", BEXT_PROG_RAW_SYSCALL},
	    {"xdp", BEXT_PROG_XDP},
	};

	if (!name || !type)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name)) {
			*type = names[i].t;
			return 0;
		}
	return -EINVAL;
}

uint32_t progtype_ctx_size(const struct venv *env)
{
	switch (env->opts.prog_type) {
	case BEXT_PROG_EXT:
		return env->opts.ctx_size;
	case BEXT_PROG_TRACEPOINT:
		return env->opts.ctx_size ? env->opts.ctx_size : 64;
	default:
		return descs[env->opts.prog_type].ctx_size;
	}
}

int progtype_ctx_access(struct venv *env, int insn, int off, int size, bool write, struct vreg *out)
{
	enum bext_prog_type t = env->opts.prog_type;
	uint32_t csz = progtype_ctx_size(env);

	if (off < 0 || (uint32_t)off + size > csz)
		return vreject(env, -EACCES, insn,
			       "invalid access to ctx: off=%d size=%d (ctx is %u bytes)", off, size,
			       csz);
	if (t != BEXT_PROG_EXT && off % size)
		return vreject(env, -EACCES, insn,
			       "invalid access to ctx: misaligned off=%d size=%d", off, size);
	if (write && !(t == BEXT_PROG_EXT && env->opts.ctx_writable))
		return vreject(
		    env, -EACCES, insn,
		    "invalid access to ctx: write to off=%d size=%d, ctx of %s is read-only", off,
		    size, descs[t].name);
	if (env->policy) {
		bool ok = write ? bext_policy__ctx_writable(env->policy, off, size)
				: bext_policy__ctx_readable(env->policy, off, size);

		if (!ok)
			return vreject(
			    env, -EACCES, insn,
			    "invalid access to ctx: %s of off=%d size=%d not allowed by policy",
			    write ? "write" : "read", off, size);
	}
	if (write)
		return 0;
	reg_set_size_unknown(out, size, false);
	if (t == BEXT_PROG_XDP) {
		if (size != 4)
			return vreject(env, -EACCES, insn,
				       "invalid access to ctx: xdp_md fields are read as 4 bytes "
				       "(off=%d size=%d)",
				       off, size);
		if (off == 0 || off == 4) {
			memset(out, 0, sizeof(*out));
			out->type = off == 0 ? PTR_TO_PACKET : PTR_TO_PACKET_END;
			out->var = tnum_const(0);
			reg_set_bounds_from_var(out);
		}
	}
	return 0;
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

enum bext_prog_type bext_prog_type_from_section(const char *sec, uint32_t *ctx_size)
{
	uint32_t dummy;

	if (!ctx_size)
		ctx_size = &dummy;
	*ctx_size = 0;
	if (!sec)
		return BEXT_PROG_EXT;
	if (strstr(sec, "raw_syscalls") || has_prefix(sec, "raw_tp") ||
	    has_prefix(sec, "raw_tracepoint"))
		return BEXT_PROG_RAW_SYSCALL;
	if (has_prefix(sec, "tracepoint/") || has_prefix(sec, "tp/")) {
		if (strstr(sec, "sys_exit"))
			*ctx_size = 24; /* the exit record: header, nr, ret */
		return BEXT_PROG_TRACEPOINT;
	}
	if (has_prefix(sec, "uprobe") || has_prefix(sec, "uretprobe") ||
	    has_prefix(sec, "kprobe") || has_prefix(sec, "kretprobe") || has_prefix(sec, "usdt"))
		return BEXT_PROG_UPROBE;
	if (has_prefix(sec, "xdp"))
		return BEXT_PROG_XDP;
	return BEXT_PROG_EXT;
}

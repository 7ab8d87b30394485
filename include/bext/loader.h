/* SPDX-License-Identifier: MIT */
/*
 * bext/loader.h - the loader side: puts an eBPF ELF object (clang -O2 -g
 * -target bpf, libbpf conventions) into the object store as maps, programs
 * and links, for agents in target processes to pick up.
 *
 * What bext_loader__load() creates, in this order:
 *  - one map per `.maps` definition (BTF) and one one-element array per
 *    global data section (.data*, .rodata*, .bss*) holding the section's
 *    initial value (.rodata is then frozen and read-only to programs);
 *  - one program per program of the object: its linked instructions (lddw
 *    map forms keep the object's map index, which is also the index into
 *    the program's map id list: every program references every map of its
 *    object, in object order), its store type (BPF_PROG_TYPE_KPROBE for
 *    uprobes, as libbpf), name, license, and its section name as attach
 *    hint. Each program is verified first (bext_verify) unless
 *    opts->no_verify, in which case " no-verify" is appended to the hint;
 *  - one link per auto-attachable program: sections uprobe/PATH:FUNC,
 *    uprobe/PATH:FUNC+OFF and uretprobe/PATH:FUNC (also the sleepable
 *    uprobe.s/uretprobe.s spellings), with target "uprobe:PATH:FUNC+OFF" or
 *    "uretprobe:PATH:FUNC+OFF", attach_type BPF_PERF_EVENT, the pid filter
 *    and cookie of opts.
 *
 * The caller keeps the creation reference of every object created (they stay
 * in the store until detached/unloaded: bext_store__obj_put()). On failure,
 * everything this call created is removed again.
 */
#ifndef BEXT_LOADER_H
#define BEXT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bext/common.h>
#include <bext/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Link kinds, as kept in a link's target string (same values as enum bext_attach_kind). */
enum bext_probe_kind {
	BEXT_PROBE_UPROBE = 0,
	BEXT_PROBE_URETPROBE = 1,
};

/* A parsed uprobe target: where a link wants its program to run. */
struct bext_probe_target {
	enum bext_probe_kind kind;
	char path[4096]; /* binary or library: absolute path, or a name like "libc.so.6" */
	char func[256];	 /* symbol */
	uint64_t offset; /* bytes after the symbol's address */
};

/*
 * Parses a libbpf section name "uprobe/PATH:FUNC[+OFF]", "uretprobe/PATH:FUNC"
 * (also "uprobe.s/", "uretprobe.s/"). OFF is decimal or 0x-hex. Returns 0,
 * -ENOENT when the section is not an auto-attachable uprobe (e.g. plain
 * "uprobe" or another program type), -EINVAL when it is malformed (no PATH,
 * no ":FUNC", a negative, malformed or overflowing OFF), -EOPNOTSUPP for
 * forms bext does not attach (a raw address instead of a symbol).
 */
BEXT_API int bext_probe_target__from_section(const char *sec, struct bext_probe_target *t);
/* Parses a link target "uprobe:PATH:FUNC+OFF" / "uretprobe:PATH:FUNC+OFF". 0 or -EINVAL. */
BEXT_API int bext_probe_target__parse(const char *target, struct bext_probe_target *t);
/* Formats @t as a link target into buf; -ENAMETOOLONG if it does not fit. */
BEXT_API int bext_probe_target__format(const struct bext_probe_target *t, char *buf, size_t len);

/* The agent's log in the store directory (`bext log` prints it). */
#define BEXT_AGENT_LOG_NAME "agent.log"

/* Appended to a program's attach hint when it was stored without verification. */
#define BEXT_NO_VERIFY_MARK " no-verify"

struct bext_load_opts {
	size_t sz;	 /* sizeof(struct bext_load_opts) */
	bool no_verify;	 /* store programs without running the verifier */
	bool no_links;	 /* create maps and programs only */
	int32_t pid;	 /* pid filter of the links; 0 or -1: any process */
	uint64_t cookie; /* bpf_get_attach_cookie() of the links */
	/* Verifier log of a rejected program (log level 1); may be NULL. */
	char *log;
	size_t log_len;
};

struct bext_loaded {
	uint32_t *map_ids, *prog_ids, *link_ids; /* malloc'd */
	size_t nr_maps, nr_progs, nr_links;
};

/*
 * Loads the object at @path into @s. Returns 0 and fills @out (free it with
 * bext_loaded__free()), or a negative errno with a message in err: the
 * object's own errors (see bext_obj__open), the errors of
 * bext_loader__check() (nothing is created then), -EINVAL for a map without
 * a definition, the store's errors, -EACCES/-EINVAL/-E2BIG from the verifier
 * ("program NAME rejected: reason"; the log in opts->log).
 */
BEXT_API int bext_loader__load(struct bext_store *s, const char *path,
			       const struct bext_load_opts *opts, struct bext_loaded *out,
			       char *err, size_t err_len);
/*
 * The checks bext_loader__load() makes before it touches the store, without
 * a store: the object opens and has programs, and, unless opts->no_links,
 * every uprobe/uretprobe section names a target a link can have. Its errors
 * (message "program NAME: section SEC: reason" in @err):
 *  - -EINVAL, -EOPNOTSUPP: a malformed section, as for
 *    bext_probe_target__from_section(), the reason named ("no ':FUNC' after
 *    the path '/usr/bin/ls'", "negative offset '-8'", ...);
 *  - for an absolute PATH: stat/open's -errno ("PATH: No such file or
 *    directory"), -EINVAL ("PATH is not a regular file", "offset 0x40 is past
 *    the end of FUNC in PATH"), -ENOEXEC ("PATH is not an ELF executable or
 *    library"), -ENOENT ("symbol FUNC not found in PATH": neither .symtab nor
 *    .dynsym defines it).
 * A bare PATH ("libc.so.6") is resolved in each target process by the agent,
 * which logs a missing symbol; it is not checked here. @opts may be NULL.
 */
BEXT_API int bext_loader__check(const char *path, const struct bext_load_opts *opts, char *err,
				size_t err_len);
/* Frees the id arrays (not the objects). Accepts NULL. */
BEXT_API void bext_loaded__free(struct bext_loaded *l);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_LOADER_H */

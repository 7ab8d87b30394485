/* SPDX-License-Identifier: MIT */
/*
 * libbext-agent.so: the part of bext that lives inside a target process.
 *
 *   bext start ── LD_PRELOAD + BEXT_STORE ──► constructor (before main)
 *                                               │ open the store
 *                                               │ reconcile()  ◄───────────────┐
 *                                               └ watcher thread: wait on the │
 *                                                 store's generation word ────┘
 *
 * reconcile() compares the links the store holds with the links this process
 * has installed: a live link that matches this process (its binary or a
 * loaded library, its pid filter) and is not installed yet is installed
 * (program read from the store, maps opened, helpers registered, map
 * references resolved, JIT-compiled, symbol resolved, code patched); an
 * installed link that is gone from the store (or no longer matches, e.g. a
 * pid filter after fork) is detached. A link that fails is logged once and
 * not retried.
 *
 * Never crash or exit the host: every failure is a line in the store's
 * agent.log (`bext log`) and the host runs on. The library exports two
 * symbols (version script), dlopen and dlclose: nothing else of bext can
 * clash with the host's names.
 *
 * Libraries unloaded: the exported dlclose() has the attach layer run the
 * real one with patching held off and forget the probed sites it unmapped
 * (never written again); their links are dropped and installed again if the
 * library comes back.
 *
 * Libraries loaded later: the exported dlopen() calls the real one and, when
 * it loaded a new object, reconciles before returning, so a link on a
 * function of the new library is in place before the host can call it. The
 * real dlopen must see the host's return address (it picks the caller's
 * RUNPATH and namespace from it): it is entered with a `ret` byte of the
 * caller's own text as its return address, and that ret lands back here.
 * Other ways in (dlmopen, libc's own loads) are noticed by the watcher, which
 * polls dl_iterate_phdr's load counter every DL_POLL_MS.
 *
 * Lifetimes: a program's vm and maps stay loaded for the life of the process,
 * even after its last link is detached, because a thread may still be inside
 * the JIT'd code when bext_detach() returns; program ids are never reused, so
 * a later link on the same program reuses it.
 *
 * fork: the child inherits the patched code, the programs and the installed
 * links, so it keeps the extensions; a pthread_atfork child handler starts a
 * new watcher there (threads do not survive fork), whose first pass drops
 * links whose pid filter names the parent. exec: LD_PRELOAD and BEXT_STORE
 * are inherited, so the new image loads a fresh agent.
 *
 * Locking: agent.lock serialises reconcile() between the constructor, the
 * watcher, dlopen and fork (held across fork so the child's copy is
 * consistent). dlopen waits for it at most DLOPEN_LOCK_S (a thread in
 * reconcile() may itself wait for the loader lock a library constructor's
 * dlopen holds); then the watcher's poll installs the links instead.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>

#include <bext/attach.h>
#include <bext/helpers.h>
#include <bext/loader.h>
#include <bext/map.h>
#include <bext/store.h>
#include <bext/vm.h>

#include "attach/attach_internal.h"

#define DL_POLL_MS 100
#define DLOPEN_LOCK_S 1
#define DLCLOSE_LOCK_MS 2000

struct agent_prog {
	uint32_t id;
	char name[16];
	struct bext_vm *vm;
	bext_jit_fn fn;
	bool calls_override; /* calls bpf_override_return (helper 58) */
	struct bext_map **maps;
	size_t nr_maps;
	struct agent_prog *next;
};

struct agent_link {
	uint32_t id;
	struct agent_prog *prog;
	struct bext_attachment *att;
	struct agent_link *next;
};

static struct {
	pthread_mutex_t lock;
	struct bext_store *store;
	char log_path[PATH_MAX + 32];
	char exe[PATH_MAX];
	struct agent_prog *progs;
	struct agent_link *links;
	uint32_t *failed; /* link ids that could not be installed: not retried */
	size_t nr_failed, cap_failed;
	bool watcher_running;
	bool exiting;	     /* set (under lock) by agent_exit(): no more store passes */
	bool watch_from_set; /* the constructor's pass saw generation watch_from */
	uint32_t watch_from;
} agent = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the log ----------------------------------------------------------------------- */

static __attribute__((format(printf, 1, 2))) void agent_log(const char *fmt, ...)
{
	char buf[1024], comm[32] = "?";
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m, fd;

	if (!agent.log_path[0])
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	snprintf(comm, sizeof(comm), "%s", program_invocation_short_name);
	n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld pid %d (%s): ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, (int)getpid(), comm);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(buf) - 1 ? (int)sizeof(buf) - 2 : n + m;
	if (buf[n - 1] != '\n')
		buf[n++] = '\n';
	fd = open(agent.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* one write per line: O_APPEND keeps lines of many processes whole */
	if (write(fd, buf, (size_t)n) < 0) {
		/* nowhere else to report it */
	}
	close(fd);
}

/* bext's own warnings (vm, maps, helpers) go to the log too, never to the host's stderr. */
static int agent_print(enum bext_print_level level, const char *fmt, va_list ap)
{
	char msg[768];

	if (level != BEXT_WARN)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	agent_log("%s", msg);
	return 0;
}

/* ---- does a link target this process? ------------------------------------------------ */

struct lib_match {
	const char *want;   /* path or basename */
	const char *wantrp; /* realpath of want, or NULL */
	bool found;
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int lib_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct lib_match *lm = data;
	char rp[PATH_MAX];

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;
	if (strchr(lm->want, '/')) {
		if (!strcmp(info->dlpi_name, lm->want) ||
		    (lm->wantrp && realpath(info->dlpi_name, rp) && !strcmp(rp, lm->wantrp)))
			lm->found = true;
	} else if (!strcmp(base_name(info->dlpi_name), lm->want)) {
		lm->found = true;
	}
	return lm->found;
}

/*
 * 0: the target is the main executable (*path_arg = NULL); 1: a loaded
 * library (*path_arg = t->path); -ENOENT: not in this process.
 */
static int match_target(const struct bext_probe_target *t, const char **path_arg)
{
	struct lib_match lm = {.want = t->path};
	char rp[PATH_MAX];
	bool has_rp = false;

	if (strchr(t->path, '/')) {
		has_rp = realpath(t->path, rp) != NULL;
		if (has_rp && agent.exe[0] && !strcmp(rp, agent.exe)) {
			*path_arg = NULL;
			return 0;
		}
		lm.wantrp = has_rp ? rp : NULL;
	} else if (agent.exe[0] && !strcmp(base_name(agent.exe), t->path)) {
		*path_arg = NULL;
		return 0;
	}
	dl_iterate_phdr(lib_cb, &lm);
	if (!lm.found)
		return -ENOENT;
	*path_arg = t->path;
	return 1;
}

/* ---- programs ------------------------------------------------------------------------ */

static void prog_free(struct agent_prog *p)
{
	size_t i;

	if (!p)
		return;
	bext_vm__free(p->vm);
	for (i = 0; i < p->nr_maps; i++)
		bext_map__close(p->maps[i]);
	free(p->maps);
	free(p);
}

static struct agent_prog *prog_get(uint32_t id, char *err, size_t err_len)
{
	struct bext_helpers_opts ho = {.sz = sizeof(ho)};
	struct bext_prog_data d;
	struct bext_helpers_maps hm;
	struct bext_obj_info in;
	struct agent_prog *p;
	size_t i;
	int r;

	for (p = agent.progs; p; p = p->next)
		if (p->id == id)
			return p;
	r = bext_store__prog_read(agent.store, id, &d);
	if (r) {
		snprintf(err, err_len, "cannot read program %u: %s", id, strerror(-r));
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->maps = calloc(d.nr_maps ? d.nr_maps : 1, sizeof(*p->maps)))) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	p->id = id;
	if (bext_store__obj_info(agent.store, id, &in) == 0)
		memcpy(p->name, in.name, sizeof(p->name));
	if (d.prog_type != BPF_PROG_TYPE_KPROBE) {
		snprintf(err, err_len, "program %u (%s) has type %u, not a uprobe program", id,
			 p->name, d.prog_type);
		goto err;
	}
	for (i = 0; i < d.nr_maps; i++) {
		p->maps[i] = bext_store__map_by_id(agent.store, d.map_ids[i]);
		if (!p->maps[i]) {
			snprintf(err, err_len, "program %u (%s): cannot open map %u: %s", id,
				 p->name, d.map_ids[i], strerror(errno));
			goto err;
		}
		p->nr_maps++;
	}
	p->vm = bext_vm__new(NULL);
	if (!p->vm) {
		snprintf(err, err_len, "program %u: cannot create a vm: %s", id, strerror(errno));
		goto err;
	}
	ho.store = agent.store;
	for (i = 0; i < d.insn_cnt; i++) {
		const struct bext_insn *in = (const struct bext_insn *)d.insns + i;

		if (in->code == (BPF_JMP | BPF_CALL) && in->src == 0 &&
		    in->imm == (int32_t)BEXT_ATTACH_OVERRIDE_RETURN_ID)
			p->calls_override = true;
	}
	r = bext_vm__register_helper(p->vm, BEXT_ATTACH_OVERRIDE_RETURN_ID, "bpf_override_return",
				     bext_attach__override_return_helper);
	if (r) {
		snprintf(err, err_len, "program %u: cannot register bpf_override_return: %s", id,
			 strerror(-r));
		goto err;
	}
	r = bext_helpers__register_all(p->vm, &ho);
	if (r) {
		snprintf(err, err_len, "program %u: cannot register helpers: %s", id, strerror(-r));
		goto err;
	}
	hm = (struct bext_helpers_maps){.maps = p->maps, .nr = p->nr_maps};
	bext_vm__set_pseudo_resolver(p->vm, bext_helpers__pseudo_resolver, &hm);
	r = bext_vm__load(p->vm, d.insns, d.insn_cnt, err, err_len);
	bext_vm__set_pseudo_resolver(p->vm, NULL, NULL); /* hm lives on this stack only */
	if (r) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_len, "program %u (%s): load failed: %s", id, p->name, why);
		goto err;
	}
	p->fn = bext_vm__jit(p->vm, err, err_len);
	if (!p->fn) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_len, "program %u (%s): JIT failed: %s", id, p->name, why);
		goto err;
	}
	bext_helpers__set_prog(id, p->vm); /* for tail calls through prog arrays */
	bext_prog_data__free(&d);
	p->next = agent.progs;
	agent.progs = p;
	return p;
err:
	bext_prog_data__free(&d);
	prog_free(p);
	return NULL;
}

/* ---- links --------------------------------------------------------------------------- */

static bool is_failed(uint32_t id)
{
	size_t i;

	for (i = 0; i < agent.nr_failed; i++)
		if (agent.failed[i] == id)
			return true;
	return false;
}

static void mark_failed(uint32_t id)
{
	if (agent.nr_failed == agent.cap_failed) {
		size_t cap = agent.cap_failed ? agent.cap_failed * 2 : 16;
		uint32_t *f = realloc(agent.failed, cap * sizeof(*f));

		if (!f)
			return;
		agent.failed = f;
		agent.cap_failed = cap;
	}
	agent.failed[agent.nr_failed++] = id;
}

static struct agent_link *link_find(uint32_t id)
{
	struct agent_link *l;

	for (l = agent.links; l; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

/* Whether link @id (live, read into @d) is for this process; fills @t and *path_arg. */
static bool link_wanted(const struct bext_link_data *d, struct bext_probe_target *t,
			const char **path_arg)
{
	if (d->pid > 0 && d->pid != (int32_t)getpid())
		return false;
	if (bext_probe_target__parse(d->target, t))
		return false;
	return match_target(t, path_arg) >= 0;
}

/* A link to install in this pass (see reconcile()). */
struct pending {
	uint32_t id;
	struct bext_link_data d;
	struct bext_probe_target t;
	const char *path_arg; /* NULL (main executable) or t.path */
	struct agent_prog *prog;
};

static void link_fail(uint32_t id, const struct bext_link_data *d, const char *err)
{
	mark_failed(id);
	agent_log("link %u (prog %u) at %s not installed: %s", id, d->prog_id, d->target, err);
}

static void link_install(uint32_t id, const struct bext_link_data *d,
			 const struct bext_probe_target *t, const char *path_arg,
			 struct agent_prog *p)
{
	struct bext_attach_opts ao = {.sz = sizeof(ao)};
	struct agent_link *l;
	char err[512] = "";
	void *addr = NULL;
	int r;

	r = bext_attach__resolve(path_arg, t->func, t->offset, &addr, err, sizeof(err));
	if (r) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-r));
		goto fail;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	ao.kind = t->kind == BEXT_PROBE_URETPROBE ? BEXT_ATTACH_URETPROBE : BEXT_ATTACH_UPROBE;
	ao.cookie = d->cookie;
	/* as the kernel: only an entry probe may override the function's result */
	ao.allow_override = p->calls_override && t->kind == BEXT_PROBE_UPROBE && !t->offset;
	ao.vm = p->vm; /* lets the hit path skip what the program cannot need */
	l->att = bext_attach(addr, p->fn, &ao, err, sizeof(err));
	if (!l->att) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(errno));
		free(l);
		goto fail;
	}
	l->id = id;
	l->prog = p;
	l->next = agent.links;
	agent.links = l;
	agent_log("attached link %u (prog %u %s) at %s (%p)", id, p->id, p->name, d->target, addr);
	return;
fail:
	link_fail(id, d, err);
}

static void link_remove(struct agent_link *l, const char *verb, const char *why);

/*
 * Links whose code was unloaded (dlclose; the attach layer forgot their
 * sites and writes nothing there): dropped from the installed list, not
 * marked failed, so reconcile() installs them again when the library is
 * loaded again. Called with agent.lock held.
 */
static void drop_unloaded_links(void)
{
	struct agent_link *l, *next;

	for (l = agent.links; l; l = next) {
		next = l->next;
		if (bext_attach__forgotten(l->att))
			link_remove(
			    l, "uninstalled",
			    "its library was unloaded (dlclose): installed again when it is "
			    "loaded again");
	}
}

static void link_remove(struct agent_link *l, const char *verb, const char *why)
{
	struct agent_link **pp;
	int r = bext_detach(l->att);

	for (pp = &agent.links; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	if (r)
		agent_log("link %u: detach failed: %s", l->id, strerror(-r));
	else
		agent_log("%s link %u (prog %u %s): %s", verb, l->id, l->prog->id, l->prog->name,
			  why);
	free(l);
}

/*
 * Tail-call targets: a program that only a program array holds has no link,
 * but a loaded program may jump to it. Every program in a slot of a loaded
 * program's prog arrays is loaded too (and registered for the tail-call
 * resolver by prog_get), then theirs, until nothing new turns up; slot
 * changes bump the store's generation, so the watcher comes back here. A
 * program that cannot be loaded is logged once (its id joins the failed
 * list: ids are never reused) and tail calls to it fall through.
 */
static void load_tail_targets(void)
{
	bool added = true;

	while (added) {
		struct agent_prog *p;

		added = false;
		for (p = agent.progs; p && !added; p = p->next) {
			for (size_t i = 0; i < p->nr_maps && !added; i++) {
				struct bext_map *m = p->maps[i];

				if (bext_map__type(m) != BPF_MAP_TYPE_PROG_ARRAY)
					continue;
				for (uint32_t k = 0; k < bext_map__max_entries(m) && !added; k++) {
					struct agent_prog *q;
					char err[512] = "";
					uint32_t id;

					if (bext_map__lookup_elem(m, &k, &id) || is_failed(id))
						continue;
					for (q = agent.progs; q && q->id != id; q = q->next)
						;
					if (q)
						continue;
					/* restart the walk: prog_get puts new programs first */
					added = prog_get(id, err, sizeof(err)) != NULL;
					if (added) {
						agent_log(
						    "loaded program %u for tail calls (prog array "
						    "%s [%u])",
						    id, bext_map__name(m), k);
					} else {
						mark_failed(id);
						agent_log(
						    "program %u in prog array %s [%u] not loaded: "
						    "%s",
						    id, bext_map__name(m), k, err);
					}
				}
			}
		}
	}
}

/* Brings the installed links in line with the store. Called with agent.lock held. */
static void reconcile(void)
{
	struct agent_link *l, *next;
	struct bext_obj_info in;
	struct bext_link_data d;
	struct bext_probe_target t;
	struct pending *pend = NULL;
	size_t i, nr = 0, cap = 0;
	const char *path_arg;
	uint32_t id = 0;

	/* unloaded, removed (or no longer matching) links first */
	drop_unloaded_links();
	for (l = agent.links; l; l = next) {
		next = l->next;
		if (bext_store__obj_info(agent.store, l->id, &in) || in.kind != BEXT_OBJ_LINK)
			link_remove(l, "detached", "link removed from the store");
		else if (bext_store__link_read(agent.store, l->id, &d) == 0 &&
			 !link_wanted(&d, &t, &path_arg))
			link_remove(l, "detached", "link does not match this process");
	}
	/*
	 * New links: first every program is loaded and compiled, then the code
	 * is patched, so a probe on a function the agent itself uses (malloc)
	 * does not see the agent's own work for later links of the same pass.
	 */
	while (bext_store__next_id(agent.store, id, &id) == 0) {
		if (bext_store__obj_info(agent.store, id, &in) || in.kind != BEXT_OBJ_LINK)
			continue;
		if (link_find(id) || is_failed(id))
			continue;
		if (bext_store__link_read(agent.store, id, &d))
			continue; /* removed meanwhile */
		if (!link_wanted(&d, &t, &path_arg))
			continue;
		if (nr == cap) {
			struct pending *np;

			cap = cap ? cap * 2 : 8;
			np = realloc(pend, cap * sizeof(*pend));
			if (!np) {
				agent_log("out of memory while scanning links");
				break;
			}
			pend = np;
		}
		pend[nr] = (struct pending){.id = id, .d = d, .t = t};
		pend[nr].path_arg = path_arg ? pend[nr].t.path : NULL;
		nr++;
	}
	for (i = 0; i < nr; i++) {
		char err[512] = "";

		pend[i].prog = prog_get(pend[i].d.prog_id, err, sizeof(err));
		if (!pend[i].prog)
			link_fail(pend[i].id, &pend[i].d, err);
	}
	load_tail_targets();
	for (i = 0; i < nr; i++)
		if (pend[i].prog)
			link_install(pend[i].id, &pend[i].d, &pend[i].t, pend[i].path_arg,
				     pend[i].prog);
	free(pend);
}

/* ---- libraries loaded later ------------------------------------------------------------ */

static __thread unsigned agent_depth;	   /* > 0: in reconcile() or in the real dlopen */
static _Atomic unsigned long long dl_seen; /* objects ever loaded, at the last reconcile() */
static void *(*_Atomic real_dlopen)(const char *, int);

static int dl_adds_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		*(unsigned long long *)data = info->dlpi_adds + info->dlpi_subs;
	return 1;
}

/* How many objects were ever loaded plus ever unloaded: changes with every load and unload. */
static unsigned long long dl_adds(void)
{
	unsigned long long n = 0;

	dl_iterate_phdr(dl_adds_cb, &n);
	return n;
}

/* reconcile() with agent.lock held, noting the loaded objects it saw. */
static void reconcile_locked(void)
{
	if (agent.exiting)
		return; /* the process is exiting: no store lock may be held when it ends */
	agent_depth++;
	atomic_store(&dl_seen, dl_adds());
	reconcile();
	agent_depth--;
}

struct ret_gadget {
	uintptr_t pc;
	const void *ret; /* a 0xc3 byte in the executable segment holding pc */
};

static int ret_gadget_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct ret_gadget *g = data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || g->pc < lo ||
		    g->pc >= lo + ph->p_filesz)
			continue;
		g->ret = memchr((const void *)lo, 0xc3, ph->p_filesz);
		return 1;
	}
	return 0;
}

/*
 * agent_call_ra(fn, file, mode, ra): fn(file, mode) with ra as its return
 * address, ra a `ret` byte that returns to the instruction after the jmp.
 * glibc's dlopen takes the caller from its return address; ra is in the
 * caller's text, so the RUNPATH, $ORIGIN and namespace are the host's.
 */
void *agent_call_ra(void *(*fn)(const char *, int), const char *file, int mode, const void *ra);
__asm__(".text\n"
	".p2align 4\n"
	".type agent_call_ra, @function\n"
	"agent_call_ra:\n"
	".cfi_startproc\n"
	"push %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"mov %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"mov %rdi, %rax\n"
	"mov %rsi, %rdi\n"
	"mov %edx, %esi\n"
	"sub $8, %rsp\n"
	"lea 1f(%rip), %rdx\n"
	"push %rdx\n" /* where ra's ret goes */
	"push %rcx\n" /* fn's return address: ra */
	"jmp *%rax\n"
	"1:\n"
	"leave\n"
	".cfi_def_cfa %rsp, 8\n"
	"ret\n"
	".cfi_endproc\n"
	".size agent_call_ra, .-agent_call_ra\n");

/* The one exported symbol: the real dlopen, then the links on what it loaded. */
__attribute__((visibility("default"))) void *dlopen(const char *file, int mode)
{
	void *(*real)(const char *, int) = atomic_load(&real_dlopen);
	struct ret_gadget g = {.pc = (uintptr_t)__builtin_return_address(0)};
	struct timespec to;
	int saved_errno;
	void *h;

	if (!real) {
		real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
		if (!real)
			return NULL; /* dlerror() says why */
		atomic_store(&real_dlopen, real);
	}
	dl_iterate_phdr(ret_gadget_cb, &g);
	agent_depth++; /* a library constructor's dlopen: the outer call reconciles */
	h = g.ret ? agent_call_ra(real, file, mode, g.ret) : real(file, mode);
	agent_depth--;
	if (!h || agent_depth || !agent.store || dl_adds() == atomic_load(&dl_seen))
		return h;
	saved_errno = errno;
	clock_gettime(CLOCK_REALTIME, &to);
	to.tv_sec += DLOPEN_LOCK_S;
	if (pthread_mutex_timedlock(&agent.lock, &to) == 0) {
		reconcile_locked();
		pthread_mutex_unlock(&agent.lock);
	}
	errno = saved_errno;
	return h;
}

static int (*_Atomic real_dlclose)(void *);

/*
 * The other exported symbol: the real dlclose, run by the attach layer with
 * patching held off; when it unmapped probed code, bext forgets those sites
 * (it never writes there again: another object may be mapped there next) and
 * the links on them are dropped, to be installed again if the library comes
 * back. agent.lock first (lock order: agent.lock, then the attach lock), but
 * not when this thread is inside our dlopen or reconcile() (a constructor's
 * or the agent's own dlclose): the watcher drops the links then.
 */
__attribute__((visibility("default"))) int dlclose(void *h)
{
	int (*real)(void *) = atomic_load(&real_dlclose);
	unsigned forgot = 0;
	bool locked = false;
	struct timespec to;
	int r, saved_errno;

	if (!real) {
		real = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
		if (!real)
			return -1;
		atomic_store(&real_dlclose, real);
	}
	if (!agent.store)
		return real(h); /* the agent patched nothing */
	if (!agent_depth) {
		clock_gettime(CLOCK_REALTIME, &to);
		to.tv_sec += DLOPEN_LOCK_S;
		locked = pthread_mutex_timedlock(&agent.lock, &to) == 0;
	}
	agent_depth++; /* a destructor's dlopen must not reconcile here */
	r = bext_attach__unload(real, h, DLCLOSE_LOCK_MS, &forgot);
	agent_depth--;
	saved_errno = errno;
	if (r == -EDEADLK) {
		agent_log("dlclose(%p): patching stayed busy for %d ms: the object stays loaded", h,
			  DLCLOSE_LOCK_MS);
		r = 0;
	}
	if (forgot)
		agent_log("dlclose(%p): %u probed addresses unloaded: forgotten, nothing "
			  "written there",
			  h, forgot);
	if (locked) {
		if (forgot)
			drop_unloaded_links();
		pthread_mutex_unlock(&agent.lock);
	}
	errno = saved_errno;
	return r;
}

/* ---- the watcher ----------------------------------------------------------------------- */

/*
 * Passes over the store when it changes. After the constructor's own pass
 * the first one waits for a change (a short-lived process would otherwise
 * often end while this thread's first pass holds the store's registry lock,
 * leaving a dead owner for the next opener to recover); a fork child's
 * watcher starts with a pass.
 */
static void *watcher(void *arg)
{
	uint32_t gen;
	bool wait_first;

	(void)arg;
	pthread_mutex_lock(&agent.lock);
	wait_first = agent.watch_from_set;
	gen = agent.watch_from;
	agent.watch_from_set = false;
	pthread_mutex_unlock(&agent.lock);
	for (;;) {
		if (!wait_first) {
			gen = bext_store__generation(agent.store);
			pthread_mutex_lock(&agent.lock);
			reconcile_locked();
			pthread_mutex_unlock(&agent.lock);
		}
		wait_first = false;
		/* a store change, or objects loaded other than by our dlopen */
		while (bext_store__wait_generation(agent.store, gen, DL_POLL_MS) == -ETIMEDOUT &&
		       dl_adds() == atomic_load(&dl_seen))
			;
	}
	return NULL;
}

/*
 * exit(): a pass of the watcher in progress is let finish (1 s at most), and
 * none starts after, so the process does not end holding the store's
 * registry lock (robust, but the next opener would have to recover it).
 */
static void agent_exit(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_mutex_timedlock(&agent.lock, &ts) == 0) {
		agent.exiting = true;
		pthread_mutex_unlock(&agent.lock);
	}
}

static int sync_sig; /* bext_attach__signals() */

static int start_watcher(void)
{
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t th;
	int r;

	/* the host's signals stay with the host's threads; bext's own (an int3
	 * met while patching, the patcher's broadcast) must reach this one */
	sigfillset(&all);
	sigdelset(&all, SIGTRAP);
	if (sync_sig > 0)
		sigdelset(&all, sync_sig);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	r = pthread_create(&th, &a, watcher, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	pthread_setname_np(th, "bext-watcher");
	agent.watcher_running = true;
	return 0;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&agent.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&agent.lock);
}

static void atfork_child(void)
{
	int r;

	agent.watch_from_set = false; /* the child's watcher starts with a pass */
	pthread_mutex_unlock(&agent.lock);
	agent.watcher_running = false;
	r = start_watcher();
	if (r)
		agent_log("fork: cannot start the watcher in the child: %s (extensions stay as "
			  "inherited, live changes are not followed)",
			  strerror(-r));
}

__attribute__((constructor)) static void bext_agent_init(void)
{
	struct bext_store_opts so = {.sz = sizeof(so)};
	const char *dir = getenv("BEXT_STORE");
	struct stat st;
	ssize_t n;
	int r, saved_errno = errno;

	if (!dir || !dir[0] || stat(dir, &st) || !S_ISDIR(st.st_mode))
		goto out; /* no store: nothing to do, and nowhere to say so */
	snprintf(agent.log_path, sizeof(agent.log_path), "%s/%s", dir, BEXT_AGENT_LOG_NAME);
	bext_set_print(agent_print);
	n = readlink("/proc/self/exe", agent.exe, sizeof(agent.exe) - 1);
	agent.exe[n > 0 ? n : 0] = 0;
	so.path = dir;
	agent.store = bext_store__open(&so);
	if (!agent.store) {
		agent_log("agent: cannot open the store %s: %s", dir, strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&agent.lock);
	agent.watch_from = bext_store__generation(agent.store);
	agent.watch_from_set = true;
	reconcile_locked(); /* links loaded before start are in place before main() */
	pthread_mutex_unlock(&agent.lock);
	atexit(agent_exit);
	sync_sig = bext_attach__signals();
	if (sync_sig < 0)
		agent_log("agent: cannot install the signal handlers for patching: %s",
			  strerror(-sync_sig));
	r = start_watcher();
	if (r) {
		agent_log("agent: cannot start the watcher thread: %s (live changes are not "
			  "followed)",
			  strerror(-r));
		goto out;
	}
	r = pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	if (r)
		agent_log("agent: pthread_atfork: %s (children lose the watcher)", strerror(r));
out:
	errno = saved_errno;
}

// SPDX-License-Identifier: MIT
/*
 * attach: uprobes and uretprobes by rewriting code in the running process.
 *
 *   caller ──call──► func:  [endbr64]
 *                           jmp tramp ──────► tramp (per site, near func, never freed):
 *                                               build pt_regs on the stack
 *                                               tls.seq odd (skip if it already was)
 *                                               p = site->progs; its flags say:
 *                                                 save xmm0-7? call the one program
 *                                                 directly, or entry_dispatch():
 *                                                 ├ runs the entry programs in order
 *                                                 └ uretprobes: return address <- bext_uret_tramp,
 *                                                   original pushed on the thread's shadow stack
 *                                               tls.seq even
 *                                               override? rax = rc; ret ──────────► caller
 *                                               restore registers
 *                                               relocated displaced insns
 *                           rest of func ◄───── jmp func+skip+patch_len
 *                           ret ──────────────► bext_uret_tramp: pt_regs (rax = return value),
 *                                               pops the shadow stack (C only for stale entries),
 *                                               runs the uretprobe programs, jmp ──► caller
 *
 * Sites (one per probed address) are created once and kept for the life of
 * the process with their trampoline, so a thread may always be inside one.
 * The program set of a site is immutable and swapped atomically; a replaced
 * one is freed after a grace period: a barrier on every thread (membarrier
 * or a signal) then a wait until every thread that was inside a probe has
 * left it (per-thread sequence counter, odd while inside). See
 * docs/ATTACH.md "The hit path" for what the trampoline skips and when.
 *
 * Live patching (attach_lock serialises attach/detach):
 *   install:   int3 at patch[0]; move threads sitting between displaced
 *              instructions into the trampoline's copy (signal to every
 *              thread); patch[1..4] = rel32; sync cores; patch[0] = 0xe9.
 *   uninstall: int3 at patch[0]; sync; original patch[1..4]; sync; patch[0].
 * A thread meeting the int3 gets SIGTRAP; our handler sends it to the
 * site's trampoline (as if the jmp were there).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include <bext/helpers.h>

#include "attach/attach_internal.h"

#define MAX_SITES 4096u
#define TRAMP_PAGE 4096u

/*
 * The hit path's choices live in the program set (see tramp_x86_64.S):
 * F_XMM      save xmm0-7 around the entry work (a program may call a helper)
 * F_DIRECT   one entry program and nothing else to do: called straight
 * F_DISPATCH entry_dispatch (several entry programs, run info, override)
 * F_ARM      uretprobe programs: the trampoline pushes the return address on
 *            the thread's shadow stack and points the slot at bext_uret_tramp
 * F_RET_X87  a uretprobe program may call C code: bext_uret_tramp saves the
 *            x87 return registers (st0, st1) around it (xmm0/xmm1, the only
 *            live SSE registers at a return, are always saved)
 * F_RET_DIRECT the one uretprobe program called straight
 * F_RUNINFO, F_RET_RUNINFO set bext_run_info around the programs
 */
enum {
	F_XMM = 1,
	F_DIRECT = 2,
	F_DISPATCH = 4,
	F_RET_X87 = 8,
	F_RET_DIRECT = 16,
	F_RUNINFO = 32,
	F_RET_RUNINFO = 64,
	F_ARM = 128,
};

/* What a program may do, from its instructions (no vm: everything). */
enum { PF_CALLS = 1, PF_RUNINFO = 2 };

struct prog_ent {
	bext_jit_fn fn;
	uint64_t cookie;
	bool allow_override;
};

/* Immutable; replaced as a whole by attach/detach. Offsets used by the trampolines. */
struct prog_arr {
	uint32_t flags;
	uint32_t n;		/* entry programs: e[0..n) */
	bext_jit_fn direct;	/* F_DIRECT: the one entry program */
	bext_jit_fn direct_ret; /* F_RET_DIRECT: the one uretprobe program */
	struct bext_site *site;
	uint32_t n_ret; /* uretprobe programs: e[n..n+n_ret) */
	struct prog_ent e[];
};
_Static_assert(offsetof(struct prog_arr, flags) == 0, "tramp P_FLAGS");
_Static_assert(offsetof(struct prog_arr, direct) == 8, "tramp P_DIRECT");
_Static_assert(offsetof(struct prog_arr, direct_ret) == 16, "tramp P_DIRECT_RET");

struct bext_site {
	/* read by the trampoline: keep first, in this order */
	struct prog_arr *_Atomic progs;
	int (*init_fn)(void);
	uint64_t (*dispatch_fn)(struct bext_site *, struct bext_pt_regs *, const struct prog_arr *);
	_Atomic uint64_t nested; /* hits skipped: the thread was inside a probe already */
	const void *uret_tramp;	 /* bext_uret_tramp (not in rel32 reach of the copy) */
	void (*push_fn)(struct bext_site *, uint64_t); /* shadow push, the slow cases */

	uint8_t *addr;	/* probed address (pt_regs.rip, bpf_get_func_ip) */
	uint8_t *patch; /* where the jmp goes: addr, or addr + 4 past an endbr64 */
	uint8_t *tramp;
	uint8_t *reloc; /* relocated displaced instructions inside tramp */
	unsigned patch_len;
	bool at_entry; /* addr is the function's entry */
	bool patched;
	uint8_t orig[BEXT_X86_JMP_LEN];
	uint8_t jmp[BEXT_X86_JMP_LEN];
	struct bext_x86_reloc rl;
	struct bext_attachment **atts; /* in attach order */
	size_t n_atts;
	/* the code at addr went away (bext_attach__unload, forget_range, or
	 * bytes found changed): never written again, no programs; kept (and
	 * skipped by lookups) for its attachments and shadow-stack entries */
	_Atomic bool gone;
};
_Static_assert(offsetof(struct bext_site, progs) == 0, "tramp SITE_PROGS");
_Static_assert(offsetof(struct bext_site, init_fn) == 8, "tramp SITE_INIT");
_Static_assert(offsetof(struct bext_site, dispatch_fn) == 16, "tramp SITE_DISPATCH");
_Static_assert(offsetof(struct bext_site, nested) == 24, "tramp SITE_NESTED");
_Static_assert(offsetof(struct bext_site, uret_tramp) == 32, "tramp SITE_URET");
_Static_assert(offsetof(struct bext_site, push_fn) == 40, "tramp SITE_PUSH");

struct bext_attachment {
	struct bext_site *site;
	enum bext_attach_kind kind;
	bext_jit_fn fn;
	uint64_t cookie;
	bool allow_override;
	unsigned pflags; /* PF_* */
};

struct shadow_ent {
	uint64_t sp;  /* address of the return-address slot */
	uint64_t ret; /* the original return address */
	struct bext_site *site;
};
_Static_assert(sizeof(struct shadow_ent) == 24, "tramp: entries are 24 bytes");

#define SHADOW_BYTES (BEXT_SHADOW_DEPTH * sizeof(struct shadow_ent))

/*
 * Per-thread state, initial-exec TLS: the trampolines reach it at a fixed
 * offset from %fs. Registered threads are on reg_head (reg_lock).
 */
struct bext_tls {
	_Atomic uint64_t seq; /* odd while inside a probe (the recursion guard too) */
	uint8_t registered;
	bool dead;
	bool override_ok, override_set;
	unsigned top;
	uint64_t override_rc;
	struct shadow_ent *ss; /* mmap'd at the first uretprobe'd call on the thread */
	struct bext_tls *next, **pprev;
};
_Static_assert(offsetof(struct bext_tls, seq) == 0, "tramp TLS_SEQ");
_Static_assert(offsetof(struct bext_tls, registered) == 8, "tramp TLS_REG");
_Static_assert(offsetof(struct bext_tls, top) == 12, "tramp TLS_TOP");
_Static_assert(offsetof(struct bext_tls, ss) == 24, "tramp TLS_SS");
_Static_assert(BEXT_SHADOW_DEPTH == 256, "tramp SHADOW_DEPTH");

BEXT_HIDDEN __thread struct bext_tls bext_attach_tls __attribute__((tls_model("initial-exec")));
#define tls bext_attach_tls

/*
 * The C parts of the hit path run with xmm0-7 unsaved when no program
 * there needs them: they must not touch SSE registers. gcc can promise that
 * (general-regs-only); with another compiler, or sanitizer runtime calls
 * in them, the trampolines always save (prog_flags()).
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(BEXT_ATTACH_ALWAYS_XMM)
#define HIT_PATH __attribute__((target("general-regs-only")))
#define HIT_PATH_NO_SSE 1
#else
#define HIT_PATH
#define HIT_PATH_NO_SSE 0
#endif

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bext_tls *reg_head;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static struct bext_site *sites[MAX_SITES];
static _Atomic unsigned n_sites;
static struct prog_arr empty_arr;

static struct sigaction old_trap;
static int sync_sig;
static bool trap_installed;
static bool mb_sync_core, mb_expedited;
static struct bext_site *_Atomic moving_site;
static _Atomic unsigned acks;
static _Atomic uint64_t shadow_overflows, sync_timeouts, sync_skipped;

/* ---- per-thread registration ----------------------------------------------------------- */

static void tls_dtor(void *p)
{
	struct bext_tls *t = p;

	pthread_mutex_lock(&reg_lock);
	if (t->registered) {
		*t->pprev = t->next;
		if (t->next)
			t->next->pprev = t->pprev;
	}
	t->registered = false;
	t->dead = true;
	pthread_mutex_unlock(&reg_lock);
	/* no uretprobe'd frame of this thread is live any more (the thread
	 * function returned or was unwound); later hits run nothing */
	if (t->ss) {
		munmap(t->ss, SHADOW_BYTES);
		t->ss = NULL;
		t->top = 0;
	}
}

static void tls_key_init(void)
{
	pthread_key_create(&tls_key, tls_dtor);
}

/* First hit on a thread (the trampoline saved xmm0-7): not lock-free, once per
 * thread. Returns 0, or -1 for a thread past its TLS destructors. */
static int tls_register(void)
{
	struct bext_tls *t = &tls;

	if (t->registered)
		return 0;
	if (t->dead)
		return -1;
	pthread_once(&tls_once, tls_key_init);
	pthread_mutex_lock(&reg_lock);
	t->next = reg_head;
	t->pprev = &reg_head;
	if (reg_head)
		reg_head->pprev = &t->next;
	reg_head = t;
	t->registered = true;
	pthread_mutex_unlock(&reg_lock);
	pthread_setspecific(tls_key, t);
	return 0;
}

/* ---- the hit path ------------------------------------------------------------------------ */

/* Called with tls.seq odd (the trampoline entered). */
static inline HIT_PATH void run_progs(const struct prog_ent *e, uint32_t n, bool runinfo,
				      struct bext_site *s, struct bext_pt_regs *regs,
				      struct bext_tls *t)
{
	struct bext_run_info ri;
	const struct bext_run_info *prev = NULL;

	if (runinfo) {
		ri.func_ip = (uint64_t)s->addr;
		ri.attach_cookie = 0;
		ri.user_regs = regs;
		prev = bext_helpers__set_run(&ri);
	}
	for (uint32_t i = 0; i < n; i++) {
		ri.attach_cookie = e[i].cookie;
		t->override_ok = e[i].allow_override;
		e[i].fn(regs, sizeof(*regs));
	}
	t->override_ok = false;
	if (runinfo)
		bext_helpers__set_run(prev);
}

/*
 * The cases of the shadow push the trampoline leaves to C (tls.seq odd): no
 * stack mapped yet on this thread, a full stack, and a top entry at or below
 * this slot (stale entries to drop, or a tail call). The common push is in
 * the trampoline (tramp_x86_64.S) and does the same stores.
 */
static HIT_PATH void shadow_push(struct bext_site *s, uint64_t sp)
{
	struct bext_tls *t = &tls;
	uint64_t *slot = (uint64_t *)sp;

	if (__builtin_expect(!t->ss, 0)) {
		/* once per thread; mmap, not malloc: malloc itself may be probed */
		void *m = mmap(NULL, SHADOW_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED) {
			atomic_fetch_add_explicit(&shadow_overflows, 1, memory_order_relaxed);
			return;
		}
		t->ss = m;
	}
	/* entries at or below this slot belong to frames left without a return
	 * (longjmp, exceptions): drop them; the same slot already holding our
	 * return trampoline is a tail call from another uretprobe'd function */
	while (t->top && (t->ss[t->top - 1].sp < sp ||
			  (t->ss[t->top - 1].sp == sp && *slot != (uint64_t)bext_uret_tramp)))
		t->top--;
	if (t->top == BEXT_SHADOW_DEPTH) {
		atomic_fetch_add_explicit(&shadow_overflows, 1, memory_order_relaxed);
		return;
	}
	t->ss[t->top].sp = sp;
	t->ss[t->top].ret = *slot;
	t->ss[t->top].site = s;
	t->top++;
	*slot = (uint64_t)bext_uret_tramp;
}

/* From the trampoline (tls.seq odd) when p has F_DISPATCH. Returns 1 to override.
 * Uretprobes are armed by the trampoline afterwards (F_ARM). */
static HIT_PATH uint64_t entry_dispatch(struct bext_site *s, struct bext_pt_regs *regs,
					const struct prog_arr *p)
{
	struct bext_tls *t = &tls;
	uint64_t over = 0;

	t->override_set = false;
	run_progs(p->e, p->n, p->flags & F_RUNINFO, s, regs, t);
	if (t->override_set) {
		regs->rax = t->override_rc;
		over = 1;
		t->override_set = false;
	}
	return over;
}

/*
 * From bext_uret_tramp when the top shadow entry is not this return's (tls.seq
 * even, the common pop is in the trampoline): drops the entries of frames
 * left without a return (longjmp), pops this return's entry, sets pt_regs.rip
 * to the real return address and returns the entry's site.
 */
HIT_PATH void *bext_attach__ret_pop_slow(struct bext_pt_regs *regs)
{
	struct bext_tls *t = &tls;
	uint64_t slot = regs->rsp - 8;

	while (t->top && t->ss[t->top - 1].sp < slot)
		t->top--;
	if (!t->top || t->ss[t->top - 1].sp != slot)
		abort(); /* no record of where to return: cannot continue */
	t->top--;
	regs->rip = t->ss[t->top].ret;
	return t->ss[t->top].site;
}

/* From bext_uret_tramp when the set has no F_RET_DIRECT. */
HIT_PATH void bext_attach__ret_dispatch(struct bext_pt_regs *regs, const void *progs)
{
	const struct prog_arr *p = progs;

	run_progs(p->e + p->n, p->n_ret, p->flags & F_RET_RUNINFO, p->site, regs, &tls);
}

/*
 * Personality of bext_uret_tramp's FDE: an exception (or forced unwind)
 * leaving a uretprobe'd function finds bext_uret_tramp as its return
 * address. Put the original return address back into the slot (the FDE says
 * the return address is at CFA - 8) before the unwinder reads it, and forget
 * the shadow entry (and entries of frames unwound before it).
 */
BEXT_HIDDEN _Unwind_Reason_Code bext_uret_personality(int version, _Unwind_Action actions,
						      _Unwind_Exception_Class cls,
						      struct _Unwind_Exception *exc,
						      struct _Unwind_Context *ctx)
{
	struct bext_tls *t = &tls;
	uint64_t slot = (uint64_t)_Unwind_GetCFA(ctx) - 8;

	(void)version;
	(void)actions;
	(void)cls;
	(void)exc;
	for (unsigned i = t->ss ? t->top : 0; i > 0; i--) {
		if (t->ss[i - 1].sp != slot)
			continue;
		/* the unwinder reads the slot right after: from now on it sees the
		 * original return address (in a later phase too), so the frame is
		 * gone for us; without a handler further out the search phase ends
		 * in std::terminate anyway */
		*(uint64_t *)slot = t->ss[i - 1].ret;
		t->top = i - 1;
		break;
	}
	return _URC_CONTINUE_UNWIND;
}

uint64_t bext_attach__override_return_helper(uint64_t ctx, uint64_t rc, uint64_t r3, uint64_t r4,
					     uint64_t r5)
{
	struct bext_tls *t = &tls;

	(void)ctx;
	(void)r3;
	(void)r4;
	(void)r5;
	if (!t->override_ok)
		return (uint64_t)(int64_t)-EPERM;
	t->override_set = true;
	t->override_rc = rc;
	return 0;
}

/* ---- signals and thread synchronisation ---------------------------------------------------- */

/*
 * The broadcast signal (a real-time signal, so it queues and never merges
 * with an int3's SIGTRAP): a barrier on the thread, and the moment a thread
 * sitting between displaced instructions of moving_site moves to their copy.
 */
static void sync_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];
	struct bext_site *s = atomic_load(&moving_site);
	int saved_errno = errno;

	(void)sig;
	(void)si;
	if (s) {
		uint64_t off = (uint64_t)*rip - (uint64_t)s->patch;

		for (unsigned i = 0; off && off < s->patch_len && i < s->rl.nb; i++)
			if (s->rl.b_orig[i] == off)
				*rip = (greg_t)(s->reloc + s->rl.b_new[i]);
	}
	atomic_fetch_add(&acks, 1);
	syscall(SYS_futex, (unsigned *)&acks, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved_errno;
}

/* SIGTRAP: a thread met the int3 of a site being patched: on to its trampoline. */
static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];
	int saved_errno = errno;
	unsigned n;

	n = atomic_load(&n_sites);
	for (unsigned i = 0; i < n; i++) {
		if ((uint64_t)sites[i]->patch + 1 == (uint64_t)*rip &&
		    !atomic_load_explicit(&sites[i]->gone, memory_order_relaxed)) {
			*rip = (greg_t)sites[i]->tramp;
			errno = saved_errno;
			return;
		}
	}
	/* not ours */
	if ((old_trap.sa_flags & SA_SIGINFO) && old_trap.sa_sigaction) {
		old_trap.sa_sigaction(sig, si, ucv);
	} else if (old_trap.sa_handler != SIG_DFL && old_trap.sa_handler != SIG_IGN) {
		old_trap.sa_handler(sig);
	} else if (old_trap.sa_handler == SIG_DFL) {
		signal(SIGTRAP, SIG_DFL);
		raise(SIGTRAP);
	}
	errno = saved_errno;
}

static int global_init(char *err, size_t err_len)
{
	struct sigaction sa;

	if (trap_installed)
		return 0;
	/* the broadcast signal: the highest real-time signal nobody handles */
	for (sync_sig = SIGRTMAX - 1; sync_sig > SIGRTMIN + 3; sync_sig--) {
		struct sigaction cur;

		if (!sigaction(sync_sig, NULL, &cur) && !(cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_handler == SIG_DFL)
			break;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sync_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sync_sig <= SIGRTMIN + 3 || sigaction(sync_sig, &sa, NULL)) {
		snprintf(err, err_len, "no free real-time signal for thread synchronisation");
		return -EBUSY;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, &old_trap)) {
		snprintf(err, err_len, "sigaction(SIGTRAP): %s", strerror(errno));
		return -errno;
	}
	mb_sync_core =
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
	mb_expedited =
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	trap_installed = true;
	return 0;
}

/*
 * Whether thread tid may be between the displaced instructions of s, from
 * /proc/self/task/TID/syscall (proc_pid_syscall(5)): "running" (on a CPU or
 * preempted) may be anywhere; a thread blocked in the kernel ("NR args sp
 * pc", or "-1 sp pc" outside a system call) resumes at its user pc, the last
 * field. Unreadable or unparsable: may be.
 */
static bool thread_may_be_inside(pid_t tid, const struct bext_site *s)
{
	char path[64], buf[256], *p, *end;
	uint64_t pc, off;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	p = strrchr(buf, ' ');
	if (!strncmp(buf, "running", 7) || !p)
		return true;
	errno = 0;
	pc = strtoull(p + 1, &end, 16);
	if (errno || end == p + 1)
		return true;
	off = pc - (uint64_t)s->patch;
	return off > 0 && off < s->patch_len;
}

/*
 * Interrupts every other thread with sync_sig and waits until each ran the
 * handler: a full barrier and core serialisation on each, and the moment a
 * thread between displaced instructions of moving_site moves.
 *
 * With only (non-NULL), called after the int3 at only->patch was written
 * and every core synced: a thread blocked in the kernel whose user pc is
 * outside only's displaced bytes is not interrupted (no EINTR for it): when
 * it resumes, the only way into those bytes is through the int3.
 */
static void signal_threads(const struct bext_site *only)
{
	pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
	struct timespec t0, t1;
	unsigned sent = 0;
	struct dirent *de;
	DIR *d;

	atomic_store(&acks, 0);
	d = opendir("/proc/self/task");
	if (!d)
		return;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (only && !thread_may_be_inside(tid, only)) {
			atomic_fetch_add_explicit(&sync_skipped, 1, memory_order_relaxed);
			continue;
		}
		if (syscall(SYS_tgkill, pid, tid, sync_sig) == 0)
			sent++;
	}
	closedir(d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned cur; (cur = atomic_load(&acks)) < sent;) {
		struct timespec to = {0, 50 * 1000 * 1000};

		/* the handlers wake us: sleeping gives the interrupted threads the CPU */
		syscall(SYS_futex, (unsigned *)&acks, FUTEX_WAIT_PRIVATE, cur, &to, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 2) { /* a thread exited or blocks the signal */
			atomic_fetch_add(&sync_timeouts, 1);
			break;
		}
	}
}

static void sync_cores(void)
{
	if (mb_sync_core)
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
	else
		signal_threads(NULL);
}

/* Grace period: afterwards no thread still uses a program array replaced before. */
static void synchronize(void)
{
	struct bext_tls *self = &tls;

	if (mb_expedited)
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	else
		signal_threads(NULL);
	pthread_mutex_lock(&reg_lock);
	for (struct bext_tls *t = reg_head; t; t = t->next) {
		uint64_t s = atomic_load_explicit(&t->seq, memory_order_acquire);

		if (t == self || !(s & 1))
			continue;
		while (atomic_load_explicit(&t->seq, memory_order_acquire) == s) {
			struct timespec ts = {0, 10000};

			nanosleep(&ts, NULL); /* the thread is inside a program: let it run */
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

/* ---- sites ------------------------------------------------------------------------------- */

static struct bext_site *find_site(const void *addr)
{
	unsigned n = atomic_load(&n_sites);

	for (unsigned i = 0; i < n; i++)
		if (sites[i]->addr == addr && !atomic_load(&sites[i]->gone))
			return sites[i];
	return NULL;
}

/* Offset of this thread's bext_attach_tls from the thread pointer: the same in
 * every thread (initial-exec TLS). */
static int64_t tls_offset(void)
{
	uint64_t tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return (int64_t)((uint64_t)&tls - tp);
}

static struct bext_site *site_new(uint8_t *addr, char *err, size_t err_len)
{
	struct bext_x86_site_info si;
	uint64_t fstart, fsize;
	char fname[128];
	struct bext_site *s;
	int64_t rel;
	long tl;
	int ret;

	if (atomic_load(&n_sites) >= MAX_SITES) {
		snprintf(err, err_len, "too many probed addresses (%u)", MAX_SITES);
		errno = ENOSPC;
		return NULL;
	}
	ret = bext_attach__find_func(addr, &fstart, &fsize, fname, sizeof(fname));
	if (ret) {
		snprintf(err, err_len,
			 "no function symbol (with a size) contains %p: cannot check the site",
			 (void *)addr);
		errno = -ret;
		return NULL;
	}
	ret = bext_x86_analyze((const uint8_t *)fstart, fsize, addr, &si, err, err_len);
	if (ret) {
		size_t l = strlen(err);

		snprintf(err + l, err_len > l ? err_len - l : 0, " (in %s)", fname);
		errno = -ret;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->addr = addr;
	s->patch = addr + si.skip;
	s->patch_len = si.patch_len;
	s->at_entry = (uint64_t)addr == fstart;
	s->tramp = bext_x86_alloc_near(s->patch, TRAMP_PAGE);
	if (!s->tramp) {
		snprintf(err, err_len, "no free memory within +-2 GiB of %p for a trampoline",
			 (void *)s->patch);
		ret = -ENOMEM;
		goto free_site;
	}
	s->init_fn = tls_register;
	s->dispatch_fn = entry_dispatch;
	s->uret_tramp = bext_uret_tramp;
	s->push_fn = shadow_push;
	tl = bext_x86_build_tramp(s->tramp, TRAMP_PAGE, s->at_entry, (uint64_t)addr, s,
				  tls_offset(), s->patch, s->patch_len, &s->rl, err, err_len);
	if (tl < 0) {
		ret = (int)tl;
		goto unmap;
	}
	s->reloc = s->tramp + tl;
	if (mprotect(s->tramp, TRAMP_PAGE, PROT_READ | PROT_EXEC)) {
		ret = -errno;
		snprintf(err, err_len, "mprotect trampoline: %s", strerror(errno));
		goto unmap;
	}
	rel = (int64_t)((uint64_t)s->tramp - ((uint64_t)s->patch + BEXT_X86_JMP_LEN));
	if (rel < INT32_MIN || rel > INT32_MAX) {
		snprintf(err, err_len, "trampoline out of rel32 reach");
		ret = -ERANGE;
		goto unmap;
	}
	s->jmp[0] = 0xe9;
	{
		int32_t r32 = (int32_t)rel;

		memcpy(s->jmp + 1, &r32, 4);
	}
	memcpy(s->orig, s->patch, BEXT_X86_JMP_LEN);
	atomic_store(&s->progs, &empty_arr);
	sites[atomic_load(&n_sites)] = s;
	atomic_fetch_add(&n_sites, 1); /* publish after the entry is complete */
	return s;
unmap:
	munmap(s->tramp, TRAMP_PAGE);
free_site:
	free(s);
	errno = -ret;
	return NULL;
}

static int site_install(struct bext_site *s, char *err, size_t err_len)
{
	static const uint8_t int3 = 0xcc;
	int ret;

	ret = bext_x86_text_write(s->patch, &int3, 1);
	if (ret) {
		snprintf(err, err_len, "cannot write code at %p: %s", (void *)s->patch,
			 strerror(-ret));
		return ret;
	}
	atomic_store(&moving_site, s);
	if (mb_sync_core) {
		/* every core sees the int3 before the threads' states are read */
		sync_cores();
		signal_threads(s);
	} else {
		signal_threads(NULL);
	}
	atomic_store(&moving_site, NULL);
	ret = bext_x86_text_write(s->patch + 1, s->jmp + 1, BEXT_X86_JMP_LEN - 1);
	sync_cores();
	ret = ret ?: bext_x86_text_write(s->patch, s->jmp, 1);
	sync_cores();
	if (ret) {
		snprintf(err, err_len, "cannot write code at %p: %s", (void *)s->patch,
			 strerror(-ret));
		return ret;
	}
	s->patched = true;
	return 0;
}

static int site_uninstall(struct bext_site *s)
{
	static const uint8_t int3 = 0xcc;
	int ret;

	ret = bext_x86_text_write(s->patch, &int3, 1);
	sync_cores();
	ret = ret ?: bext_x86_text_write(s->patch + 1, s->orig + 1, BEXT_X86_JMP_LEN - 1);
	sync_cores();
	ret = ret ?: bext_x86_text_write(s->patch, s->orig, 1);
	sync_cores();
	if (!ret)
		s->patched = false;
	return ret;
}

/* ---- code that goes away ---------------------------------------------------------------- */

static void arr_free(struct prog_arr *a);

/* Reads n bytes of this process at addr without faulting: 0, or -EFAULT if unmapped/unreadable. */
static int code_read(const void *addr, void *buf, size_t n)
{
	struct iovec local = {buf, n}, remote = {(void *)addr, n};

	if (syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL) != (long)n)
		return -EFAULT;
	return 0;
}

/*
 * Whether the code at s->patch is no longer what bext left there (its jmp
 * when patched, the original bytes otherwise): unmapped, or another object
 * mapped there since (a library unloaded without bext_attach__unload, e.g.
 * by libc itself). attach_lock held.
 */
static bool site_stale(const struct bext_site *s)
{
	uint8_t cur[BEXT_X86_JMP_LEN];

	if (code_read(s->patch, cur, sizeof(cur)))
		return true;
	return memcmp(cur, s->patched ? s->jmp : s->orig, sizeof(cur)) != 0;
}

/*
 * attach_lock held: forgets the sites whose patch lies in [lo, hi) and
 * returns how many. Nothing is written there; the program sets become empty
 * (freed after a grace period) and the trampolines are unmapped: a thread can
 * only be inside one while it runs the unloaded code, which the host must not
 * do once the code is unloaded. The site structs stay: attachments (until
 * detached) and uretprobe shadow-stack entries of frames left by longjmp
 * point to them (such an entry is only ever dropped, never returned through:
 * a live entry needs a live frame of the unloaded code).
 */
static unsigned forget_locked(uintptr_t lo, uintptr_t hi)
{
	unsigned n = atomic_load(&n_sites), cnt = 0;
	struct prog_arr **olds = calloc(n ? n : 1, sizeof(*olds));
	uint8_t **tramps = calloc(n ? n : 1, sizeof(*tramps));

	for (unsigned i = 0; i < n; i++) {
		struct bext_site *s = sites[i];
		struct prog_arr *old;

		if (atomic_load(&s->gone) || (uintptr_t)s->patch < lo || (uintptr_t)s->patch >= hi)
			continue;
		atomic_store(&s->gone, true);
		s->patched = false;
		old = atomic_exchange(&s->progs, &empty_arr);
		if (olds && tramps) {
			olds[cnt] = old;
			tramps[cnt] = s->tramp;
		} else {
			synchronize();
			arr_free(old);
		}
		cnt++;
	}
	if (cnt && olds && tramps) {
		synchronize();
		for (unsigned i = 0; i < cnt; i++) {
			arr_free(olds[i]);
			munmap(tramps[i], TRAMP_PAGE);
		}
	}
	free(olds);
	free(tramps);
	return cnt;
}

/* A loaded object: its name (pointer: identity only) and the span of its PT_LOAD segments. */
struct obj_span {
	const char *name;
	uintptr_t bias, lo, hi;
};

struct obj_list {
	struct obj_span *o;
	size_t n, cap;
	bool oom;
	unsigned long long subs;
};

static int obj_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct obj_list *ol = data;
	struct obj_span sp = {.name = info->dlpi_name, .bias = info->dlpi_addr, .lo = UINTPTR_MAX};

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		ol->subs = info->dlpi_subs;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < sp.lo)
			sp.lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > sp.hi)
			sp.hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (ol->n == ol->cap) {
		size_t nc = ol->cap ? ol->cap * 2 : 64;
		struct obj_span *no = realloc(ol->o, nc * sizeof(*no));

		if (!no) {
			ol->oom = true;
			return 1;
		}
		ol->o = no;
		ol->cap = nc;
	}
	ol->o[ol->n++] = sp;
	return 0;
}

static bool obj_listed(const struct obj_list *ol, const struct obj_span *sp)
{
	for (size_t i = 0; i < ol->n; i++)
		if (ol->o[i].name == sp->name && ol->o[i].bias == sp->bias &&
		    ol->o[i].lo == sp->lo && ol->o[i].hi == sp->hi)
			return true;
	return false;
}

/* This thread runs bext_attach__unload's unload() (attach_lock held). */
static __thread bool in_unload;

int bext_attach__unload(int (*unload)(void *arg), void *arg, unsigned timeout_ms, unsigned *forgot)
{
	struct obj_list before = {0}, after = {0};
	unsigned cnt = 0;
	struct timespec to;
	int ret;

	if (forgot)
		*forgot = 0;
	if (in_unload) /* a destructor's dlclose: the outer call looks at both */
		return unload(arg);
	clock_gettime(CLOCK_REALTIME, &to);
	to.tv_sec += timeout_ms / 1000;
	to.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (to.tv_nsec >= 1000000000L) {
		to.tv_sec++;
		to.tv_nsec -= 1000000000L;
	}
	/* timed: this thread may hold the loader's lock (a constructor's
	 * dlclose) that another unload, holding attach_lock, waits for */
	if (pthread_mutex_timedlock(&attach_lock, &to))
		return -EDEADLK;
	dl_iterate_phdr(obj_cb, &before);
	in_unload = true;
	ret = unload(arg);
	in_unload = false;
	dl_iterate_phdr(obj_cb, &after);
	if (before.oom || after.oom) {
		/* cannot tell what went: check every site's bytes instead */
		unsigned n = atomic_load(&n_sites);

		for (unsigned i = 0; i < n; i++)
			if (!atomic_load(&sites[i]->gone) && site_stale(sites[i]))
				cnt += forget_locked((uintptr_t)sites[i]->patch,
						     (uintptr_t)sites[i]->patch + 1);
	} else if (after.subs != before.subs) {
		for (size_t i = 0; i < before.n; i++)
			if (!obj_listed(&after, &before.o[i]))
				cnt += forget_locked(before.o[i].lo, before.o[i].hi);
	}
	pthread_mutex_unlock(&attach_lock);
	free(before.o);
	free(after.o);
	if (cnt)
		pr_info("attach: %u probed sites forgotten: their code was unloaded\n", cnt);
	if (forgot)
		*forgot = cnt;
	return ret;
}

unsigned bext_attach__forget_range(uintptr_t lo, uintptr_t hi)
{
	unsigned cnt;

	if (in_unload)
		return forget_locked(lo, hi);
	pthread_mutex_lock(&attach_lock);
	cnt = forget_locked(lo, hi);
	pthread_mutex_unlock(&attach_lock);
	return cnt;
}

bool bext_attach__forgotten(const struct bext_attachment *a)
{
	return a && atomic_load(&a->site->gone);
}

/* What a program may do, from its instructions: PF_* (no vm: everything). */
static unsigned prog_flags(const struct bext_vm *vm)
{
	const struct bext_insn *in;
	unsigned f = 0;
	size_t n = 0;

	if (!vm || !HIT_PATH_NO_SSE)
		return PF_CALLS | PF_RUNINFO;
	in = bext_vm__insns(vm, &n);
	if (!in)
		return PF_CALLS | PF_RUNINFO;
	for (size_t i = 0; i < n; i++) {
		uint8_t cls = BEXT_CLASS(in[i].code);

		if (cls == BEXT_CLS_LD && (BEXT_MODE(in[i].code) == BEXT_MODE_ABS ||
					   BEXT_MODE(in[i].code) == BEXT_MODE_IND))
			return PF_CALLS | PF_RUNINFO; /* legacy packet loads: not ours to judge */
		if ((cls != BEXT_CLS_JMP && cls != BEXT_CLS_JMP32) ||
		    BEXT_OP(in[i].code) != BEXT_JMP_CALL)
			continue;
		/* any call may reach C code (helpers; the JIT's error path for
		 * bpf-to-bpf calls) and so clobber xmm0-7 */
		f |= PF_CALLS;
		if (BEXT_SRC(in[i].code) == BEXT_SRC_X || in[i].src == 2) {
			f |= PF_RUNINFO; /* callx, kfunc: unknown */
		} else if (in[i].src == 0) {
			switch (in[i].imm) {
			case 12:  /* tail_call: the target may read anything */
			case 27:  /* get_stackid */
			case 67:  /* get_stack */
			case 173: /* get_func_ip */
			case 174: /* get_attach_cookie */
				f |= PF_RUNINFO;
				break;
			default:
				break;
			}
		}
	}
	return f;
}

/* The program set of s from s->atts (attach order), or NULL (out of memory). */
static struct prog_arr *arr_build(struct bext_site *s)
{
	unsigned ef = 0, rf = 0, n_ent = 0, n_ret = 0;
	bool any_override = false;
	struct prog_arr *a;

	for (size_t i = 0; i < s->n_atts; i++) {
		struct bext_attachment *at = s->atts[i];

		if (at->kind == BEXT_ATTACH_UPROBE) {
			n_ent++;
			ef |= at->pflags;
			any_override |= at->allow_override;
		} else {
			n_ret++;
			rf |= at->pflags;
		}
	}
	if ((!n_ent && !n_ret) || atomic_load(&s->gone))
		return &empty_arr;
	a = calloc(1, sizeof(*a) + (n_ent + n_ret) * sizeof(a->e[0]));
	if (!a)
		return NULL;
	a->site = s;
	for (int k = 0; k < 2; k++) {
		enum bext_attach_kind kind = k ? BEXT_ATTACH_URETPROBE : BEXT_ATTACH_UPROBE;
		uint32_t at_i = k ? n_ent : 0;

		for (size_t i = 0; i < s->n_atts; i++) {
			struct bext_attachment *at = s->atts[i];

			if (at->kind != kind)
				continue;
			a->e[at_i].fn = at->fn;
			a->e[at_i].cookie = at->cookie;
			a->e[at_i].allow_override = at->allow_override;
			at_i++;
		}
	}
	a->n = n_ent;
	a->n_ret = n_ret;
	if (ef & PF_CALLS)
		a->flags |= F_XMM;
	if (ef & PF_RUNINFO)
		a->flags |= F_RUNINFO;
	if (n_ent == 1 && !(ef & PF_RUNINFO) && !any_override) {
		a->flags |= F_DIRECT;
		a->direct = a->e[0].fn;
	} else if (n_ent) {
		a->flags |= F_DISPATCH;
	}
	if (n_ret)
		a->flags |= F_ARM;
	if (rf & PF_CALLS)
		a->flags |= F_RET_X87;
	if (rf & PF_RUNINFO)
		a->flags |= F_RET_RUNINFO;
	if (n_ret == 1 && !(rf & PF_RUNINFO)) {
		a->flags |= F_RET_DIRECT;
		a->direct_ret = a->e[n_ent].fn;
	}
	return a;
}

static void arr_free(struct prog_arr *a)
{
	if (a != &empty_arr)
		free(a);
}

/* Publishes s's program set from s->atts; the old one is freed after a grace period. */
static int site_publish(struct bext_site *s)
{
	struct prog_arr *na = arr_build(s), *old;

	if (!na)
		return -ENOMEM;
	old = atomic_exchange(&s->progs, na);
	synchronize();
	arr_free(old);
	return 0;
}

/* ---- API --------------------------------------------------------------------------------- */

struct bext_attachment *bext_attach(void *addr, bext_jit_fn prog,
				    const struct bext_attach_opts *opts, char *err, size_t err_len)
{
	char dummy[1];
	struct bext_attachment *a = NULL, **na;
	struct bext_site *s;
	int ret;

	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = 0;
	if (!addr || !prog || !opts || opts->sz < sizeof(size_t) ||
	    (opts->kind != BEXT_ATTACH_UPROBE && opts->kind != BEXT_ATTACH_URETPROBE)) {
		snprintf(err, err_len, "invalid arguments");
		errno = EINVAL;
		return NULL;
	}
	if (opts->allow_override && opts->kind != BEXT_ATTACH_UPROBE) {
		snprintf(err, err_len, "override_return needs a uprobe at the function entry");
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&attach_lock);
	ret = global_init(err, err_len);
	if (ret)
		goto unlock;
	s = find_site(addr);
	if (s && site_stale(s)) {
		/* other code there now (unloaded and replaced behind our back) */
		pr_warn("attach: the code at %p changed since it was probed: old site forgotten\n",
			(void *)s->patch);
		forget_locked((uintptr_t)s->patch, (uintptr_t)s->patch + 1);
		s = NULL;
	}
	if (!s) {
		s = site_new(addr, err, err_len);
		if (!s) {
			ret = -errno;
			goto unlock;
		}
	}
	if (!s->at_entry && (opts->kind == BEXT_ATTACH_URETPROBE || opts->allow_override)) {
		snprintf(err, err_len, "%s needs the function entry; %p is inside the function",
			 opts->kind == BEXT_ATTACH_URETPROBE ? "uretprobe" : "override_return",
			 addr);
		ret = -EINVAL;
		goto unlock;
	}
	a = calloc(1, sizeof(*a));
	na = realloc(s->atts, (s->n_atts + 1) * sizeof(*na));
	if (!a || !na) {
		if (na)
			s->atts = na;
		snprintf(err, err_len, "out of memory");
		ret = -ENOMEM;
		goto free_a;
	}
	s->atts = na;
	a->site = s;
	a->kind = opts->kind;
	a->fn = prog;
	a->cookie = opts->cookie;
	a->allow_override = opts->allow_override;
	a->pflags = opts->sz >= offsetof(struct bext_attach_opts, vm) + sizeof(opts->vm)
			? prog_flags(opts->vm)
			: PF_CALLS | PF_RUNINFO;
	s->atts[s->n_atts++] = a;
	ret = site_publish(s);
	if (!ret && !s->patched)
		ret = site_install(s, err, err_len);
	if (ret) {
		s->n_atts--;
		site_publish(s);
		if (!err[0])
			snprintf(err, err_len, "%s", strerror(-ret));
		goto free_a;
	}
	pthread_mutex_unlock(&attach_lock);
	return a;
free_a:
	free(a);
unlock:
	pthread_mutex_unlock(&attach_lock);
	errno = -ret;
	return NULL;
}

int bext_detach(struct bext_attachment *a)
{
	struct bext_site *s;
	int ret = 0;

	if (!a)
		return 0;
	pthread_mutex_lock(&attach_lock);
	s = a->site;
	for (size_t i = 0; i < s->n_atts; i++) {
		if (s->atts[i] != a)
			continue;
		memmove(&s->atts[i], &s->atts[i + 1], (s->n_atts - i - 1) * sizeof(s->atts[0]));
		s->n_atts--;
		break;
	}
	if (s->n_atts == 0 && s->patched && !atomic_load(&s->gone)) {
		if (site_stale(s)) {
			pr_warn("attach: the code at %p changed or is unmapped (unloaded?): "
				"nothing written there\n",
				(void *)s->patch);
			forget_locked((uintptr_t)s->patch, (uintptr_t)s->patch + 1);
		} else {
			ret = site_uninstall(s);
		}
	}
	/* a failed array allocation keeps the old arrays: retry with the empty ones */
	if (site_publish(s)) {
		struct prog_arr *old = atomic_exchange(&s->progs, &empty_arr);

		synchronize();
		arr_free(old);
		/* other attachments of this site lose their programs: say so */
		if (s->n_atts)
			pr_warn("attach: out of memory on detach; %zu programs at %p disabled\n",
				s->n_atts, (void *)s->addr);
	}
	pthread_mutex_unlock(&attach_lock);
	free(a);
	return ret;
}

int bext_attach__signals(void)
{
	char err[128];
	int ret;

	pthread_mutex_lock(&attach_lock);
	ret = global_init(err, sizeof(err));
	pthread_mutex_unlock(&attach_lock);
	if (ret)
		pr_warn("attach: %s\n", err);
	return ret ? ret : sync_sig;
}

/* ---- introspection -------------------------------------------------------------------------- */

void bext_attach__stats(struct bext_attach_stats *st)
{
	st->shadow_overflows = atomic_load(&shadow_overflows);
	st->sync_timeouts = atomic_load(&sync_timeouts);
	st->sync_skipped = atomic_load(&sync_skipped);
	st->sites = atomic_load(&n_sites);
	st->nested = 0;
	for (unsigned i = 0; i < st->sites; i++)
		st->nested += atomic_load(&sites[i]->nested);
}

int bext_attach__site_flags(const void *addr)
{
	struct bext_site *s;
	int f = -ENOENT;

	pthread_mutex_lock(&attach_lock);
	s = find_site(addr);
	if (s)
		f = (int)atomic_load(&s->progs)->flags;
	pthread_mutex_unlock(&attach_lock);
	return f;
}

unsigned bext_attach__shadow_depth(void)
{
	return tls.top;
}

int bext_attach__site_info(const void *addr, const uint8_t **patch, unsigned *patch_len,
			   const uint8_t **reloc, size_t *reloc_len)
{
	struct bext_site *s;

	pthread_mutex_lock(&attach_lock);
	s = find_site(addr);
	if (s) {
		*patch = s->patch;
		*patch_len = s->patch_len;
		*reloc = s->reloc;
		*reloc_len = s->rl.len;
	}
	pthread_mutex_unlock(&attach_lock);
	return s ? 0 : -ENOENT;
}

/* SPDX-License-Identifier: MIT */
/*
 * bext/policy.h - what one extension may touch: the seam between the EIM
 * (Extension Interface Model) specs and the verifier.
 *
 * A policy is deny-by-default: a fresh policy allows no helper, no host
 * function, no ctx byte to be read or written, and sets no budgets (0 means
 * "no budget"). Grants are added with the calls below; the EIM layer fills
 * a policy from its YAML specs, tests build them in C. The verifier
 * consults a policy on top of the rules of the program type: a helper must
 * be enabled for the type AND allowed here; a ctx access must be legal for
 * the type AND inside a granted range.
 *
 * Passing no policy (NULL) to the verifier means "the program type's rules
 * only" (what the kernel does).
 *
 * Ownership: the caller owns the policy; the verifier only reads it while
 * bext_verify() runs. Not thread-safe while being modified.
 */
#ifndef BEXT_POLICY_H
#define BEXT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BEXT_API
#define BEXT_API __attribute__((visibility("default")))
#endif

struct bext_policy;

/*
 * A host function the application exposes to extensions (EIM "function"
 * capability). It is called like a helper, with helper id `id`, which must
 * not collide with a kernel helper id the verifier knows. Its prototype for
 * the verifier: `nargs` scalar arguments (0..5), a scalar result.
 */
struct bext_host_func {
	uint32_t id;
	uint32_t nargs;
	char name[48];
};

/* A new, empty (deny-everything) policy, or NULL with errno = ENOMEM. */
BEXT_API struct bext_policy *bext_policy__new(void);
/* Frees the policy. Accepts NULL. */
BEXT_API void bext_policy__free(struct bext_policy *p);

/* Grants calls to kernel-compatible helper `id` (< 512). -EINVAL on a bad id. */
BEXT_API int bext_policy__allow_helper(struct bext_policy *p, uint32_t id);
/* Grants every helper the program type enables (the policy then only
 * restricts ctx access and budgets). */
BEXT_API int bext_policy__allow_all_helpers(struct bext_policy *p);
/* Withdraws a helper again (also after allow_all_helpers). */
BEXT_API int bext_policy__deny_helper(struct bext_policy *p, uint32_t id);

/* Grants a host function (copied). -EINVAL (bad id or nargs > 5), -EEXIST, -ENOMEM. */
BEXT_API int bext_policy__allow_host_func(struct bext_policy *p, uint32_t id, const char *name,
					  uint32_t nargs);

/* Grants reading / writing the ctx bytes [off, off + size). Ranges may
 * overlap and are merged. A write grant does not imply a read grant.
 * -EINVAL when size is 0 or off + size overflows, -ENOMEM. */
BEXT_API int bext_policy__allow_ctx_read(struct bext_policy *p, uint32_t off, uint32_t size);
BEXT_API int bext_policy__allow_ctx_write(struct bext_policy *p, uint32_t off, uint32_t size);

/*
 * Instruction budget: the most instructions one run may execute. The
 * verifier accepts a program with a budget only if it proves a bound on the
 * path length (loop-free programs) no larger than the budget; for programs
 * with loops it reports (bext_verify_stats.needs_runtime_budget) that the
 * runtime must enforce the budget. 0: no budget.
 */
BEXT_API void bext_policy__set_insn_budget(struct bext_policy *p, uint64_t insns);
/* Memory budget in bytes: the program's combined stack depth plus the
 * memory of the maps it references must fit. 0: no budget. */
BEXT_API void bext_policy__set_mem_budget(struct bext_policy *p, uint64_t bytes);

/* Queries (used by the verifier; handy for tools). */
BEXT_API bool bext_policy__helper_allowed(const struct bext_policy *p, uint32_t id);
/* The granted host function with this id, or NULL. */
BEXT_API const struct bext_host_func *bext_policy__host_func(const struct bext_policy *p,
							     uint32_t id);
/* True if every byte of [off, off + size) lies in one merged granted range. */
BEXT_API bool bext_policy__ctx_readable(const struct bext_policy *p, uint32_t off, uint32_t size);
BEXT_API bool bext_policy__ctx_writable(const struct bext_policy *p, uint32_t off, uint32_t size);
BEXT_API uint64_t bext_policy__insn_budget(const struct bext_policy *p);
BEXT_API uint64_t bext_policy__mem_budget(const struct bext_policy *p);

#ifdef __cplusplus
}
#endif
#endif /* BEXT_POLICY_H */

/* SPDX-License-Identifier: MIT */
/*
 * Policy objects: deny-by-default capability sets the verifier consults.
 *
 * Helpers are a bitmap over the kernel helper id space; host functions a
 * small array; ctx grants two sorted lists of disjoint, merged byte ranges
 * (one for reads, one for writes), so a containment query is one scan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bext/policy.h>

#define POLICY_MAX_HELPERS 512u

struct range {
	uint64_t start, end; /* [start, end) */
};

struct range_set {
	struct range *r;
	size_t n, cap;
};

struct bext_policy {
	uint64_t helpers[POLICY_MAX_HELPERS / 64];
	bool all_helpers;
	uint64_t denied[POLICY_MAX_HELPERS / 64]; /* withdrawn after allow_all */
	struct bext_host_func *funcs;
	size_t n_funcs;
	struct range_set rd, wr;
	uint64_t insn_budget, mem_budget;
};

struct bext_policy *bext_policy__new(void)
{
	struct bext_policy *p = calloc(1, sizeof(*p));

	if (!p)
		errno = ENOMEM;
	return p;
}

void bext_policy__free(struct bext_policy *p)
{
	if (!p)
		return;
	free(p->funcs);
	free(p->rd.r);
	free(p->wr.r);
	free(p);
}

int bext_policy__allow_helper(struct bext_policy *p, uint32_t id)
{
	if (!p || id >= POLICY_MAX_HELPERS)
		return -EINVAL;
	p->helpers[id / 64] |= 1ull << (id % 64);
	p->denied[id / 64] &= ~(1ull << (id % 64));
	return 0;
}

int bext_policy__allow_all_helpers(struct bext_policy *p)
{
	if (!p)
		return -EINVAL;
	p->all_helpers = true;
	memset(p->denied, 0, sizeof(p->denied));
	return 0;
}

int bext_policy__deny_helper(struct bext_policy *p, uint32_t id)
{
	if (!p || id >= POLICY_MAX_HELPERS)
		return -EINVAL;
	p->helpers[id / 64] &= ~(1ull << (id % 64));
	p->denied[id / 64] |= 1ull << (id % 64);
	return 0;
}

bool bext_policy__helper_allowed(const struct bext_policy *p, uint32_t id)
{
	if (!p || id >= POLICY_MAX_HELPERS)
		return false;
	if (p->denied[id / 64] & (1ull << (id % 64)))
		return false;
	return p->all_helpers || (p->helpers[id / 64] & (1ull << (id % 64)));
}

int bext_policy__allow_host_func(struct bext_policy *p, uint32_t id, const char *name,
				 uint32_t nargs)
{
	struct bext_host_func *f;

	if (!p || !name || nargs > 5 || id >= POLICY_MAX_HELPERS)
		return -EINVAL;
	if (bext_policy__host_func(p, id))
		return -EEXIST;
	f = realloc(p->funcs, (p->n_funcs + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	p->funcs = f;
	f = &p->funcs[p->n_funcs++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->nargs = nargs;
	strncpy(f->name, name, sizeof(f->name) - 1);
	return 0;
}

const struct bext_host_func *bext_policy__host_func(const struct bext_policy *p, uint32_t id)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_funcs; i++)
		if (p->funcs[i].id == id)
			return &p->funcs[i];
	return NULL;
}

/* Inserts [start, end) and merges every range it touches or overlaps. */
static int range_add(struct range_set *s, uint64_t start, uint64_t end)
{
	size_t i = 0, j;

	while (i < s->n && s->r[i].end < start)
		i++;
	j = i;
	while (j < s->n && s->r[j].start <= end) {
		if (s->r[j].start < start)
			start = s->r[j].start;
		if (s->r[j].end > end)
			end = s->r[j].end;
		j++;
	}
	if (i == j) { /* no overlap: insert at i */
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			struct range *r = realloc(s->r, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			s->r = r;
			s->cap = cap;
		}
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
	} else if (j - i > 1) { /* ranges i..j-1 collapse into i */
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - i - 1;
	}
	s->r[i].start = start;
	s->r[i].end = end;
	return 0;
}

static bool range_contains(const struct range_set *s, uint32_t off, uint32_t size)
{
	uint64_t start = off, end = (uint64_t)off + size;

	for (size_t i = 0; i < s->n; i++)
		if (s->r[i].start <= start && end <= s->r[i].end)
			return true;
	return false;
}

int bext_policy__allow_ctx_read(struct bext_policy *p, uint32_t off, uint32_t size)
{
	if (!p || !size)
		return -EINVAL;
	return range_add(&p->rd, off, (uint64_t)off + size);
}

int bext_policy__allow_ctx_write(struct bext_policy *p, uint32_t off, uint32_t size)
{
	if (!p || !size)
		return -EINVAL;
	return range_add(&p->wr, off, (uint64_t)off + size);
}

bool bext_policy__ctx_readable(const struct bext_policy *p, uint32_t off, uint32_t size)
{
	return p && size && range_contains(&p->rd, off, size);
}

bool bext_policy__ctx_writable(const struct bext_policy *p, uint32_t off, uint32_t size)
{
	return p && size && range_contains(&p->wr, off, size);
}

void bext_policy__set_insn_budget(struct bext_policy *p, uint64_t insns)
{
	if (p)
		p->insn_budget = insns;
}

void bext_policy__set_mem_budget(struct bext_policy *p, uint64_t bytes)
{
	if (p)
		p->mem_budget = bytes;
}

uint64_t bext_policy__insn_budget(const struct bext_policy *p)
{
	return p ? p->insn_budget : 0;
}

uint64_t bext_policy__mem_budget(const struct bext_policy *p)
{
	return p ? p->mem_budget : 0;
}

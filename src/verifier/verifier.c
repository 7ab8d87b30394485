/* SPDX-License-Identifier: MIT */
/*
 * bext_verify(): runs the pipeline (structure, exploration, stack depth,
 * policy budgets), assembles the log and the stats.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "verifier_internal.h"

static int check_budgets(struct venv *env, struct bext_verify_stats *stats)
{
	uint64_t maps = 0, need, ib, mb;
	bool *used;

	used = calloc(env->opts.n_maps ? env->opts.n_maps : 1, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (uint32_t i = 0; i < env->n; i++) {
		const struct bext_insn *in = &env->insns[i];

		if (env->aux[i].second_slot ||
		    in->code != (BEXT_CLS_LD | BEXT_SZ_DW | BEXT_MODE_IMM) || !in->src ||
		    in->src == BEXT_PSEUDO_FUNC)
			continue;
		if (in->imm >= 0 && (uint32_t)in->imm < env->opts.n_maps && !used[in->imm]) {
			const struct bext_map_desc *m = &env->opts.maps[in->imm];

			used[in->imm] = true;
			maps += ((uint64_t)m->key_size + m->value_size) * m->max_entries;
		}
	}
	free(used);
	if (stats)
		stats->map_memory = maps;
	mb = bext_policy__mem_budget(env->policy);
	need = maps + env->stack_depth;
	if (mb && need > mb)
		return vreject(env, -EACCES, -1,
			       "memory budget exceeded: the program needs %" PRIu64
			       " bytes (stack %u + maps %" PRIu64 "), the policy allows %" PRIu64,
			       need, env->stack_depth, maps, mb);
	ib = bext_policy__insn_budget(env->policy);
	if (ib) {
		if (!env->max_path) {
			if (stats)
				stats->needs_runtime_budget = true;
		} else if (env->max_path > ib) {
			return vreject(env, -EACCES, -1,
				       "instruction budget exceeded: the longest path runs %" PRIu64
				       " insns, the policy allows %" PRIu64,
				       env->max_path, ib);
		}
	}
	return 0;
}

static void env_free(struct venv *env)
{
	for (uint32_t i = 0; i < env->n_pending; i++)
		state_free(env->pending[i]);
	free(env->pending);
	if (env->explored) {
		for (uint32_t i = 0; i < env->n; i++) {
			struct sl_node *sl = env->explored[i];

			while (sl) {
				struct sl_node *next = sl->next;

				state_free_frames(&sl->st);
				free(sl);
				sl = next;
			}
		}
	}
	for (uint32_t i = 0; i < env->n_inprog; i++) {
		state_free_frames(&env->inprog[i]->st);
		free(env->inprog[i]);
	}
	free(env->explored);
	free(env->n_explored);
	free(env->inprog);
	free(env->hist);
	free(env->aux);
	free(env->subprogs);
	free(env->log);
}

static void copy_log(struct venv *env, char *log, size_t log_len)
{
	size_t n;

	if (!log || !log_len)
		return;
	n = env->log_len;
	if (n > log_len - 1) { /* keep the tail: the reason comes last */
		memcpy(log, env->log + n - (log_len - 1), log_len - 1);
		log[log_len - 1] = 0;
		return;
	}
	if (n)
		memcpy(log, env->log, n);
	log[n] = 0;
}

int bext_verify(const struct bext_insn *insns, size_t n, const struct bext_verify_opts *opts,
		char *log, size_t log_len)
{
	struct venv env;
	struct bext_verify_stats *stats = NULL;
	int err;

	memset(&env, 0, sizeof(env));
	env.err_insn = -1;
	if (log && log_len)
		log[0] = 0;
	if (opts) {
		if (opts->sz <
		    offsetof(struct bext_verify_opts, prog_type) + sizeof(opts->prog_type))
			return -EINVAL;
		memcpy(&env.opts, opts, opts->sz < sizeof(env.opts) ? opts->sz : sizeof(env.opts));
		if (opts->sz > sizeof(env.opts)) { /* newer caller: unknown fields must be zero */
			for (size_t i = sizeof(env.opts); i < opts->sz; i++)
				if (((const char *)opts)[i])
					return -EINVAL;
		}
	}
	env.opts.sz = sizeof(env.opts);
	stats = env.opts.stats;
	if (stats) {
		memset(stats, 0, sizeof(*stats));
		stats->err_insn = -1;
	}
	if ((!insns && n) || (unsigned)env.opts.prog_type >= BEXT_PROG__MAX ||
	    (env.opts.n_maps && !env.opts.maps) || env.opts.log_level > 2)
		return -EINVAL;
	if (n > BEXT_MAX_INSNS)
		return -E2BIG;
	env.insns = insns;
	env.n = (uint32_t)n;
	env.policy = env.opts.policy;
	env.limit = env.opts.complexity_limit ? env.opts.complexity_limit : V_DEFAULT_LIMIT;
	env.aux = calloc(n ? n : 1, sizeof(*env.aux));
	env.explored = calloc(n ? n : 1, sizeof(*env.explored));
	env.n_explored = calloc(n ? n : 1, sizeof(*env.n_explored));
	if (!env.aux || !env.explored || !env.n_explored) {
		err = -ENOMEM;
		goto out;
	}
	err = cfg_check(&env);
	if (err) {
		if (env.err_insn >= 0)
			vlog_insn(&env, env.err_insn);
		goto out;
	}
	err = do_check(&env);
	if (!err)
		err = cfg_check_stack_depth(&env);
	if (!err)
		err = check_budgets(&env, stats);
out:
	if (env.opts.log_level)
		vlog(&env,
		     "processed %" PRIu64 " insns (limit %" PRIu64
		     "), stored %u states, pruned %u\n",
		     env.processed, env.limit, env.states_stored, env.states_pruned);
	if (err == -ENOMEM && !env.reason[0])
		vreject(&env, err, -1, "out of memory");
	if (err && !env.reason[0])
		vreject(&env, err, -1, "rejected (error %d)", err);
	if (err)
		vlog(&env, "%s\n", env.reason);
	copy_log(&env, log, log_len);
	if (stats) {
		stats->insns_processed = env.processed;
		stats->states_stored = env.states_stored;
		stats->states_pruned = env.states_pruned;
		stats->n_subprogs = env.n_subprogs;
		stats->stack_depth = env.stack_depth;
		stats->has_loops = env.has_loops;
		stats->max_path_insns = env.max_path;
		if (err) {
			stats->err_insn = env.err_insn;
			snprintf(stats->reason, sizeof(stats->reason), "%s", env.reason);
		}
	}
	env_free(&env);
	return err;
}

/* SPDX-License-Identifier: MIT */
/*
 * Interpreter speed: ns per executed instruction on a loop of simple ALU
 * instructions (plus the JIT's, for comparison, when it compiles). Fails
 * above 3x the 3 ns target (a real regression, not noise on a shared
 * machine); skipped under sanitizers, whose instrumentation dominates.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <bext/isa.h>
#include <bext/vm.h>

#define ITERS 2000000
#define LIMIT_NS 9.0

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void)
{
	static const struct bext_insn p[] = {
	    BEXT_MOV64_IMM(0, 0),
	    BEXT_MOV64_IMM(1, ITERS),
	    /* loop: 8 instructions */
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 1),
	    BEXT_ALU64_IMM(BEXT_ALU_XOR, 0, 0x55),
	    BEXT_MOV64_REG(2, 0),
	    BEXT_ALU64_IMM(BEXT_ALU_RSH, 2, 3),
	    BEXT_ALU64_REG(BEXT_ALU_ADD, 0, 2),
	    BEXT_ALU32_IMM(BEXT_ALU_ADD, 3, 1),
	    BEXT_ALU64_IMM(BEXT_ALU_SUB, 1, 1),
	    BEXT_JMP_IMM(BEXT_JMP_JNE, 1, 0, -8),
	    BEXT_EXIT_INSN(),
	};
	const double executed = 3.0 + 8.0 * ITERS;
	double best = 1e30, t;
	struct bext_vm *vm = bext_vm__new(NULL);
	char err[256];
	uint64_t r0, r0_interp = 0;

	if (!vm || bext_vm__load(vm, p, sizeof(p) / sizeof(p[0]), err, sizeof(err))) {
		fprintf(stderr, "load failed: %s\n", err);
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		t = now_ns();
		if (bext_vm__exec(vm, NULL, 0, &r0))
			return 1;
		t = now_ns() - t;
		if (t < best)
			best = t;
		r0_interp = r0;
	}
	printf("interp: %.2f ns/insn (%.0f insns, best of 5 runs, r0 = 0x%llx)\n", best / executed,
	       executed, (unsigned long long)r0_interp);
	if (bext_vm__jit(vm, err, sizeof(err))) {
		double jbest = 1e30;

		for (int i = 0; i < 5; i++) {
			t = now_ns();
			if (bext_vm__run(vm, BEXT_ENGINE_JIT, NULL, 0, &r0))
				return 1;
			t = now_ns() - t;
			if (t < jbest)
				jbest = t;
		}
		printf("jit:    %.2f ns/insn (r0 = 0x%llx)\n", jbest / executed,
		       (unsigned long long)r0);
		if (r0 != r0_interp) {
			printf("FAIL: engines disagree\n");
			return 1;
		}
	} else {
		printf("jit:    not available (%s)\n", err);
	}
	bext_vm__free(vm);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	printf("sanitizer build: speed not judged\n");
	return 77;
#else
	if (best / executed > LIMIT_NS) {
		printf("FAIL: slower than %.1f ns/insn\n", LIMIT_NS);
		return 1;
	}
	return 0;
#endif
}

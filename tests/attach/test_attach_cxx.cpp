// SPDX-License-Identifier: MIT
/*
 * C++ exceptions thrown through uretprobe'd functions: the unwinder meets
 * bext's return trampoline as a return address and must still find the
 * caller's handler; the shadow stack must be empty again afterwards.
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <bext/attach.h>

extern "C" unsigned bext_attach__shadow_depth(void);

#define CHECK(c)                                                                                  \
	do {                                                                                      \
		if (!(c)) {                                                                       \
			std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			std::exit(1);                                                             \
		}                                                                                 \
	} while (0)

static uint64_t n_ret, last_rax;

static uint64_t prog_ret(void *ctx, uint64_t)
{
	n_ret++;
	last_rax = ((const uint64_t *)ctx)[10]; /* pt_regs.rax */
	return 0;
}

extern "C" __attribute__((noinline, used)) int inner(int x)
{
	if (x < 0)
		throw std::runtime_error("negative");
	return x * 2;
}

extern "C" __attribute__((noinline, used)) int outer(int x)
{
	int (*volatile f)(int) = inner;
	return f(x) + 1;
}

static struct bext_attachment *attach_ret(void *fn)
{
	bext_attach_opts o = {};
	char err[256];

	o.sz = sizeof(o);
	o.kind = BEXT_ATTACH_URETPROBE;
	struct bext_attachment *a = bext_attach(fn, prog_ret, &o, err, sizeof(err));
	if (!a) {
		std::fprintf(stderr, "attach: %s\n", err);
		std::exit(1);
	}
	return a;
}

int main()
{
	int (*volatile po)(int) = outer;
	struct bext_attachment *a = attach_ret((void *)inner);
	struct bext_attachment *b = attach_ret((void *)outer);
	int caught = 0;

	CHECK(po(4) == 9);
	CHECK(n_ret == 2 && last_rax == 9);
	for (int i = 0; i < 100; i++) {
		try {
			po(-1); /* throws in inner, through both uretprobe'd frames */
		} catch (const std::runtime_error &e) {
			caught++;
		}
		CHECK(bext_attach__shadow_depth() == 0);
	}
	CHECK(caught == 100);
	CHECK(n_ret == 2); /* no return happened for the throwing calls */
	CHECK(po(5) == 11);
	CHECK(n_ret == 4 && last_rax == 11);
	CHECK(bext_attach__shadow_depth() == 0);
	bext_detach(a);
	bext_detach(b);
	std::printf("C++ exceptions through uretprobe'd frames: %d caught\n", caught);
	return 0;
}

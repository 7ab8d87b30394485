/* SPDX-License-Identifier: MIT */
/*
 * Engine-independent JIT driver: checks that a program is loaded, asks the
 * architecture back end (bext_arch_jit_ops, an ops table: see
 * src/arch/<arch>/) to compile it once, and reports why not otherwise.
 *
 * The weak NULL default of bext_arch_jit_ops lives in vm.c (where "vm" put
 * it); a back end overrides it with a strong definition. A static archive
 * member is only linked when it resolves an undefined symbol, and a weak
 * definition counts as defined, so on architectures with a back end this
 * file holds a reference to the back end's anchor symbol, which pulls it in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vm_internal.h"

#if defined(__x86_64__)
extern const char bext_arch_x86_64_anchor;
__attribute__((used)) static const char *const jit_arch_anchor = &bext_arch_x86_64_anchor;
#endif

static void *jit_fail(struct bext_vm *vm, char *err, size_t err_len, int err_no, const char *msg)
{
	if (msg && msg != vm->err)
		snprintf(vm->err, sizeof(vm->err), "%s", msg);
	if (err && err_len)
		snprintf(err, err_len, "%s", vm->err);
	errno = err_no;
	return NULL;
}

bext_jit_fn bext_vm__jit(struct bext_vm *vm, char *err, size_t err_len)
{
	char msg[256];
	int ret;

	if (err && err_len)
		err[0] = '\0';
	if (!vm) {
		errno = EINVAL;
		return NULL;
	}
	if (vm->jit_fn)
		return vm->jit_fn;
	if (!vm->loaded)
		return jit_fail(vm, err, err_len, EINVAL, "no program loaded");
	if (!bext_arch_jit_ops || !bext_arch_jit_ops->compile)
		return jit_fail(vm, err, err_len, ENOTSUP, "no JIT back end for this architecture");

	msg[0] = '\0';
	ret = bext_arch_jit_ops->compile(vm, msg, sizeof(msg));
	if (ret < 0 || !vm->jit_fn) {
		if (ret >= 0)
			ret = -EFAULT;
		if (!msg[0])
			snprintf(msg, sizeof(msg), "%s JIT: %s", bext_arch_jit_ops->name,
				 strerror(-ret));
		return jit_fail(vm, err, err_len, -ret, msg);
	}
	return vm->jit_fn;
}

size_t bext_vm__jit_size(const struct bext_vm *vm)
{
	return vm && vm->jit_fn ? vm->jit_size : 0;
}

/*
 * Called from bext_vm__free(). Here rather than in vm.c: vm.c holds the weak
 * NULL definition of bext_arch_jit_ops, which clang folds to NULL there (so
 * JIT code was never unmapped in clang builds); this file only declares it.
 */
void bext_jit_release(struct bext_vm *vm)
{
	if (vm->jit_mem && bext_arch_jit_ops && bext_arch_jit_ops->release)
		bext_arch_jit_ops->release(vm);
}

/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the vm object and loader. */
#include <errno.h>
#include <stdlib.h>
#include "vm_internal.h"

struct bext_vm *bext_vm__new(const struct bext_vm_opts *opts)
{
	(void)opts;
	errno = ENOSYS;
	return NULL;
}

void bext_vm__free(struct bext_vm *vm)
{
	(void)vm;
}

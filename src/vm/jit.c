/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the JIT driver. */
#include "vm_internal.h"

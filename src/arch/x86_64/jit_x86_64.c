/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the x86-64 JIT back end. */
#include "../../vm/vm_internal.h"

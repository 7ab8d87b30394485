/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the interpreter. */
#include "vm_internal.h"

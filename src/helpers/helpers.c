/* SPDX-License-Identifier: MIT */
/* helpers.c - kernel-compatible eBPF helpers (being written). */
#include "common/common_internal.h"

/* SPDX-License-Identifier: MIT */
/* placeholder until the loader component lands */
int bext_loader_placeholder_;

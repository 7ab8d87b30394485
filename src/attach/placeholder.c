/* SPDX-License-Identifier: MIT */
/* placeholder until the attach component lands */
int bext_attach_placeholder_;

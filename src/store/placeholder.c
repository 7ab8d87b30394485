/* SPDX-License-Identifier: MIT */
/* placeholder until the store component lands */
int bext_store_placeholder_;

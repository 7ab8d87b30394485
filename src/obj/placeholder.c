/* SPDX-License-Identifier: MIT */
/* placeholder until the obj component lands */
int bext_obj_placeholder_;

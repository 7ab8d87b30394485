/* SPDX-License-Identifier: MIT */
/* placeholder until the maps component lands */
int bext_maps_placeholder_;

/* SPDX-License-Identifier: MIT */
/* placeholder until the verifier component lands */
int bext_verifier_placeholder_;

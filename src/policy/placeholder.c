/* SPDX-License-Identifier: MIT */
/* placeholder until the policy component lands */
int bext_policy_placeholder_;

/* SPDX-License-Identifier: MIT */
/* STUB: bpf_conformance plugin. */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "bext-conformance-plugin: not implemented yet\n");
	return 1;
}

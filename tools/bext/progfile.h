/* SPDX-License-Identifier: MIT */
/*
 * Reading a program from a file the way every bext command does:
 * an eBPF ELF object (first program section, or the one named by prog_name,
 * with its bpf-to-bpf subprograms linked in), a raw `.bin` file (8-byte
 * little-endian instruction words), or assembler text (anything else).
 */
#ifndef BEXT_TOOL_PROGFILE_H
#define BEXT_TOOL_PROGFILE_H

#include <stddef.h>
#include <bext/isa.h>

/* On success returns 0 and a malloc'd array in *insns (free() it). On error
 * returns a negative errno with a message naming the file in err. */
int load_program_file(const char *path, const char *prog_name, struct bext_insn **insns,
		      size_t *n_insns, char *err, size_t err_len);

#endif

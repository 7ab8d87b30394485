/* SPDX-License-Identifier: MIT */
/*
 * Reading a program from a file, the same way for every bext command.
 *
 * The format is decided by content first, then by name:
 *   1. starts with "\x7fELF"      -> eBPF ELF object, through bext_obj (linked:
 *                                    subprograms appended, maps as
 *                                    BPF_PSEUDO_MAP_IDX). The program is the one
 *                                    named by prog_name (function or section
 *                                    name), else the first program: the first
 *                                    function of the first code section other
 *                                    than .text (or of .text if there is nothing
 *                                    else).
 *   2. name ends in ".bin"        -> raw instructions, 8-byte little-endian words.
 *   3. anything else              -> assembler text (bext_asm()).
 * Content-sniffing raw binaries ("size a multiple of 8 and not text") was
 * rejected: a short text file can be a multiple of 8 bytes, and a wrong guess
 * gives baffling errors; the extension is explicit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bext/isa.h>
#include <bext/obj.h>

#include "progfile.h"

static int read_file(const char *path, char **buf, size_t *size, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *b = NULL;
	int saved;

	if (!f) {
		saved = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(saved));
		return -saved;
	}
	for (;;) {
		char *nb = realloc(b, cap + 1);
		size_t got;

		if (!nb) {
			snprintf(err, err_len, "%s: out of memory", path);
			saved = ENOMEM;
			goto fail;
		}
		b = nb;
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		cap *= 2;
	}
	if (ferror(f)) {
		saved = errno ? errno : EIO;
		snprintf(err, err_len, "%s: read error: %s", path, strerror(saved));
		goto fail;
	}
	fclose(f);
	b[n] = 0; /* text input is NUL-terminated for bext_asm() */
	*buf = b;
	*size = n;
	return 0;
fail:
	free(b);
	fclose(f);
	return -saved;
}

static int load_elf(const char *path, const char *prog_name, struct bext_insn **insns,
		    size_t *n_insns, char *err, size_t err_len)
{
	const struct bext_obj_prog *prog;
	const struct bext_insn *src;
	struct bext_obj *obj;
	char msg[512];
	size_t n;
	int ret = 0;

	obj = bext_obj__open(path, msg, sizeof(msg));
	if (!obj) {
		ret = -errno;
		/* bext_obj's messages already start with the path */
		snprintf(err, err_len, "%s", msg);
		return ret;
	}
	prog = prog_name ? bext_obj__find_prog(obj, prog_name) : bext_obj__prog(obj, 0);
	if (!prog) {
		int len = snprintf(err, err_len, "%s: no program '%s'; programs:", path, prog_name);

		for (size_t i = 0;
		     i < bext_obj__prog_count(obj) && len >= 0 && (size_t)len < err_len; i++) {
			const struct bext_obj_prog *p = bext_obj__prog(obj, i);

			len += snprintf(err + len, err_len - (size_t)len, " %s (%s)",
					bext_obj_prog__name(p), bext_obj_prog__section_name(p));
		}
		ret = -ENOENT;
		goto out;
	}
	src = bext_obj_prog__insns(prog, &n);
	*insns = malloc(n * sizeof(**insns));
	if (!*insns) {
		snprintf(err, err_len, "%s: out of memory", path);
		ret = -ENOMEM;
		goto out;
	}
	memcpy(*insns, src, n * sizeof(**insns));
	*n_insns = n;
out:
	bext_obj__close(obj);
	return ret;
}

static int load_bin(const char *path, const char *buf, size_t size, struct bext_insn **insns,
		    size_t *n_insns, char *err, size_t err_len)
{
	struct bext_insn *out;
	size_t n = size / 8;

	if (size == 0 || size % 8) {
		snprintf(err, err_len, "%s: %zu bytes: a .bin holds whole 8-byte instructions",
			 path, size);
		return -EINVAL;
	}
	if (n > BEXT_MAX_INSNS) {
		snprintf(err, err_len, "%s: %zu instructions, more than %u", path, n,
			 BEXT_MAX_INSNS);
		return -E2BIG;
	}
	out = malloc(n * sizeof(*out));
	if (!out) {
		snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = (const uint8_t *)buf + 8 * i;

		out[i].code = b[0];
		out[i].dst = b[1] & 0xf;
		out[i].src = b[1] >> 4;
		out[i].off = (int16_t)(uint16_t)(b[2] | b[3] << 8);
		out[i].imm = (int32_t)((uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
				       (uint32_t)b[7] << 24);
	}
	*insns = out;
	*n_insns = n;
	return 0;
}

int load_program_file(const char *path, const char *prog_name, struct bext_insn **insns,
		      size_t *n_insns, char *err, size_t err_len)
{
	size_t size = 0, plen = strlen(path);
	char *buf = NULL, msg[480];
	int ret;

	*insns = NULL;
	*n_insns = 0;
	ret = read_file(path, &buf, &size, err, err_len);
	if (ret)
		return ret;
	if (size >= 4 && !memcmp(buf,
				 "\x7f"
				 "ELF",
				 4)) {
		free(buf);
		return load_elf(path, prog_name, insns, n_insns, err, err_len);
	}
	if (prog_name) {
		snprintf(err, err_len, "%s: --prog %s needs an ELF object; this is not one", path,
			 prog_name);
		ret = -EINVAL;
	} else if (plen >= 4 && !strcmp(path + plen - 4, ".bin")) {
		ret = load_bin(path, buf, size, insns, n_insns, err, err_len);
	} else if (memchr(buf, 0, size)) {
		snprintf(err, err_len,
			 "%s: binary data, neither an ELF object nor text (raw instructions need a "
			 ".bin name)",
			 path);
		ret = -EINVAL;
	} else {
		msg[0] = 0;
		ret = bext_asm(buf, insns, n_insns, msg, sizeof(msg));
		if (ret) {
			snprintf(err, err_len, "%s: %s", path, msg[0] ? msg : strerror(-ret));
		} else if (!*n_insns) {
			/* An empty or comment-only file is no program: say so here,
			 * not as an empty .bin from asm or silence from disasm. */
			snprintf(err, err_len, "%s: no instructions (empty assembler text)", path);
			free(*insns);
			*insns = NULL;
			ret = -ENODATA;
		}
	}
	free(buf);
	return ret;
}

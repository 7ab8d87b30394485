/* SPDX-License-Identifier: MIT */
/*
 * Uprobe targets: libbpf section names and link target strings to and from
 * struct bext_probe_target, and the load-time checks of a target.
 *
 * What can be checked when loading depends on the PATH:
 *  - an absolute PATH names one file: it must be a regular ELF file that
 *    defines FUNC (.symtab or .dynsym), with OFF inside it when its size is
 *    known, or no process could ever run the link;
 *  - a bare name ("libc.so.6") is matched against each target's executable
 *    and loaded libraries, so only the agent can look FUNC up (it logs what
 *    it cannot install).
 * The symbol lookup is a few lines of libelf of our own: the loader does not
 * depend on src/attach (docs/ARCHITECTURE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bext/loader.h>

#include "common/common_internal.h"
#include "loader_internal.h"

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* Sets @why (may be NULL) and returns @err. */
__attribute__((format(printf, 4, 5))) static int fail(int err, char *why, size_t len,
						      const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* "PATH:FUNC[+OFF]" (@s) into @t; @form is what the caller expects, for messages. */
static int parse_path_func(const char *s, const char *form, struct bext_probe_target *t, char *why,
			   size_t len)
{
	const char *colon = strrchr(s, ':');
	const char *plus, *off;
	size_t plen, flen;
	char *end;

	if (!*s)
		return fail(-EINVAL, why, len, "nothing after '%s': want %sPATH:FUNC[+OFF]", form,
			    form);
	if (!colon)
		return fail(-EINVAL, why, len,
			    "no ':FUNC' after the path '%s': want %sPATH:FUNC[+OFF]", s, form);
	if (colon == s)
		return fail(-EINVAL, why, len, "empty PATH before ':'");
	plen = (size_t)(colon - s);
	if (plen >= sizeof(t->path))
		return fail(-EINVAL, why, len, "PATH is longer than %zu bytes",
			    sizeof(t->path) - 1);
	memcpy(t->path, s, plen);
	t->path[plen] = 0;
	s = colon + 1;
	t->offset = 0;
	plus = strchr(s, '+');
	flen = plus ? (size_t)(plus - s) : strlen(s);
	if (!flen)
		return fail(-EINVAL, why, len, "no FUNC after '%s:'", t->path);
	if (flen >= sizeof(t->func))
		return fail(-EINVAL, why, len, "FUNC is longer than %zu bytes",
			    sizeof(t->func) - 1);
	if (s[0] >= '0' && s[0] <= '9')
		return fail(-EOPNOTSUPP, why, len,
			    "raw addresses are not supported, name a symbol");
	memcpy(t->func, s, flen);
	t->func[flen] = 0;
	if (!plus)
		return 0;
	off = plus + 1;
	if (!*off)
		return fail(-EINVAL, why, len, "no offset after '%s+'", t->func);
	if (*off == '-')
		return fail(-EINVAL, why, len, "negative offset '%s'", off);
	if (*off < '0' || *off > '9')
		return fail(-EINVAL, why, len, "bad offset '%s' (decimal or 0x-hex bytes)", off);
	errno = 0;
	t->offset = strtoull(off, &end, 0);
	if (errno == ERANGE)
		return fail(-EINVAL, why, len, "offset '%s' does not fit in 64 bits", off);
	if (errno || *end)
		return fail(-EINVAL, why, len, "bad offset '%s' (decimal or 0x-hex bytes)", off);
	return 0;
}

int bext_loader_parse_section(const char *sec, struct bext_probe_target *t, char *why, size_t len)
{
	static const struct {
		const char *prefix;
		enum bext_probe_kind kind;
	} forms[] = {
	    {"uprobe/", BEXT_PROBE_UPROBE},
	    {"uprobe.s/", BEXT_PROBE_UPROBE},
	    {"uretprobe/", BEXT_PROBE_URETPROBE},
	    {"uretprobe.s/", BEXT_PROBE_URETPROBE},
	};
	size_t i;

	if (why && len)
		why[0] = 0;
	if (!sec || !t)
		return fail(-EINVAL, why, len, "no section");
	memset(t, 0, sizeof(*t));
	for (i = 0; i < BEXT_ARRAY_SIZE(forms); i++) {
		if (has_prefix(sec, forms[i].prefix)) {
			t->kind = forms[i].kind;
			return parse_path_func(sec + strlen(forms[i].prefix), forms[i].prefix, t,
					       why, len);
		}
	}
	return fail(-ENOENT, why, len, "not an auto-attached section");
}

int bext_probe_target__from_section(const char *sec, struct bext_probe_target *t)
{
	return bext_loader_parse_section(sec, t, NULL, 0);
}

int bext_probe_target__parse(const char *target, struct bext_probe_target *t)
{
	const char *form;

	if (!target || !t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (has_prefix(target, "uprobe:")) {
		t->kind = BEXT_PROBE_UPROBE;
		form = "uprobe:";
	} else if (has_prefix(target, "uretprobe:")) {
		t->kind = BEXT_PROBE_URETPROBE;
		form = "uretprobe:";
	} else {
		return -EINVAL;
	}
	return parse_path_func(target + strlen(form), form, t, NULL, 0) ? -EINVAL : 0;
}

int bext_probe_target__format(const struct bext_probe_target *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s:%s:%s+0x%llx",
			 t->kind == BEXT_PROBE_URETPROBE ? "uretprobe" : "uprobe", t->path, t->func,
			 (unsigned long long)t->offset);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Looks @name up among the defined code or data symbols of @elf (.symtab,
 * then .dynsym: a stripped binary keeps only the latter). 1 and @out when
 * found, 0 when not.
 */
static int find_symbol(Elf *elf, const char *name, GElf_Sym *out)
{
	static const Elf64_Word tables[] = {SHT_SYMTAB, SHT_DYNSYM};

	for (size_t k = 0; k < BEXT_ARRAY_SIZE(tables); k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;
			size_t n;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != tables[k] || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (size_t i = 0; i < n; i++) {
				GElf_Sym sym;
				const char *s;
				int type;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				type = GELF_ST_TYPE(sym.st_info);
				if (type != STT_FUNC && type != STT_GNU_IFUNC &&
				    type != STT_NOTYPE && type != STT_OBJECT)
					continue;
				s = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (s && !strcmp(s, name)) {
					*out = sym;
					return 1;
				}
			}
		}
	}
	return 0;
}

int bext_loader_check_target(const struct bext_probe_target *t, char *why, size_t len)
{
	struct stat st;
	GElf_Sym sym;
	Elf *elf;
	int fd, err, found;

	if (why && len)
		why[0] = 0;
	if (t->path[0] != '/')
		return 0; /* a name: resolved in each target process by the agent */
	if (stat(t->path, &st))
		return fail(-errno, why, len, "%s: %s", t->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(-EINVAL, why, len, "%s is not a regular file", t->path);
	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, why, len, "%s: %s", t->path, strerror(errno));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return fail(-ENOTSUP, why, len, "libelf: %s", elf_errmsg(-1));
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = fail(-ENOEXEC, why, len, "%s is not an ELF executable or library", t->path);
		goto out;
	}
	found = find_symbol(elf, t->func, &sym);
	if (!found) {
		err = fail(-ENOENT, why, len, "symbol %s not found in %s", t->func, t->path);
		goto out;
	}
	/* An IFUNC's size is its resolver's, not the implementation's. */
	if (t->offset && sym.st_size && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC &&
	    t->offset >= sym.st_size) {
		err = fail(-EINVAL, why, len,
			   "offset 0x%llx is past the end of %s in %s (%llu bytes)",
			   (unsigned long long)t->offset, t->func, t->path,
			   (unsigned long long)sym.st_size);
		goto out;
	}
	err = 0;
out:
	elf_end(elf);
	close(fd);
	return err;
}

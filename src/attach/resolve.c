// SPDX-License-Identifier: MIT
/*
 * Symbols of the running process: modules from dl_iterate_phdr (load bias,
 * PT_LOAD ranges), symbols from each module's file (.symtab, then .dynsym)
 * read with libelf. GNU IFUNC symbols resolve through dlsym to the
 * implementation the dynamic linker picked.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach_internal.h"

struct module {
	char path[PATH_MAX];
	uint64_t bias;
	uint64_t lo, hi; /* span of the PT_LOAD segments */
	bool main;
};

struct modlist {
	struct module *m;
	size_t n, cap;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct modlist *ml = data;
	struct module *m;

	(void)size;
	if (ml->n == ml->cap) {
		size_t nc = ml->cap ? ml->cap * 2 : 32;
		struct module *nm = realloc(ml->m, nc * sizeof(*nm));

		if (!nm)
			return 1;
		ml->m = nm;
		ml->cap = nc;
	}
	m = &ml->m[ml->n];
	memset(m, 0, sizeof(*m));
	m->bias = info->dlpi_addr;
	m->lo = UINT64_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < m->lo)
			m->lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > m->hi)
			m->hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (!info->dlpi_name || !info->dlpi_name[0]) {
		ssize_t k;

		if (ml->n) /* only the first nameless object is the executable */
			return 0;
		k = readlink("/proc/self/exe", m->path, sizeof(m->path) - 1);
		if (k <= 0)
			return 0;
		m->path[k] = 0;
		m->main = true;
	} else {
		snprintf(m->path, sizeof(m->path), "%s", info->dlpi_name);
	}
	ml->n++;
	return 0;
}

static int modules(struct modlist *ml)
{
	memset(ml, 0, sizeof(*ml));
	dl_iterate_phdr(collect_cb, ml);
	return ml->n ? 0 : -ENOENT;
}

/*
 * Walks the symbols of path: calls fn for each defined symbol of .symtab,
 * then .dynsym. fn returns nonzero to stop; that value is returned.
 */
typedef int (*sym_fn)(void *user, const char *name, const GElf_Sym *sym);

static int for_each_sym(const char *path, sym_fn fn, void *user)
{
	static const Elf64_Word kinds[] = {SHT_SYMTAB, SHT_DYNSYM};
	int fd, ret = 0;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	for (size_t k = 0; k < 2 && !ret; k++) {
		Elf_Scn *scn = NULL;

		while (!ret && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != kinds[k] || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && !ret; i++) {
				GElf_Sym sym;
				const char *name;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (name && name[0])
					ret = fn(user, name, &sym);
			}
		}
	}
	elf_end(elf);
	close(fd);
	return ret;
}

struct find_func_ctx {
	uint64_t off; /* addr - bias */
	uint64_t start, size;
	char *name;
	size_t name_len;
};

static int find_func_cb(void *user, const char *name, const GElf_Sym *sym)
{
	struct find_func_ctx *c = user;
	int type = GELF_ST_TYPE(sym->st_info);

	if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !sym->st_size)
		return 0;
	if (c->off < sym->st_value || c->off >= sym->st_value + sym->st_size)
		return 0;
	c->start = sym->st_value;
	c->size = sym->st_size;
	snprintf(c->name, c->name_len, "%s", name);
	return 1;
}

int bext_attach__find_func(const void *addr, uint64_t *start, uint64_t *size, char *name,
			   size_t name_len)
{
	uint64_t a = (uint64_t)addr;
	struct modlist ml;
	int ret = -ENOENT;

	if (modules(&ml))
		return -ENOENT;
	for (size_t i = 0; i < ml.n; i++) {
		struct find_func_ctx c = {.name = name, .name_len = name_len};

		if (a < ml.m[i].lo || a >= ml.m[i].hi)
			continue;
		c.off = a - ml.m[i].bias;
		if (for_each_sym(ml.m[i].path, find_func_cb, &c) == 1) {
			*start = c.start + ml.m[i].bias;
			*size = c.size;
			ret = 0;
		}
		break;
	}
	free(ml.m);
	return ret;
}

struct find_sym_ctx {
	const char *want;
	GElf_Sym sym;
};

static int find_sym_cb(void *user, const char *name, const GElf_Sym *sym)
{
	struct find_sym_ctx *c = user;
	int type = GELF_ST_TYPE(sym->st_info);

	if (strcmp(name, c->want) ||
	    (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE && type != STT_OBJECT))
		return 0;
	c->sym = *sym;
	return 1;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static bool module_matches(const struct module *m, const char *path)
{
	char rp[PATH_MAX], rm[PATH_MAX];

	if (!path)
		return m->main;
	if (!strcmp(m->path, path) || !strcmp(base_name(m->path), path))
		return true;
	if (realpath(path, rp) && realpath(m->path, rm) && !strcmp(rp, rm))
		return true;
	return false;
}

int bext_attach__resolve(const char *path, const char *symbol, uint64_t offset, void **addr,
			 char *err, size_t err_len)
{
	char dummy[1];
	struct modlist ml;
	int ret = -ENOENT;
	bool seen = false;

	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = 0;
	if (!symbol || !addr) {
		snprintf(err, err_len, "invalid arguments");
		return -EINVAL;
	}
	if (modules(&ml)) {
		snprintf(err, err_len, "cannot list the loaded objects");
		return -ENOENT;
	}
	for (size_t i = 0; i < ml.n && ret; i++) {
		struct find_sym_ctx c = {.want = symbol};
		const struct module *m = &ml.m[i];

		if (!module_matches(m, path))
			continue;
		seen = true;
		if (for_each_sym(m->path, find_sym_cb, &c) != 1)
			continue;
		if (GELF_ST_TYPE(c.sym.st_info) == STT_GNU_IFUNC) {
			/* the implementation the dynamic linker selected */
			void *h = dlopen(m->main ? NULL : m->path, RTLD_LAZY | RTLD_NOLOAD);
			void *impl = h ? dlsym(h, symbol) : NULL;

			if (h)
				dlclose(h);
			if (!impl) {
				snprintf(
				    err, err_len,
				    "%s in %s is an IFUNC whose implementation dlsym cannot find",
				    symbol, m->path);
				ret = -ENOENT;
				break;
			}
			*addr = (uint8_t *)impl + offset;
		} else {
			*addr = (void *)(m->bias + c.sym.st_value + offset);
		}
		ret = 0;
	}
	if (ret && !err[0])
		snprintf(err, err_len, seen ? "symbol %s not found in %s" : "no loaded object %s%s",
			 seen ? symbol : (path ? path : "(main executable)"),
			 seen ? (path ? path : "the main executable") : "");
	free(ml.m);
	return ret;
}

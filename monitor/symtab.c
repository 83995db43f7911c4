/* Function symbols for crash reports. The table owns copies of the names so that it
 * outlives the image buffer (which the monitor may unmap once the guest is loaded),
 * escaped: a name comes from the guest's image and is printed in reports and logs.
 * Any malformed table yields NULL: a crash report without names beats no report. */
#include "tidal/elf.h"
#include "tidal/escape.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

struct tidal_sym {
    uint64_t start;
    uint64_t end;  /* exclusive; for size-0 symbols, the end of their section */
    uint64_t size; /* st_size, to prefer sized symbols among aliases */
    uint32_t name; /* offset into names */
    uint8_t rank;  /* among aliases at one address: higher wins */
};

struct tidal_symtab {
    size_t n;
    struct tidal_sym *syms;
    char *names;
};

static bool range_ok(uint64_t off, uint64_t len, size_t size)
{
    uint64_t end;
    return !__builtin_add_overflow(off, len, &end) && end <= size;
}

static int rank_of(const Elf64_Sym *s)
{
    int r = ELF64_ST_TYPE(s->st_info) == STT_FUNC ? 4 : 0;
    switch (ELF64_ST_BIND(s->st_info)) {
    case STB_GLOBAL:
        return r + 2;
    case STB_WEAK:
        return r + 1;
    default:
        return r;
    }
}

static int cmp_sym(const void *pa, const void *pb, void *names)
{
    const struct tidal_sym *a = pa, *b = pb;
    const char *sort_names = names;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    /* Ascending preference, so that the last alias at an address is the one reported. */
    if ((a->size != 0) != (b->size != 0))
        return a->size != 0 ? 1 : -1;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    /* Reverse name order: among equals, the alphabetically first name wins. */
    return strcmp(sort_names + b->name, sort_names + a->name);
}

struct tidal_symtab *tidal_symtab_load(const uint8_t *file, size_t size)
{
    Elf64_Ehdr eh;
    if (!file || size < sizeof(eh))
        return NULL;
    memcpy(&eh, file, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shnum == 0 || !range_ok(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), size))
        return NULL;

    const uint8_t *shtab = file + eh.e_shoff;
    Elf64_Shdr sym_sh, str_sh;
    unsigned i;
    for (i = 0; i < eh.e_shnum; i++) {
        memcpy(&sym_sh, shtab + (size_t)i * sizeof(sym_sh), sizeof(sym_sh));
        if (sym_sh.sh_type == SHT_SYMTAB)
            break;
    }
    if (i == eh.e_shnum || sym_sh.sh_link == 0 || sym_sh.sh_link >= eh.e_shnum ||
        sym_sh.sh_entsize != sizeof(Elf64_Sym) || !range_ok(sym_sh.sh_offset, sym_sh.sh_size, size))
        return NULL;
    memcpy(&str_sh, shtab + (size_t)sym_sh.sh_link * sizeof(str_sh), sizeof(str_sh));
    if (str_sh.sh_type != SHT_STRTAB || !range_ok(str_sh.sh_offset, str_sh.sh_size, size))
        return NULL;
    const char *strtab = (const char *)file + str_sh.sh_offset;
    uint64_t nsyms = sym_sh.sh_size / sizeof(Elf64_Sym);

    /* Two passes: count and size the names, then fill exact-size arrays. */
    struct tidal_symtab *tab = calloc(1, sizeof(*tab));
    if (!tab)
        return NULL;
    size_t names_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0, pos = 0;
        for (uint64_t k = 1; k < nsyms; k++) {
            Elf64_Sym s;
            memcpy(&s, file + sym_sh.sh_offset + k * sizeof(s), sizeof(s));
            unsigned type = ELF64_ST_TYPE(s.st_info);
            if (s.st_shndx == SHN_UNDEF || s.st_value == 0 || s.st_name == 0 ||
                s.st_name >= str_sh.sh_size)
                continue;
            const char *name = strtab + s.st_name;
            const char *nul = memchr(name, '\0', str_sh.sh_size - s.st_name);
            if (!nul || nul == name)
                continue;
            /* Section end bounds size-0 symbols; NOTYPE labels count only in code. */
            uint64_t sec_end = UINT64_MAX;
            bool exec = false;
            if (s.st_shndx < eh.e_shnum) {
                Elf64_Shdr sec;
                memcpy(&sec, shtab + (size_t)s.st_shndx * sizeof(sec), sizeof(sec));
                exec = (sec.sh_flags & SHF_EXECINSTR) != 0;
                if (__builtin_add_overflow(sec.sh_addr, sec.sh_size, &sec_end) ||
                    sec_end <= s.st_value)
                    sec_end = UINT64_MAX;
            }
            if (type != STT_FUNC && !(type == STT_NOTYPE && exec))
                continue;
            size_t len = tidal_escape(name, (size_t)(nul - name), NULL, 0) + 1;
            if (pass == 1) {
                struct tidal_sym *t = &tab->syms[n];
                t->start = s.st_value;
                t->size = s.st_size;
                if (s.st_size == 0 || __builtin_add_overflow(s.st_value, s.st_size, &t->end))
                    t->end = s.st_size == 0 ? sec_end : UINT64_MAX;
                t->name = (uint32_t)pos;
                t->rank = (uint8_t)rank_of(&s);
                tidal_escape(name, (size_t)(nul - name), tab->names + pos, len);
            }
            n++;
            pos += len;
        }
        if (pass == 0) {
            if (n == 0 || pos > UINT32_MAX)
                break;
            tab->n = n;
            names_len = pos;
            tab->syms = calloc(n, sizeof(*tab->syms));
            tab->names = malloc(names_len);
            if (!tab->syms || !tab->names)
                break;
        }
    }
    if (tab->n == 0 || !tab->syms || !tab->names) {
        tidal_symtab_free(tab);
        return NULL;
    }
    qsort_r(tab->syms, tab->n, sizeof(*tab->syms), cmp_sym, tab->names);
    return tab;
}

const char *tidal_symtab_lookup(const struct tidal_symtab *tab, uint64_t addr, uint64_t *offset)
{
    if (!tab || tab->n == 0)
        return NULL;
    /* The last symbol starting at or below addr: the nearest preceding one. */
    size_t lo = 0, hi = tab->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tab->syms[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct tidal_sym *s = &tab->syms[lo - 1];
    if (addr >= s->end)
        return NULL;
    if (offset)
        *offset = addr - s->start;
    return tab->names + s->name;
}

void tidal_symtab_free(struct tidal_symtab *tab)
{
    if (!tab)
        return;
    free(tab->syms);
    free(tab->names);
    free(tab);
}

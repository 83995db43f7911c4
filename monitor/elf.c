/* Guest image validation and loading. The file is untrusted input: every header is
 * copied out with memcpy (no alignment assumptions), every offset/size sum is checked
 * for overflow before it is compared with the file size, and every rejection names
 * the file, the field, its value and what was expected. */
#include "tidal/elf.h"
#include "tidal/calls.h"

#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PAGE ((uint64_t)TIDAL_PAGE_SIZE)
#define NOTE_DESC_SIZE ((uint32_t)sizeof(struct tidal_image_note))
#define EXCEPTION_STUBS 32u

static uint64_t page_down(uint64_t x)
{
    return x & ~(PAGE - 1);
}

static bool page_up(uint64_t x, uint64_t *out)
{
    if (x > UINT64_MAX - (PAGE - 1))
        return false;
    *out = (x + PAGE - 1) & ~(PAGE - 1);
    return true;
}

static void perm_str(uint32_t perm, char out[4])
{
    out[0] = (perm & TIDAL_SEG_R) ? 'R' : '-';
    out[1] = (perm & TIDAL_SEG_W) ? 'W' : '-';
    out[2] = (perm & TIDAL_SEG_X) ? 'X' : '-';
    out[3] = '\0';
}

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_386:
        return "EM_386, 32-bit x86";
    case EM_ARM:
        return "EM_ARM";
    case EM_AARCH64:
        return "EM_AARCH64";
    case EM_RISCV:
        return "EM_RISCV";
    case EM_PPC64:
        return "EM_PPC64";
    case EM_S390:
        return "EM_S390";
    case EM_NONE:
        return "EM_NONE";
    default:
        return "unknown machine";
    }
}

static int check_ehdr(const uint8_t *file, size_t size, const char *path, Elf64_Ehdr *eh,
                      struct tidal_err *err)
{
    /* The file's bytes are not quoted: the daemon reads images with its own rights,
     * and its reports go to API clients who may not be allowed to read the file. */
    if (size < SELFMAG || memcmp(file, ELFMAG, SELFMAG) != 0) {
        if (size < SELFMAG)
            return tidal_err_set(err,
                                 "%s: not an ELF file: only %zu bytes, expected the magic "
                                 "\\x7fELF and a %zu-byte ELF header",
                                 path, size, sizeof(Elf64_Ehdr));
        return tidal_err_set(err, "%s: not an ELF file: bad magic, expected \\x7fELF", path);
    }
    if (size < EI_NIDENT)
        return tidal_err_set(err,
                             "%s: truncated ELF header: file is %zu bytes, expected at least %zu",
                             path, size, sizeof(Elf64_Ehdr));
    if (file[EI_CLASS] != ELFCLASS64) {
        unsigned cls = file[EI_CLASS];
        return tidal_err_set(
            err, "%s: EI_CLASS %u (%s): expected %u (ELFCLASS64, 64-bit)", path, cls,
            cls == ELFCLASS32 ? "ELFCLASS32, a 32-bit image" : "not a valid class", ELFCLASS64);
    }
    if (file[EI_DATA] != ELFDATA2LSB)
        return tidal_err_set(err, "%s: EI_DATA %u (%s): expected %u (ELFDATA2LSB, little-endian)",
                             path, file[EI_DATA],
                             file[EI_DATA] == ELFDATA2MSB ? "ELFDATA2MSB, big-endian"
                                                          : "not a valid encoding",
                             ELFDATA2LSB);
    if (file[EI_VERSION] != EV_CURRENT)
        return tidal_err_set(err, "%s: EI_VERSION %u: expected %u (EV_CURRENT)", path,
                             file[EI_VERSION], EV_CURRENT);
    if (size < sizeof(Elf64_Ehdr))
        return tidal_err_set(err,
                             "%s: truncated ELF header: file is %zu bytes, expected at least %zu",
                             path, size, sizeof(Elf64_Ehdr));
    memcpy(eh, file, sizeof(*eh));
    if (eh->e_machine != EM_X86_64)
        return tidal_err_set(err, "%s: e_machine %u (%s): expected %u (EM_X86_64)", path,
                             eh->e_machine, machine_name(eh->e_machine), EM_X86_64);
    if (eh->e_type != ET_EXEC) {
        const char *what = eh->e_type == ET_DYN    ? "ET_DYN, a PIE or shared object"
                           : eh->e_type == ET_REL  ? "ET_REL, an unlinked object file"
                           : eh->e_type == ET_CORE ? "ET_CORE, a core dump"
                                                   : "not a valid type";
        return tidal_err_set(err,
                             "%s: e_type %u (%s): expected %u (ET_EXEC, a static executable); "
                             "build it with tidal-cc (or -static -no-pie)",
                             path, eh->e_type, what, ET_EXEC);
    }
    if (eh->e_version != EV_CURRENT)
        return tidal_err_set(err, "%s: e_version %u: expected %u (EV_CURRENT)", path, eh->e_version,
                             EV_CURRENT);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return tidal_err_set(err, "%s: e_phentsize %u: expected %zu (sizeof(Elf64_Phdr))", path,
                             eh->e_phentsize, sizeof(Elf64_Phdr));
    if (eh->e_phnum == PN_XNUM)
        return tidal_err_set(err,
                             "%s: e_phnum 0x%x (PN_XNUM, extended numbering): expected fewer "
                             "than 0x%x program headers",
                             path, PN_XNUM, PN_XNUM);
    uint64_t table_len = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), table_end;
    if (__builtin_add_overflow(eh->e_phoff, table_len, &table_end) || table_end > size)
        return tidal_err_set(err,
                             "%s: program headers past the end of the file: e_phoff 0x%" PRIx64
                             " + e_phnum %u x %zu bytes exceeds the file size %zu "
                             "(truncated file?)",
                             path, (uint64_t)eh->e_phoff, eh->e_phnum, sizeof(Elf64_Phdr), size);
    return 0;
}

/* Checks one PT_LOAD header in isolation; layout against other segments comes later. */
static int check_load(const Elf64_Phdr *ph, unsigned idx, size_t size, const char *path,
                      uint64_t mem_lo, uint64_t mem_hi, struct tidal_segment *seg,
                      struct tidal_err *err)
{
    uint64_t file_end, end, pg_end;
    if (ph->p_filesz > ph->p_memsz)
        return tidal_err_set(err,
                             "%s: program header %u (PT_LOAD): p_filesz 0x%" PRIx64
                             " > p_memsz 0x%" PRIx64 ": expected p_filesz <= p_memsz",
                             path, idx, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
    if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &file_end) || file_end > size)
        return tidal_err_set(err,
                             "%s: program header %u (PT_LOAD): segment file range p_offset "
                             "0x%" PRIx64 " + p_filesz 0x%" PRIx64
                             " is past the end of the file (%zu bytes): truncated file?",
                             path, idx, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, size);
    if (ph->p_memsz > mem_hi - mem_lo)
        return tidal_err_set(err,
                             "%s: program header %u (PT_LOAD): p_memsz 0x%" PRIx64
                             " is larger than guest memory (0x%" PRIx64 " bytes at [0x%" PRIx64
                             ", 0x%" PRIx64 "))",
                             path, idx, (uint64_t)ph->p_memsz, mem_hi - mem_lo, mem_lo, mem_hi);
    if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &end) || !page_up(end, &pg_end) ||
        page_down(ph->p_vaddr) < mem_lo || pg_end > mem_hi)
        return tidal_err_set(
            err,
            "%s: program header %u (PT_LOAD): segment outside guest memory: "
            "p_vaddr 0x%" PRIx64 " + p_memsz 0x%" PRIx64
            " (rounded to 4 KiB pages) is not inside [0x%" PRIx64 ", 0x%" PRIx64 ")",
            path, idx, (uint64_t)ph->p_vaddr, (uint64_t)ph->p_memsz, mem_lo, mem_hi);
    /* The page-table code maps whole pages; a segment whose file bytes start at another
     * in-page offset than its address could not be mapped straight from a page cache,
     * and a linker never produces one: treat it as a corrupt header. */
    if ((ph->p_vaddr & (PAGE - 1)) != (ph->p_offset & (PAGE - 1)))
        return tidal_err_set(err,
                             "%s: program header %u (PT_LOAD): p_vaddr 0x%" PRIx64
                             " is not congruent with p_offset 0x%" PRIx64
                             " modulo the page size 0x%" PRIx64
                             ": expected equal offsets within a page",
                             path, idx, (uint64_t)ph->p_vaddr, (uint64_t)ph->p_offset, PAGE);
    if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
        return tidal_err_set(err,
                             "%s: program header %u (PT_LOAD): p_flags 0x%x is both writable "
                             "and executable (W^X): expected separate RW and RX segments",
                             path, idx, ph->p_flags);
    seg->vaddr = ph->p_vaddr;
    seg->memsz = ph->p_memsz;
    seg->filesz = ph->p_filesz;
    seg->offset = ph->p_offset;
    seg->perm = ((ph->p_flags & PF_R) ? TIDAL_SEG_R : 0) |
                ((ph->p_flags & PF_W) ? TIDAL_SEG_W : 0) | ((ph->p_flags & PF_X) ? TIDAL_SEG_X : 0);
    return 0;
}

/* Sorted segments must not share a page: each page gets exactly one set of permissions. */
static int check_layout(struct tidal_elf_image *img, const unsigned *phidx, const char *path,
                        struct tidal_err *err)
{
    for (unsigned i = 1; i < img->nsegments; i++) {
        const struct tidal_segment *a = &img->seg[i - 1], *b = &img->seg[i];
        uint64_t a_end = a->vaddr + a->memsz, a_pg_end = UINT64_MAX; /* checked in check_load */
        page_up(a_end, &a_pg_end);
        char pa[4], pb[4];
        perm_str(a->perm, pa);
        perm_str(b->perm, pb);
        if (b->vaddr < a_end)
            return tidal_err_set(err,
                                 "%s: overlapping segments: program header %u [0x%" PRIx64
                                 ", 0x%" PRIx64 ") %s and program header %u [0x%" PRIx64
                                 ", 0x%" PRIx64 ") %s overlap",
                                 path, phidx[i - 1], a->vaddr, a_end, pa, phidx[i], b->vaddr,
                                 b->vaddr + b->memsz, pb);
        if (page_down(b->vaddr) < a_pg_end)
            return tidal_err_set(err,
                                 "%s: overlapping segments: program header %u [0x%" PRIx64
                                 ", 0x%" PRIx64 ") %s and program header %u [0x%" PRIx64
                                 ", 0x%" PRIx64 ") %s share the 4 KiB page 0x%" PRIx64
                                 ": expected each page in one segment (W^X is per page); "
                                 "align segments to 4 KiB",
                                 path, phidx[i - 1], a->vaddr, a_end, pa, phidx[i], b->vaddr,
                                 b->vaddr + b->memsz, pb, page_down(b->vaddr));
    }
    return 0;
}

/* Whether [addr, addr + len) lies in one segment with permission `perm`. */
static bool in_segment(const struct tidal_elf_image *img, uint64_t addr, uint64_t len,
                       uint32_t perm)
{
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct tidal_segment *s = &img->seg[i];
        if ((s->perm & perm) && addr >= s->vaddr && addr - s->vaddr < s->memsz &&
            len <= s->memsz - (addr - s->vaddr))
            return true;
    }
    return false;
}

static bool in_exec(const struct tidal_elf_image *img, uint64_t addr, uint64_t len)
{
    return in_segment(img, addr, len, TIDAL_SEG_X);
}

/* Describes where addr is, for "not in an executable segment" messages. */
static void where(const struct tidal_elf_image *img, uint64_t addr, char *buf, size_t len)
{
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct tidal_segment *s = &img->seg[i];
        if (addr >= s->vaddr && addr - s->vaddr < s->memsz) {
            char p[4];
            perm_str(s->perm, p);
            snprintf(buf, len, "it is in the %s segment [0x%" PRIx64 ", 0x%" PRIx64 ")", p,
                     s->vaddr, s->vaddr + s->memsz);
            return;
        }
    }
    snprintf(buf, len, "it is in no PT_LOAD segment");
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1); /* x < 2^33 here: no overflow */
}

/* Walks the notes of one PT_NOTE segment, looking for the Tidal image note. */
static int walk_notes(const uint8_t *file, size_t size, const char *path, const Elf64_Phdr *ph,
                      unsigned idx, uint64_t *found_at, struct tidal_image_note *note,
                      struct tidal_err *err)
{
    uint64_t end;
    if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end) || end > size)
        return tidal_err_set(err,
                             "%s: program header %u (PT_NOTE): p_offset 0x%" PRIx64
                             " + p_filesz 0x%" PRIx64
                             " is past the end of the file (%zu bytes): truncated file?",
                             path, idx, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, size);
    /* 8-byte-aligned note segments (.note.gnu.property) pad to 8; all others to 4. */
    uint64_t align = ph->p_align == 8 ? 8 : 4;
    uint64_t pos = ph->p_offset;
    while (end - pos >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, file + pos, sizeof(nh));
        uint64_t name_off = pos + sizeof(nh);
        /* Like binutils: padding is relative to the note start, so for 8-byte notes the
         * 12-byte header counts toward the name's padding. */
        uint64_t desc_off = pos + align_up(sizeof(nh) + (uint64_t)nh.n_namesz, align);
        if (nh.n_namesz > end - name_off || desc_off > end || nh.n_descsz > end - desc_off)
            return tidal_err_set(err,
                                 "%s: program header %u (PT_NOTE): note at file offset 0x%" PRIx64
                                 " with n_namesz %u, n_descsz %u runs past the end of its "
                                 "segment at 0x%" PRIx64,
                                 path, idx, pos, nh.n_namesz, nh.n_descsz, end);
        if (nh.n_namesz == sizeof(TIDAL_NOTE_NAME) &&
            memcmp(file + name_off, TIDAL_NOTE_NAME, sizeof(TIDAL_NOTE_NAME)) == 0 &&
            nh.n_type == TIDAL_NOTE_TYPE_IMAGE) {
            if (nh.n_descsz != NOTE_DESC_SIZE)
                return tidal_err_set(err,
                                     "%s: \"Tidal\" note at file offset 0x%" PRIx64
                                     ": n_descsz %u, expected %u "
                                     "(sizeof(struct tidal_image_note))",
                                     path, pos, nh.n_descsz, NOTE_DESC_SIZE);
            if (*found_at != UINT64_MAX)
                return tidal_err_set(err,
                                     "%s: duplicate \"Tidal\" notes at file offsets 0x%" PRIx64
                                     " and 0x%" PRIx64 ": expected exactly one",
                                     path, *found_at, pos);
            *found_at = pos;
            memcpy(note, file + desc_off, sizeof(*note));
        }
        pos = pos + align_up(desc_off - pos + nh.n_descsz, align);
        if (pos >= end)
            break;
    }
    return 0;
}

static int check_note(const struct tidal_elf_image *img, const char *path, struct tidal_err *err)
{
    const struct tidal_image_note *n = &img->note;
    char loc[128];
    if (n->abi_version != TIDAL_ABI_VERSION)
        return tidal_err_set(err,
                             "%s: \"Tidal\" note abi_version %u: image built for guest ABI v%u, "
                             "this monitor speaks v%u: rebuild it with this tidal-cc",
                             path, n->abi_version, n->abi_version, TIDAL_ABI_VERSION);
    if (n->exception_stub_stride == 0)
        return tidal_err_set(err,
                             "%s: \"Tidal\" note exception_stub_stride 0: expected the nonzero "
                             "distance between consecutive exception stubs",
                             path);
    /* All 32 stub entry points must be executable; the last one is at stubs + 31 * stride. */
    uint64_t span = (uint64_t)(EXCEPTION_STUBS - 1) * n->exception_stub_stride + 1;
    if (!in_exec(img, n->exception_stubs, span)) {
        where(img, n->exception_stubs, loc, sizeof(loc));
        return tidal_err_set(err,
                             "%s: \"Tidal\" note exception_stubs 0x%" PRIx64
                             " (%u stubs, stride %u, the last at 0x%" PRIx64
                             ") is not inside one executable segment (the first: %s)",
                             path, n->exception_stubs, EXCEPTION_STUBS, n->exception_stub_stride,
                             n->exception_stubs + (span - 1), loc);
    }
    if (!in_exec(img, n->syscall_entry, 1)) {
        where(img, n->syscall_entry, loc, sizeof(loc));
        return tidal_err_set(err,
                             "%s: \"Tidal\" note syscall_entry 0x%" PRIx64
                             " is not inside an executable segment (%s)",
                             path, n->syscall_entry, loc);
    }
    struct tidal_console_ring_place ring = {n->console_ring, n->console_ring_size};
    char why[200];
    if (tidal_console_ring_check(&ring, why, sizeof(why)))
        return tidal_err_set(err, "%s: \"Tidal\" note: %s", path, why);
    if (ring.gpa &&
        !in_segment(img, ring.gpa, sizeof(struct tidal_console_ring) + ring.size, TIDAL_SEG_W)) {
        where(img, ring.gpa, loc, sizeof(loc));
        return tidal_err_set(err,
                             "%s: \"Tidal\" note console_ring 0x%" PRIx64 " (%" PRIu64
                             " data bytes) is not inside one writable segment (%s)",
                             path, ring.gpa, ring.size, loc);
    }
    return 0;
}

int tidal_elf_parse(const uint8_t *file, size_t size, const char *path, uint64_t mem_lo,
                    uint64_t mem_hi, struct tidal_elf_image *img, struct tidal_err *err)
{
    memset(img, 0, sizeof(*img));
    if (!path)
        path = "(image)";
    if (!file)
        size = 0;
    if (mem_lo >= mem_hi)
        return tidal_err_set(err, "%s: empty guest memory range [0x%" PRIx64 ", 0x%" PRIx64 ")",
                             path, mem_lo, mem_hi);

    Elf64_Ehdr eh;
    if (check_ehdr(file, size, path, &eh, err) < 0)
        return -1;

    unsigned phidx[TIDAL_ELF_MAX_SEGMENTS];
    unsigned nload = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_INTERP)
            return tidal_err_set(err,
                                 "%s: program header %u is PT_INTERP: dynamically linked "
                                 "executables are not supported; build it with tidal-cc (or "
                                 "-static -no-pie)",
                                 path, i);
        if (ph.p_type == PT_LOAD)
            nload++;
    }
    if (nload == 0)
        return tidal_err_set(err,
                             "%s: no PT_LOAD segment among %u program headers: expected 1 to %u",
                             path, eh.e_phnum, TIDAL_ELF_MAX_SEGMENTS);
    if (nload > TIDAL_ELF_MAX_SEGMENTS)
        return tidal_err_set(err, "%s: too many PT_LOAD segments: %u, expected at most %u", path,
                             nload, TIDAL_ELF_MAX_SEGMENTS);

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD)
            continue;
        struct tidal_segment seg;
        if (check_load(&ph, i, size, path, mem_lo, mem_hi, &seg, err) < 0)
            return -1;
        if (seg.memsz == 0)
            continue; /* maps nothing; linkers do not emit these, but they are harmless */
        /* Insertion sort by vaddr: at most 16 entries. */
        unsigned j = img->nsegments++;
        while (j > 0 && img->seg[j - 1].vaddr > seg.vaddr) {
            img->seg[j] = img->seg[j - 1];
            phidx[j] = phidx[j - 1];
            j--;
        }
        img->seg[j] = seg;
        phidx[j] = i;
    }
    if (img->nsegments == 0)
        return tidal_err_set(err, "%s: no PT_LOAD segment with a nonzero p_memsz: nothing to load",
                             path);
    if (check_layout(img, phidx, path, err) < 0)
        return -1;

    const struct tidal_segment *last = &img->seg[img->nsegments - 1];
    img->image_start = page_down(img->seg[0].vaddr);
    img->image_end = UINT64_MAX;
    page_up(last->vaddr + last->memsz, &img->image_end); /* checked in check_load */

    img->entry = eh.e_entry;
    if (!in_exec(img, eh.e_entry, 1)) {
        char loc[128];
        where(img, eh.e_entry, loc, sizeof(loc));
        return tidal_err_set(err,
                             "%s: e_entry 0x%" PRIx64 " is not inside an executable segment (%s)",
                             path, (uint64_t)eh.e_entry, loc);
    }

    uint64_t found_at = UINT64_MAX;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_NOTE &&
            walk_notes(file, size, path, &ph, i, &found_at, &img->note, err) < 0)
            return -1;
    }
    if (found_at == UINT64_MAX)
        return tidal_err_set(err,
                             "%s: no \"Tidal\" note (a PT_NOTE with name \"Tidal\", type 0x%x): "
                             "not a Tidal guest image; build it with tidal-cc",
                             path, TIDAL_NOTE_TYPE_IMAGE);
    return check_note(img, path, err);
}

void tidal_elf_load(const uint8_t *file, const struct tidal_elf_image *img, uint8_t *guest_mem)
{
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct tidal_segment *s = &img->seg[i];
        memcpy(guest_mem + s->vaddr, file + s->offset, s->filesz);
        memset(guest_mem + s->vaddr + s->filesz, 0, s->memsz - s->filesz);
    }
}

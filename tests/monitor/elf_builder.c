#include "elf_builder.h"

#include <stddef.h>
#include <string.h>

_Static_assert(offsetof(struct eb_file, notes) == EB_NOTE_OFF, "notes offset");
_Static_assert(offsetof(struct eb_file, text) == EB_TEXT_OFF, "text offset");
_Static_assert(offsetof(struct eb_file, data) == EB_DATA_OFF, "data offset");
_Static_assert(offsetof(struct eb_file, syms) == EB_SIZE_NO_SYMTAB, "symtab offset");

static const char strtab[] = "\0main\0helper\0exception_stubs\0counter\0main_alias\0undef_fn\0tiny";

static uint32_t str_off(const char *name)
{
    for (size_t i = 1; i < sizeof(strtab); i += strlen(strtab + i) + 1)
        if (strcmp(strtab + i, name) == 0)
            return (uint32_t)i;
    return 0;
}

static Elf64_Phdr phdr(uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
                       uint64_t memsz, uint64_t align)
{
    return (Elf64_Phdr){.p_type = type,
                        .p_flags = flags,
                        .p_offset = off,
                        .p_vaddr = vaddr,
                        .p_paddr = vaddr,
                        .p_filesz = filesz,
                        .p_memsz = memsz,
                        .p_align = align};
}

static Elf64_Sym sym(const char *name, unsigned bind, unsigned type, uint16_t shndx, uint64_t value,
                     uint64_t size)
{
    return (Elf64_Sym){.st_name = str_off(name),
                       .st_info = ELF64_ST_INFO(bind, type),
                       .st_shndx = shndx,
                       .st_value = value,
                       .st_size = size};
}

void eb_put32(struct eb *b, size_t off, uint32_t v)
{
    memcpy(eb_raw(b) + off, &v, sizeof(v));
}

size_t eb_put_note(struct eb *b, size_t off, const char *name, uint32_t namesz, uint32_t type,
                   const void *desc, uint32_t descsz)
{
    uint8_t *p = eb_raw(b) + off;
    Elf64_Nhdr nh = {.n_namesz = namesz, .n_descsz = descsz, .n_type = type};
    memcpy(p, &nh, sizeof(nh));
    size_t name_pad = (namesz + 3u) & ~3u;
    memset(p + sizeof(nh), 0, name_pad);
    memcpy(p + sizeof(nh), name, strnlen(name, namesz));
    memcpy(p + sizeof(nh) + name_pad, desc, descsz);
    return sizeof(nh) + name_pad + ((descsz + 3u) & ~3u);
}

void eb_init(struct eb *b, bool with_symtab)
{
    memset(b, 0, sizeof(*b));
    struct eb_file *f = &b->f;
    memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
    f->eh.e_ident[EI_CLASS] = ELFCLASS64;
    f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    f->eh.e_ident[EI_VERSION] = EV_CURRENT;
    f->eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
    f->eh.e_type = ET_EXEC;
    f->eh.e_machine = EM_X86_64;
    f->eh.e_version = EV_CURRENT;
    f->eh.e_entry = EB_ENTRY;
    f->eh.e_phoff = offsetof(struct eb_file, ph);
    f->eh.e_ehsize = sizeof(Elf64_Ehdr);
    f->eh.e_phentsize = sizeof(Elf64_Phdr);
    f->eh.e_phnum = EB_NPHDRS;

    f->ph[EB_PH_RODATA] =
        phdr(PT_LOAD, PF_R, EB_RODATA_OFF, EB_RODATA_VADDR, EB_RODATA_SIZE, EB_RODATA_SIZE, 0x1000);
    f->ph[EB_PH_TEXT] =
        phdr(PT_LOAD, PF_R | PF_X, EB_TEXT_OFF, EB_TEXT_VADDR, EB_TEXT_SIZE, EB_TEXT_SIZE, 0x1000);
    f->ph[EB_PH_DATA] = phdr(PT_LOAD, PF_R | PF_W, EB_DATA_OFF, EB_DATA_VADDR, EB_DATA_FILESZ,
                             EB_DATA_MEMSZ, 0x1000);
    f->ph[EB_PH_NOTE] =
        phdr(PT_NOTE, PF_R, EB_NOTE_OFF, EB_RODATA_VADDR, EB_NOTES_SIZE, EB_NOTES_SIZE, 4);
    f->ph[EB_PH_STACK] = phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
    f->ph[EB_PH_TLS] = phdr(PT_TLS, PF_R, EB_DATA_OFF, EB_DATA_VADDR, 0x10, 0x20, 8);

    static const uint8_t build_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t off = EB_NOTE_OFF;
    off += eb_put_note(b, off, "GNU", 4, NT_GNU_BUILD_ID, build_id, sizeof(build_id));
    struct tidal_image_note n = {.abi_version = TIDAL_ABI_VERSION,
                                 .exception_stub_stride = EB_STUB_STRIDE,
                                 .exception_stubs = EB_STUBS,
                                 .syscall_entry = EB_SYSCALL,
                                 .console_ring = EB_RING,
                                 .console_ring_size = EB_RING_SIZE};
    off += eb_put_note(b, off, TIDAL_NOTE_NAME, sizeof(TIDAL_NOTE_NAME), TIDAL_NOTE_TYPE_IMAGE, &n,
                       sizeof(n));
    (void)off; /* == EB_NOTE_OFF + EB_NOTES_SIZE */

    for (size_t i = 0; i < sizeof(f->text); i++)
        f->text[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(f->data); i++)
        f->data[i] = (uint8_t)(i * 13 + 5);

    b->size = EB_SIZE_NO_SYMTAB;
    if (!with_symtab)
        return;
    f->syms[1] = sym("main", STB_GLOBAL, STT_FUNC, 1, 0x200600, 0x40);
    f->syms[2] = sym("helper", STB_LOCAL, STT_FUNC, 1, 0x200680, 0x20);
    f->syms[3] = sym("exception_stubs", STB_GLOBAL, STT_NOTYPE, 1, EB_STUBS, 0);
    f->syms[4] = sym("counter", STB_GLOBAL, STT_OBJECT, 2, EB_DATA_VADDR, 8);
    f->syms[5] = sym("main_alias", STB_WEAK, STT_FUNC, 1, 0x200600, 0x40);
    f->syms[6] = sym("undef_fn", STB_GLOBAL, STT_FUNC, SHN_UNDEF, 0, 0);
    f->syms[7] = sym("tiny", STB_GLOBAL, STT_FUNC, 1, 0x2006c0, 0);
    memcpy(f->strtab, strtab, sizeof(strtab));

    f->sh[1] = (Elf64_Shdr){.sh_type = SHT_PROGBITS,
                            .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
                            .sh_addr = EB_TEXT_VADDR,
                            .sh_offset = EB_TEXT_OFF,
                            .sh_size = EB_TEXT_SIZE,
                            .sh_addralign = 16};
    f->sh[2] = (Elf64_Shdr){.sh_type = SHT_PROGBITS,
                            .sh_flags = SHF_ALLOC | SHF_WRITE,
                            .sh_addr = EB_DATA_VADDR,
                            .sh_offset = EB_DATA_OFF,
                            .sh_size = EB_DATA_FILESZ,
                            .sh_addralign = 16};
    f->sh[3] = (Elf64_Shdr){.sh_type = SHT_SYMTAB,
                            .sh_offset = offsetof(struct eb_file, syms),
                            .sh_size = sizeof(f->syms),
                            .sh_link = 4,
                            .sh_info = 3, /* first non-local symbol */
                            .sh_addralign = 8,
                            .sh_entsize = sizeof(Elf64_Sym)};
    f->sh[4] = (Elf64_Shdr){.sh_type = SHT_STRTAB,
                            .sh_offset = offsetof(struct eb_file, strtab),
                            .sh_size = sizeof(strtab),
                            .sh_addralign = 1};
    f->sh[5] = (Elf64_Shdr){.sh_type = SHT_NOBITS,
                            .sh_flags = SHF_ALLOC | SHF_WRITE,
                            .sh_addr = EB_DATA_VADDR + EB_DATA_FILESZ,
                            .sh_offset = EB_DATA_OFF + EB_DATA_FILESZ,
                            .sh_size = EB_DATA_MEMSZ - EB_DATA_FILESZ,
                            .sh_addralign = 32};
    f->eh.e_shoff = offsetof(struct eb_file, sh);
    f->eh.e_shentsize = sizeof(Elf64_Shdr);
    f->eh.e_shnum = EB_NSHDRS;
    f->eh.e_shstrndx = SHN_UNDEF;
    b->size = sizeof(*f);
}

const uint8_t *eb_bytes(const struct eb *b)
{
    return (const uint8_t *)&b->f;
}

uint8_t *eb_raw(struct eb *b)
{
    return (uint8_t *)&b->f;
}

struct tidal_image_note eb_note(const struct eb *b)
{
    struct tidal_image_note n;
    memcpy(&n, eb_bytes(b) + EB_TIDAL_DESC, sizeof(n));
    return n;
}

void eb_set_note(struct eb *b, const struct tidal_image_note *n)
{
    memcpy(eb_raw(b) + EB_TIDAL_DESC, n, sizeof(*n));
}

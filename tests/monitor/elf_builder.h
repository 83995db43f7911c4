/* Builds small, valid Tidal guest images in memory so that tests (and the malformed-ELF
 * corpus generator) can break exactly one field at a time. The layout is fixed, so a
 * test can name the field it mutates; see elf_builder.c for the addresses. */
#ifndef TIDAL_TEST_ELF_BUILDER_H
#define TIDAL_TEST_ELF_BUILDER_H

#include "tidal/abi.h"

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EB_MAX_PHDRS 20
#define EB_NSYMS 8
#define EB_NSHDRS 6

/* Program header indices in the valid image (phdr order != address order on purpose). */
enum { EB_PH_RODATA, EB_PH_TEXT, EB_PH_DATA, EB_PH_NOTE, EB_PH_STACK, EB_PH_TLS, EB_NPHDRS };

#define EB_RODATA_OFF 0x500u
#define EB_RODATA_VADDR 0x204500u
#define EB_RODATA_SIZE 0x100u
#define EB_TEXT_OFF 0x600u
#define EB_TEXT_VADDR 0x200600u
#define EB_TEXT_SIZE 0x400u
#define EB_DATA_OFF 0xa00u
#define EB_DATA_VADDR 0x201a00u
#define EB_DATA_FILESZ 0x100u
#define EB_DATA_MEMSZ 0x2000u
#define EB_NOTE_OFF 0x500u   /* the PT_NOTE: a GNU build-id note, then the Tidal note */
#define EB_TIDAL_NOTE 0x518u /* file offset of the Tidal note header */
#define EB_TIDAL_DESC 0x52cu /* file offset of its struct tidal_image_note */
#define EB_NOTES_SIZE 0x54u
#define EB_ENTRY 0x200600u
#define EB_STUBS 0x200700u
#define EB_STUB_STRIDE 16u
#define EB_SYSCALL 0x200900u
#define EB_RING 0x202000u /* the console ring, in the data segment's bss */
#define EB_RING_SIZE 0x1000u
#define EB_SIZE_NO_SYMTAB 0xb00u /* file size when built without sections */

/* Guest memory the tests validate against. */
#define EB_MEM_LO ((uint64_t)TIDAL_IMAGE_MIN_GPA)
#define EB_MEM_HI 0x400000ull

struct eb_file {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[EB_MAX_PHDRS];
    uint8_t pad0[EB_NOTE_OFF - sizeof(Elf64_Ehdr) - EB_MAX_PHDRS * sizeof(Elf64_Phdr)];
    uint8_t notes[EB_TEXT_OFF - EB_NOTE_OFF]; /* also the rodata segment's bytes */
    uint8_t text[EB_TEXT_SIZE];
    uint8_t data[EB_DATA_FILESZ];
    Elf64_Sym syms[EB_NSYMS];
    char strtab[0x80];
    Elf64_Shdr sh[EB_NSHDRS];
};

struct eb {
    struct eb_file f;
    size_t size; /* bytes of f that form the file; tests may shrink it */
};

/* A valid image; with_symtab adds .symtab/.strtab and section headers. */
void eb_init(struct eb *b, bool with_symtab);
const uint8_t *eb_bytes(const struct eb *b);
uint8_t *eb_raw(struct eb *b);

/* The Tidal note's descriptor, read and written at its unaligned file offset. */
struct tidal_image_note eb_note(const struct eb *b);
void eb_set_note(struct eb *b, const struct tidal_image_note *n);
/* Writes a note (header, padded name, desc) at file offset off; returns its length. */
size_t eb_put_note(struct eb *b, size_t off, const char *name, uint32_t namesz, uint32_t type,
                   const void *desc, uint32_t descsz);
void eb_put32(struct eb *b, size_t off, uint32_t v);

#endif

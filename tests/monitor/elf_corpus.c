#include "elf_corpus.h"

#include <string.h>

#define PH(b, i) ((b)->f.ph[EB_PH_##i])

static void set_note(struct eb *b, void (*edit)(struct tidal_image_note *))
{
    struct tidal_image_note n = eb_note(b);
    edit(&n);
    eb_set_note(b, &n);
}

static void not_elf(struct eb *b)
{
    static const char text[] = "#!/bin/sh\necho this is a shell script, not an ELF image\n";
    memcpy(eb_raw(b), text, sizeof(text) - 1);
    b->size = sizeof(text) - 1;
}
static void tiny(struct eb *b)
{
    b->size = 3;
}
static void truncated_header(struct eb *b)
{
    b->size = 40;
}
static void class32(struct eb *b)
{
    b->f.eh.e_ident[EI_CLASS] = ELFCLASS32;
}
static void big_endian(struct eb *b)
{
    b->f.eh.e_ident[EI_DATA] = ELFDATA2MSB;
}
static void bad_ident_version(struct eb *b)
{
    b->f.eh.e_ident[EI_VERSION] = EV_NONE;
}
static void wrong_machine(struct eb *b)
{
    b->f.eh.e_machine = EM_AARCH64;
}
static void pie(struct eb *b)
{
    b->f.eh.e_type = ET_DYN;
}
static void relocatable(struct eb *b)
{
    b->f.eh.e_type = ET_REL;
}
static void bad_e_version(struct eb *b)
{
    b->f.eh.e_version = EV_NONE;
}
static void bad_phentsize(struct eb *b)
{
    b->f.eh.e_phentsize = 32;
}
static void phnum_xnum(struct eb *b)
{
    b->f.eh.e_phnum = PN_XNUM;
}
static void truncated_phdr(struct eb *b)
{
    b->size = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 10;
}
static void phoff_overflow(struct eb *b)
{
    b->f.eh.e_phoff = 0xfffffffffffffff0ull;
}
static void interp(struct eb *b)
{
    PH(b, STACK).p_type = PT_INTERP;
}
static void no_load(struct eb *b)
{
    PH(b, RODATA).p_type = PT_NULL;
    PH(b, TEXT).p_type = PT_NULL;
    PH(b, DATA).p_type = PT_NULL;
}
static void empty_loads(struct eb *b)
{
    PH(b, RODATA).p_memsz = PH(b, RODATA).p_filesz = 0;
    PH(b, TEXT).p_memsz = PH(b, TEXT).p_filesz = 0;
    PH(b, DATA).p_memsz = PH(b, DATA).p_filesz = 0;
}
static void too_many_segments(struct eb *b)
{
    /* 17 one-page read-only segments, each on its own page above the image. */
    for (unsigned i = EB_NPHDRS; i < EB_NPHDRS + 14; i++)
        b->f.ph[i] = (Elf64_Phdr){.p_type = PT_LOAD,
                                  .p_flags = PF_R,
                                  .p_offset = EB_RODATA_OFF,
                                  .p_vaddr = 0x300500 + (uint64_t)(i - EB_NPHDRS) * 0x1000,
                                  .p_filesz = 0x10,
                                  .p_memsz = 0x10,
                                  .p_align = 0x1000};
    b->f.eh.e_phnum = EB_NPHDRS + 14;
}
static void filesz_gt_memsz(struct eb *b)
{
    PH(b, DATA).p_memsz = 0x80;
}
static void truncated_segment(struct eb *b)
{
    b->size = EB_TEXT_OFF + 0x200;
}
static void segment_offset_overflow(struct eb *b)
{
    PH(b, TEXT).p_offset = 0xfffffffffffff600ull;
}
static void huge_memsz(struct eb *b)
{
    PH(b, DATA).p_memsz = 0x4000000000000000ull;
}
static void segment_below_memory(struct eb *b)
{
    PH(b, TEXT).p_vaddr = 0x100600;
}
static void segment_outside_memory(struct eb *b)
{
    PH(b, DATA).p_vaddr = 0x7fff00001a00ull;
}
static void vaddr_overflow(struct eb *b)
{
    PH(b, DATA).p_vaddr = 0xfffffffffffffa00ull;
}
static void misaligned_segment(struct eb *b)
{
    PH(b, TEXT).p_vaddr = 0x200700;
}
static void wx_segment(struct eb *b)
{
    PH(b, TEXT).p_flags = PF_R | PF_W | PF_X;
}
static void overlapping(struct eb *b)
{
    PH(b, RODATA).p_vaddr = 0x200500;
    PH(b, RODATA).p_memsz = 0x200;
}
static void shared_page(struct eb *b)
{
    PH(b, DATA).p_offset = EB_DATA_OFF;
    PH(b, DATA).p_vaddr = 0x200a00;
}
static void entry_outside_text(struct eb *b)
{
    b->f.eh.e_entry = EB_DATA_VADDR;
}
static void entry_unmapped(struct eb *b)
{
    b->f.eh.e_entry = 0x300000;
}
static void no_note(struct eb *b)
{
    PH(b, NOTE).p_type = PT_NULL;
}
static void misnamed_note(struct eb *b)
{
    memcpy(eb_raw(b) + EB_TIDAL_NOTE + sizeof(Elf64_Nhdr), "tidal", 5);
}
static void abi_999(struct tidal_image_note *n)
{
    n->abi_version = 999;
}
static void wrong_abi_note(struct eb *b)
{
    set_note(b, abi_999);
}
static void note_bad_descsz(struct eb *b)
{
    eb_put32(b, EB_TIDAL_NOTE + offsetof(Elf64_Nhdr, n_descsz), 16);
}
static void note_truncated(struct eb *b)
{
    eb_put32(b, EB_TIDAL_NOTE + offsetof(Elf64_Nhdr, n_namesz), 0x1000);
}
static void note_outside_file(struct eb *b)
{
    PH(b, NOTE).p_offset = 0x10000;
}
static void duplicate_note(struct eb *b)
{
    struct tidal_image_note n = eb_note(b);
    size_t off = EB_NOTE_OFF;
    for (int i = 0; i < 2; i++)
        off += eb_put_note(b, off, TIDAL_NOTE_NAME, sizeof(TIDAL_NOTE_NAME), TIDAL_NOTE_TYPE_IMAGE,
                           &n, sizeof(n));
    PH(b, NOTE).p_filesz = PH(b, NOTE).p_memsz = off - EB_NOTE_OFF;
}
static void stubs_in_data(struct tidal_image_note *n)
{
    n->exception_stubs = EB_DATA_VADDR;
}
static void stubs_outside_text(struct eb *b)
{
    set_note(b, stubs_in_data);
}
static void stubs_at_text_end(struct tidal_image_note *n)
{
    n->exception_stubs = EB_SYSCALL; /* 32 stubs of 16 bytes do not fit before 0x200a00 */
}
static void stubs_past_text_end(struct eb *b)
{
    set_note(b, stubs_at_text_end);
}
static void stride_0(struct tidal_image_note *n)
{
    n->exception_stub_stride = 0;
}
static void stub_stride_zero(struct eb *b)
{
    set_note(b, stride_0);
}
static void syscall_in_rodata(struct tidal_image_note *n)
{
    n->syscall_entry = EB_RODATA_VADDR;
}
static void syscall_outside_text(struct eb *b)
{
    set_note(b, syscall_in_rodata);
}
static void ring_in_rodata_note(struct tidal_image_note *n)
{
    n->console_ring = EB_RODATA_VADDR;
}
static void ring_in_rodata(struct eb *b)
{
    set_note(b, ring_in_rodata_note);
}
static void ring_at_data_end(struct tidal_image_note *n)
{
    n->console_ring = 0x203000; /* its header and 4 KiB of data run past 0x203a00 */
}
static void ring_past_data_end(struct eb *b)
{
    set_note(b, ring_at_data_end);
}
static void ring_size_odd(struct tidal_image_note *n)
{
    n->console_ring_size = EB_RING_SIZE + 1;
}
static void ring_size_misaligned(struct eb *b)
{
    set_note(b, ring_size_odd);
}

const struct elf_corpus_case elf_corpus[] = {
    {"not-elf.bin", "a shell script", "not an ELF file: bad magic, expected \\x7fELF", not_elf},
    {"tiny.elf", "the first 3 bytes of an image", "not an ELF file: only 3 bytes", tiny},
    {"truncated-header.elf", "the first 40 bytes of an image",
     "truncated ELF header: file is 40 bytes, expected at least 64", truncated_header},
    {"class32.elf", "EI_CLASS = ELFCLASS32", "EI_CLASS 1 (ELFCLASS32, a 32-bit image): expected 2",
     class32},
    {"big-endian.elf", "EI_DATA = ELFDATA2MSB", "EI_DATA 2 (ELFDATA2MSB, big-endian): expected 1",
     big_endian},
    {"bad-ident-version.elf", "EI_VERSION = 0", "EI_VERSION 0: expected 1", bad_ident_version},
    {"wrong-machine.elf", "e_machine = EM_AARCH64",
     "e_machine 183 (EM_AARCH64): expected 62 (EM_X86_64)", wrong_machine},
    {"pie.elf", "e_type = ET_DYN (a PIE)", "e_type 3 (ET_DYN, a PIE or shared object)", pie},
    {"relocatable.elf", "e_type = ET_REL", "e_type 1 (ET_REL, an unlinked object file)",
     relocatable},
    {"bad-e-version.elf", "e_version = 0", "e_version 0: expected 1", bad_e_version},
    {"bad-phentsize.elf", "e_phentsize = 32", "e_phentsize 32: expected 56", bad_phentsize},
    {"phnum-xnum.elf", "e_phnum = PN_XNUM (extended numbering)",
     "e_phnum 0xffff (PN_XNUM, extended numbering)", phnum_xnum},
    {"truncated-phdr.elf", "file cut in the middle of the program headers",
     "program headers past the end of the file: e_phoff 0x40 + e_phnum 6 x 56 bytes exceeds the "
     "file size 186",
     truncated_phdr},
    {"phoff-overflow.elf", "e_phoff near 2^64 (offset + size wraps)",
     "program headers past the end of the file: e_phoff 0xfffffffffffffff0", phoff_overflow},
    {"interp.elf", "a PT_INTERP program header (dynamically linked)",
     "program header 4 is PT_INTERP: dynamically linked executables are not supported", interp},
    {"no-load.elf", "no PT_LOAD program header", "no PT_LOAD segment among 6 program headers",
     no_load},
    {"empty-loads.elf", "only PT_LOAD segments with p_memsz 0",
     "no PT_LOAD segment with a nonzero p_memsz", empty_loads},
    {"too-many-segments.elf", "17 PT_LOAD segments",
     "too many PT_LOAD segments: 17, expected at most 16", too_many_segments},
    {"filesz-gt-memsz.elf", "data segment with p_filesz > p_memsz",
     "program header 2 (PT_LOAD): p_filesz 0x100 > p_memsz 0x80", filesz_gt_memsz},
    {"truncated-segment.elf", "file cut in the middle of the text segment",
     "program header 1 (PT_LOAD): segment file range p_offset 0x600 + p_filesz 0x400 is past the "
     "end of the file (2048 bytes)",
     truncated_segment},
    {"segment-offset-overflow.elf", "text p_offset near 2^64 (offset + size wraps)",
     "segment file range p_offset 0xfffffffffffff600 + p_filesz 0x400 is past the end of the file",
     segment_offset_overflow},
    {"huge-memsz.elf", "data p_memsz = 4 EiB",
     "program header 2 (PT_LOAD): p_memsz 0x4000000000000000 is larger than guest memory",
     huge_memsz},
    {"segment-below-memory.elf", "text at 1 MiB, below the 2 MiB image area",
     "program header 1 (PT_LOAD): segment outside guest memory: p_vaddr 0x100600",
     segment_below_memory},
    {"segment-outside-memory.elf", "data at 128 TiB",
     "program header 2 (PT_LOAD): segment outside guest memory: p_vaddr 0x7fff00001a00",
     segment_outside_memory},
    {"vaddr-overflow.elf", "data p_vaddr + p_memsz wraps past 2^64",
     "segment outside guest memory: p_vaddr 0xfffffffffffffa00 + p_memsz 0x2000", vaddr_overflow},
    {"misaligned-segment.elf", "text p_vaddr not congruent with p_offset modulo 4 KiB",
     "p_vaddr 0x200700 is not congruent with p_offset 0x600 modulo the page size 0x1000",
     misaligned_segment},
    {"wx-segment.elf", "text segment RWX",
     "program header 1 (PT_LOAD): p_flags 0x7 is both "
     "writable and executable (W^X)",
     wx_segment},
    {"overlapping.elf", "rodata overlapping text",
     "overlapping segments: program header 0 [0x200500, 0x200700) R-- and program header 1 "
     "[0x200600, 0x200a00) R-X overlap",
     overlapping},
    {"shared-page.elf", "data (RW) starting in the last page of text (RX)",
     "program header 1 [0x200600, 0x200a00) R-X and program header 2 [0x200a00, 0x202a00) RW- "
     "share the 4 KiB page 0x200000",
     shared_page},
    {"entry-outside-text.elf", "e_entry in the data segment",
     "e_entry 0x201a00 is not inside an executable segment (it is in the RW- segment",
     entry_outside_text},
    {"entry-unmapped.elf", "e_entry in no segment",
     "e_entry 0x300000 is not inside an executable segment (it is in no PT_LOAD segment)",
     entry_unmapped},
    {"no-note.elf", "no PT_NOTE (like a plain static binary)", "no \"Tidal\" note", no_note},
    {"misnamed-note.elf", "the image note named \"tidal\" instead of \"Tidal\"",
     "no \"Tidal\" note", misnamed_note},
    {"wrong-abi-note.elf", "note abi_version = 999",
     "abi_version 999: image built for guest ABI v999, this monitor speaks v", wrong_abi_note},
    {"note-bad-descsz.elf", "Tidal note with n_descsz 16",
     "\"Tidal\" note at file offset 0x518: n_descsz 16, expected 40", note_bad_descsz},
    {"note-truncated.elf", "Tidal note whose n_namesz runs past its PT_NOTE",
     "note at file offset 0x518 with n_namesz 4096, n_descsz 40 runs past the end of its segment",
     note_truncated},
    {"note-outside-file.elf", "PT_NOTE p_offset past the end of the file",
     "program header 3 (PT_NOTE): p_offset 0x10000 + p_filesz 0x54 is past the end of the file",
     note_outside_file},
    {"duplicate-note.elf", "two Tidal notes",
     "duplicate \"Tidal\" notes at file offsets 0x500 and 0x53c", duplicate_note},
    {"stubs-outside-text.elf", "note exception_stubs in the data segment",
     "note exception_stubs 0x201a00 (32 stubs, stride 16, the last at 0x201bf0) is not inside one "
     "executable segment",
     stubs_outside_text},
    {"stubs-past-text-end.elf", "note exception_stubs: the last stubs run past the text end",
     "note exception_stubs 0x200900 (32 stubs, stride 16, the last at 0x200af0) is not inside one "
     "executable segment",
     stubs_past_text_end},
    {"stub-stride-zero.elf", "note exception_stub_stride = 0", "exception_stub_stride 0",
     stub_stride_zero},
    {"syscall-outside-text.elf", "note syscall_entry in the read-only segment",
     "note syscall_entry 0x204500 is not inside an executable segment (it is in the R-- segment",
     syscall_outside_text},
    {"ring-in-rodata.elf", "note console_ring in the read-only segment",
     "note console_ring 0x204500 (4096 data bytes) is not inside one writable segment (it is in "
     "the R-- segment",
     ring_in_rodata},
    {"ring-past-data-end.elf", "note console_ring running past the end of the data segment",
     "note console_ring 0x203000 (4096 data bytes) is not inside one writable segment (it is in "
     "the RW- segment",
     ring_past_data_end},
    {"ring-size-misaligned.elf", "note console_ring_size not a multiple of 8",
     "console ring at 0x202000 with 4097 data bytes: expected an 8-byte aligned address",
     ring_size_misaligned},
};
const unsigned elf_corpus_count = sizeof(elf_corpus) / sizeof(elf_corpus[0]);

void elf_corpus_build(const struct elf_corpus_case *c, struct eb *b)
{
    eb_init(b, false);
    c->mutate(b);
}

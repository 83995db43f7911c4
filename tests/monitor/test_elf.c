/* tidal_elf_parse / tidal_elf_load / tidal_symtab_*: a valid builder image, one test per
 * rejection (the corpus table, plus a few cases that need more than one assertion), the
 * committed corpus files, and deterministic truncation and mutation sweeps that must
 * never crash (run them under `make SAN=1`). */
#include "elf_builder.h"
#include "elf_corpus.h"
#include "tidal/elf.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH "img.elf"

static int parse(const struct eb *b, struct tidal_elf_image *img, struct tidal_err *err)
{
    return tidal_elf_parse(eb_bytes(b), b->size, PATH, EB_MEM_LO, EB_MEM_HI, img, err);
}

static void expect_ok(const struct eb *b, struct tidal_elf_image *img)
{
    struct tidal_err err = {""};
    int r = parse(b, img, &err);
    cr_assert_eq(r, 0, "rejected a valid image: %s", err.msg);
}

static void expect_reject(const struct eb *b, const char *fragment)
{
    struct tidal_elf_image img;
    struct tidal_err err = {""};
    cr_assert_eq(parse(b, &img, &err), -1, "accepted; expected \"%s\"", fragment);
    cr_assert(strncmp(err.msg, PATH ": ", strlen(PATH ": ")) == 0,
              "message does not start with the path: %s", err.msg);
    cr_assert(strstr(err.msg, fragment), "message \"%s\"\n lacks \"%s\"", err.msg, fragment);
}

/* ---- valid images ---- */

Test(elf, valid_image_parses)
{
    struct eb b;
    eb_init(&b, true);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.entry, EB_ENTRY);
    cr_assert_eq(img.nsegments, 3);
    /* Sorted by address although the program headers list rodata first. */
    const struct tidal_segment want[3] = {
        {EB_TEXT_VADDR, EB_TEXT_SIZE, EB_TEXT_SIZE, EB_TEXT_OFF, TIDAL_SEG_R | TIDAL_SEG_X},
        {EB_DATA_VADDR, EB_DATA_MEMSZ, EB_DATA_FILESZ, EB_DATA_OFF, TIDAL_SEG_R | TIDAL_SEG_W},
        {EB_RODATA_VADDR, EB_RODATA_SIZE, EB_RODATA_SIZE, EB_RODATA_OFF, TIDAL_SEG_R},
    };
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(img.seg[i].vaddr, want[i].vaddr, "seg %u", i);
        cr_assert_eq(img.seg[i].memsz, want[i].memsz, "seg %u", i);
        cr_assert_eq(img.seg[i].filesz, want[i].filesz, "seg %u", i);
        cr_assert_eq(img.seg[i].offset, want[i].offset, "seg %u", i);
        cr_assert_eq(img.seg[i].perm, want[i].perm, "seg %u", i);
    }
    cr_assert_eq(img.image_start, 0x200000);
    cr_assert_eq(img.image_end, 0x205000);
    cr_assert_eq(img.note.abi_version, TIDAL_ABI_VERSION);
    cr_assert_eq(img.note.exception_stub_stride, EB_STUB_STRIDE);
    cr_assert_eq(img.note.exception_stubs, EB_STUBS);
    cr_assert_eq(img.note.syscall_entry, EB_SYSCALL);
}

Test(elf, valid_image_without_sections_parses)
{
    struct eb b;
    eb_init(&b, false);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.nsegments, 3);
}

Test(elf, load_places_bytes_and_zeroes_bss)
{
    struct eb b;
    eb_init(&b, true);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    uint8_t *mem = malloc(EB_MEM_HI);
    cr_assert_not_null(mem);
    memset(mem, 0xaa, EB_MEM_HI); /* so that missing zeroing or overruns show */
    tidal_elf_load(eb_bytes(&b), &img, mem);
    cr_assert_arr_eq(mem + EB_TEXT_VADDR, b.f.text, EB_TEXT_SIZE);
    cr_assert_arr_eq(mem + EB_DATA_VADDR, b.f.data, EB_DATA_FILESZ);
    cr_assert_arr_eq(mem + EB_RODATA_VADDR, b.f.notes, EB_RODATA_SIZE);
    for (uint64_t a = EB_DATA_VADDR + EB_DATA_FILESZ; a < EB_DATA_VADDR + EB_DATA_MEMSZ; a++)
        cr_assert_eq(mem[a], 0, "bss byte at 0x%lx not zeroed", (unsigned long)a);
    /* Nothing outside [vaddr, vaddr + memsz) is touched. */
    cr_assert_eq(mem[EB_TEXT_VADDR - 1], 0xaa);
    cr_assert_eq(mem[EB_TEXT_VADDR + EB_TEXT_SIZE], 0xaa);
    cr_assert_eq(mem[EB_DATA_VADDR - 1], 0xaa);
    cr_assert_eq(mem[EB_DATA_VADDR + EB_DATA_MEMSZ], 0xaa);
    cr_assert_eq(mem[EB_RODATA_VADDR + EB_RODATA_SIZE], 0xaa);
    free(mem);
}

Test(elf, ignores_non_load_program_headers)
{
    struct eb b;
    eb_init(&b, false);
    const uint32_t types[] = {PT_GNU_PROPERTY, PT_GNU_RELRO,    PT_PHDR,    PT_NULL,
                              PT_DYNAMIC,      PT_GNU_EH_FRAME, 0x6fffffffu};
    unsigned n = EB_NPHDRS;
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        b.f.ph[n++] = (Elf64_Phdr){.p_type = types[i],
                                   .p_flags = PF_R | PF_W | PF_X, /* ignored, even W+X */
                                   .p_offset = 0xffffffffffff0000ull,
                                   .p_filesz = 0xffffffff,
                                   .p_memsz = 1};
    b.f.eh.e_phnum = (uint16_t)n;
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.nsegments, 3);
}

Test(elf, accepts_exactly_max_segments)
{
    struct eb b;
    eb_init(&b, false);
    unsigned extra = TIDAL_ELF_MAX_SEGMENTS - 3;
    for (unsigned i = 0; i < extra; i++)
        b.f.ph[EB_NPHDRS + i] = (Elf64_Phdr){.p_type = PT_LOAD,
                                             .p_flags = PF_R,
                                             .p_offset = EB_RODATA_OFF,
                                             .p_vaddr = 0x300500 + (uint64_t)i * 0x1000,
                                             .p_filesz = 0x10,
                                             .p_memsz = 0x10};
    b.f.eh.e_phnum = (uint16_t)(EB_NPHDRS + extra);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.nsegments, TIDAL_ELF_MAX_SEGMENTS);
    for (unsigned i = 1; i < img.nsegments; i++)
        cr_assert_lt(img.seg[i - 1].vaddr, img.seg[i].vaddr);
    cr_assert_eq(img.image_end, 0x300500 + (uint64_t)(extra - 1) * 0x1000 + 0x1000 - 0x500);
}

Test(elf, skips_empty_load_segments)
{
    struct eb b;
    eb_init(&b, false);
    b.f.ph[EB_NPHDRS] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = 0x200000};
    b.f.eh.e_phnum = EB_NPHDRS + 1;
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.nsegments, 3);
}

Test(elf, finds_note_after_8_aligned_gnu_property)
{
    /* A .note.gnu.property-style PT_NOTE (p_align 8: names and descs pad to 8) holding a
     * GNU property note, then the Tidal note. */
    struct eb b;
    eb_init(&b, false);
    struct tidal_image_note n = eb_note(&b);
    uint8_t *p = eb_raw(&b) + EB_NOTE_OFF;
    memset(p, 0, 0x100);
    const uint8_t prop[16] = {0x02, 0x00, 0x00, 0xc0, 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
    Elf64_Nhdr h1 = {4, sizeof(prop), NT_GNU_PROPERTY_TYPE_0};
    memcpy(p, &h1, 12);
    memcpy(p + 12, "GNU", 4);
    memcpy(p + 16, prop, sizeof(prop)); /* 12 + 4 = 16: already 8-aligned */
    size_t off = 32;
    Elf64_Nhdr h2 = {sizeof(TIDAL_NOTE_NAME), sizeof(n), TIDAL_NOTE_TYPE_IMAGE};
    memcpy(p + off, &h2, 12);
    memcpy(p + off + 12, TIDAL_NOTE_NAME, sizeof(TIDAL_NOTE_NAME));
    memcpy(p + off + 24, &n, sizeof(n)); /* 12 + 6 pads to 24 (not 12 + 8 = 20) */
    b.f.ph[EB_PH_NOTE].p_align = 8;
    b.f.ph[EB_PH_NOTE].p_filesz = off + 24 + sizeof(n);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
    cr_assert_eq(img.note.syscall_entry, EB_SYSCALL);
}

Test(elf, ignores_other_notes_named_tidal_with_other_types)
{
    struct eb b;
    eb_init(&b, false);
    uint8_t zero[4] = {0};
    /* Replace the build-id note (24 bytes) by a Tidal note of another type (24 bytes). */
    eb_put_note(&b, EB_NOTE_OFF, TIDAL_NOTE_NAME, sizeof(TIDAL_NOTE_NAME), 0x54490099u, zero, 4);
    struct tidal_elf_image img;
    expect_ok(&b, &img);
}

Test(elf, null_path_and_null_err_are_safe)
{
    struct eb b;
    eb_init(&b, false);
    b.f.eh.e_machine = EM_386;
    struct tidal_elf_image img;
    cr_assert_eq(tidal_elf_parse(eb_bytes(&b), b.size, PATH, EB_MEM_LO, EB_MEM_HI, &img, NULL), -1);
    struct tidal_err err = {""};
    cr_assert_eq(tidal_elf_parse(eb_bytes(&b), b.size, NULL, EB_MEM_LO, EB_MEM_HI, &img, &err), -1);
    cr_assert(strstr(err.msg, "e_machine 3 (EM_386"), "%s", err.msg);
    cr_assert_eq(tidal_elf_parse(NULL, 100, PATH, EB_MEM_LO, EB_MEM_HI, &img, &err), -1);
}

Test(elf, empty_memory_range_is_rejected)
{
    struct eb b;
    eb_init(&b, false);
    struct tidal_elf_image img;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_elf_parse(eb_bytes(&b), b.size, PATH, EB_MEM_HI, EB_MEM_HI, &img, &err), -1);
    cr_assert(strstr(err.msg, "empty guest memory range"), "%s", err.msg);
}

Test(elf, segment_must_fit_memory_after_page_rounding)
{
    /* The data segment ends at 0x203a00, which the page tables round up to 0x204000. */
    struct eb b;
    eb_init(&b, false);
    b.f.ph[EB_PH_RODATA].p_type = PT_NULL;
    struct tidal_elf_image img;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_elf_parse(eb_bytes(&b), b.size, PATH, EB_MEM_LO, 0x204000, &img, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(tidal_elf_parse(eb_bytes(&b), b.size, PATH, EB_MEM_LO, 0x203a00, &img, &err), -1);
    cr_assert(strstr(err.msg, "program header 2 (PT_LOAD): segment outside guest memory"), "%s",
              err.msg);
}

/* ---- rejections with more than one thing to check ---- */

Test(elf, rejects_pie_with_a_hint)
{
    struct eb b;
    eb_init(&b, false);
    b.f.eh.e_type = ET_DYN;
    expect_reject(&b, "expected 2 (ET_EXEC, a static executable)");
    expect_reject(&b, "build it with tidal-cc (or -static -no-pie)");
}

Test(elf, rejects_other_abi_versions_naming_both)
{
    struct eb b;
    eb_init(&b, false);
    struct tidal_image_note n = eb_note(&b);
    n.abi_version = TIDAL_ABI_VERSION + 1;
    eb_set_note(&b, &n);
    char want[160];
    snprintf(want, sizeof(want),
             "image built for guest ABI v%u, this monitor speaks v%u: rebuild it with this "
             "tidal-cc",
             TIDAL_ABI_VERSION + 1, TIDAL_ABI_VERSION);
    expect_reject(&b, want);
}

Test(elf, rejects_wx_segment_even_when_otherwise_valid)
{
    struct eb b;
    eb_init(&b, false);
    b.f.ph[EB_PH_DATA].p_flags = PF_R | PF_W | PF_X;
    expect_reject(&b, "program header 2 (PT_LOAD): p_flags 0x7 is both writable and executable");
}

Test(elf, rejects_pages_shared_by_same_permission_segments)
{
    /* Even with equal permissions, a page mapped twice would confuse the page tables. */
    struct eb b;
    eb_init(&b, false);
    b.f.ph[EB_PH_RODATA].p_vaddr = 0x200500;
    b.f.ph[EB_PH_RODATA].p_memsz = b.f.ph[EB_PH_RODATA].p_filesz = 0x80;
    b.f.ph[EB_PH_RODATA].p_flags = PF_R | PF_X;
    expect_reject(&b, "program header 0 [0x200500, 0x200580) R-X and program header 1 [0x200600, "
                      "0x200a00) R-X share the 4 KiB page 0x200000");
}

Test(elf, rejects_segment_contained_in_another)
{
    struct eb b;
    eb_init(&b, false);
    b.f.ph[EB_PH_RODATA].p_vaddr = 0x201a00; /* inside data, with data's bytes */
    b.f.ph[EB_PH_RODATA].p_offset = 0xa00;
    expect_reject(&b, "overlapping segments");
}

Test(elf, rejects_entry_in_bss)
{
    struct eb b;
    eb_init(&b, false);
    b.f.eh.e_entry = EB_DATA_VADDR + EB_DATA_MEMSZ - 1;
    expect_reject(&b, "e_entry 0x2039ff is not inside an executable segment (it is in the RW- "
                      "segment [0x201a00, 0x203a00))");
}

Test(elf, rejects_entry_one_past_text)
{
    struct eb b;
    eb_init(&b, false);
    b.f.eh.e_entry = EB_TEXT_VADDR + EB_TEXT_SIZE;
    expect_reject(&b, "e_entry 0x200a00 is not inside an executable segment");
}

Test(elf, rejects_stub_table_overflowing_64_bits)
{
    struct eb b;
    eb_init(&b, false);
    struct tidal_image_note n = eb_note(&b);
    n.exception_stubs = EB_STUBS;
    n.exception_stub_stride = 0xffffffffu;
    eb_set_note(&b, &n);
    expect_reject(&b, "note exception_stubs 0x200700 (32 stubs, stride 4294967295");
}

/* ---- the corpus table: one test per rejection ---- */

/* Criterion re-executes the binary for each test, so parameters are indices (plain
 * bytes), never pointers into the parent's address space. */
ParameterizedTestParameters(elf, rejects)
{
    static unsigned idx[64];
    cr_assert_leq(elf_corpus_count, 64);
    for (unsigned i = 0; i < elf_corpus_count; i++)
        idx[i] = i;
    return cr_make_param_array(unsigned, idx, elf_corpus_count);
}

ParameterizedTest(unsigned *i, elf, rejects)
{
    const struct elf_corpus_case *c = &elf_corpus[*i];
    struct eb b;
    elf_corpus_build(c, &b);
    struct tidal_elf_image img;
    struct tidal_err err = {""};
    cr_assert_eq(parse(&b, &img, &err), -1, "%s: accepted", c->file);
    cr_assert(strncmp(err.msg, PATH ": ", strlen(PATH ": ")) == 0, "%s: %s", c->file, err.msg);
    cr_assert(strstr(err.msg, c->expected), "%s: message \"%s\"\n lacks \"%s\"", c->file, err.msg,
              c->expected);
    /* Also with the monitor's real memory sizes: the corpus must not depend on them. */
    cr_assert_eq(
        tidal_elf_parse(eb_bytes(&b), b.size, PATH, TIDAL_IMAGE_MIN_GPA, 1ull << 32, &img, &err),
        -1, "%s: accepted with 4 GiB", c->file);
    cr_assert(strstr(err.msg, c->expected), "%s (4 GiB): \"%s\" lacks \"%s\"", c->file, err.msg,
              c->expected);
}

/* ---- the committed corpus files ---- */

static char *corpus_path(const char *name)
{
    const char *root = getenv("TIDAL_ROOT");
    char *p = NULL;
    cr_assert_neq(asprintf(&p, "%s/tests/corpus/elf/%s", root ? root : ".", name), -1);
    return p;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the repository root or set TIDAL_ROOT)", path);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *size = n;
    return buf;
}

Test(elf_corpus, files_match_the_generator)
{
    for (unsigned i = 0; i < elf_corpus_count; i++) {
        char *path = corpus_path(elf_corpus[i].file);
        size_t size;
        uint8_t *file = read_file(path, &size);
        struct eb b;
        elf_corpus_build(&elf_corpus[i], &b);
        cr_assert(size == b.size && memcmp(file, eb_bytes(&b), size) == 0,
                  "%s differs from its generator: run tests/corpus/make-elf-corpus.sh", path);
        free(file);
        free(path);
    }
}

Test(elf_corpus, every_file_is_rejected_with_its_expected_message)
{
    char *list = corpus_path("EXPECTED");
    FILE *f = fopen(list, "r");
    cr_assert_not_null(f, "cannot open %s", list);
    char line[512];
    unsigned checked = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *sp = strchr(line, ' ');
        cr_assert_not_null(sp, "bad EXPECTED line: %s", line);
        *sp = '\0';
        const char *fragment = sp + 1;
        char *path = corpus_path(line);
        size_t size;
        uint8_t *file = read_file(path, &size);
        struct tidal_elf_image img;
        struct tidal_err err = {""};
        cr_assert_eq(tidal_elf_parse(file, size, path, TIDAL_IMAGE_MIN_GPA, 1ull << 30, &img, &err),
                     -1, "%s accepted", path);
        cr_assert(strstr(err.msg, path) == err.msg, "%s: message lacks the path: %s", path,
                  err.msg);
        cr_assert(strstr(err.msg, fragment), "%s: \"%s\" lacks \"%s\"", path, err.msg, fragment);
        /* The symbol loader must survive the same files. */
        tidal_symtab_free(tidal_symtab_load(file, size));
        free(file);
        free(path);
        checked++;
    }
    fclose(f);
    free(list);
    cr_assert_gt(checked, elf_corpus_count, "EXPECTED lists %u files, the generator %u", checked,
                 elf_corpus_count);
}

Test(elf_corpus, every_generated_case_is_listed)
{
    char *list = corpus_path("EXPECTED");
    size_t size;
    char *text = (char *)read_file(list, &size);
    text = realloc(text, size + 1);
    text[size] = '\0';
    for (unsigned i = 0; i < elf_corpus_count; i++) {
        char *line = NULL;
        cr_assert_neq(asprintf(&line, "\n%s %s\n", elf_corpus[i].file, elf_corpus[i].expected), -1);
        cr_assert(strstr(text, line),
                  "EXPECTED lacks the line for %s: run "
                  "tests/corpus/make-elf-corpus.sh",
                  elf_corpus[i].file);
        free(line);
    }
    free(text);
    free(list);
}

/* Images built by tidal-cc (`make examples`, which `make test` runs first) must load and
 * name their entry point; skipped when none have been built. */
Test(elf_real, tidal_cc_examples_load)
{
    const char *root = getenv("TIDAL_ROOT");
    char *pattern = NULL;
    cr_assert_neq(asprintf(&pattern, "%s/build/examples/*.elf", root ? root : "."), -1);
    glob_t g;
    int r = glob(pattern, 0, NULL, &g);
    free(pattern);
    if (r != 0)
        cr_skip_test("no build/examples/*.elf");
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t size;
        uint8_t *file = read_file(g.gl_pathv[i], &size);
        struct tidal_elf_image img;
        struct tidal_err err = {""};
        cr_assert_eq(
            tidal_elf_parse(file, size, g.gl_pathv[i], TIDAL_IMAGE_MIN_GPA, 1ull << 30, &img, &err),
            0, "%s", err.msg);
        struct tidal_symtab *tab = tidal_symtab_load(file, size);
        if (tab) { /* absent when stripped */
            uint64_t off;
            cr_assert_not_null(tidal_symtab_lookup(tab, img.entry, &off), "%s: entry unnamed",
                               g.gl_pathv[i]);
            cr_assert_eq(off, 0);
        }
        tidal_symtab_free(tab);
        free(file);
    }
    globfree(&g);
}

/* ---- robustness sweeps ---- */

static void check_invariants(const struct tidal_elf_image *img, uint64_t lo, uint64_t hi)
{
    cr_assert(img->nsegments >= 1 && img->nsegments <= TIDAL_ELF_MAX_SEGMENTS);
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct tidal_segment *s = &img->seg[i];
        cr_assert_leq(s->filesz, s->memsz);
        cr_assert_geq(s->vaddr & ~0xfffull, lo);
        cr_assert_leq(s->vaddr + s->memsz, hi);
        cr_assert_neq(s->perm & (TIDAL_SEG_W | TIDAL_SEG_X), TIDAL_SEG_W | TIDAL_SEG_X);
        if (i > 0)
            cr_assert_leq((img->seg[i - 1].vaddr + img->seg[i - 1].memsz + 0xfff) & ~0xfffull,
                          s->vaddr & ~0xfffull);
    }
}

Test(elf_robust, every_truncation_is_rejected_or_complete)
{
    struct eb b;
    eb_init(&b, true);
    size_t full = b.size;
    for (size_t n = 0; n <= full; n++) {
        /* A heap copy of exactly n bytes, so that ASan catches any read past the end. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, eb_bytes(&b), n);
        struct tidal_elf_image img;
        struct tidal_err err = {""};
        int r = tidal_elf_parse(copy, n, PATH, EB_MEM_LO, EB_MEM_HI, &img, &err);
        if (n < EB_SIZE_NO_SYMTAB)
            cr_assert_eq(r, -1, "accepted a %zu-byte prefix", n);
        else
            cr_assert_eq(r, 0, "%zu bytes: %s", n, err.msg);
        struct tidal_symtab *tab = tidal_symtab_load(copy, n);
        cr_assert_eq(tab != NULL, n == full, "symtab at %zu bytes", n);
        tidal_symtab_free(tab);
        free(copy);
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

Test(elf_robust, random_mutations_never_crash)
{
    static const uint64_t interesting[] = {
        0,          1,          0xfff,      0x1000,     0x200000,
        0x7fffffff, 0xffffffff, 1ull << 63, UINT64_MAX, UINT64_MAX - 0xfff};
    unsigned accepted = 0;
    for (unsigned iter = 0; iter < 20000; iter++) {
        struct eb b;
        eb_init(&b, true);
        uint8_t *raw = eb_raw(&b);
        unsigned edits = 1 + rng() % 4;
        for (unsigned e = 0; e < edits; e++) {
            size_t off = rng() % (b.size - 8);
            if (rng() % 2) {
                raw[off] ^= (uint8_t)(1u << (rng() % 8));
            } else {
                /* Headers and notes hold the fields that matter: aim there more often. */
                if (rng() % 2)
                    off = rng() % (EB_NOTE_OFF + EB_NOTES_SIZE - 8);
                uint64_t v = interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
                memcpy(raw + off, &v, rng() % 2 ? 8 : 4);
            }
        }
        uint8_t *copy = malloc(b.size);
        memcpy(copy, raw, b.size);
        struct tidal_elf_image img;
        struct tidal_err err = {""};
        if (tidal_elf_parse(copy, b.size, PATH, EB_MEM_LO, EB_MEM_HI, &img, &err) == 0) {
            check_invariants(&img, EB_MEM_LO, EB_MEM_HI);
            accepted++;
        } else {
            cr_assert(strncmp(err.msg, PATH ": ", strlen(PATH ": ")) == 0, "%s", err.msg);
        }
        struct tidal_symtab *tab = tidal_symtab_load(copy, b.size);
        uint64_t off;
        tidal_symtab_lookup(tab, EB_TEXT_VADDR + rng() % 0x1000, &off);
        tidal_symtab_free(tab);
        free(copy);
    }
    cr_assert_gt(accepted, 0); /* harmless edits (e.g. in text bytes) must still load */
}

/* ---- symbols ---- */

static struct tidal_symtab *load_symtab(struct eb *b)
{
    return tidal_symtab_load(eb_bytes(b), b->size);
}

static void expect_sym(const struct tidal_symtab *tab, uint64_t addr, const char *name,
                       uint64_t offset)
{
    uint64_t off = 0xdead;
    const char *got = tidal_symtab_lookup(tab, addr, &off);
    if (!name) {
        cr_assert_null(got, "0x%lx: got %s", (unsigned long)addr, got);
        return;
    }
    cr_assert_not_null(got, "0x%lx: no symbol, expected %s", (unsigned long)addr, name);
    cr_assert_str_eq(got, name, "0x%lx", (unsigned long)addr);
    cr_assert_eq(off, offset, "0x%lx: offset 0x%lx", (unsigned long)addr, (unsigned long)off);
}

Test(symtab, lookups)
{
    struct eb b;
    eb_init(&b, true);
    struct tidal_symtab *tab = load_symtab(&b);
    cr_assert_not_null(tab);
    expect_sym(tab, 0x100, NULL, 0);
    expect_sym(tab, 0x2005ff, NULL, 0);
    expect_sym(tab, 0x200600, "main", 0); /* the global beats its weak alias */
    expect_sym(tab, 0x20063f, "main", 0x3f);
    expect_sym(tab, 0x200640, NULL, 0); /* past main's st_size, before helper */
    expect_sym(tab, 0x200680, "helper", 0);
    expect_sym(tab, 0x20069f, "helper", 0x1f);
    expect_sym(tab, 0x2006a0, NULL, 0);
    expect_sym(tab, 0x2006c0, "tiny", 0); /* st_size 0: nearest preceding */
    expect_sym(tab, 0x2006d0, "tiny", 0x10);
    expect_sym(tab, 0x200750, "exception_stubs", 0x50); /* an assembly label (STT_NOTYPE) */
    expect_sym(tab, 0x2009ff, "exception_stubs", 0x2ff);
    expect_sym(tab, 0x200a00, NULL, 0);      /* the end of .text bounds size-0 symbols */
    expect_sym(tab, EB_DATA_VADDR, NULL, 0); /* objects are not functions */
    expect_sym(tab, UINT64_MAX, NULL, 0);
    cr_assert_str_eq(tidal_symtab_lookup(tab, 0x200601, NULL), "main"); /* offset optional */
    tidal_symtab_free(tab);
}

Test(symtab, table_outlives_the_file)
{
    struct eb b;
    eb_init(&b, true);
    uint8_t *copy = malloc(b.size);
    memcpy(copy, eb_bytes(&b), b.size);
    struct tidal_symtab *tab = tidal_symtab_load(copy, b.size);
    memset(copy, 0, b.size);
    free(copy);
    expect_sym(tab, 0x200690, "helper", 0x10);
    tidal_symtab_free(tab);
}

Test(symtab, absent_or_malformed_gives_null)
{
    struct eb b;
    eb_init(&b, false);
    cr_assert_null(load_symtab(&b), "no sections");

    eb_init(&b, true);
    b.f.sh[3].sh_type = SHT_PROGBITS;
    cr_assert_null(load_symtab(&b), "no SHT_SYMTAB");

    eb_init(&b, true);
    b.f.sh[3].sh_link = EB_NSHDRS;
    cr_assert_null(load_symtab(&b), "sh_link out of range");

    eb_init(&b, true);
    b.f.sh[4].sh_type = SHT_PROGBITS;
    cr_assert_null(load_symtab(&b), "link not a SHT_STRTAB");

    eb_init(&b, true);
    b.f.sh[3].sh_offset = 0xfffffffffffffff0ull;
    cr_assert_null(load_symtab(&b), "symtab offset wraps");

    eb_init(&b, true);
    b.f.sh[3].sh_size = 0x100000;
    cr_assert_null(load_symtab(&b), "symtab past the end");

    eb_init(&b, true);
    b.f.sh[4].sh_size = 0x100000;
    cr_assert_null(load_symtab(&b), "strtab past the end");

    eb_init(&b, true);
    b.f.sh[3].sh_entsize = 16;
    cr_assert_null(load_symtab(&b), "wrong sh_entsize");

    eb_init(&b, true);
    b.f.eh.e_shentsize = 40;
    cr_assert_null(load_symtab(&b), "wrong e_shentsize");

    eb_init(&b, true);
    b.f.eh.e_shoff = b.size - 0x40;
    cr_assert_null(load_symtab(&b), "section headers past the end");

    eb_init(&b, true);
    b.f.eh.e_ident[EI_CLASS] = ELFCLASS32;
    cr_assert_null(load_symtab(&b), "32-bit");

    eb_init(&b, true);
    for (unsigned i = 1; i < EB_NSYMS; i++)
        b.f.syms[i].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
    cr_assert_null(load_symtab(&b), "no functions");

    cr_assert_null(tidal_symtab_load(NULL, 0));
    cr_assert_null(tidal_symtab_lookup(NULL, 0x200600, NULL));
    tidal_symtab_free(NULL);
}

/* Names come from the guest's image: a crash report prints them escaped, so that a
 * name cannot forge a line or drive the terminal. */
Test(symtab, names_are_escaped)
{
    struct eb b;
    eb_init(&b, true);
    char *helper = memmem(b.f.strtab, sizeof(b.f.strtab), "helper", 6);
    cr_assert_not_null(helper);
    memcpy(helper, "h\n\x1b\\\xffr", 6);
    struct tidal_symtab *tab = load_symtab(&b);
    cr_assert_not_null(tab);
    expect_sym(tab, 0x200680, "h\\x0a\\x1b\\\\\\xffr", 0);
    expect_sym(tab, 0x200600, "main", 0);
    tidal_symtab_free(tab);
}

Test(symtab, skips_bad_names)
{
    struct eb b;
    eb_init(&b, true);
    b.f.syms[2].st_name = 0x7fffffff;     /* helper: name past the string table */
    b.f.sh[4].sh_size = sizeof("\0main"); /* strtab ends right after "main" */
    struct tidal_symtab *tab = load_symtab(&b);
    cr_assert_not_null(tab);
    expect_sym(tab, 0x200600, "main", 0);
    expect_sym(tab, 0x200690, NULL, 0);
    tidal_symtab_free(tab);

    /* An unterminated last name is skipped, not read past the table. */
    eb_init(&b, true);
    b.f.sh[4].sh_size = sizeof("\0main") - 1;
    cr_assert_null(load_symtab(&b));
}

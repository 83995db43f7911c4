/* Damaged files: every one must be refused with a message naming the file and the part
 * that is wrong, never a crash. Fields are edited and the file re-sealed (checksums
 * recomputed) when a test targets a rule behind the checksums. */
#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL_MEM (64 * 1024ull) /* 16 pages */

static char *dir, *good, *bad;
static uint8_t *file;
static size_t size;
static uint64_t mem_off, data_off;

static int pick_small(uint64_t p)
{
    return p == 0 || p == 3 || p == 4 || p == 15;
}

static void setup(void)
{
    dir = th_tmpdir();
    good = th_path(dir, "good.snap");
    bad = th_path(dir, "bad.snap");
    uint8_t *mem = th_mem(SMALL_MEM, 5, pick_small);
    th_write(good, mem, SMALL_MEM, 5);
    th_free_mem(mem, SMALL_MEM);
    file = th_read_file(good, &size);
    mem_off = th_get64(file + th_entry(file, TIDAL_SNAP_MEMORY) + SNAP_ENTRY_OFFSET);
    data_off = th_get64(file + mem_off + SNAP_MEM_DATA_OFFSET);
}

static void teardown(void)
{
    th_rmrf(dir);
    free(file);
    free(good);
    free(bad);
    free(dir);
}

/* Opening `data` must fail with a message that names the file and contains `says`. */
static void refused(const uint8_t *data, size_t len, const char *says)
{
    th_write_file(bad, data, len);
    struct tidal_snap *s = (void *)1;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(bad, &s, &err), -1, "accepted a file that should say '%s'", says);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, bad), "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, says), "expected '%s' in: %s", says, err.msg);
}

/* A copy of the good file edited by the caller, then re-sealed. */
static uint8_t *copy(void)
{
    uint8_t *c = malloc(size);
    memcpy(c, file, size);
    return c;
}

static void refused_resealed(uint8_t *c, const char *says)
{
    th_reseal(c, size);
    refused(c, size, says);
    free(c);
}

static const char *part_of(size_t off)
{
    if (off < SNAP_HDR_SIZE)
        return "header";
    size_t n = th_get32(file + SNAP_HDR_NSECTIONS);
    if (off < SNAP_TABLE_OFF + n * SNAP_ENTRY_SIZE)
        return "section table";
    if (off >= mem_off)
        return "memory section";
    size_t vcpu = th_entry(file, TIDAL_SNAP_VCPU);
    uint64_t voff = th_get64(file + vcpu + SNAP_ENTRY_OFFSET);
    uint64_t vlen = th_get64(file + vcpu + SNAP_ENTRY_SIZE_OFF);
    return off >= voff && off < voff + vlen ? "vcpu section" : "monitor section";
}

TestSuite(snap_corrupt, .init = setup, .fini = teardown, .timeout = 300);

/* Every byte of the file matters: a flipped byte is refused by open (metadata) or by
 * verify_memory (padding and page data), and the message names the damaged part. */
Test(snap_corrupt, every_flipped_byte_is_caught)
{
    th_write_file(bad, file, size);
    int fd = open(bad, O_RDWR);
    cr_assert(fd >= 0);
    uint64_t index_end =
        mem_off + SNAP_MEM_HDR_SIZE + th_get64(file + mem_off + SNAP_MEM_NRUNS) * SNAP_RUN_SIZE;
    /* every byte up to the page data, then a prime stride through the pages */
    for (size_t off = 0; off < size; off += off < data_off ? 1 : 61) {
        uint8_t flipped = file[off] ^ (uint8_t)(1u << (off % 8));
        cr_assert_eq(pwrite(fd, &flipped, 1, (off_t)off), 1);
        struct tidal_snap *s = NULL;
        struct tidal_err err = {""};
        const char *part = part_of(off);
        if (tidal_snap_open(bad, &s, &err) == 0) {
            cr_assert_geq(off, index_end, "byte %zu (%s) flipped, the file was accepted", off,
                          part);
            cr_assert_eq(tidal_snap_verify_memory(s, &err), -1, "byte %zu flipped, verified", off);
            tidal_snap_close(s);
        }
        cr_assert(strstr(err.msg, bad) && strstr(err.msg, part), "byte %zu: expected '%s' in: %s",
                  off, part, err.msg);
        cr_assert_eq(pwrite(fd, file + off, 1, (off_t)off), 1);
    }
    close(fd);
}

Test(snap_corrupt, truncation_at_every_page_and_odd_offsets)
{
    /* a larger file, so that there are many page boundaries inside the data */
    char *big = th_path(dir, "big.snap");
    uint8_t *mem = th_mem(8 * 1024 * 1024, 6, pick_small);
    for (uint64_t p = 100; p < 300; p++)
        mem[p * SNAP_PAGE + p % SNAP_PAGE] = (uint8_t)p | 1;
    th_write(big, mem, 8 * 1024 * 1024, 6);
    th_free_mem(mem, 8 * 1024 * 1024);
    size_t bsize;
    uint8_t *bfile = th_read_file(big, &bsize);
    size_t odd[] = {1, 7, 8, 9, 100, 127, 128, 129, 159, 160, 161, 200, 4095, 4097, bsize - 1};
    for (size_t cut = 0; cut < bsize; cut += SNAP_PAGE)
        refused(bfile, cut, "truncated");
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        refused(bfile, odd[i], "truncated");
    free(bfile);
    free(big);
}

Test(snap_corrupt, trailing_bytes)
{
    uint8_t *c = realloc(copy(), size + 10);
    memset(c + size, 0, 10);
    refused(c, size + 10, "10 unexpected bytes after the declared end");
    free(c);
}

Test(snap_corrupt, wrong_magic_and_other_files)
{
    uint8_t *c = copy();
    c[7] = 'X';
    refused(c, size, "bad magic");
    refused((const uint8_t *)"hello", 5, "truncated");
    refused((const uint8_t *)"", 0, "truncated");
    memcpy(c,
           "\x7f"
           "ELF\2\1\1\0",
           8);
    refused(c, 200, "bad magic");
    free(c);
}

Test(snap_corrupt, wrong_version)
{
    uint32_t versions[] = {0, TIDAL_SNAP_VERSION + 1, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *c = copy();
        th_put32(c + SNAP_HDR_VERSION, versions[i]);
        char says[64];
        snprintf(says, sizeof(says), "version %u", versions[i]);
        refused_resealed(c, says);
    }
}

Test(snap_corrupt, bad_mem_size)
{
    uint64_t sizes[] = {0, SMALL_MEM + 1, SMALL_MEM - 2048, 65ull << 30, ~0ull};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *c = copy();
        th_put64(c + SNAP_HDR_MEM_SIZE, sizes[i]);
        refused_resealed(c, "mem_size");
    }
    /* shrinking memory below the stored runs is an index problem */
    uint8_t *c = copy();
    th_put64(c + SNAP_HDR_MEM_SIZE, 8 * SNAP_PAGE);
    refused_resealed(c, "memory section");
}

Test(snap_corrupt, reserved_fields)
{
    uint8_t *c = copy();
    c[SNAP_HDR_RESERVED + 3] = 1;
    refused_resealed(c, "reserved");
    c = copy();
    c[SNAP_TABLE_OFF + SNAP_ENTRY_RESERVED] = 1;
    refused_resealed(c, "reserved");
}

Test(snap_corrupt, section_count)
{
    uint32_t counts[] = {0, 17, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *c = copy();
        th_put32(c + SNAP_HDR_NSECTIONS, counts[i]);
        refused_resealed(c, "sections, expected 1 to 16");
    }
    /* more entries than the file holds: the table runs into the blobs */
    uint8_t *c = copy();
    th_put32(c + SNAP_HDR_NSECTIONS, 16);
    th_put32(c + SNAP_HDR_TABLE_CRC, tidal_crc32c(0, c + SNAP_TABLE_OFF, 16 * SNAP_ENTRY_SIZE));
    th_put32(c + SNAP_HDR_CRC, tidal_crc32c(0, c, SNAP_HDR_CRC));
    refused(c, size, "section table entry");
    free(c);
}

Test(snap_corrupt, unknown_duplicate_and_missing_sections)
{
    uint8_t *m = copy(); /* the table keeps only the two blob entries */
    th_put32(m + SNAP_HDR_NSECTIONS, 2);
    refused_resealed(m, "no memory section");
    uint8_t *c = copy();
    th_put32(c + th_entry(c, TIDAL_SNAP_MONITOR) + SNAP_ENTRY_TYPE, 7);
    refused_resealed(c, "unknown section type 7");
    c = copy();
    th_put32(c + th_entry(c, TIDAL_SNAP_MONITOR) + SNAP_ENTRY_TYPE, 0);
    refused_resealed(c, "unknown section type 0");
    c = copy();
    th_put32(c + th_entry(c, TIDAL_SNAP_MONITOR) + SNAP_ENTRY_TYPE, TIDAL_SNAP_VCPU);
    refused_resealed(c, "duplicate vcpu section");
}

/* Offsets and sizes outside the file, overflowing, overlapping or leaving gaps. */
Test(snap_corrupt, huge_and_misplaced_sections)
{
    struct {
        uint32_t type;
        uint64_t offset_delta, size; /* size ~0: keep */
        const char *says;
    } cases[] = {
        {TIDAL_SNAP_VCPU, 0, 1ull << 62, "vcpu section: offset"},
        {TIDAL_SNAP_VCPU, 0, ~0ull, "outside the file"},
        {TIDAL_SNAP_MONITOR, ~0ull - 1457 - 200, 1000, "outside the file"}, /* offset ~0 - 200 */
        {TIDAL_SNAP_MEMORY, 0, 1ull << 40, "memory section: offset"},
        {TIDAL_SNAP_MEMORY, 1ull << 40, 4096, "outside the file"},
        {TIDAL_SNAP_MONITOR, 1, 320, "leaves a gap"},
        {TIDAL_SNAP_MONITOR, (uint64_t)-1, 322, "overlaps"},
        {TIDAL_SNAP_VCPU, (uint64_t)-200, 1234, "outside the file"},
        {TIDAL_SNAP_MONITOR, 0, 0, "leaves a gap"},
    };
    cr_assert_eq(th_get64(file + th_entry(file, TIDAL_SNAP_MONITOR) + SNAP_ENTRY_OFFSET), 1458);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *c = copy();
        size_t e = th_entry(c, cases[i].type);
        th_put64(c + e + SNAP_ENTRY_OFFSET,
                 th_get64(c + e + SNAP_ENTRY_OFFSET) + cases[i].offset_delta);
        th_put64(c + e + SNAP_ENTRY_SIZE_OFF, cases[i].size);
        refused_resealed(c, cases[i].says);
    }
}

static uint8_t *run(uint8_t *c, unsigned i)
{
    return c + mem_off + SNAP_MEM_HDR_SIZE + i * SNAP_RUN_SIZE;
}

/* The memory index is checked run by run against memory and the file. Runs of the
 * small file: pages 0, 3-4, 15. */
Test(snap_corrupt, memory_index_inconsistencies)
{
    uint8_t *c;
    cr_assert_eq(th_get64(file + mem_off + SNAP_MEM_NRUNS), 3);

    c = copy(); /* unsorted */
    th_put64(run(c, 1) + SNAP_RUN_FIRST, 0);
    refused_resealed(c, "run 1");
    c = copy(); /* overlapping */
    th_put64(run(c, 2) + SNAP_RUN_FIRST, 4);
    refused_resealed(c, "overlapping");
    c = copy(); /* beyond memory */
    th_put64(run(c, 2) + SNAP_RUN_COUNT, 2);
    th_put64(run(c, 2) + SNAP_RUN_FIRST, 15);
    refused_resealed(c, "beyond");
    c = copy(); /* overflowing first + count */
    th_put64(run(c, 2) + SNAP_RUN_FIRST, ~0ull);
    refused_resealed(c, "run 2");
    c = copy(); /* empty run */
    th_put64(run(c, 0) + SNAP_RUN_COUNT, 0);
    refused_resealed(c, "empty");
    c = copy(); /* misaligned data */
    th_put64(run(c, 1) + SNAP_RUN_OFFSET, th_get64(run(c, 1) + SNAP_RUN_OFFSET) + 1);
    refused_resealed(c, "run 1 at file offset");
    c = copy(); /* data of two runs swapped */
    th_put64(run(c, 0) + SNAP_RUN_OFFSET, th_get64(run(c, 1) + SNAP_RUN_OFFSET));
    refused_resealed(c, "run 0 at file offset");
    c = copy(); /* runs hold fewer pages than stored */
    th_put64(run(c, 1) + SNAP_RUN_COUNT, 1);
    th_put64(run(c, 2) + SNAP_RUN_OFFSET, th_get64(run(c, 2) + SNAP_RUN_OFFSET) - SNAP_PAGE);
    refused_resealed(c, "runs hold 3 pages");
    c = copy();
    th_put64(c + mem_off + SNAP_MEM_STORED, 5);
    refused_resealed(c, "5 stored pages");
    c = copy();
    th_put64(c + mem_off + SNAP_MEM_NRUNS, 1ull << 60);
    refused_resealed(c, "room for");
    c = copy();
    th_put64(c + mem_off + SNAP_MEM_DATA_OFFSET, data_off + SNAP_PAGE);
    refused_resealed(c, "page data offset");
    c = copy();
    th_put64(c + mem_off + SNAP_MEM_DATA_OFFSET, data_off - 8);
    refused_resealed(c, "page data offset");
    c = copy();
    th_put32(c + mem_off + SNAP_MEM_PAGE_SIZE, 8192);
    refused_resealed(c, "page size 8192");
}

/* A re-sealed page-data change passes open (which reads no page data) but not verify:
 * the section checksum is the only guard of the pages. */
Test(snap_corrupt, page_data_is_checked_by_verify_only)
{
    uint8_t *c = copy();
    c[data_off + 5000] ^= 0x80;
    th_write_file(bad, c, size);
    struct tidal_snap *s;
    struct tidal_err err;
    cr_assert_eq(tidal_snap_open(bad, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), -1);
    cr_assert(strstr(err.msg, "memory section: checksum mismatch"), "%s", err.msg);
    tidal_snap_close(s);
    free(c);
}

Test(snap_corrupt, not_a_file)
{
    struct tidal_snap *s;
    struct tidal_err err;
    cr_assert_eq(tidal_snap_open(dir, &s, &err), -1);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    char *missing = th_path(dir, "missing.snap");
    cr_assert_eq(tidal_snap_open(missing, &s, &err), -1);
    cr_assert(strstr(err.msg, missing) && strstr(err.msg, "cannot open"), "%s", err.msg);
    free(missing);
}

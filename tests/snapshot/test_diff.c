/* Diff snapshots: a diff stores exactly the dirty pages (zero or not) and the identity of
 * its base; tidal_snap_map_chain lays a chain of diffs over a full snapshot, and refuses
 * chains whose links do not match. */
#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM (8 * MIB)
#define PAGES (MEM / SNAP_PAGE)

static char *dir;

static void setup(void)
{
    dir = th_tmpdir();
}

static void teardown(void)
{
    th_rmrf(dir);
    free(dir);
}

TestSuite(snap_diff, .init = setup, .fini = teardown, .timeout = 300);

static int pick_some(uint64_t p)
{
    return p == 0 || (p >= 10 && p < 13) || p == 100 || (p >= 500 && p < 900) || p == 2047;
}

static void set_bit(uint64_t *bits, uint64_t p)
{
    bits[p / 64] |= 1ull << (p % 64);
}

static uint64_t count_bits(const uint64_t *bits, uint64_t pages)
{
    uint64_t n = 0;
    for (uint64_t w = 0; w < (pages + 63) / 64; w++)
        n += (uint64_t)__builtin_popcountll(bits[w]);
    return n;
}

static struct tidal_snap *open_ok(const char *path)
{
    struct tidal_snap *s = NULL;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), 0, "%s", err.msg);
    return s;
}

/* A diff of mem against base with the blobs th_write stores for seed. */
static int write_diff(const char *path, const struct tidal_snap *base, const uint8_t *mem,
                      uint64_t mem_size, const uint64_t *dirty, uint32_t seed,
                      struct tidal_err *err)
{
    uint8_t vcpu[2048], mon[2048];
    size_t vn, mn;
    th_blob(TIDAL_SNAP_VCPU, seed, vcpu, &vn);
    th_blob(TIDAL_SNAP_MONITOR, seed, mon, &mn);
    struct tidal_snap_blob blobs[] = {{TIDAL_SNAP_VCPU, vcpu, vn}, {TIDAL_SNAP_MONITOR, mon, mn}};
    struct tidal_snap_header_info info = {
        .abi_version = 7, .mem_size = mem_size, .cpu_features = {seed, 2, 3, ~0ull}};
    struct tidal_snap_diff diff = {.base = base, .dirty = dirty};
    return tidal_snap_write_diff(path, &info, blobs, 2, mem, &diff, err);
}

static void write_diff_ok(const char *path, const struct tidal_snap *base, const uint8_t *mem,
                          uint64_t mem_size, const uint64_t *dirty, uint32_t seed)
{
    struct tidal_err err = {""};
    cr_assert_eq(write_diff(path, base, mem, mem_size, dirty, seed, &err), 0, "%s", err.msg);
}

/* Maps the chain and compares it with want byte for byte. */
static void chain_is(const struct tidal_snap *const *chain, unsigned n, const uint8_t *want,
                     uint64_t mem_size)
{
    struct tidal_err err = {""};
    uint8_t *m = tidal_snap_map_chain(chain, n, &err);
    cr_assert(m, "%s", err.msg);
    cr_assert_eq(memcmp(m, want, mem_size), 0, "chain of %u differs", n);
    munmap(m, mem_size);
}

/* The chain is refused with a message containing each of says[] (NULL-terminated). */
static void chain_refused(const struct tidal_snap *const *chain, unsigned n,
                          const char *const *says)
{
    struct tidal_err err = {""};
    cr_assert_null(tidal_snap_map_chain(chain, n, &err), "a bad chain was mapped");
    for (; *says; says++)
        cr_assert(strstr(err.msg, *says), "expected '%s' in: %s", *says, err.msg);
}

/* Changes of the first generation: a byte of a stored page, a stored page zeroed, a zero
 * page written, the first and last pages. */
static void modify1(uint8_t *mem, uint64_t *dirty)
{
    mem[600 * SNAP_PAGE + 17] ^= 0x5a, set_bit(dirty, 600);
    memset(mem + 11 * SNAP_PAGE, 0, SNAP_PAGE), set_bit(dirty, 11);
    memset(mem + 50 * SNAP_PAGE, 0xC3, SNAP_PAGE), set_bit(dirty, 50);
    memset(mem + 51 * SNAP_PAGE + 4000, 1, 96), set_bit(dirty, 51);
    mem[0] ^= 1, set_bit(dirty, 0);
    mem[2047 * SNAP_PAGE + 4095] ^= 0x80, set_bit(dirty, 2047);
}

/* Second generation: overlaps the first, zeroes the page the first wrote. */
static void modify2(uint8_t *mem, uint64_t *dirty)
{
    memset(mem + 50 * SNAP_PAGE, 0, SNAP_PAGE), set_bit(dirty, 50);
    memset(mem + 11 * SNAP_PAGE, 0x11, 8), set_bit(dirty, 11);
    for (uint64_t p = 1000; p < 1040; p++)
        mem[p * SNAP_PAGE + p % SNAP_PAGE] = (uint8_t)p | 1, set_bit(dirty, p);
    memset(mem + 700 * SNAP_PAGE, 0, SNAP_PAGE), set_bit(dirty, 700);
}

Test(snap_diff, chain_maps_the_modified_memory)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    uint8_t *mem = th_mem(MEM, 1, pick_some);
    th_write(bpath, mem, MEM, 1);
    struct tidal_snap *base = open_ok(bpath);

    uint64_t dirty[PAGES / 64] = {0};
    modify1(mem, dirty);
    write_diff_ok(dpath, base, mem, MEM, dirty, 2);
    struct tidal_snap *d = open_ok(dpath);
    cr_assert_not(tidal_snap_is_diff(base));
    cr_assert(tidal_snap_is_diff(d));
    cr_assert_eq(tidal_snap_stored_pages(d), count_bits(dirty, PAGES));
    cr_assert_eq(tidal_snap_stored_pages(d), 6);
    cr_assert_eq(tidal_snap_info(d)->mem_size, MEM);
    cr_assert_eq(tidal_snap_info(d)->cpu_features[0], 2);
    uint64_t n;
    uint8_t want[2048];
    size_t wn;
    th_blob(TIDAL_SNAP_VCPU, 2, want, &wn);
    const uint8_t *vcpu = tidal_snap_blob(d, TIDAL_SNAP_VCPU, &n);
    cr_assert(vcpu && n == wn && memcmp(vcpu, want, wn) == 0);

    /* The file holds the index and the dirty pages, nothing else. */
    size_t size;
    uint8_t *file = th_read_file(dpath, &size);
    uint64_t mem_off = th_get64(file + th_entry(file, TIDAL_SNAP_MEMORY) + SNAP_ENTRY_OFFSET);
    cr_assert_eq(size, th_get64(file + mem_off + SNAP_MEM_DATA_OFFSET) + 6 * SNAP_PAGE);
    cr_assert_eq(th_get32(file + SNAP_HDR_FLAGS), SNAP_FLAG_DIFF);
    free(file);

    const struct tidal_snap *chain[] = {base, d};
    struct tidal_err err = {""};
    uint8_t *m = tidal_snap_map_chain(chain, 2, &err);
    cr_assert(m, "%s", err.msg);
    tidal_snap_close(d);
    tidal_snap_close(base);
    /* still valid after both are closed, and private */
    cr_assert_eq(memcmp(m, mem, MEM), 0);
    memset(m + 50 * SNAP_PAGE, 0, SNAP_PAGE);
    munmap(m, MEM);
    const struct tidal_snap *again[] = {open_ok(bpath), open_ok(dpath)};
    chain_is(again, 2, mem, MEM);
    d = (struct tidal_snap *)again[1];
    base = (struct tidal_snap *)again[0];
    tidal_snap_close(d);
    tidal_snap_close(base);
    th_free_mem(mem, MEM);
    free(bpath);
    free(dpath);
}

Test(snap_diff, diff_and_base_equal_a_full_snapshot)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    char *fpath = th_path(dir, "full.snap");
    uint8_t *mem = th_mem(MEM, 3, pick_some);
    th_write(bpath, mem, MEM, 3);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t dirty[PAGES / 64] = {0};
    modify1(mem, dirty);
    modify2(mem, dirty);
    write_diff_ok(dpath, base, mem, MEM, dirty, 3);
    th_write(fpath, mem, MEM, 3);
    struct tidal_snap *d = open_ok(dpath), *full = open_ok(fpath);
    struct tidal_err err = {""};
    uint8_t *fm = tidal_snap_map_memory(full, &err);
    cr_assert(fm, "%s", err.msg);
    const struct tidal_snap *chain[] = {base, d};
    chain_is(chain, 2, fm, MEM);
    chain_is(chain, 2, mem, MEM);
    tidal_snap_unmap_memory(full, fm);
    tidal_snap_close(full);
    tidal_snap_close(d);
    tidal_snap_close(base);
    th_free_mem(mem, MEM);
    free(bpath);
    free(dpath);
    free(fpath);
}

Test(snap_diff, chain_of_two_diffs)
{
    char *bpath = th_path(dir, "base.snap"), *d1path = th_path(dir, "d1.snap");
    char *d2path = th_path(dir, "d2.snap");
    uint8_t *mem0 = th_mem(MEM, 4, pick_some), *mem1 = th_mem(MEM, 4, pick_some);
    th_write(bpath, mem0, MEM, 4);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t dirty1[PAGES / 64] = {0}, dirty2[PAGES / 64] = {0};
    modify1(mem1, dirty1);
    write_diff_ok(d1path, base, mem1, MEM, dirty1, 5);
    struct tidal_snap *d1 = open_ok(d1path);
    uint8_t *mem2 = th_mem(MEM, 4, pick_some);
    memcpy(mem2, mem1, MEM);
    modify2(mem2, dirty2);
    write_diff_ok(d2path, d1, mem2, MEM, dirty2, 6);
    struct tidal_snap *d2 = open_ok(d2path);
    cr_assert(tidal_snap_is_diff(d2));
    cr_assert_eq(tidal_snap_stored_pages(d2), count_bits(dirty2, PAGES));

    const struct tidal_snap *chain[] = {base, d1, d2};
    chain_is(chain, 3, mem2, MEM);
    chain_is(chain, 2, mem1, MEM);
    chain_is(chain, 1, mem0, MEM);

    /* links out of order or missing */
    const struct tidal_snap *skip[] = {base, d2};
    chain_refused(skip, 2, (const char *[]){d2path, bpath, "not a diff of", NULL});
    const struct tidal_snap *swapped[] = {base, d2, d1};
    chain_refused(swapped, 3, (const char *[]){d2path, bpath, NULL});
    const struct tidal_snap *from_diff[] = {d1, d2};
    chain_refused(from_diff, 2, (const char *[]){d1path, "cannot start a chain", NULL});
    const struct tidal_snap *two_full[] = {base, base};
    chain_refused(two_full, 2, (const char *[]){bpath, "not a diff", NULL});
    chain_refused(chain, 0, (const char *[]){"empty", NULL});
    const struct tidal_snap *hole[] = {base, NULL};
    chain_refused(hole, 2, (const char *[]){"missing", NULL});

    tidal_snap_close(d2);
    tidal_snap_close(d1);
    tidal_snap_close(base);
    th_free_mem(mem0, MEM);
    th_free_mem(mem1, MEM);
    th_free_mem(mem2, MEM);
    free(bpath);
    free(d1path);
    free(d2path);
}

Test(snap_diff, base_that_does_not_match_is_refused)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    char *opath = th_path(dir, "other.snap");
    uint8_t *mem = th_mem(MEM, 7, pick_some);
    th_write(bpath, mem, MEM, 7);
    th_write(opath, mem, MEM, 8); /* same memory, other blobs: another snapshot */
    struct tidal_snap *base = open_ok(bpath), *other = open_ok(opath);
    uint64_t dirty[PAGES / 64] = {0};
    modify1(mem, dirty);
    write_diff_ok(dpath, base, mem, MEM, dirty, 7);
    struct tidal_snap *d = open_ok(dpath);
    const struct tidal_snap *wrong[] = {other, d};
    chain_refused(wrong, 2, (const char *[]){dpath, opath, "not a diff of", NULL});

    /* the base replaced at its path by another snapshot: refused too */
    tidal_snap_close(base);
    th_write(bpath, mem, MEM, 7);
    base = open_ok(bpath);
    const struct tidal_snap *replaced[] = {base, d};
    chain_refused(replaced, 2, (const char *[]){dpath, bpath, NULL});

    /* a copy of the right base under another name is the same snapshot */
    tidal_snap_close(base);
    uint8_t *orig = th_mem(MEM, 7, pick_some);
    th_write(bpath, orig, MEM, 7);
    th_free_mem(orig, MEM);
    base = open_ok(bpath);
    const struct tidal_snap *right[] = {base, d};
    chain_is(right, 2, mem, MEM);

    tidal_snap_close(d);
    tidal_snap_close(other);
    tidal_snap_close(base);
    th_free_mem(mem, MEM);
    free(bpath);
    free(dpath);
    free(opath);
}

Test(snap_diff, diff_alone_cannot_be_mapped)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    uint8_t *mem = th_mem(MEM, 9, pick_some);
    th_write(bpath, mem, MEM, 9);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t dirty[PAGES / 64] = {0};
    modify1(mem, dirty);
    write_diff_ok(dpath, base, mem, MEM, dirty, 9);
    struct tidal_snap *d = open_ok(dpath);
    struct tidal_err err = {""};
    cr_assert_null(tidal_snap_map_memory(d, &err));
    cr_assert(strstr(err.msg, dpath) && strstr(err.msg, "base") &&
                  strstr(err.msg, "tidal_snap_map_chain"),
              "%s", err.msg);
    tidal_snap_close(d);
    tidal_snap_close(base);
    th_free_mem(mem, MEM);
    free(bpath);
    free(dpath);
}

Test(snap_diff, empty_and_full_bitmaps)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    /* 3 pages: the bitmap's bits beyond memory are ignored */
    uint64_t size = 3 * SNAP_PAGE;
    uint8_t *mem = th_mem(size, 10, pick_some);
    th_write(bpath, mem, size, 10);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t none = 0, all = ~0ull;
    write_diff_ok(dpath, base, mem, size, &none, 10);
    struct tidal_snap *d = open_ok(dpath);
    cr_assert_eq(tidal_snap_stored_pages(d), 0);
    const struct tidal_snap *chain[] = {base, d};
    chain_is(chain, 2, mem, size);
    tidal_snap_close(d);
    memset(mem + SNAP_PAGE, 0xEE, SNAP_PAGE);
    mem[0] = 0;
    write_diff_ok(dpath, base, mem, size, &all, 10);
    d = open_ok(dpath);
    cr_assert_eq(tidal_snap_stored_pages(d), 3);
    chain[1] = d;
    chain_is(chain, 2, mem, size);
    tidal_snap_close(d);
    tidal_snap_close(base);
    th_free_mem(mem, size);
    free(bpath);
    free(dpath);
}

static int pick_even_low(uint64_t p)
{
    return p % 2 == 0 && p < 12000;
}

/* 6000 runs in the base and 3072 in the diff: the VMA budget (8192 mapped runs) runs out
 * in the middle of the diff, whose remaining runs are read into place. */
Test(snap_diff, more_runs_than_mappings_across_the_chain)
{
    uint64_t size = 48 * MIB, pages = size / SNAP_PAGE;
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    uint8_t *mem = th_mem(size, 11, pick_even_low);
    th_write(bpath, mem, size, 11);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t *dirty = calloc(pages / 64, sizeof(*dirty));
    for (uint64_t p = 1; p < pages; p += 4) {
        memset(mem + p * SNAP_PAGE, (int)(p % 251) + 1, SNAP_PAGE);
        set_bit(dirty, p);
    }
    write_diff_ok(dpath, base, mem, size, dirty, 11);
    struct tidal_snap *d = open_ok(dpath);
    cr_assert_eq(tidal_snap_stored_pages(d), pages / 4);
    const struct tidal_snap *chain[] = {base, d};
    chain_is(chain, 2, mem, size);
    tidal_snap_close(d);
    tidal_snap_close(base);
    free(dirty);
    th_free_mem(mem, size);
    free(bpath);
    free(dpath);
}

Test(snap_diff, write_diff_refuses_bad_arguments)
{
    char *bpath = th_path(dir, "base.snap"), *dpath = th_path(dir, "diff.snap");
    uint8_t *mem = th_mem(MEM, 12, pick_some);
    th_write(bpath, mem, MEM, 12);
    struct tidal_snap *base = open_ok(bpath);
    uint64_t dirty[PAGES / 64] = {1};
    struct tidal_snap_header_info info = {.mem_size = MEM};
    struct tidal_err err = {""};
    struct tidal_snap_diff no_base = {NULL, dirty}, no_bits = {base, NULL};
    const struct tidal_snap_diff *diffs[] = {NULL, &no_base, &no_bits};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(tidal_snap_write_diff(dpath, &info, NULL, 0, mem, diffs[i], &err), -1);
        cr_assert(strstr(err.msg, dpath) && strstr(err.msg, "base snapshot and a dirty"), "%s",
                  err.msg);
    }
    struct tidal_snap_diff ok = {base, dirty};
    info.mem_size = MEM / 2;
    cr_assert_eq(tidal_snap_write_diff(dpath, &info, NULL, 0, mem, &ok, &err), -1);
    cr_assert(strstr(err.msg, dpath) && strstr(err.msg, bpath) && strstr(err.msg, "cannot apply"),
              "%s", err.msg);
    cr_assert_eq(access(dpath, F_OK), -1, "a refused diff created its file");
    info.mem_size = MEM;
    cr_assert_eq(tidal_snap_write_diff(bpath, &info, NULL, 0, mem, &ok, &err), -1);
    cr_assert(strstr(err.msg, "own base"), "%s", err.msg);
    tidal_snap_close(base);
    base = open_ok(bpath); /* untouched */
    cr_assert_not(tidal_snap_is_diff(base));
    tidal_snap_close(base);
    th_free_mem(mem, MEM);
    free(bpath);
    free(dpath);
}

/* ---- damaged diffs: refused like any snapshot ---- */

#define SMALL (64 * 1024ull)

static int pick_small(uint64_t p)
{
    return p == 0 || p == 3 || p == 4 || p == 15;
}

struct damaged {
    char *base, *diff, *bad;
    uint8_t *file;
    size_t size;
};

static struct damaged make_small_diff(void)
{
    struct damaged x = {th_path(dir, "base.snap"), th_path(dir, "diff.snap"),
                        th_path(dir, "bad.snap"), NULL, 0};
    uint8_t *mem = th_mem(SMALL, 13, pick_small);
    th_write(x.base, mem, SMALL, 13);
    struct tidal_snap *b = open_ok(x.base);
    uint64_t dirty = 0;
    memset(mem + 3 * SNAP_PAGE, 0, SNAP_PAGE), dirty |= 1u << 3;
    memset(mem + 7 * SNAP_PAGE, 9, SNAP_PAGE), dirty |= 1u << 7;
    mem[15 * SNAP_PAGE] ^= 1, dirty |= 1u << 15;
    write_diff_ok(x.diff, b, mem, SMALL, &dirty, 13);
    tidal_snap_close(b);
    th_free_mem(mem, SMALL);
    x.file = th_read_file(x.diff, &x.size);
    return x;
}

static void free_damaged(struct damaged *x)
{
    free(x->base);
    free(x->diff);
    free(x->bad);
    free(x->file);
}

static void refused(const char *bad, const uint8_t *data, size_t len, const char *says)
{
    th_write_file(bad, data, len);
    struct tidal_snap *s = (void *)1;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(bad, &s, &err), -1, "accepted a file that should say '%s'", says);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, bad), "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, says), "expected '%s' in: %s", says, err.msg);
}

Test(snap_diff, damaged_diff_is_refused)
{
    struct damaged x = make_small_diff();
    uint64_t mem_off = th_get64(x.file + th_entry(x.file, TIDAL_SNAP_MEMORY) + SNAP_ENTRY_OFFSET);
    uint64_t data_off = th_get64(x.file + mem_off + SNAP_MEM_DATA_OFFSET);
    uint64_t index_end =
        mem_off + SNAP_MEM_HDR_SIZE + th_get64(x.file + mem_off + SNAP_MEM_NRUNS) * SNAP_RUN_SIZE;
    cr_assert_eq(x.size, data_off + 3 * SNAP_PAGE);

    /* every flipped byte: refused by open (metadata) or verify (padding, pages) */
    th_write_file(x.bad, x.file, x.size);
    int fd = open(x.bad, O_RDWR);
    cr_assert(fd >= 0);
    for (size_t off = 0; off < x.size; off += off < data_off ? 1 : 61) {
        uint8_t flipped = x.file[off] ^ (uint8_t)(1u << (off % 8));
        cr_assert_eq(pwrite(fd, &flipped, 1, (off_t)off), 1);
        struct tidal_snap *s = NULL;
        struct tidal_err err = {""};
        if (tidal_snap_open(x.bad, &s, &err) == 0) {
            cr_assert_geq(off, index_end, "byte %zu flipped, the diff was accepted", off);
            cr_assert_eq(tidal_snap_verify_memory(s, &err), -1, "byte %zu flipped, verified", off);
            tidal_snap_close(s);
        }
        cr_assert(strstr(err.msg, x.bad), "byte %zu: %s", off, err.msg);
        cr_assert_eq(pwrite(fd, x.file + off, 1, (off_t)off), 1);
    }
    close(fd);

    for (size_t cut = 0; cut < x.size; cut += SNAP_PAGE / 4)
        refused(x.bad, x.file, cut, "truncated");
    refused(x.bad, x.file, x.size - 1, "truncated");
    free_damaged(&x);
}

/* The diff fields behind the header checksum (files re-sealed after the edit). */
Test(snap_diff, diff_header_fields)
{
    struct damaged x = make_small_diff();
    uint8_t *c = malloc(x.size);
    struct {
        size_t off;
        uint64_t value;
        unsigned width;
        const char *says;
    } cases[] = {
        {SNAP_HDR_FLAGS, 2, 4, "unknown flags 0x2"},
        {SNAP_HDR_FLAGS, 0x80000001u, 4, "unknown flags 0x80000000"},
        {SNAP_HDR_FLAGS, 0, 4, "reserved fields are not zero"}, /* a full one with a base */
        {SNAP_HDR_BASE_SIZE, 0, 8, "a diff whose base is 0 bytes"},
        {SNAP_HDR_BASE_SIZE, 127, 8, "a diff whose base is 127 bytes"},
        {SNAP_HDR_RESERVED, 1, 4, "reserved fields are not zero"},
        {SNAP_HDR_CRC - 4, 1, 4, "reserved fields are not zero"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(c, x.file, x.size);
        if (cases[i].width == 4)
            th_put32(c + cases[i].off, (uint32_t)cases[i].value);
        else
            th_put64(c + cases[i].off, cases[i].value);
        th_reseal(c, x.size);
        refused(x.bad, c, x.size, cases[i].says);
    }

    /* A full snapshot with a base identity is refused too. */
    size_t bsize;
    uint8_t *b = th_read_file(x.base, &bsize);
    th_put32(b + SNAP_HDR_BASE_CRC, 1);
    th_reseal(b, bsize);
    refused(x.bad, b, bsize, "reserved fields are not zero");
    free(b);

    /* A diff whose mem_size differs from its base's opens, but does not chain. */
    memcpy(c, x.file, x.size);
    th_put64(c + SNAP_HDR_MEM_SIZE, 2 * SMALL);
    th_reseal(c, x.size);
    th_write_file(x.bad, c, x.size);
    struct tidal_snap *base = open_ok(x.base), *d = open_ok(x.bad);
    const struct tidal_snap *chain[] = {base, d};
    chain_refused(chain, 2, (const char *[]){x.bad, x.base, "bytes of memory", NULL});
    tidal_snap_close(d);
    tidal_snap_close(base);
    free(c);
    free_damaged(&x);
}

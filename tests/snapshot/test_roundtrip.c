#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pick_some(uint64_t p)
{
    /* runs of different lengths, a lone page, the first and the last page */
    return p == 0 || (p >= 10 && p < 13) || p == 100 || (p >= 500 && p < 900) || p == 2047;
}

static int pick_none(uint64_t p)
{
    (void)p;
    return 0;
}

static int pick_all(uint64_t p)
{
    (void)p;
    return 1;
}

static int pick_alternate(uint64_t p)
{
    return p % 2 == 0;
}

static struct tidal_snap *open_ok(const char *path)
{
    struct tidal_snap *s = NULL;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), 0, "%s", err.msg);
    return s;
}

static void check_blob(struct tidal_snap *s, uint32_t type, uint32_t seed)
{
    uint8_t want[2048];
    size_t n;
    uint64_t got_n = 0;
    th_blob(type, seed, want, &n);
    const uint8_t *got = tidal_snap_blob(s, type, &got_n);
    cr_assert(got);
    cr_assert_eq(got_n, n);
    cr_assert_eq(memcmp(got, want, n), 0);
}

/* Writes, opens, verifies and maps mem; checks everything that comes back. */
static void round_trip(uint64_t mem_size, int (*pick)(uint64_t))
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(mem_size, 42, pick);
    th_write(path, mem, mem_size, 42);

    struct tidal_snap *s = open_ok(path);
    const struct tidal_snap_header_info *info = tidal_snap_info(s);
    cr_assert_eq(info->abi_version, 7);
    cr_assert_eq(info->mem_size, mem_size);
    cr_assert_eq(info->cpu_features[0], 42);
    cr_assert_eq(info->cpu_features[3], ~0ull);
    check_blob(s, TIDAL_SNAP_VCPU, 42);
    check_blob(s, TIDAL_SNAP_MONITOR, 42);
    cr_assert_eq(tidal_snap_stored_pages(s), th_nonzero_pages(mem, mem_size));

    struct tidal_err err = {""};
    uint8_t *m = tidal_snap_map_memory(s, &err);
    cr_assert(m, "%s", err.msg);
    cr_assert_eq(memcmp(m, mem, mem_size), 0);
    tidal_snap_unmap_memory(s, m);
    tidal_snap_close(s);

    /* The stored page data is page-aligned and the file has no zero pages to spare. */
    size_t size;
    uint8_t *file = th_read_file(path, &size);
    cr_assert_eq(size % SNAP_PAGE, 0);
    uint64_t mem_off = th_get64(file + th_entry(file, TIDAL_SNAP_MEMORY) + SNAP_ENTRY_OFFSET);
    uint64_t data_off = th_get64(file + mem_off + SNAP_MEM_DATA_OFFSET);
    cr_assert_eq(data_off % SNAP_PAGE, 0);
    cr_assert_eq(size, data_off + th_nonzero_pages(mem, mem_size) * SNAP_PAGE);
    free(file);
    th_free_mem(mem, mem_size);
    th_rmrf(dir);
    free(path);
    free(dir);
}

Test(snap_roundtrip, sparse_8mib)
{
    round_trip(8 * MIB, pick_some);
}

Test(snap_roundtrip, all_zero_memory_stores_no_page)
{
    round_trip(4 * MIB, pick_none);
}

Test(snap_roundtrip, full_memory)
{
    round_trip(2 * MIB, pick_all);
}

Test(snap_roundtrip, one_page_of_memory)
{
    round_trip(SNAP_PAGE, pick_all);
}

/* Tens of thousands of runs (every other page): still identical memory. */
Test(snap_roundtrip, many_runs, .timeout = 120)
{
    round_trip(80 * MIB, pick_alternate);
}

Test(snap_roundtrip, stored_pages_counts_only_non_zero_pages)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(8 * MIB, 1, pick_some);
    mem[5 * SNAP_PAGE + 4095] = 1; /* a page whose only non-zero byte is its last */
    mem[7 * SNAP_PAGE] = 1;        /* and one whose only non-zero byte is its first */
    th_write(path, mem, 8 * MIB, 1);
    struct tidal_snap *s = open_ok(path);
    cr_assert_eq(tidal_snap_stored_pages(s), 1 + 3 + 1 + 400 + 1 + 2);
    struct tidal_err err;
    uint8_t *m = tidal_snap_map_memory(s, &err);
    cr_assert(m, "%s", err.msg);
    cr_assert_eq(memcmp(m, mem, 8 * MIB), 0);
    tidal_snap_unmap_memory(s, m);
    tidal_snap_close(s);
    th_free_mem(mem, 8 * MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

Test(snap_roundtrip, without_blobs_and_with_an_empty_blob)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(MIB, 3, pick_some);
    struct tidal_snap_header_info info = {.abi_version = 1, .mem_size = MIB};
    struct tidal_err err = {""};
    struct tidal_snap *s;

    cr_assert_eq(tidal_snap_write(path, &info, NULL, 0, mem, &err), 0, "%s", err.msg);
    s = open_ok(path);
    cr_assert_null(tidal_snap_blob(s, TIDAL_SNAP_VCPU, NULL));
    cr_assert_null(tidal_snap_blob(s, TIDAL_SNAP_MONITOR, NULL));
    cr_assert_null(tidal_snap_blob(s, TIDAL_SNAP_MEMORY, NULL));
    tidal_snap_close(s);

    struct tidal_snap_blob empty = {TIDAL_SNAP_MONITOR, NULL, 0};
    cr_assert_eq(tidal_snap_write(path, &info, &empty, 1, mem, &err), 0, "%s", err.msg);
    s = open_ok(path);
    uint64_t n = 99;
    cr_assert_not_null(tidal_snap_blob(s, TIDAL_SNAP_MONITOR, &n));
    cr_assert_eq(n, 0);
    cr_assert_null(tidal_snap_blob(s, TIDAL_SNAP_VCPU, NULL));
    tidal_snap_close(s);
    th_free_mem(mem, MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

/* Writes into the mapping are private: the file, a second mapping and a later open
 * all still see the snapshot's contents. */
Test(snap_roundtrip, map_is_copy_on_write)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(8 * MIB, 9, pick_some);
    th_write(path, mem, 8 * MIB, 9);
    size_t before_size;
    uint8_t *before = th_read_file(path, &before_size);

    struct tidal_snap *s = open_ok(path);
    struct tidal_err err;
    uint8_t *a = tidal_snap_map_memory(s, &err), *b = tidal_snap_map_memory(s, &err);
    cr_assert(a && b, "%s", err.msg);
    memset(a + 600 * SNAP_PAGE, 0xAB, 3 * SNAP_PAGE); /* stored pages */
    memset(a + 50 * SNAP_PAGE, 0xCD, SNAP_PAGE);      /* a zero page */
    a[0] ^= 0xff;
    cr_assert_eq(memcmp(b, mem, 8 * MIB), 0, "second mapping changed");
    b[2047 * SNAP_PAGE] ^= 1;
    cr_assert_eq(a[2047 * SNAP_PAGE], mem[2047 * SNAP_PAGE], "first mapping changed");
    tidal_snap_unmap_memory(s, a);
    tidal_snap_unmap_memory(s, b);
    tidal_snap_close(s);

    size_t after_size;
    uint8_t *after = th_read_file(path, &after_size);
    cr_assert_eq(after_size, before_size);
    cr_assert_eq(memcmp(after, before, before_size), 0, "the file changed");
    s = open_ok(path);
    uint8_t *c = tidal_snap_map_memory(s, &err);
    cr_assert(c, "%s", err.msg);
    cr_assert_eq(memcmp(c, mem, 8 * MIB), 0);
    tidal_snap_unmap_memory(s, c);
    tidal_snap_close(s);
    free(before);
    free(after);
    th_free_mem(mem, 8 * MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

/* A second write replaces the first completely. */
Test(snap_roundtrip, overwrite_replaces)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *m1 = th_mem(MIB, 1, pick_all), *m2 = th_mem(2 * MIB, 2, pick_some);
    th_write(path, m1, MIB, 1);
    th_write(path, m2, 2 * MIB, 2);
    struct tidal_snap *s = open_ok(path);
    cr_assert_eq(tidal_snap_info(s)->mem_size, 2 * MIB);
    check_blob(s, TIDAL_SNAP_VCPU, 2);
    struct tidal_err err;
    uint8_t *m = tidal_snap_map_memory(s, &err);
    cr_assert(m, "%s", err.msg);
    cr_assert_eq(memcmp(m, m2, 2 * MIB), 0);
    tidal_snap_unmap_memory(s, m);
    tidal_snap_close(s);
    th_free_mem(m1, MIB);
    th_free_mem(m2, 2 * MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

Test(snap_write, refuses_bad_arguments)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(MIB, 1, pick_some);
    uint8_t data[4] = {0};
    struct tidal_err err;
    struct tidal_snap_header_info info = {.mem_size = MIB};
    struct {
        uint64_t mem_size;
        struct tidal_snap_blob blobs[3];
        unsigned n;
        const char *says;
    } cases[] = {
        {0, {{0}}, 0, "bytes of memory"},
        {MIB + 1, {{0}}, 0, "bytes of memory"},
        {SNAP_MAX_MEM_SIZE + SNAP_PAGE, {{0}}, 0, "bytes of memory"},
        {MIB, {{TIDAL_SNAP_MEMORY, data, 4}}, 1, "has type 3"},
        {MIB, {{9, data, 4}}, 1, "has type 9"},
        {MIB, {{TIDAL_SNAP_VCPU, data, 4}, {TIDAL_SNAP_VCPU, data, 4}}, 2, "two vcpu blobs"},
        {MIB,
         {{TIDAL_SNAP_VCPU, data, 4}, {TIDAL_SNAP_MONITOR, data, 4}, {TIDAL_SNAP_VCPU, data, 4}},
         3,
         "at most 2"},
        {MIB, {{TIDAL_SNAP_VCPU, NULL, 4}}, 1, "vcpu blob"},
        {MIB, {{TIDAL_SNAP_VCPU, data, SNAP_MAX_BLOB_SIZE + 1ull}}, 1, "vcpu blob"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        info.mem_size = cases[i].mem_size;
        cr_assert_eq(tidal_snap_write(path, &info, cases[i].blobs, cases[i].n, mem, &err), -1,
                     "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].says) && strstr(err.msg, path), "case %zu: %s", i,
                  err.msg);
        cr_assert_eq(access(path, F_OK), -1, "case %zu created the file", i);
    }
    info.mem_size = MIB;
    cr_assert_eq(tidal_snap_write(path, &info, NULL, 0, NULL, &err), -1);
    th_free_mem(mem, MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

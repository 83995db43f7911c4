/* What a mapped snapshot costs the process in mappings (VMAs, /proc/self/maps lines):
 * vm.max_map_count (65530 by default) bounds how many clones one process can hold. And
 * when a host limit stops a mapping, the message names the limit. */
#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define PAGES_PER_MIB (MIB / SNAP_PAGE)

static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Pages as a guest saved at tidal_ready() has them in 8 MiB: boot area, descriptor
 * tables and exception stack, a few page tables, the image at 2 MiB with the start of
 * its heap, and the top of the stack; zero in between. */
static int pick_guest(uint64_t p)
{
    return (p >= 1 && p < 14) || (p >= 16 && p < 20) || (p >= 512 && p < 560) ||
           (p >= 2040 && p < 2048);
}

/* Runs in every other page: thousands of runs, no large zero range. */
static int pick_alternate(uint64_t p)
{
    return p % 2 == 0;
}

/* A page every 3 MiB: many large zero ranges. */
static int pick_sparse(uint64_t p)
{
    return p % (3 * PAGES_PER_MIB) == 0;
}

/* Writes mem as a snapshot, maps it `clones` times and returns the mappings that
 * added, per clone; checks every mapping's contents. */
static double mappings_per_clone(uint64_t mem_size, int (*pick)(uint64_t), unsigned clones)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *mem = th_mem(mem_size, 5, pick);
    th_write(path, mem, mem_size, 5);
    struct tidal_snap *s;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    uint8_t **maps = calloc(clones, sizeof(*maps));
    long before = count_mappings();
    for (unsigned i = 0; i < clones; i++) {
        maps[i] = tidal_snap_map_memory(s, &err);
        cr_assert_not_null(maps[i], "clone %u: %s", i, err.msg);
    }
    long after = count_mappings();
    tidal_snap_close(s); /* the mappings outlive the snapshot */
    for (unsigned i = 0; i < clones; i++) {
        cr_assert_eq(memcmp(maps[i], mem, mem_size), 0, "clone %u differs", i);
        munmap(maps[i], mem_size);
    }
    free(maps);
    th_free_mem(mem, mem_size);
    th_rmrf(dir);
    free(path);
    free(dir);
    return (double)(after - before) / clones;
}

Test(snap_mappings, a_guest_clone_costs_at_most_three)
{
    double n = mappings_per_clone(8 * MIB, pick_guest, 50);
    cr_assert_leq(n, 3.0, "%.2f mappings per clone", n);
    cr_log_info("%.2f mappings per clone", n);
}

Test(snap_mappings, thousands_of_runs_cost_one)
{
    double n = mappings_per_clone(16 * MIB, pick_alternate, 10);
    cr_assert_leq(n, 1.0, "%.2f mappings per clone", n);
    cr_log_info("%.2f mappings per clone", n);
}

Test(snap_mappings, many_large_zero_ranges_cost_at_most_nine)
{
    double n = mappings_per_clone(64 * MIB, pick_sparse, 5);
    cr_assert_leq(n, 9.0, "%.2f mappings per clone", n);
    cr_log_info("%.2f mappings per clone", n);
}

/* Opens a fresh 8 MiB snapshot of a guest's pages. */
static struct tidal_snap *open_guest_snapshot(char **dir)
{
    *dir = th_tmpdir();
    char *path = th_path(*dir, "vm.snap");
    uint8_t *mem = th_mem(8 * MIB, 6, pick_guest);
    th_write(path, mem, 8 * MIB, 6);
    th_free_mem(mem, 8 * MIB);
    struct tidal_snap *s;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    free(path);
    return s;
}

Test(snap_mappings, out_of_descriptors_names_rlimit_nofile)
{
    char *dir;
    struct tidal_snap *s = open_guest_snapshot(&dir);
    /* The lowest free descriptor becomes the limit: the memory image's memfd, the
     * first descriptor a mapping needs, is refused. */
    int lowest = dup(0);
    cr_assert_geq(lowest, 0);
    close(lowest);
    struct rlimit saved, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct tidal_err err = {""};
    uint8_t *m = tidal_snap_map_memory(s, &err);
    setrlimit(RLIMIT_NOFILE, &saved);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "Too many open files") && strstr(err.msg, "RLIMIT_NOFILE") &&
                  strstr(err.msg, "ulimit -n"),
              "%s", err.msg);
    tidal_snap_close(s);
    th_rmrf(dir);
    free(dir);
}

static long read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = -1;
    if (f) {
        cr_assert_eq(fscanf(f, "%ld", &v), 1);
        fclose(f);
    }
    return v;
}

Test(snap_mappings, out_of_mappings_names_vm_max_map_count, .timeout = 60)
{
    long max = read_max_map_count();
    if (max < 0 || max > (1l << 18))
        cr_skip_test("vm.max_map_count is %ld: filling it would take too long", max);
    char *dir;
    struct tidal_snap *s = open_guest_snapshot(&dir);
    struct tidal_err err = {""};
    uint8_t *first = tidal_snap_map_memory(s, &err); /* builds the image: one mapping left */
    cr_assert_not_null(first, "%s", err.msg);
    /* Every other page of a PROT_NONE region made readable: each page one mapping,
     * until the process has as many as vm.max_map_count allows. */
    size_t pages = 2 * (size_t)max;
    uint8_t *region = mmap(NULL, pages * SNAP_PAGE, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert(region != MAP_FAILED);
    size_t p = 1;
    while (p < pages && mprotect(region + p * SNAP_PAGE, SNAP_PAGE, PROT_READ) == 0)
        p += 2;
    cr_assert_eq(errno, ENOMEM, "mprotect stopped with %s", strerror(errno));
    uint8_t *m = tidal_snap_map_memory(s, &err);
    munmap(region, pages * SNAP_PAGE);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "vm.max_map_count") && strstr(err.msg, "sysctl -w"), "%s", err.msg);
    tidal_snap_unmap_memory(s, first);
    tidal_snap_close(s);
    th_rmrf(dir);
    free(dir);
}

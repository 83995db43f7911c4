/* Atomic replacement: whatever goes wrong while writing, the previous snapshot at the
 * path stays complete and loadable, and a failed writer leaves no temporary file. */
#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pick_some(uint64_t p)
{
    return p % 7 == 0 || (p >= 64 && p < 128);
}

static int pick_all(uint64_t p)
{
    (void)p;
    return 1;
}

static unsigned entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* The snapshot at path opens, verifies and holds mem and the blobs of seed. */
static void loads_as(const char *path, const uint8_t *mem, uint64_t mem_size, uint32_t seed)
{
    struct tidal_snap *s;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_info(s)->mem_size, mem_size);
    uint8_t want[2048];
    size_t n;
    uint64_t got_n;
    th_blob(TIDAL_SNAP_VCPU, seed, want, &n);
    const uint8_t *got = tidal_snap_blob(s, TIDAL_SNAP_VCPU, &got_n);
    cr_assert(got && got_n == n && memcmp(got, want, n) == 0);
    uint8_t *m = tidal_snap_map_memory(s, &err);
    cr_assert(m, "%s", err.msg);
    cr_assert_eq(memcmp(m, mem, mem_size), 0);
    tidal_snap_unmap_memory(s, m);
    tidal_snap_close(s);
}

static struct tidal_snap_header_info info_of(uint64_t mem_size)
{
    return (struct tidal_snap_header_info){.abi_version = 7, .mem_size = mem_size};
}

/* The final rename fails (the target is a directory): nothing changes, no temp file. */
Test(snap_atomic, failed_rename_leaves_target_and_no_temp_file)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap"), *inner = th_path(path, "keep");
    cr_assert_eq(mkdir(path, 0755), 0);
    th_write_file(inner, "x", 1);
    uint8_t *mem = th_mem(MIB, 1, pick_some);
    struct tidal_snap_header_info info = info_of(MIB);
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_write(path, &info, NULL, 0, mem, &err), -1);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "cannot replace"), "%s", err.msg);
    struct stat st;
    cr_assert(stat(inner, &st) == 0 && st.st_size == 1);
    cr_assert_eq(entries(dir), 1, "temporary file left behind");
    th_free_mem(mem, MIB);
    th_rmrf(dir);
    free(inner);
    free(path);
    free(dir);
}

/* Writing the temporary file fails half-way (a file size limit, which binds root too):
 * the previous snapshot is intact. */
Test(snap_atomic, failed_write_keeps_previous_snapshot)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *old = th_mem(MIB, 1, pick_some), *big = th_mem(8 * MIB, 2, pick_all);
    th_write(path, old, MIB, 1);

    struct rlimit saved, small = {.rlim_cur = 2 * MIB, .rlim_max = 2 * MIB};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_IGN);
    small.rlim_max = saved.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    struct tidal_snap_header_info info = info_of(8 * MIB);
    struct tidal_err err = {""};
    int rc = tidal_snap_write(path, &info, NULL, 0, big, &err);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "writing temporary file"), "%s", err.msg);

    loads_as(path, old, MIB, 1);
    cr_assert_eq(entries(dir), 1, "temporary file left behind");
    th_free_mem(old, MIB);
    th_free_mem(big, 8 * MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

Test(snap_atomic, missing_directory)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "no/such/dir/vm.snap");
    uint8_t *mem = th_mem(MIB, 1, pick_some);
    struct tidal_snap_header_info info = info_of(MIB);
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_write(path, &info, NULL, 0, mem, &err), -1);
    cr_assert(strstr(err.msg, "cannot create temporary file"), "%s", err.msg);
    th_free_mem(mem, MIB);
    th_rmrf(dir);
    free(path);
    free(dir);
}

/* A leftover temporary file of a dead writer that had our pid is replaced, not fatal. */
Test(snap_atomic, stale_temporary_file_is_replaced)
{
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap"), *tmp = NULL;
    cr_assert(asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) > 0);
    th_write_file(tmp, "stale", 5);
    uint8_t *mem = th_mem(MIB, 3, pick_some);
    th_write(path, mem, MIB, 3);
    loads_as(path, mem, MIB, 3);
    cr_assert_eq(entries(dir), 1);
    th_free_mem(mem, MIB);
    th_rmrf(dir);
    free(tmp);
    free(path);
    free(dir);
}

/* A writer killed at arbitrary points, repeatedly: the path always holds either the
 * previous snapshot or the complete new one, never a torn file. Killed writers may
 * leave their temporary file (nobody is left to remove it); it is never the path. */
Test(snap_atomic, killed_writer_never_tears_the_snapshot, .timeout = 300)
{
    enum { ROUNDS = 12 };
    const uint64_t old_size = MIB, new_size = 16 * MIB;
    char *dir = th_tmpdir(), *path = th_path(dir, "vm.snap");
    uint8_t *old = th_mem(old_size, 1, pick_some), *fresh = th_mem(new_size, 2, pick_all);
    unsigned seen_new = 0;
    uint32_t rnd = 2463534242u;
    for (int round = 0; round < ROUNDS; round++) {
        th_write(path, old, old_size, 1);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            uint8_t vcpu[2048];
            size_t vn;
            th_blob(TIDAL_SNAP_VCPU, 2, vcpu, &vn);
            struct tidal_snap_blob b = {TIDAL_SNAP_VCPU, vcpu, vn};
            struct tidal_snap_header_info info = info_of(new_size);
            for (;;)
                if (tidal_snap_write(path, &info, &b, 1, fresh, NULL) < 0)
                    _exit(1);
        }
        rnd ^= rnd << 13, rnd ^= rnd >> 17, rnd ^= rnd << 5;
        struct timespec delay = {0, (long)(rnd % 150000) * 1000}; /* 0..150 ms */
        nanosleep(&delay, NULL);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status), "the writer failed on its own (status %d)", status);

        struct tidal_snap *s;
        struct tidal_err err = {""};
        cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "round %d: %s", round, err.msg);
        bool is_new = tidal_snap_info(s)->mem_size == new_size;
        tidal_snap_close(s);
        if (is_new) {
            seen_new++;
            loads_as(path, fresh, new_size, 2);
        } else {
            loads_as(path, old, old_size, 1);
        }
    }
    cr_log_info("killed writer: %u of %u rounds ended with the new snapshot", seen_new, ROUNDS);
    th_free_mem(old, old_size);
    th_free_mem(fresh, new_size);
    th_rmrf(dir);
    free(path);
    free(dir);
}

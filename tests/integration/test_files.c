/* Files for guests (guest ABI 4): read-only trees from the host, the scratch file
 * system, /out collected at exit, and every path refused at start. */
#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct tidal_proc p;
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tidal-files-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (dir[0] && system(cmd)) {
    }
}

TestSuite(files, .init = require_kvm, .fini = cleanup, .timeout = 120);

static void put(const char *rel, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void sub(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
}

static unsigned long long fnv(const unsigned char *p, size_t n)
{
    unsigned long long h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Runs files.elf with the options before the image and the guest arguments after. */
static void run_files(const char *const *opts, const char *const *guest_args)
{
    const char *args[32];
    unsigned n = 0;
    args[n++] = "run";
    args[n++] = "--stats";
    args[n++] = "--timeout";
    args[n++] = "20";
    for (; opts && *opts; opts++)
        args[n++] = *opts;
    static char image[512];
    snprintf(image, sizeof(image), "%s", path_to("build/tests/guests/files.elf"));
    args[n++] = image;
    for (; guest_args && *guest_args; guest_args++)
        args[n++] = *guest_args;
    args[n] = NULL;
    run_tidal(args, NULL, &p);
}

Test(files, walk_read_seek_stat_mmap_match_the_host)
{
    make_dir();
    sub("tree");
    sub("tree/nested");
    sub("tree/nested/deeper");
    sub("tree/empty_dir");
    static unsigned char big[3 << 20];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7 + (i >> 9));
    put("tree/big.bin", big, sizeof(big));
    put("tree/a.txt", "alpha\n", 6);
    put("tree/nested/b.txt", "bravo bravo\n", 12);
    put("tree/nested/deeper/zero", "", 0);
    char link[256];
    snprintf(link, sizeof(link), "%s/tree/nested/link_to_a", dir);
    cr_assert_eq(symlink("../a.txt", link), 0);
    put("single.cfg", "key=value\n", 10);

    char tree[128], single[128];
    snprintf(tree, sizeof(tree), "%s/tree:/data", dir);
    snprintf(single, sizeof(single), "%s/single.cfg:/etc/app/single.cfg", dir);
    const char *opts[] = {"--dir", tree, "--file", single, NULL};
    const char *walk_data[] = {"walk", "/data", NULL};
    run_files(opts, walk_data);
    cr_assert_eq(p.status, 0, "stdout: %s\nstderr: %s", p.out, p.err);
    struct {
        const char *path;
        const void *data;
        size_t len;
    } want[] = {
        {"/data/a.txt", "alpha\n", 6},
        {"/data/big.bin", big, sizeof(big)},
        {"/data/nested/b.txt", "bravo bravo\n", 12},
        {"/data/nested/deeper/zero", "", 0},
        {"/data/nested/link_to_a", "alpha\n", 6},
    };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "%s %zu %016llx\n", want[i].path, want[i].len,
                 fnv(want[i].data, want[i].len));
        cr_assert(strstr(p.out, line), "expected '%s' in:\n%s", line, p.out);
    }
    /* exits: the whole walk, with its reads, costs the one EXIT */
    cr_assert_eq(stats_value(&p, "exits.io"), 1, "%s", p.err);

    const char *walk_etc[] = {"walk", "/etc", NULL};
    run_files(opts, walk_etc);
    cr_assert_eq(p.status, 0, "%s %s", p.out, p.err);
    cr_assert(strstr(p.out, "/etc/app/single.cfg 10 "), "%s", p.out);
}

Test(files, open_read_close_costs_no_exit)
{
    make_dir();
    put("f", "0123456789", 10);
    char spec[128];
    snprintf(spec, sizeof(spec), "%s/f:/f", dir);
    const char *opts[] = {"--file", spec, NULL};
    const char *args[] = {"exits", "2000", "/f", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 0, "%s %s", p.out, p.err);
    cr_assert(strstr(p.out, "read 20000 bytes in 2000 rounds"), "%s", p.out);
    cr_assert_eq(stats_value(&p, "exits.io"), 1, "%s", p.err);
    /* nor a trap inside KVM: 2000 rounds of syscalls would show as thousands of exits */
    double kvm_exits = stats_value(&p, "vcpu.exits");
    cr_assert(kvm_exits >= 0 && kvm_exits < 100, "vcpu exits %g: %s", kvm_exits, p.err);
}

Test(files, scratch_create_write_rename_unlink_mkstemp_tmpfile)
{
    const char *args[] = {"scratch", NULL};
    run_files(NULL, args);
    cr_assert_eq(p.status, 0, "stdout: %s\nstderr: %s", p.out, p.err);
    cr_assert(strstr(p.out, "scratch ok"), "%s", p.out);
}

Test(files, scratch_full_is_enospc)
{
    const char *opts[] = {"--scratch", "256K", NULL};
    const char *args[] = {"enospc", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 0, "%s %s", p.out, p.err);
    cr_assert(strstr(p.out, "No space left on device"), "%s", p.out);
    /* the budget holds: the file stopped short of 256 KiB */
    unsigned kib = 0;
    cr_assert(sscanf(p.out, "full after %u KiB", &kib) == 1 && kib < 256 && kib >= 128, "%s",
              p.out);
}

Test(files, read_only_trees_give_erofs_missing_paths_enoent)
{
    make_dir();
    put("ro.txt", "x", 1);
    char spec[128];
    snprintf(spec, sizeof(spec), "%s/ro.txt:/ro/ro.txt", dir);
    const char *opts[] = {"--file", spec, NULL};
    const char *args[] = {"erofs", "/ro/ro.txt", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 0, "%s %s", p.out, p.err);
    const char *lines[] = {"open-w Read-only file system", "fopen-a Read-only file system",
                           "unlink Read-only file system", "create Read-only file system",
                           "rename Read-only file system", "missing No such file or directory"};
    for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        cr_assert(strstr(p.out, lines[i]), "expected '%s' in:\n%s", lines[i], p.out);
}

Test(files, output_dir_gets_what_the_guest_wrote_under_out)
{
    make_dir();
    char out[128];
    snprintf(out, sizeof(out), "%s/results", dir);
    const char *opts[] = {"--output-dir", out, NULL};
    const char *args[] = {"out", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 0, "%s %s", p.out, p.err);
    char path[256], buf[8192];
    snprintf(path, sizeof(path), "%s/report.txt", out);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s missing", path);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    cr_assert(n == 12 && !memcmp(buf, "report line\n", 12));
    snprintf(path, sizeof(path), "%s/sub/data.bin", out);
    f = fopen(path, "rb");
    cr_assert(f, "%s missing", path);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    cr_assert_eq(n, 4000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(((int *)buf)[i], i);
    cr_assert_eq(stats_value(&p, "exits.io"), 1, "%s", p.err);
}

Test(files, crash_leaves_nothing_on_the_host)
{
    make_dir();
    char out[128];
    snprintf(out, sizeof(out), "%s/results", dir);
    const char *opts[] = {"--output-dir", out, NULL};
    const char *args[] = {"out_crash", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 70, "%s %s", p.out, p.err);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "%s exists after a crash", out);
}

/* Every path a tree may not hold is refused at start (exit 65), naming it. */
static void expect_refused(const char *opt, const char *spec, const char *fragment)
{
    const char *opts[] = {opt, spec, NULL};
    const char *args[] = {"walk", "/", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 65, "%s %s: exit %d, %s", opt, spec, p.status, p.err);
    cr_assert(strstr(p.err, fragment), "%s %s: expected '%s' in: %s", opt, spec, fragment, p.err);
}

Test(files, refused_paths_are_named)
{
    make_dir();
    char spec[256], path[100], frag[300];

    sub("out_link");
    snprintf(path, sizeof(path), "%s/out_link/passwd", dir);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(spec, sizeof(spec), "%s/out_link:/d", dir);
    expect_refused("--dir", spec, "passwd: symbolic link points outside the tree");

    sub("dir_link");
    snprintf(path, sizeof(path), "%s/dir_link/loop", dir);
    cr_assert_eq(symlink(".", path), 0);
    snprintf(spec, sizeof(spec), "%s/dir_link:/d", dir);
    expect_refused("--dir", spec, "loop: symbolic link to a directory");

    sub("fifo");
    snprintf(path, sizeof(path), "%s/fifo/pipe", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    snprintf(spec, sizeof(spec), "%s/fifo:/d", dir);
    snprintf(frag, sizeof(frag), "%s: a FIFO", path);
    expect_refused("--dir", spec, frag);

    sub("sock");
    snprintf(path, sizeof(path), "%s/sock/s", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    snprintf(spec, sizeof(spec), "%s/sock:/d", dir);
    snprintf(frag, sizeof(frag), "%s: a socket", path);
    expect_refused("--dir", spec, frag);
    close(fd);

    expect_refused("--file", "/dev/null:/null", "/dev/null: --file expects a regular file");
    snprintf(spec, sizeof(spec), "%s/../x:/x", dir);
    expect_refused("--dir", spec, "'..' is not allowed in a host path");
    snprintf(spec, sizeof(spec), "%s:/tmp/x", dir);
    expect_refused("--dir", spec, "/tmp and /out are the guest's scratch space");
    snprintf(spec, sizeof(spec), "%s:/a/../b", dir);
    expect_refused("--dir", spec, "'.' and '..' are not allowed");
    expect_refused("--dir", "/no/such/dir:/d", "/no/such/dir: No such file or directory");
    const char *bad[] = {"--dir", "nocolon", NULL};
    const char *walk[] = {"walk", "/", NULL};
    run_files(bad, walk);
    cr_assert_eq(p.status, 64, "%s", p.err);
    cr_assert(strstr(p.err, "--dir 'nocolon': expected HOST_PATH:GUEST_PATH"), "%s", p.err);

    /* two trees at one place */
    put("one", "1", 1);
    char a[256];
    snprintf(a, sizeof(a), "%s/one:/x/one", dir);
    const char *opts[] = {"--file", a, "--file", a, NULL};
    const char *args[] = {"walk", "/", NULL};
    run_files(opts, args);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, "guest path /x/one overlaps another --dir or --file"), "%s", p.err);
}

/* The scratch file system is guest memory: a snapshot keeps it, each restore finds
 * the file the original wrote, and a VM reused in place starts every request from
 * the template's files, never a previous request's. */
Test(files, scratch_files_live_in_snapshots_and_reset_between_requests)
{
    make_dir();
    char snap[128], in[128], out[128], path[256];
    snprintf(snap, sizeof(snap), "%s/keep.snap", dir);
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    const char *save[] = {"run", "--snapshot-on-ready", snap,
                          path_to("build/tests/guests/scratch_keep.elf"), NULL};
    run_tidal(save, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    for (int i = 0; i < 2; i++) {
        const char *restore[] = {"restore", snap, NULL};
        run_tidal(restore, NULL, &p);
        cr_assert_eq(p.status, 0, "%s", p.err);
        cr_assert_str_eq(p.out, "written at init\n");
    }
    cr_assert_eq(mkdir(in, 0755), 0);
    cr_assert_eq(mkdir(out, 0755), 0);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "in/%d", i);
        put(path, "x", 1);
    }
    const char *clone[] = {"clone",       snap, "-n",           "4", "--threads", "1",
                           "--input-dir", in,   "--output-dir", out, "--reuse",   NULL};
    run_tidal(clone, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/clone-%05d.out", out, i);
        FILE *f = fopen(path, "r");
        cr_assert(f, "%s", path);
        char buf[256] = {0};
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        cr_assert_str_eq(buf, "written at init\n", "request %d saw: %.*s", i, (int)n, buf);
    }
}

/* A snapshot records its trees; a restore given them again refuses a changed one. */
Test(files, restore_refuses_a_tree_changed_since_the_snapshot)
{
    make_dir();
    sub("tree");
    put("tree/a.txt", "first", 5);
    char snap[128], spec[160], other[160];
    snprintf(snap, sizeof(snap), "%s/t.snap", dir);
    snprintf(spec, sizeof(spec), "%s/tree:/data", dir);
    snprintf(other, sizeof(other), "%s/tree:/elsewhere", dir);
    const char *save[] = {"run", "--snapshot-on-ready",
                          snap,  "--dir",
                          spec,  path_to("build/tests/guests/scratch_keep.elf"),
                          NULL};
    run_tidal(save, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    const char *same[] = {"restore", "--dir", spec, snap, NULL};
    run_tidal(same, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    const char *moved[] = {"restore", "--dir", other, snap, NULL};
    run_tidal(moved, NULL, &p);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, "the snapshot has no tree at /elsewhere"), "%s", p.err);
    put("tree/a.txt", "second", 6);
    run_tidal(same, NULL, &p);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, "tree: changed since the snapshot (its tree at /data"), "%s", p.err);
    const char *clone[] = {"clone", snap, "-n", "1", "--dir", spec, NULL};
    run_tidal(clone, NULL, &p);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, "tree: changed since the snapshot"), "%s", p.err);
}

/* Runs the stdin_seek guest with stdin redirected from a file (or piped, through
 * cat), output and --stats together. */
static void run_stdin_seek(bool piped, char *out, size_t size)
{
    char in[128], cmd[PATH_MAX * 2 + 256];
    snprintf(in, sizeof(in), "%s/in.txt", dir);
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs("hello\nworld\nabc\n", f);
    fclose(f);
    const char *guest = abs_path_to("build/tests/guests/stdin_seek.elf");
    if (piped)
        snprintf(cmd, sizeof(cmd), "cat %s | %s run --stats %s 2>&1", in, tidal_bin(), guest);
    else
        snprintf(cmd, sizeof(cmd), "%s run --stats %s < %s 2>&1", tidal_bin(), guest, in);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = 0;
    pclose(p);
}

Test(files, stdin_from_a_regular_file_is_seekable_with_no_exit)
{
    make_dir();
    char out[8192];
    run_stdin_seek(false, out, sizeof(out));
    cr_assert(strstr(out, "fstat 0 regular 1 size 16\nend 16 first hello\nlast4 abc\npread 3\n"),
              "%s", out);
    cr_assert(strstr(out, "\"exits\":{\"io\":1}"), "one exit in all (EXIT): %s", out);
    run_stdin_seek(true, out, sizeof(out));
    cr_assert(strstr(out, "fstat 0 regular 0") && strstr(out, "fseek: Invalid seek"),
              "a pipe is not seekable: %s", out);
}

/* reuse-bench: one request on a VM reused in place, against the two ways to run the
 * same request without it, interleaved round by round in this one process:
 *   reuse    tidal_vm_reuse_prepare (input placed in guest memory) + run to exit, then
 *            tidal_vm_reset (registers and written pages back to the template); the
 *            request and the reset are timed apart and as a whole cycle;
 *   restore  a fresh clone per request, as `tidal serve` did before reuse: restore from
 *            the snapshot (warm shell pool, refilled untimed) + run to exit; the
 *            teardown is timed apart (it ran off the request's path);
 *   spawn    posix_spawn + wait of LINUX, the static Linux build of the same program,
 *            with the input on stdin and stdout to a file.
 * Every run must exit 0; the reused VM's output is checked against the input. Counts
 * per reused request (exits, pages reset, pages re-protected, KVM ioctls of the reset,
 * the vCPU's pf_taken) are printed next to the times: on a machine whose figures mean
 * nothing (nested emulation) the counts still do.
 *
 * usage: reuse-bench [-n ROUNDS] [-w WARMUP] -s SNAP -i INPUT IMAGE LINUX
 *        reuse-bench --probe     exit 0 if /dev/kvm is usable, else print why, exit 1 */
#include "tidal/file.h"
#include "tidal/reuse.h"
#include "tidal/snapshot_vm.h"
#include "bench_stats.h"
#include "kvm_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define IMAGE_MAX_BYTES (256ull << 20)
#define INPUT_MAX_BYTES (64u << 10)
#define OUTPUT_MAX_BYTES (1u << 20)

extern char **environ;
static struct tidal_run_result res; /* 2.5 KiB: keep it off the stack */

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "reuse-bench: %s: %s\n", what, msg);
    exit(1);
}

static void run_to_end(struct tidal_vm *vm, const char *what)
{
    memset(&res, 0, sizeof(res));
    do
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    if (res.reason != TIDAL_EXIT_HALTED || res.status != 0)
        die(what, res.report[0] ? res.report : "did not exit with status 0");
}

static uint64_t exits_of(const struct tidal_run_result *r)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < TIDAL_MAX_EXIT_REASONS; i++)
        n += r->exits_by_reason[i];
    return n;
}

static struct tidal_vm *boot_and_save(const char *path, const char *snap_path, int null_fd)
{
    struct tidal_err err;
    const uint8_t *image;
    size_t size;
    if (tidal_file_map(path, IMAGE_MAX_BYTES, &image, &size, &err))
        die(path, err.msg);
    char *argv[] = {(char *)path, NULL};
    struct tidal_vm_config cfg = {
        .argc = 1, .argv = argv, .in_fd = null_fd, .out_fd = null_fd, .err_fd = null_fd};
    struct tidal_vm *vm = NULL;
    if (tidal_vm_create(&cfg, image, size, path, &vm, &err))
        die(path, err.msg);
    tidal_vm_run(vm, &res);
    if (res.reason != TIDAL_EXIT_READY)
        die(path, "did not reach tidal_ready()");
    if (tidal_snapshot_save(vm, snap_path, &err))
        die(snap_path, err.msg);
    tidal_file_unmap(image, size);
    return vm;
}

static double spawn_once(const char *linux_path, int in_fd, int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    char *argv[] = {(char *)linux_path, NULL};
    lseek(in_fd, 0, SEEK_SET);
    if (ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0)
        die("output file", strerror(errno));
    uint64_t t0 = now_ns();
    pid_t pid;
    int rc = posix_spawn(&pid, linux_path, &fa, NULL, argv, environ);
    if (rc)
        die(linux_path, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    double us = (double)(now_ns() - t0) / 1e3;
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        die(linux_path, "did not exit with status 0");
    return us;
}

struct series {
    double *v;
    int n;
};

static void report(const char *name, struct series *s, const char *what)
{
    double med = median(s->v, s->n), p99 = percentile(s->v, s->n, 99);
    printf("%-28s median %9.1f us   p99 %9.1f us   (%s)\n", name, med, p99, what);
    printf("BENCH reuse_%s_median %.1f us\nBENCH reuse_%s_p99 %.1f us\n", name, med, name, p99);
}

int main(int argc, char **argv)
{
    struct tidal_err err;
    bench_handle_probe(argc, argv);
    int rounds = 1000, warmup = 50, i = 1;
    const char *snap_path = NULL, *input_path = NULL;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-n"))
            rounds = parse_count("reuse-bench", argv[i + 1], 1);
        else if (!strcmp(argv[i], "-w"))
            warmup = parse_count("reuse-bench", argv[i + 1], 0);
        else if (!strcmp(argv[i], "-s"))
            snap_path = argv[i + 1];
        else if (!strcmp(argv[i], "-i"))
            input_path = argv[i + 1];
        else
            break;
    }
    if (i + 2 != argc || !snap_path || !input_path) {
        fputs("usage: reuse-bench [-n ROUNDS] [-w WARMUP] -s SNAP -i INPUT IMAGE LINUX | "
              "reuse-bench --probe\n",
              stderr);
        return 2;
    }
    const char *image = argv[i], *linux_path = argv[i + 1];
    if (tidal_kvm_available(&err))
        die("KVM", err.msg);
    char input[INPUT_MAX_BYTES];
    int in_fd = open(input_path, O_RDONLY | O_CLOEXEC);
    ssize_t len = in_fd >= 0 ? read(in_fd, input, sizeof(input)) : -1;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int out_fd = memfd_create("reuse-bench-out", MFD_CLOEXEC);
    if (len < 0 || null_fd < 0 || out_fd < 0)
        die(input_path, strerror(errno));

    tidal_vm_destroy(boot_and_save(image, snap_path, null_fd));
    struct tidal_snap *snap;
    if (tidal_snap_open(snap_path, &snap, &err))
        die(snap_path, err.msg);
    uint8_t *tmpl = tidal_snapshot_template_memory(snap, &err);
    if (!tmpl)
        die(snap_path, err.msg);
    struct tidal_vm_config cfg = {.in_fd = -1, .out_fd = null_fd, .err_fd = null_fd};
    struct tidal_vm *vm = NULL;
    if (tidal_snapshot_restore_reusable(snap, tmpl, &cfg, 0, NULL, &vm, &err))
        die("restore for reuse", err.msg);
    static uint8_t out_data[OUTPUT_MAX_BYTES], err_data[OUTPUT_MAX_BYTES];
    struct tidal_out_buf out = {.data = out_data, .cap = sizeof(out_data)},
                         errb = {.data = err_data, .cap = sizeof(err_data)};
    struct tidal_shell_pool *pool = tidal_shell_pool_new();
    const struct tidal_snap *chain[1] = {snap};

    struct series cycle = {calloc((size_t)rounds, sizeof(double)), 0},
                  request = {calloc((size_t)rounds, sizeof(double)), 0},
                  reset = {calloc((size_t)rounds, sizeof(double)), 0},
                  restored = {calloc((size_t)rounds, sizeof(double)), 0},
                  teardown = {calloc((size_t)rounds, sizeof(double)), 0},
                  spawned = {calloc((size_t)rounds, sizeof(double)), 0};
    struct tidal_reset_counts total = {0};
    uint64_t exits = 0, quiet = 0, pf_start = 0, pf_end = 0;
    for (int r = -warmup; r < rounds; r++) {
        bool timed = r >= 0;
        /* reuse */
        if (r == 0)
            tidal_vm_stat(vm, "pf_taken", &pf_start);
        out.len = errb.len = 0;
        uint64_t t0 = now_ns();
        size_t placed;
        tidal_vm_set_capture(vm, &out, &errb);
        if (tidal_vm_reuse_prepare(vm, input, (size_t)len, (uint64_t)r + 1000000, &placed, &err))
            die("prepare", err.msg);
        if (placed != (size_t)len)
            die("prepare", "the input did not fit the guest's window");
        run_to_end(vm, "reused VM");
        uint64_t t1 = now_ns();
        struct tidal_reset_counts c;
        if (tidal_vm_reset(vm, &c, &err))
            die("reset", err.msg);
        uint64_t t2 = now_ns();
        if (out.len < (size_t)len || memcmp(out.data + out.len - len, input, (size_t)len))
            die("reused VM", "its output does not end with the input");
        if (timed) {
            request.v[request.n++] = (double)(t1 - t0) / 1e3;
            reset.v[reset.n++] = (double)(t2 - t1) / 1e3;
            cycle.v[cycle.n++] = (double)(t2 - t0) / 1e3;
            exits += exits_of(&res);
            total.pages_reset += c.pages_reset;
            total.guest_dirty += c.guest_dirty;
            total.hot_pages += c.hot_pages;
            total.reprotected += c.reprotected;
            total.kvm_ioctls += c.kvm_ioctls;
            quiet += c.quiet;
        }
        /* restore per request */
        if (tidal_shell_pool_fill(pool, 1, &err))
            die("shell pool", err.msg);
        lseek(in_fd, 0, SEEK_SET);
        struct tidal_vm_config rcfg = {.in_fd = in_fd, .out_fd = null_fd, .err_fd = null_fd};
        struct tidal_vm *clone = NULL;
        t0 = now_ns();
        if (tidal_snapshot_restore(chain, 1, &rcfg, (uint64_t)r + 1, pool, &clone, &err))
            die("restore", err.msg);
        run_to_end(clone, "restored clone");
        t1 = now_ns();
        tidal_vm_destroy(clone);
        t2 = now_ns();
        if (timed) {
            restored.v[restored.n++] = (double)(t1 - t0) / 1e3;
            teardown.v[teardown.n++] = (double)(t2 - t1) / 1e3;
        }
        /* process per request */
        double us = spawn_once(linux_path, in_fd, out_fd);
        if (timed)
            spawned.v[spawned.n++] = us;
    }
    tidal_vm_stat(vm, "pf_taken", &pf_end);

    printf("%d rounds (after %d warm-up rounds), interleaved; input %zd bytes\n", rounds, warmup,
           len);
    report("cycle", &cycle, "reused VM: request + reset");
    report("request", &request, "reused VM: input placed, run to exit, output kept");
    report("reset", &reset, "reused VM: registers and written pages back");
    report("restore_request", &restored, "fresh clone: restore + run to exit");
    report("restore_teardown", &teardown, "fresh clone: teardown, off the request path");
    report("spawn", &spawned, "posix_spawn + wait of the Linux build");
    double per = (double)rounds;
    printf("per reused request: %.2f exits, %.2f pages reset (%.2f written by the guest, %.2f "
           "hot), %.2f re-protected, %.2f KVM ioctls in the reset, %.2f pf_taken; %.1f%% of "
           "requests quiet (no exit KVM handled by itself: the shorter vCPU reset)\n",
           (double)exits / per, (double)total.pages_reset / per, (double)total.guest_dirty / per,
           (double)total.hot_pages / per, (double)total.reprotected / per,
           (double)total.kvm_ioctls / per, (double)(pf_end - pf_start) / per,
           100.0 * (double)quiet / per);
    printf("BENCH reuse_exits_per_request %.2f exits\n", (double)exits / per);
    printf("BENCH reuse_pages_reset_per_request %.2f pages\n", (double)total.pages_reset / per);
    printf("BENCH reuse_reprotected_per_request %.2f pages\n", (double)total.reprotected / per);
    printf("BENCH reuse_reset_ioctls_per_request %.2f ioctls\n", (double)total.kvm_ioctls / per);
    printf("BENCH reuse_pf_taken_per_request %.2f faults\n", (double)(pf_end - pf_start) / per);
    double cyc = median(cycle.v, cycle.n);
    printf("BENCH reuse_speedup_vs_spawn %.2f x\n", median(spawned.v, spawned.n) / cyc);
    printf("BENCH reuse_speedup_vs_restore %.2f x\n", median(restored.v, restored.n) / cyc);
    tidal_vm_destroy(vm);
    tidal_shell_pool_free(pool);
    munmap(tmpl, tidal_snap_info(snap)->mem_size);
    tidal_snap_close(snap);
    return 0;
}

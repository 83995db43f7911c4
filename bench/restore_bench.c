/* restore-bench: what a restore costs, in this process (no fork/exec: the monitor's
 * and the snapshot layer's own cost only).
 *
 *   1. Boots IMAGE (a guest that calls tidal_ready(), e.g. echo.elf) to TIDAL_EXIT_READY
 *      and saves it to SNAP (tidal_snapshot_save); then opens SNAP once.
 *   2. Restore to first guest instruction, RESTORES times with a warm shell pool and
 *      RESTORES times with cold shells (no pool). "To first guest instruction" is the
 *      wall time of the tidal_snapshot_restore() call plus the monitor's first_exit
 *      (struct tidal_vm_timing: from tidal_vm_run's start, through the first KVM_RUN,
 *      to the guest's first exit). The guest has run from its saved RIP up to that
 *      exit; for echo it is its first call after tidal_ready(), the READ of its input.
 *      The pool is refilled, the input rewound and the VM destroyed outside the timed
 *      region; every restore must use a pool shell (else it is an error).
 *   3. Restore to output vs cold boot, interleaved round by round, COLD_RUNS rounds:
 *      restore (warm pool, and cold shells) + run to completion (the guest has read
 *      its input, written its output and exited), vs tidal_vm_create + run of IMAGE
 *      to TIDAL_EXIT_READY (the point the snapshot was taken at: what a restore saves)
 *      and on to completion (the same output, for reference).
 * Every run must halt with status 0; one restore's output is checked to end with the
 * input. Prints a table and `BENCH restore_<name> <value> <unit>` lines.
 *
 * usage: restore-bench [-n RESTORES] [-c COLD_RUNS] [-w WARMUP] -s SNAP -i INPUT IMAGE
 *        restore-bench --probe     exit 0 if /dev/kvm is usable, else print why, exit 1 */
#include "tidal/file.h"
#include "tidal/prefetch.h"
#include "tidal/snapshot_vm.h"
#include "bench_stats.h"
#include "kvm_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMAGE_MAX_BYTES (256ull << 20)
#define INPUT_MAX_BYTES (1u << 20)
#define POOL_DEPTH 4

static struct tidal_run_result res; /* 2.5 KiB: keep it off the stack */

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "restore-bench: %s: %s\n", what, msg);
    exit(1);
}

static void rewind_fd(int fd)
{
    if (lseek(fd, 0, SEEK_SET) < 0)
        die("lseek of the input", strerror(errno));
}

/* Runs vm on until it stops other than at tidal_ready(); it must halt with 0. */
static void run_to_end(struct tidal_vm *vm, const char *what)
{
    do
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    if (res.reason != TIDAL_EXIT_HALTED || res.status != 0) {
        fprintf(stderr, "restore-bench: %s did not halt with status 0 (reason %d, status %d): %s\n",
                what, (int)res.reason, res.status, res.report);
        exit(1);
    }
}

/* The working set recorded from one restored run (tidal restore --prefetch's), or NULL. */
static struct tidal_ws *working_set;

static struct tidal_vm *restore(const struct tidal_snap *snap, const struct tidal_vm_config *cfg,
                                uint64_t clone_id, struct tidal_shell_pool *pool, bool prefetch)
{
    struct tidal_err err;
    struct tidal_vm *vm = NULL;
    int rc = tidal_snapshot_restore(&snap, 1, cfg, clone_id, pool, &vm, &err);
    if (rc)
        die("tidal_snapshot_restore", err.msg);
    if (prefetch)
        tidal_ws_prefetch(working_set, vm);
    return vm;
}

/* What `tidal restore --prefetch` records: the pages one restored run touched. */
static void record_working_set(const struct tidal_snap *snap, const struct tidal_vm_config *cfg,
                               const char *snap_path)
{
    char path[4096];
    struct tidal_err err;
    snprintf(path, sizeof(path), "%s.ws", snap_path);
    rewind_fd(cfg->in_fd);
    struct tidal_vm *vm = restore(snap, cfg, 0, NULL, false);
    run_to_end(vm, "the recording restore");
    if (tidal_ws_record(vm, path, &err) ||
        tidal_ws_load(path, tidal_snap_info(snap)->mem_size, &working_set, &err) || !working_set)
        die(path, working_set ? err.msg : "no working set recorded");
    tidal_vm_destroy(vm);
}

static void refill(struct tidal_shell_pool *pool)
{
    struct tidal_err err;
    if (pool && tidal_shell_pool_fill(pool, POOL_DEPTH, &err))
        die("tidal_shell_pool_fill", err.msg);
}

/* Samples of one figure, in microseconds. */
struct series {
    char key[48];
    const char *label;
    double *us;
    int n;
    double med, p99;
};

static void series_init(struct series *s, const char *key, const char *label, int n)
{
    snprintf(s->key, sizeof(s->key), "%s", key);
    s->label = label;
    s->n = n;
    if (!(s->us = calloc((size_t)n, sizeof(double))))
        die("calloc", strerror(errno));
}

static void series_report(struct series *s)
{
    s->med = median(s->us, s->n);
    s->p99 = percentile(s->us, s->n, 99);
    printf("%-52s %6d %10.1f %10.1f %10.1f\n", s->label, s->n, s->med, s->p99, s->us[0]);
}

static void series_bench(const struct series *s)
{
    printf("BENCH restore_%s_median %.1f us\n", s->key, s->med);
    printf("BENCH restore_%s_p99 %.1f us\n", s->key, s->p99);
}

enum { F_FIRST, F_CALL, F_MEMORY, F_LOAD, F_FIRST_EXIT, NF };

/* Part 2: RESTORES restores to the guest's first exit, with or without a pool. */
static void first_instruction(const struct tidal_snap *snap, const struct tidal_vm_config *cfg,
                              struct tidal_shell_pool *pool, bool prefetch, int runs, int warmup,
                              struct series s[NF])
{
    const char *tag = prefetch ? "pool_ws" : pool ? "pool" : "nopool";
    char key[48];
    static const char *const names[NF] = {"first_insn", "call", "memory", "load", "first_exit"};
    static const char *const labels[NF] = {
        "to first instruction (restore call + first_exit)", "  restore call (wall)",
        "    of which memory slot + vCPU attach", "    of which vCPU state + ready info",
        "  first_exit (KVM_RUN entry -> first exit)"};
    for (int f = 0; f < NF; f++) {
        snprintf(key, sizeof(key), "%s_%s", names[f], tag);
        series_init(&s[f], key, labels[f], runs);
    }
    for (int r = -warmup; r < runs; r++) {
        refill(pool);
        rewind_fd(cfg->in_fd);
        uint64_t t0 = now_ns();
        struct tidal_vm *vm = restore(snap, cfg, (uint64_t)(r + warmup + 1), pool, prefetch);
        uint64_t t1 = now_ns();
        run_to_end(vm, "a restored guest");
        const struct tidal_vm_timing *t = tidal_vm_timing(vm);
        if (pool && (t->create_vm || t->vcpu)) {
            fputs("restore-bench: a restore with a warm pool did not get a pool shell\n", stderr);
            exit(1);
        }
        if (r >= 0) {
            s[F_CALL].us[r] = (double)(t1 - t0) / 1e3;
            s[F_FIRST_EXIT].us[r] = (double)t->first_exit / 1e3;
            s[F_FIRST].us[r] = s[F_CALL].us[r] + s[F_FIRST_EXIT].us[r];
            s[F_MEMORY].us[r] = (double)t->memory / 1e3;
            s[F_LOAD].us[r] = (double)t->load / 1e3;
        }
        tidal_vm_destroy(vm);
    }
}

/* Boots image in this process to its tidal_ready(); *ready_ns: create + run to READY. */
static struct tidal_vm *boot_to_ready(const struct tidal_vm_config *cfg, const uint8_t *image,
                                      size_t size, const char *path, uint64_t *ready_ns)
{
    struct tidal_err err;
    struct tidal_vm *vm = NULL;
    uint64_t t0 = now_ns();
    if (tidal_vm_create(cfg, image, size, path, &vm, &err))
        die(path, err.msg);
    tidal_vm_run(vm, &res);
    *ready_ns = now_ns() - t0;
    if (res.reason != TIDAL_EXIT_READY) {
        fprintf(stderr,
                "restore-bench: %s stopped before tidal_ready() (reason %d, status %d)%s%s\n", path,
                (int)res.reason, res.status, res.report[0] ? ": " : "", res.report);
        exit(1);
    }
    return vm;
}

/* One restore with its output captured: it must end with the input. */
static void check_output(const struct tidal_snap *snap, struct tidal_vm_config cfg,
                         const char *input_path)
{
    FILE *out = tmpfile();
    FILE *in = fopen(input_path, "rb");
    if (!out || !in)
        die("tmpfile/input", strerror(errno));
    static char want[INPUT_MAX_BYTES], got[INPUT_MAX_BYTES + 4096];
    size_t nwant = fread(want, 1, sizeof(want), in);
    fclose(in);
    cfg.out_fd = fileno(out);
    rewind_fd(cfg.in_fd);
    struct tidal_vm *vm = restore(snap, &cfg, 0, NULL, false);
    run_to_end(vm, "the checked restore");
    tidal_vm_destroy(vm);
    rewind(out);
    size_t ngot = fread(got, 1, sizeof(got), out);
    fclose(out);
    if (ngot < nwant || memcmp(got + ngot - nwant, want, nwant)) {
        fprintf(stderr,
                "restore-bench: a restored guest's output (%zu bytes) does not end with its "
                "input (%zu bytes)\n",
                ngot, nwant);
        exit(1);
    }
    printf("output check: a restored guest wrote %zu bytes, ending with its %zu-byte input: ok\n",
           ngot, nwant);
}

int main(int argc, char **argv)
{
    struct tidal_err err;
    bench_handle_probe(argc, argv);
    int runs = 1000, cold_runs = 200, warmup = 20, i = 1;
    const char *snap_path = NULL, *input_path = NULL;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-n"))
            runs = parse_count("restore-bench", argv[i + 1], 1);
        else if (!strcmp(argv[i], "-c"))
            cold_runs = parse_count("restore-bench", argv[i + 1], 1);
        else if (!strcmp(argv[i], "-w"))
            warmup = parse_count("restore-bench", argv[i + 1], 0);
        else if (!strcmp(argv[i], "-s"))
            snap_path = argv[i + 1];
        else if (!strcmp(argv[i], "-i"))
            input_path = argv[i + 1];
        else
            break;
    }
    if (i + 1 != argc || argv[i][0] == '-' || !snap_path || !input_path) {
        fputs("usage: restore-bench [-n RESTORES] [-c COLD_RUNS] [-w WARMUP] -s SNAP -i INPUT "
              "IMAGE | restore-bench --probe\n",
              stderr);
        return 2;
    }
    const char *path = argv[i];
    if (tidal_kvm_available(&err))
        die("KVM", err.msg);
    const uint8_t *image;
    size_t size;
    if (tidal_file_map(path, IMAGE_MAX_BYTES, &image, &size, &err))
        die(path, err.msg);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int in_fd = open(input_path, O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || in_fd < 0)
        die(in_fd < 0 ? input_path : "/dev/null", strerror(errno));
    /* Output goes to /dev/null: writing it is not the monitor's cost. */
    char *guest_argv[] = {(char *)path, NULL};
    struct tidal_vm_config cfg = {
        .argc = 1, .argv = guest_argv, .in_fd = in_fd, .out_fd = null_fd, .err_fd = null_fd};

    /* 1. Boot to tidal_ready() and save. */
    uint64_t ns;
    struct tidal_vm *vm = boot_to_ready(&cfg, image, size, path, &ns);
    if (tidal_snapshot_save(vm, snap_path, &err))
        die(snap_path, err.msg);
    tidal_vm_destroy(vm);
    struct tidal_snap *snap;
    if (tidal_snap_open(snap_path, &snap, &err))
        die(snap_path, err.msg);
    printf("snapshot: %s, %llu KiB guest memory, %llu pages stored\n", snap_path,
           (unsigned long long)(tidal_snap_info(snap)->mem_size >> 10),
           (unsigned long long)tidal_snap_stored_pages(snap));
    check_output(snap, cfg, input_path);

    struct tidal_shell_pool *pool = tidal_shell_pool_new();
    if (!pool)
        die("tidal_shell_pool_new", "out of memory");

    /* 2. Restore to first guest instruction. */
    record_working_set(snap, &cfg, snap_path);
    struct series warm[NF], cold[NF], warm_ws[NF];
    first_instruction(snap, &cfg, pool, false, runs, warmup, warm);
    first_instruction(snap, &cfg, NULL, false, runs, warmup, cold);
    first_instruction(snap, &cfg, pool, true, runs, warmup, warm_ws);
    printf("\n%-52s %6s %10s %10s %10s\n", "in-process restore of the snapshot", "runs",
           "median us", "p99 us", "min us");
    printf("warm shell pool (VM + vCPU made ahead, refilled untimed):\n");
    for (int f = 0; f < NF; f++)
        series_report(&warm[f]);
    printf("cold shells (no pool: KVM_CREATE_VM + vCPU set-up in the restore):\n");
    for (int f = 0; f < NF; f++)
        series_report(&cold[f]);
    printf("warm shell pool and the recorded working set populated writable (--prefetch;\n"
           "the populating is part of the restore call):\n");
    for (int f = 0; f < NF; f++)
        series_report(&warm_ws[f]);

    /* 3. Restore to output vs cold boot, interleaved. */
    enum { O_POOL, O_POOL_WS, O_NOPOOL, O_COLD_READY, O_COLD_OUTPUT, NO };
    struct series o[NO];
    series_init(&o[O_POOL], "output_pool", "restore + run to exit, warm pool", cold_runs);
    series_init(&o[O_POOL_WS], "output_pool_ws", "restore + run to exit, warm pool, --prefetch",
                cold_runs);
    series_init(&o[O_NOPOOL], "output_nopool", "restore + run to exit, cold shells", cold_runs);
    series_init(&o[O_COLD_READY], "cold_boot_ready", "cold boot: create + run to tidal_ready()",
                cold_runs);
    series_init(&o[O_COLD_OUTPUT], "cold_boot_output", "cold boot: create + run to exit",
                cold_runs);
    for (int r = -warmup; r < cold_runs; r++) {
        uint64_t t[3];
        for (int k = 0; k < 3; k++) {
            struct tidal_shell_pool *p = k == 1 ? NULL : pool;
            refill(p);
            rewind_fd(in_fd);
            uint64_t t0 = now_ns();
            vm = restore(snap, &cfg, 1, p, k == 2);
            run_to_end(vm, "a restored guest");
            t[k] = now_ns() - t0;
            tidal_vm_destroy(vm);
        }
        rewind_fd(in_fd);
        uint64_t t0 = now_ns(), ready_ns;
        vm = boot_to_ready(&cfg, image, size, path, &ready_ns);
        run_to_end(vm, "a cold-booted guest");
        uint64_t out_ns = now_ns() - t0;
        tidal_vm_destroy(vm);
        if (r >= 0) {
            o[O_POOL].us[r] = (double)t[0] / 1e3;
            o[O_NOPOOL].us[r] = (double)t[1] / 1e3;
            o[O_POOL_WS].us[r] = (double)t[2] / 1e3;
            o[O_COLD_READY].us[r] = (double)ready_ns / 1e3;
            o[O_COLD_OUTPUT].us[r] = (double)out_ns / 1e3;
        }
    }
    printf("\n%-52s %6s %10s %10s %10s\n", "restore to output vs cold boot (interleaved)", "runs",
           "median us", "p99 us", "min us");
    for (int k = 0; k < NO; k++)
        series_report(&o[k]);
    double ratio_pool = o[O_COLD_READY].med / o[O_POOL].med;
    double ratio_nopool = o[O_COLD_READY].med / o[O_NOPOOL].med;
    double ratio_output = o[O_COLD_OUTPUT].med / o[O_POOL].med;
    double ratio_ws = o[O_COLD_READY].med / o[O_POOL_WS].med;
    printf("cold boot to tidal_ready() / restore to output: %.2fx (warm pool), %.2fx (warm pool, "
           "--prefetch), %.2fx (cold shells); cold boot to exit / restore to output (warm pool): "
           "%.2fx\n",
           ratio_pool, ratio_ws, ratio_nopool, ratio_output);

    for (int f = 0; f < NF; f++)
        series_bench(&warm[f]);
    for (int f = 0; f < NF; f++)
        series_bench(&cold[f]);
    for (int f = 0; f < NF; f++)
        series_bench(&warm_ws[f]);
    for (int k = 0; k < NO; k++)
        series_bench(&o[k]);
    printf("BENCH restore_speedup_pool %.2f x\n", ratio_pool);
    printf("BENCH restore_speedup_nopool %.2f x\n", ratio_nopool);
    printf("BENCH restore_speedup_pool_ws %.2f x\n", ratio_ws);
    printf("BENCH restore_speedup_pool_vs_cold_output %.2f x\n", ratio_output);

    for (int f = 0; f < NF; f++) {
        free(warm[f].us);
        free(cold[f].us);
        free(warm_ws[f].us);
    }
    for (int k = 0; k < NO; k++)
        free(o[k].us);
    tidal_ws_free(working_set);
    tidal_shell_pool_free(pool);
    tidal_snap_close(snap);
    close(in_fd);
    close(null_fd);
    tidal_file_unmap(image, size);
    return 0;
}

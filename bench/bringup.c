/* bringup: where the time of one microVM goes. Creates, runs and destroys the same
 * guest image RUNS times in this process (no fork/exec, no dynamic loading: the
 * monitor's own cost only) and prints median and p90 of each phase that
 * struct tidal_vm_timing records, of the teardown (tidal_vm_destroy, timed here)
 * and of the total, as `BENCH bringup_<phase>_<median|p90> <value> us` lines and a
 * table. Every run must halt with status 0: a failed run is an error, not a sample.
 *
 * usage: bringup [-n RUNS] [-w WARMUP] IMAGE [ARGS...]
 *        bringup --probe     exit 0 if /dev/kvm is usable, else print why and exit 1 */
#include "tidal/file.h"
#include "tidal/monitor.h"
#include "bench_stats.h"
#include "kvm_probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMAGE_MAX_BYTES (256ull << 20)

enum phase { P_CREATE_VM, P_MEMORY, P_VCPU, P_LOAD, P_FIRST_EXIT, P_RUN, P_TEARDOWN, P_TOTAL, NP };

static const struct {
    const char *key, *label;
} phases[NP] = {
    [P_CREATE_VM] = {"create_vm", "VM (open /dev/kvm, KVM_CREATE_VM)"},
    [P_MEMORY] = {"memory", "memory (mmap + memory slot)"},
    [P_VCPU] = {"vcpu", "vCPU (create, CPUID, FPU, MSRs)"},
    [P_LOAD] = {"load", "image load + boot state"},
    [P_FIRST_EXIT] = {"first_exit", "first instruction (KVM_RUN->exit)"},
    [P_RUN] = {"run", "run (whole guest, incl. above)"},
    [P_TEARDOWN] = {"teardown", "teardown (tidal_vm_destroy)"},
    [P_TOTAL] = {"total", "total (create -> destroyed)"},
};

/* One create/run/destroy; fills us[] (microseconds) and the exit count. Exits the
 * program on any failure. */
static void one_run(const struct tidal_vm_config *cfg, const uint8_t *image, size_t size,
                    const char *path, double us[NP], uint64_t *exits)
{
    struct tidal_err err;
    struct tidal_vm *vm = NULL;
    static struct tidal_run_result res; /* 2.5 KiB: keep it off the stack */
    uint64_t t0 = now_ns();
    if (tidal_vm_create(cfg, image, size, path, &vm, &err)) {
        fprintf(stderr, "bringup: %s: %s\n", path, err.msg);
        exit(1);
    }
    memset(&res, 0, sizeof(res)); /* counters accumulate across tidal_vm_run calls */
    tidal_vm_run(vm, &res);
    const struct tidal_vm_timing *t = tidal_vm_timing(vm);
    us[P_CREATE_VM] = (double)t->create_vm / 1e3;
    us[P_MEMORY] = (double)t->memory / 1e3;
    us[P_VCPU] = (double)t->vcpu / 1e3;
    us[P_LOAD] = (double)t->load / 1e3;
    us[P_FIRST_EXIT] = (double)t->first_exit / 1e3;
    us[P_RUN] = (double)t->run / 1e3;
    uint64_t t1 = now_ns();
    tidal_vm_destroy(vm);
    uint64_t t2 = now_ns();
    us[P_TEARDOWN] = (double)(t2 - t1) / 1e3;
    us[P_TOTAL] = (double)(t2 - t0) / 1e3;
    if (res.reason != TIDAL_EXIT_HALTED || res.status != 0) {
        fprintf(stderr, "bringup: %s did not halt with status 0 (reason %d, status %d): %s\n", path,
                (int)res.reason, res.status, res.report);
        exit(1);
    }
    *exits = 0;
    for (unsigned r = 0; r < TIDAL_MAX_EXIT_REASONS; r++)
        *exits += res.exits_by_reason[r];
}

int main(int argc, char **argv)
{
    struct tidal_err err;
    bench_handle_probe(argc, argv);
    int runs = 200, warmup = 5, i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-n"))
            runs = parse_count("bringup", argv[i + 1], 1);
        else if (!strcmp(argv[i], "-w"))
            warmup = parse_count("bringup", argv[i + 1], 0);
        else
            break;
    }
    if (i >= argc || argv[i][0] == '-') {
        fputs("usage: bringup [-n RUNS] [-w WARMUP] IMAGE [ARGS...] | bringup --probe\n", stderr);
        return 2;
    }
    const char *path = argv[i];
    if (tidal_kvm_available(&err)) {
        fprintf(stderr, "bringup: %s\n", err.msg);
        return 1;
    }
    const uint8_t *image;
    size_t size;
    if (tidal_file_map(path, IMAGE_MAX_BYTES, &image, &size, &err)) {
        fprintf(stderr, "bringup: %s\n", err.msg);
        return 1;
    }
    /* The guest's output would dominate the terminal and cost write time that is
     * not the monitor's: it goes to /dev/null, as a benchmarked process's does. */
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        perror("bringup: /dev/null");
        return 1;
    }
    struct tidal_vm_config cfg = {
        .argc = argc - i,
        .argv = &argv[i],
        .in_fd = null_fd,
        .out_fd = null_fd,
        .err_fd = null_fd,
    };

    double *samples = malloc(sizeof(double) * NP * (size_t)runs);
    if (!samples) {
        perror("bringup");
        return 1;
    }
    double us[NP];
    uint64_t exits = 0;
    for (int r = 0; r < warmup; r++)
        one_run(&cfg, image, size, path, us, &exits);
    for (int r = 0; r < runs; r++) {
        one_run(&cfg, image, size, path, us, &exits);
        for (int p = 0; p < NP; p++)
            samples[(size_t)p * (size_t)runs + (size_t)r] = us[p];
    }

    double med[NP], p90[NP];
    printf("%-36s %6s %12s %12s\n", "in-process bring-up", "runs", "median us", "p90 us");
    for (int p = 0; p < NP; p++) {
        double *v = &samples[(size_t)p * (size_t)runs];
        med[p] = median(v, runs);
        p90[p] = percentile(v, runs, 90);
        printf("%-36s %6d %12.1f %12.1f\n", phases[p].label, runs, med[p], p90[p]);
    }
    printf("KVM exits per run: %llu\n", (unsigned long long)exits);
    for (int p = 0; p < NP; p++) {
        printf("BENCH bringup_%s_median %.1f us\n", phases[p].key, med[p]);
        printf("BENCH bringup_%s_p90 %.1f us\n", phases[p].key, p90[p]);
    }
    printf("BENCH bringup_exits %llu count\n", (unsigned long long)exits);
    free(samples);
    close(null_fd);
    tidal_file_unmap(image, size);
    return 0;
}

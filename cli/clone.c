/* `tidal clone SNAP -n N`: N clones of one saved guest, alive together in this
 * process (memory shared copy-on-write with the snapshot file), then each run to
 * completion on worker threads with its own input and output files. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/snapshot_vm.h"
#include "vm_report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_CLONES 100000

struct clone {
    struct tidal_vm *vm;
    int in_fd, out_fd, err_fd;
    int rc;
    char error[600];
};

struct clone_job {
    const struct tidal_snap *snap;
    struct clone *clones;
    unsigned n;
    double timeout;
    char **inputs;
    unsigned ninputs;
    const char *input_dir, *output_dir;
    atomic_uint next;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal clone: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal clone SNAP -n N [--input-dir DIR] [--output-dir DIR] [--threads T] "
          "[--timeout SEC]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of dir, sorted: clone i reads input i (cycling when fewer). */
static int list_inputs(const char *dir, char ***out, unsigned *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    unsigned n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                break;
            names = grown;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    *out = names;
    *count = n;
    return 0;
}

static int open_at(const char *dir, const char *name, int flags, char *error, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        snprintf(error, size, "%.400s: %s", path, strerror(errno));
    return fd;
}

static void restore_one(struct clone_job *job, unsigned i)
{
    struct clone *c = &job->clones[i];
    c->in_fd = c->out_fd = c->err_fd = -1;
    char name[64];
    if (job->ninputs) {
        c->in_fd = open_at(job->input_dir, job->inputs[i % job->ninputs], O_RDONLY, c->error,
                           sizeof(c->error));
    } else {
        c->in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (job->output_dir) {
        snprintf(name, sizeof(name), "clone-%05u.out", i);
        c->out_fd = open_at(job->output_dir, name, O_WRONLY | O_CREAT | O_TRUNC, c->error,
                            sizeof(c->error));
        snprintf(name, sizeof(name), "clone-%05u.err", i);
        c->err_fd = open_at(job->output_dir, name, O_WRONLY | O_CREAT | O_TRUNC, c->error,
                            sizeof(c->error));
    } else {
        c->out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        c->err_fd = dup(c->out_fd);
    }
    if (c->in_fd < 0 || c->out_fd < 0 || c->err_fd < 0) {
        c->rc = TIDAL_RC_NO_INPUT;
        return;
    }
    struct tidal_vm_config cfg = {
        .timeout_sec = job->timeout, .in_fd = c->in_fd, .out_fd = c->out_fd, .err_fd = c->err_fd};
    struct tidal_err err;
    int rc = tidal_snapshot_restore(job->snap, &cfg, i, NULL, &c->vm, &err);
    if (rc) {
        snprintf(c->error, sizeof(c->error), "%s", err.msg);
        tidal_vm_destroy(c->vm);
        c->vm = NULL;
        c->rc = tidal_cli_create_rc(rc);
    }
}

static void run_one(struct clone_job *job, unsigned i)
{
    struct clone *c = &job->clones[i];
    if (c->vm) {
        struct tidal_run_result res = {0};
        do
            tidal_vm_run(c->vm, &res);
        while (res.reason == TIDAL_EXIT_READY);
        if (res.reason != TIDAL_EXIT_HALTED)
            snprintf(c->error, sizeof(c->error), "%.500s", res.report);
        c->rc = tidal_cli_exit_rc(&res);
        tidal_vm_destroy(c->vm);
        c->vm = NULL;
    }
    if (c->in_fd >= 0)
        close(c->in_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    if (c->err_fd >= 0)
        close(c->err_fd);
}

struct phase {
    struct clone_job *job;
    void (*work)(struct clone_job *, unsigned);
};

static void *worker(void *arg)
{
    struct phase *p = arg;
    unsigned i;
    while ((i = atomic_fetch_add(&p->job->next, 1)) < p->job->n)
        p->work(p->job, i);
    return NULL;
}

static void run_phase(struct clone_job *job, void (*work)(struct clone_job *, unsigned),
                      unsigned threads)
{
    struct phase p = {job, work};
    pthread_t tids[256];
    atomic_store(&job->next, 0);
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker, &p))
            break;
    if (!started)
        worker(&p);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* Each clone holds about five descriptors; the default soft limit of 1024 would
 * stop at ~200 clones. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* MemAvailable in KiB: what the whole system (kernel included) has left. */
static long mem_available_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int tidal_cmd_clone(int argc, char **argv)
{
    struct clone_job job = {0};
    const char *snap_path = NULL;
    unsigned threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    long n = -1;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] != '-') {
            if (snap_path)
                return usage_error("unexpected argument '%s'", opt);
            snap_path = opt;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        char *end;
        if (!strcmp(opt, "-n")) {
            n = strtol(val, &end, 10);
            if (*end || n < 1 || n > MAX_CLONES)
                return usage_error("-n '%s': expected 1..100000 clones", val);
        } else if (!strcmp(opt, "--threads")) {
            long t = strtol(val, &end, 10);
            if (*end || t < 1 || t > 256)
                return usage_error("--threads '%s': expected 1..256", val);
            threads = (unsigned)t;
        } else if (!strcmp(opt, "--timeout")) {
            if (tidal_cli_parse_timeout(val, &job.timeout))
                return usage_error("--timeout '%s': expected seconds, a number > 0", val);
        } else if (!strcmp(opt, "--input-dir")) {
            job.input_dir = val;
        } else if (!strcmp(opt, "--output-dir")) {
            job.output_dir = val;
        } else {
            return usage_error("unknown option '%s'", opt);
        }
    }
    if (!snap_path || n < 0)
        return usage_error("%s", "needs SNAP and -n N");
    if (job.input_dir && list_inputs(job.input_dir, &job.inputs, &job.ninputs)) {
        fprintf(stderr, "tidal clone: %s: %s\n", job.input_dir, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    struct tidal_err err;
    struct tidal_snap *snap;
    if (access(snap_path, R_OK)) {
        fprintf(stderr, "tidal clone: %s: %s\n", snap_path, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    if (tidal_snap_open(snap_path, &snap, &err)) {
        fprintf(stderr, "tidal clone: %s\n", err.msg);
        return TIDAL_RC_BAD_INPUT;
    }
    job.snap = snap;
    job.n = (unsigned)n;
    job.clones = calloc(job.n, sizeof(*job.clones));
    if (!job.clones)
        return TIDAL_RC_SYSTEM;

    long before = mem_available_kib();
    run_phase(&job, restore_one, threads);
    long after = mem_available_kib();
    unsigned alive = 0;
    for (unsigned i = 0; i < job.n; i++)
        alive += job.clones[i].vm != NULL;
    run_phase(&job, run_one, threads);
    tidal_snap_close(snap);

    unsigned ok = 0, failed = 0;
    for (unsigned i = 0; i < job.n; i++) {
        if (job.clones[i].rc == 0) {
            ok++;
        } else if (failed++ < 10) {
            fprintf(stderr, "tidal clone: clone %u: exit %d%s%s\n", i, job.clones[i].rc,
                    job.clones[i].error[0] ? ": " : "", job.clones[i].error);
        }
    }
    fprintf(stderr,
            "tidal clone: %u clones, %u alive at once, %u exited 0, %u did not; "
            "host memory per idle clone %.1f KiB (MemAvailable drop / clones)\n",
            job.n, alive, ok, failed,
            alive && before > 0 && after > 0 ? (double)(before - after) / alive : -1.0);
    for (unsigned i = 0; i < job.ninputs; i++)
        free(job.inputs[i]);
    free(job.inputs);
    free(job.clones);
    return failed ? 1 : 0;
}

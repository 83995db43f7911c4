/* `tidal clone SNAP -n N`: N clones of one saved guest, alive together (memory shared
 * copy-on-write with the snapshot's memory image), then each run to completion on
 * worker threads with its own input and output files. Past GROUP_CLONES clones, groups
 * of them live in child processes (see run_groups). With
 * --reuse, the N inputs run one after another on one VM per thread, reset in place
 * between them (tidal/reuse.h): the same results, without a VM per input. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/confine.h"
#include "tidal/fsimage.h"
#include "tidal/host_limits.h"
#include "tidal/prefetch.h"
#include "tidal/reuse.h"
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CLONES 100000
/* Clones per process. Creating a VM registers an MMU notifier, which locks every
 * mapping of the process in turn, and each change to the process's page tables is
 * announced to every VM in it: both grow with the VMs a process holds, so ten
 * thousand VMs in one process cost minutes of kernel time, in groups seconds. */
#define GROUP_CLONES 1000u
#define REUSE_INPUT_MAX (16u << 20)

struct clone {
    struct tidal_vm *vm;
    int rc; /* -1 until its process reports it */
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
    struct tidal_ws *prefetch;   /* working set to populate in each clone, or NULL */
    const uint8_t *template_mem; /* --reuse: the snapshot's memory, read-only */
    unsigned first, end;         /* the clones this process holds */
    atomic_uint next;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal clone: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal clone SNAP -n N [--input-dir DIR] [--output-dir DIR] [--threads T] "
          "[--timeout SEC] [--prefetch | --reuse]\n"
          "                   [--dir HOST:GUEST]... [--file HOST:GUEST]...\n",
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

/* Idle clones hold only their vCPU descriptor (which keeps the VM alive); each one's
 * files are opened when it runs, so the clone count is not capped by files four times
 * over. */
static void restore_one(struct clone_job *job, unsigned i)
{
    struct clone *c = &job->clones[i];
    struct tidal_vm_config cfg = {
        .timeout_sec = job->timeout, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    struct tidal_err err;
    int rc = tidal_snapshot_restore(&job->snap, 1, &cfg, i, NULL, &c->vm, &err);
    if (rc) {
        snprintf(c->error, sizeof(c->error), "%s", err.msg);
        tidal_vm_destroy(c->vm);
        c->vm = NULL;
        c->rc = tidal_cli_create_rc(rc);
    } else {
        if (job->prefetch)
            tidal_ws_prefetch(job->prefetch, c->vm);
        tidal_vm_drop_vm_fd(c->vm);
    }
}

static int open_files(struct clone_job *job, unsigned i, int fds[3])
{
    struct clone *c = &job->clones[i];
    char name[64];
    fds[0] = job->ninputs ? open_at(job->input_dir, job->inputs[i % job->ninputs], O_RDONLY,
                                    c->error, sizeof(c->error))
                          : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (job->output_dir) {
        snprintf(name, sizeof(name), "clone-%05u.out", i);
        fds[1] = open_at(job->output_dir, name, O_WRONLY | O_CREAT | O_TRUNC, c->error,
                         sizeof(c->error));
        snprintf(name, sizeof(name), "clone-%05u.err", i);
        fds[2] = open_at(job->output_dir, name, O_WRONLY | O_CREAT | O_TRUNC, c->error,
                         sizeof(c->error));
    } else {
        fds[1] = open("/dev/null", O_WRONLY | O_CLOEXEC);
        fds[2] = fds[1] >= 0 ? dup(fds[1]) : -1;
    }
    return fds[0] < 0 || fds[1] < 0 || fds[2] < 0 ? -1 : 0;
}

static void run_one(struct clone_job *job, unsigned i)
{
    struct clone *c = &job->clones[i];
    int fds[3] = {-1, -1, -1};
    if (c->vm && open_files(job, i, fds)) {
        c->rc = TIDAL_RC_NO_INPUT;
        tidal_vm_destroy(c->vm);
        c->vm = NULL;
    }
    if (c->vm) {
        tidal_vm_set_io(c->vm, fds[0], fds[1], fds[2]);
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
    for (int f = 0; f < 3; f++)
        if (fds[f] >= 0)
            close(fds[f]);
}

/* --reuse: each worker thread's VM, kept at the template point between inputs. */
static _Thread_local struct tidal_vm *reused;

static int read_input(int fd, uint8_t **data, size_t *len, char *error, size_t size)
{
    *data = malloc(REUSE_INPUT_MAX);
    ssize_t n = *data ? read(fd, *data, REUSE_INPUT_MAX) : -1;
    if (n < 0 || n == REUSE_INPUT_MAX) {
        snprintf(error, size, "input: %s", n < 0 ? strerror(errno) : "larger than 16 MiB");
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static void reuse_one(struct clone_job *job, unsigned i)
{
    struct clone *c = &job->clones[i];
    struct tidal_err err;
    if (!reused) {
        struct tidal_vm_config cfg = {
            .timeout_sec = job->timeout, .in_fd = -1, .out_fd = -1, .err_fd = -1};
        int rc = tidal_snapshot_restore_reusable(job->snap, job->template_mem, &cfg, i, NULL,
                                                 &reused, &err);
        if (rc) {
            snprintf(c->error, sizeof(c->error), "%s", err.msg);
            tidal_vm_destroy(reused);
            reused = NULL;
            c->rc = tidal_cli_create_rc(rc);
            return;
        }
    }
    int fds[3] = {-1, -1, -1};
    uint8_t *input = NULL;
    size_t len = 0, placed = 0;
    c->rc = TIDAL_RC_NO_INPUT;
    if (!open_files(job, i, fds) && !read_input(fds[0], &input, &len, c->error, sizeof(c->error))) {
        c->rc = TIDAL_RC_SYSTEM;
        if (tidal_vm_reuse_prepare(reused, input, len, i, &placed, &err) || placed != len) {
            snprintf(c->error, sizeof(c->error), "%s",
                     placed != len ? "input larger than the guest's input window" : err.msg);
        } else {
            tidal_vm_set_io(reused, -1, fds[1], fds[2]);
            struct tidal_run_result res = {0};
            do
                tidal_vm_run(reused, &res);
            while (res.reason == TIDAL_EXIT_READY);
            if (res.reason != TIDAL_EXIT_HALTED)
                snprintf(c->error, sizeof(c->error), "%.500s", res.report);
            c->rc = tidal_cli_exit_rc(&res);
        }
    }
    free(input);
    for (int f = 0; f < 3; f++)
        if (fds[f] >= 0)
            close(fds[f]);
    /* Only a VM whose guest exited cleanly goes on to the next input. */
    struct tidal_reset_counts counts;
    if (c->rc != 0 || tidal_vm_reset(reused, &counts, &err)) {
        tidal_vm_destroy(reused);
        reused = NULL;
    }
}

struct phase {
    struct clone_job *job;
    void (*work)(struct clone_job *, unsigned);
};

static void *worker(void *arg)
{
    struct phase *p = arg;
    unsigned i;
    while ((i = atomic_fetch_add(&p->job->next, 1)) < p->job->end)
        p->work(p->job, i);
    tidal_vm_destroy(reused);
    reused = NULL;
    return NULL;
}

static void run_phase(struct clone_job *job, void (*work)(struct clone_job *, unsigned),
                      unsigned threads)
{
    struct phase p = {job, work};
    pthread_t tids[256];
    atomic_store(&job->next, job->first);
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker, &p))
            break;
    if (!started)
        worker(&p);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* From here on this process only runs the clones it holds: no more forks. */
static void confine_or_exit(void)
{
    struct tidal_err err;
    if (tidal_confine(TIDAL_CONFINE_MONITOR, &err)) {
        fprintf(stderr, "tidal clone: %s\n", err.msg);
        _exit(TIDAL_RC_SYSTEM);
    }
}

/* Restores this process's clones, counts them, then runs them. */
static unsigned restore_all(struct clone_job *job, unsigned threads)
{
    run_phase(job, restore_one, threads);
    unsigned alive = 0;
    for (unsigned i = job->first; i < job->end; i++)
        alive += job->clones[i].vm != NULL;
    return alive;
}

/* One child process per GROUP_CLONES clones. Each restores its clones, says how many
 * live, and waits until every group has (so that all clones are alive at once: the
 * parent then closes `go`); then it runs them. Results go to memory shared with the
 * parent; a group that dies leaves its clones at -1. before, after: MemAvailable
 * around the restores. */
static unsigned run_groups(struct clone_job *job, unsigned threads, long *before, long *after)
{
    unsigned groups = (job->n + GROUP_CLONES - 1) / GROUP_CLONES, alive = 0, started = 0;
    int ready[2], go[2];
    if (pipe(ready) || pipe(go))
        return 0;
    *before = tidal_mem_available_kib();
    for (unsigned g = 0; g < groups; g++, started++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            job->first = g * GROUP_CLONES;
            job->end = job->first + GROUP_CLONES < job->n ? job->first + GROUP_CLONES : job->n;
            unsigned n = restore_all(job, threads);
            confine_or_exit();
            char byte;
            if (write(ready[1], &n, sizeof(n)) != (ssize_t)sizeof(n) || read(go[0], &byte, 1) < 0)
                _exit(1);
            run_phase(job, run_one, threads);
            _exit(0);
        }
    }
    close(ready[1]);
    close(go[0]);
    confine_or_exit();
    unsigned n;
    for (unsigned g = 0; g < started && read(ready[0], &n, sizeof(n)) == (ssize_t)sizeof(n); g++)
        alive += n;
    *after = tidal_mem_available_kib();
    close(go[1]); /* end of file on go: every group starts running */
    close(ready[0]);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return alive;
}

int tidal_cmd_clone(int argc, char **argv)
{
    struct clone_job job = {0};
    const char *snap_path = NULL;
    unsigned threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    long n = -1;
    bool prefetch = false, reuse = false;
    struct tidal_fs_spec trees[64];
    unsigned ntrees = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] != '-') {
            if (snap_path)
                return usage_error("unexpected argument '%s'", opt);
            snap_path = opt;
            continue;
        }
        if (!strcmp(opt, "--prefetch")) {
            prefetch = true;
            continue;
        }
        if (!strcmp(opt, "--no-seccomp")) {
            tidal_confine_disable();
            continue;
        }
        if (!strcmp(opt, "--reuse")) {
            reuse = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        char *end;
        if (!strcmp(opt, "--dir") || !strcmp(opt, "--file")) {
            struct tidal_err err;
            if (ntrees == 64)
                return usage_error("more than %s --dir and --file options", "64");
            if (tidal_fs_spec_parse(argv[i], !strcmp(opt, "--dir"), &trees[ntrees], &err))
                return usage_error("%s", err.msg);
            ntrees++;
        } else if (!strcmp(opt, "-n")) {
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
    if (prefetch && reuse)
        return usage_error("%s", "--prefetch and --reuse exclude each other");
    if (job.input_dir && list_inputs(job.input_dir, &job.inputs, &job.ninputs)) {
        fprintf(stderr, "tidal clone: %s: %s\n", job.input_dir, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    signal(SIGPIPE, SIG_IGN);
    tidal_raise_fd_limit(); /* each idle clone holds a descriptor (its vCPU's) */

    struct tidal_err err;
    struct tidal_snap *snap;
    int rc = tidal_cli_open_snapshot("tidal clone", snap_path, &snap);
    if (rc)
        return rc;
    job.snap = snap;
    if (ntrees) {
        /* The clones get the snapshot's files; given again, they must be the same. */
        uint8_t *mem = tidal_snapshot_template_memory(snap, &err);
        int bad = !mem || tidal_fs_match_snapshot(mem, tidal_snap_info(snap)->mem_size, trees,
                                                  ntrees, &err);
        if (mem)
            tidal_snap_unmap_memory(snap, mem);
        if (bad) {
            fprintf(stderr, "tidal clone: %s: %s\n", snap_path, err.msg);
            tidal_snap_close(snap);
            return TIDAL_RC_BAD_INPUT;
        }
    }
    if (prefetch) {
        char ws_path[4096];
        snprintf(ws_path, sizeof(ws_path), "%s.ws", snap_path);
        if (tidal_ws_load(ws_path, tidal_snap_info(snap)->mem_size, &job.prefetch, &err))
            fprintf(stderr, "tidal clone: ignoring %s\n", err.msg);
    }
    job.n = job.end = (unsigned)n;
    /* shared, so that the groups' children report into it */
    size_t clones_size = job.n * sizeof(*job.clones);
    job.clones = mmap(NULL, clones_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (job.clones == MAP_FAILED)
        return TIDAL_RC_SYSTEM;
    for (unsigned i = 0; i < job.n; i++)
        job.clones[i].rc = -1;

    long before = -1, after = -1;
    unsigned alive = 0;
    if (reuse) {
        uint8_t *tmpl = tidal_snapshot_template_memory(snap, &err);
        if (!tmpl) {
            fprintf(stderr, "tidal clone: %s\n", err.msg);
            return TIDAL_RC_SYSTEM;
        }
        job.template_mem = tmpl;
        confine_or_exit();
        run_phase(&job, reuse_one, threads < job.n ? threads : job.n);
        tidal_snap_unmap_memory(snap, tmpl);
    } else if (job.n > GROUP_CLONES) {
        alive = run_groups(&job, threads, &before, &after);
    } else {
        before = tidal_mem_available_kib();
        alive = restore_all(&job, threads);
        after = tidal_mem_available_kib();
        confine_or_exit();
        run_phase(&job, run_one, threads);
    }
    tidal_snap_close(snap);

    unsigned ok = 0, failed = 0;
    for (unsigned i = 0; i < job.n; i++) {
        if (job.clones[i].rc == 0) {
            ok++;
        } else if (failed++ < 10) {
            if (job.clones[i].rc < 0)
                fprintf(stderr, "tidal clone: clone %u: its process ended before it ran\n", i);
            else
                fprintf(stderr, "tidal clone: clone %u: exit %d%s%s\n", i, job.clones[i].rc,
                        job.clones[i].error[0] ? ": " : "", job.clones[i].error);
        }
    }
    if (reuse)
        fprintf(stderr, "tidal clone: %u inputs on reused VMs, %u exited 0, %u did not\n", job.n,
                ok, failed);
    else
        fprintf(stderr,
                "tidal clone: %u clones, %u alive at once, %u exited 0, %u did not; "
                "host memory per idle clone %.1f KiB (MemAvailable drop / clones)\n",
                job.n, alive, ok, failed,
                alive && before > 0 && after > 0 ? (double)(before - after) / alive : -1.0);
    for (unsigned i = 0; i < job.ninputs; i++)
        free(job.inputs[i]);
    free(job.inputs);
    munmap(job.clones, clones_size);
    tidal_ws_free(job.prefetch);
    return failed ? 1 : 0;
}

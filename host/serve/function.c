/* A function's template and its invocations on the VM backend. */
#include "fn.h"
#include "pool.h"
#include "tidal/elf.h"
#include "tidal/file.h"
#include "tidal/snapshot_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Booting to tidal_ready() may do real work (kv builds a table): allow more than a
 * request's timeout. */
#define INIT_TIMEOUT_SEC 60.0
/* Reused VMs kept per function at most: each holds up to its memory size of host
 * memory (the pages its requests wrote), so the pool is bounded by both. */
#define POOL_MAX 8u
#define POOL_MEMORY_MAX (1ull << 30)
/* Of a failing guest's stderr, what the error detail quotes. */
#define STDERR_LIMIT (64u << 10)

const char *tidal_outcome_name(enum tidal_outcome o)
{
    static const char *const names[OUTCOME_COUNT] = {
        "ok", "failed", "crashed", "timeout", "output_limit", "error", "rejected", "too_large"};
    return o < OUTCOME_COUNT ? names[o] : "unknown";
}

const double tidal_latency_bounds[TIDAL_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10};

/* A memfd of at most limit bytes (it cannot grow past it): a guest cannot make the
 * host buffer unbounded output. */
static int bounded_memfd(const char *name, uint64_t limit)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)limit) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Bytes written to such a file: its offset. */
static size_t memfd_written(int fd)
{
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return pos > 0 ? (size_t)pos : 0;
}

static size_t memfd_read(int fd, char *buf, size_t cap)
{
    size_t want = memfd_written(fd);
    ssize_t n = pread(fd, buf, want < cap ? want : cap, 0);
    return n > 0 ? (size_t)n : 0;
}

static int boot_to_template(struct tidal_function *fn, const char *dir, struct tidal_err *err)
{
    const struct tidal_fn_spec *spec = fn->spec;
    const uint8_t *elf;
    size_t size;
    struct tidal_fs_plan *fs_plan = NULL;
    size_t fs_size = 0;
    if (spec->trees.n && tidal_fs_plan(spec->trees.specs, spec->trees.n, &fs_plan, &fs_size, err))
        return TIDAL_SERVE_BAD_INPUT;
    if (tidal_file_map(spec->image, TIDAL_IMAGE_MAX_BYTES, &elf, &size, err)) {
        tidal_fs_plan_free(fs_plan);
        return TIDAL_SERVE_BAD_INPUT;
    }
    char *argv[] = {spec->image, NULL};
    /* Output before tidal_ready() is the function's start-up log: ours too. */
    struct tidal_vm_config cfg = {.mem_size = spec->limits.mem_size,
                                  .timeout_sec = INIT_TIMEOUT_SEC,
                                  .argc = 1,
                                  .argv = argv,
                                  .in_fd = -1,
                                  .out_fd = STDERR_FILENO,
                                  .err_fd = STDERR_FILENO,
                                  .fs_plan = fs_plan,
                                  .fs_image_size = fs_size,
                                  .scratch_max = spec->scratch_max};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cfg.in_fd = devnull;
    struct tidal_vm *vm = NULL;
    int rc = tidal_vm_create(&cfg, elf, size, spec->image, &vm, err);
    tidal_file_unmap(elf, size);
    tidal_fs_plan_free(fs_plan);
    if (rc) {
        tidal_vm_destroy(vm);
        close(devnull);
        return rc == TIDAL_CREATE_BAD_INPUT ? TIDAL_SERVE_BAD_INPUT
               : rc == TIDAL_CREATE_NO_KVM  ? TIDAL_SERVE_NO_KVM
                                            : TIDAL_SERVE_SYSTEM;
    }
    struct tidal_run_result res = {0};
    tidal_vm_run(vm, &res);
    close(devnull);
    if (res.reason != TIDAL_EXIT_READY) {
        char why[2100];
        if (res.reason == TIDAL_EXIT_HALTED)
            snprintf(why, sizeof(why), "exited with status %d", res.status);
        else
            snprintf(why, sizeof(why), "stopped: %s", res.report);
        tidal_vm_destroy(vm);
        tidal_err_set(err, "function '%s': %.200s %.250s before calling tidal_ready()", spec->name,
                      spec->image, why);
        return TIDAL_SERVE_BAD_INPUT;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s.snap", dir, spec->name);
    rc = tidal_snapshot_save(vm, path, err);
    tidal_vm_destroy(vm);
    if (rc)
        return TIDAL_SERVE_SYSTEM;
    rc = tidal_snap_open(path, &fn->template, err);
    /* The open file keeps the template alive; the name is not needed, and unlinking
     * it now leaves nothing behind however the server ends. */
    unlink(path);
    if (rc)
        return TIDAL_SERVE_SYSTEM;
    fn->template_bytes = tidal_snap_stored_pages(fn->template) * TIDAL_SNAP_PAGE_SIZE;
    const struct tidal_fn_limits *l = &spec->limits;
    uint64_t by_memory = POOL_MEMORY_MAX / l->mem_size;
    fn->pool_target = l->max_concurrency < POOL_MAX ? l->max_concurrency : POOL_MAX;
    if (fn->pool_target > by_memory)
        fn->pool_target = by_memory ? (unsigned)by_memory : 1;
    fn->vms = tidal_vm_pool_start(fn->template, fn->pool_target, l->timeout_sec, l->max_output,
                                  STDERR_LIMIT, err);
    return fn->vms ? 0 : TIDAL_SERVE_SYSTEM;
}

int tidal_function_register(struct tidal_function *fn, const struct tidal_serve_config *cfg,
                            unsigned index, const char *dir, struct tidal_err *err)
{
    const struct tidal_fn_spec *spec = &cfg->fns[index];
    memset(fn, 0, sizeof(*fn));
    fn->spec = spec;
    fn->backend = cfg->backend;
    fn->index = index;
    if (fn->backend == TIDAL_BACKEND_VM)
        return boot_to_template(fn, dir, err);
    if (access(spec->image, X_OK) < 0) {
        tidal_err_set(err, "function '%s': %.300s: %s (the process backend runs it as a program)",
                      spec->name, spec->image, strerror(errno));
        return TIDAL_SERVE_BAD_INPUT;
    }
    return 0;
}

void tidal_function_release(struct tidal_function *fn)
{
    tidal_vm_pool_free(fn->vms);
    if (fn->template)
        tidal_snap_close(fn->template);
    fn->vms = NULL;
    fn->template = NULL;
}

void tidal_invocation_exited(struct tidal_invocation *out, int status)
{
    out->outcome = status ? OUTCOME_FAILED : OUTCOME_OK;
    if (status)
        snprintf(out->detail, sizeof(out->detail), "exit status %d", status);
}

static void classify(const struct tidal_run_result *res, struct tidal_invocation *out)
{
    switch (res->reason) {
    case TIDAL_EXIT_HALTED:
        tidal_invocation_exited(out, res->status);
        break;
    case TIDAL_EXIT_TIMEOUT:
        out->outcome = OUTCOME_TIMEOUT;
        snprintf(out->detail, sizeof(out->detail), "%s", res->report);
        break;
    case TIDAL_EXIT_CRASHED:
        out->outcome = OUTCOME_CRASHED;
        snprintf(out->detail, sizeof(out->detail), "%s", res->report);
        break;
    default:
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "%s",
                 res->reason == TIDAL_EXIT_PAUSED ? "the guest was paused" : res->report);
    }
}

static void close_if_open(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* Appends the tail of the function's stderr to a failure's detail. */
static void add_stderr(struct tidal_invocation *out, const char *text, size_t len)
{
    if (out->outcome != OUTCOME_FAILED || !len)
        return;
    size_t used = strlen(out->detail);
    snprintf(out->detail + used, sizeof(out->detail) - used, "; stderr: %.*s",
             (int)(len < 511 ? len : 511), text);
}

static void keep_output(struct tidal_invocation *out, const uint8_t *data, size_t len)
{
    out->out = malloc(len ? len : 1);
    if (!out->out) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "out of memory for the output");
        return;
    }
    memcpy(out->out, data, len);
    out->out_len = len;
}

/* Input beyond the guest's window goes through stdin calls: the rare large body pays
 * for a file, the common request does not. */
static int rest_of_input(const char *body, size_t len, size_t placed, struct tidal_invocation *out)
{
    if (placed == len)
        return -1;
    int fd = memfd_create("tidal-request", MFD_CLOEXEC);
    if (fd < 0 || pwrite(fd, body + placed, len - placed, 0) != (ssize_t)(len - placed)) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "request file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -2;
    }
    return fd;
}

static void run_reused(struct tidal_function *fn, const char *body, size_t len,
                       struct tidal_invocation *out, struct tidal_pooled_vm **used)
{
    struct tidal_pooled_vm *pv = tidal_vm_pool_take(fn->vms);
    if (!pv) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "the server is stopping");
        return;
    }
    *used = pv;
    pv->out.len = pv->err.len = 0;
    tidal_vm_set_capture(pv->vm, &pv->out, &pv->err);
    struct tidal_err err;
    size_t placed = 0;
    uint64_t id = atomic_fetch_add(&fn->next_request_id, 1) + 1;
    if (tidal_vm_reuse_prepare(pv->vm, body, len, id, &placed, &err)) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "preparing the VM: %s", err.msg);
        return;
    }
    int in_fd = rest_of_input(body, len, placed, out);
    if (in_fd == -2)
        return;
    tidal_vm_set_io(pv->vm, in_fd, -1, -1);
    struct tidal_run_result res = {0};
    do
        tidal_vm_run(pv->vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    if (in_fd >= 0)
        close(in_fd);
    pv->requests++;
    out->vm_requests = pv->requests;
    for (unsigned i = 0; i < TIDAL_MAX_EXIT_REASONS; i++)
        out->exits += res.exits_by_reason[i];
    uint64_t pf = pv->pf_taken;
    if (!tidal_vm_stat(pv->vm, "pf_taken", &pf)) {
        out->pf_taken = pf - pv->pf_taken;
        pv->pf_taken = pf;
    }
    out->output_overflow = res.stdout_errors > 0;
    classify(&res, out);
    if (out->outcome == OUTCOME_OK && !out->output_overflow)
        keep_output(out, pv->out.data, pv->out.len);
    add_stderr(out, (const char *)pv->err.data, pv->err.len);
}

static void run_process(struct tidal_function *fn, const char *body, size_t len,
                        struct tidal_invocation *out)
{
    const struct tidal_fn_limits *l = &fn->spec->limits;
    int in_fd = memfd_create("tidal-request", MFD_CLOEXEC);
    int out_fd = bounded_memfd("tidal-response", l->max_output);
    int err_fd = bounded_memfd("tidal-stderr", STDERR_LIMIT);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0 ||
        (len && pwrite(in_fd, body, len, 0) != (ssize_t)len)) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "request files: %s", strerror(errno));
    } else {
        tidal_process_invoke(fn, in_fd, out_fd, err_fd, out);
        if (out->outcome == OUTCOME_OK && !out->output_overflow) {
            size_t n = memfd_written(out_fd);
            char *buf = malloc(n ? n : 1);
            if (buf && pread(out_fd, buf, n, 0) == (ssize_t)n) {
                out->out = buf;
                out->out_len = n;
            } else {
                free(buf);
                out->outcome = OUTCOME_ERROR;
                snprintf(out->detail, sizeof(out->detail), "reading the output: %s",
                         strerror(errno));
            }
        }
        char tail[512];
        add_stderr(out, tail, memfd_read(err_fd, tail, sizeof(tail)));
    }
    close_if_open(in_fd);
    close_if_open(out_fd);
    close_if_open(err_fd);
}

void tidal_function_invoke(struct tidal_function *fn, const char *body, size_t len,
                           struct tidal_invocation *out, struct tidal_pooled_vm **used)
{
    memset(out, 0, sizeof(*out));
    *used = NULL;
    if (fn->backend == TIDAL_BACKEND_VM)
        run_reused(fn, body, len, out, used);
    else
        run_process(fn, body, len, out);
    /* A write past the bound fails; the function may not notice (or may fail
     * because of it): either way its answer is incomplete. */
    if (out->output_overflow && (out->outcome == OUTCOME_OK || out->outcome == OUTCOME_FAILED)) {
        out->outcome = OUTCOME_OUTPUT_LIMIT;
        snprintf(out->detail, sizeof(out->detail), "the function wrote more than %llu bytes",
                 (unsigned long long)fn->spec->limits.max_output);
        free(out->out);
        out->out = NULL;
        out->out_len = 0;
    }
    atomic_fetch_add(&fn->counters.exits, out->exits);
    atomic_fetch_add(&fn->counters.pf_taken, out->pf_taken);
}

void tidal_function_after(struct tidal_function *fn, struct tidal_pooled_vm *used, bool healthy)
{
    if (used)
        tidal_vm_pool_give_back(fn->vms, used, healthy);
}

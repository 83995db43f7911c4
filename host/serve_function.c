/* A function's template and its invocations on the VM backend. */
#include "serve_fn.h"
#include "tidal/elf.h"
#include "tidal/file.h"
#include "tidal/prefetch.h"
#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

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
/* Warm shells kept per function: enough to start a burst without KVM_CREATE_VM. */
#define POOL_MAX 8u
/* Of a failing guest's stderr, what the error detail quotes. */
#define STDERR_LIMIT (64u << 10)

enum { WS_NONE, WS_RECORDING, WS_READY, WS_FAILED };

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
    if (tidal_file_map(spec->image, TIDAL_IMAGE_MAX_BYTES, &elf, &size, err))
        return TIDAL_SERVE_BAD_INPUT;
    char *argv[] = {spec->image, NULL};
    /* Output before tidal_ready() is the function's start-up log: ours too. */
    struct tidal_vm_config cfg = {.mem_size = spec->limits.mem_size,
                                  .timeout_sec = INIT_TIMEOUT_SEC,
                                  .argc = 1,
                                  .argv = argv,
                                  .in_fd = -1,
                                  .out_fd = STDERR_FILENO,
                                  .err_fd = STDERR_FILENO};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cfg.in_fd = devnull;
    struct tidal_vm *vm = NULL;
    int rc = tidal_vm_create(&cfg, elf, size, spec->image, &vm, err);
    tidal_file_unmap(elf, size);
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
    fn->pool = tidal_shell_pool_new();
    fn->pool_target =
        spec->limits.max_concurrency < POOL_MAX ? spec->limits.max_concurrency : POOL_MAX;
    if (!fn->pool)
        return tidal_err_set(err, "out of memory"), TIDAL_SERVE_SYSTEM;
    if (tidal_shell_pool_fill(fn->pool, fn->pool_target, err))
        return TIDAL_SERVE_SYSTEM;
    return 0;
}

int tidal_function_register(struct tidal_function *fn, const struct tidal_serve_config *cfg,
                            unsigned index, const char *dir, struct tidal_err *err)
{
    const struct tidal_fn_spec *spec = &cfg->fns[index];
    memset(fn, 0, sizeof(*fn));
    fn->spec = spec;
    fn->backend = cfg->backend;
    fn->index = index;
    if (fn->backend == TIDAL_BACKEND_VM) {
        if (!cfg->no_prefetch)
            snprintf(fn->ws_path, sizeof(fn->ws_path), "%s/%s.ws", dir, spec->name);
        return boot_to_template(fn, dir, err);
    }
    if (access(spec->image, X_OK) < 0) {
        tidal_err_set(err, "function '%s': %.300s: %s (the process backend runs it as a program)",
                      spec->name, spec->image, strerror(errno));
        return TIDAL_SERVE_BAD_INPUT;
    }
    return 0;
}

void tidal_function_release(struct tidal_function *fn)
{
    if (fn->pool)
        tidal_shell_pool_free(fn->pool);
    if (fn->template)
        tidal_snap_close(fn->template);
    if (atomic_load(&fn->ws_state) == WS_READY)
        tidal_ws_free(fn->ws);
    fn->pool = NULL;
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

/* Appends the tail of the guest's stderr to a failure's detail. */
static void add_stderr(struct tidal_invocation *out, int err_fd)
{
    if (out->outcome != OUTCOME_FAILED)
        return;
    char buf[512];
    size_t n = memfd_read(err_fd, buf, sizeof(buf) - 1);
    buf[n] = 0;
    if (n)
        snprintf(out->detail + strlen(out->detail), sizeof(out->detail) - strlen(out->detail),
                 "; stderr: %s", buf);
}

/* Once per function, by the first invocation that succeeds; a failure only costs
 * the speed-up. The file is read back and unlinked at once. */
static void record_working_set(struct tidal_function *fn, struct tidal_vm *vm)
{
    int none = WS_NONE;
    if (!fn->ws_path[0] || !atomic_compare_exchange_strong(&fn->ws_state, &none, WS_RECORDING))
        return;
    struct tidal_err err;
    uint64_t size;
    tidal_vm_memory(vm, &size);
    int ok = !tidal_ws_record(vm, fn->ws_path, &err) &&
             !tidal_ws_load(fn->ws_path, size, &fn->ws, &err) && fn->ws;
    unlink(fn->ws_path);
    if (!ok)
        fprintf(stderr, "tidal serve: function %s: no working-set prefetch: %s\n", fn->spec->name,
                err.msg);
    atomic_store_explicit(&fn->ws_state, ok ? WS_READY : WS_FAILED, memory_order_release);
}

static void run_clone(struct tidal_function *fn, int in_fd, int out_fd, int err_fd,
                      struct tidal_invocation *out, struct tidal_vm **used)
{
    struct tidal_vm_config cfg = {.timeout_sec = fn->spec->limits.timeout_sec,
                                  .in_fd = in_fd,
                                  .out_fd = out_fd,
                                  .err_fd = err_fd};
    struct tidal_err err;
    struct tidal_vm *vm = NULL;
    const struct tidal_snap *chain[1] = {fn->template};
    uint64_t id = atomic_fetch_add(&fn->next_clone_id, 1) + 1;
    int rc = tidal_snapshot_restore(chain, 1, &cfg, id, fn->pool, &vm, &err);
    *used = vm;
    if (rc) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "restore: %s", err.msg);
        return;
    }
    atomic_fetch_add(&fn->counters.restores, 1);
    if (atomic_load_explicit(&fn->ws_state, memory_order_acquire) == WS_READY)
        atomic_fetch_add(&fn->counters.prefetched_pages, tidal_ws_prefetch(fn->ws, vm));
    struct tidal_run_result res = {0};
    do
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    for (unsigned i = 0; i < TIDAL_MAX_EXIT_REASONS; i++)
        out->exits += res.exits_by_reason[i];
    out->output_overflow = res.stdout_errors > 0;
    classify(&res, out);
    if (out->outcome == OUTCOME_OK)
        record_working_set(fn, vm);
}

static void close_if_open(int fd)
{
    if (fd >= 0)
        close(fd);
}

void tidal_function_invoke(struct tidal_function *fn, const char *body, size_t len,
                           struct tidal_invocation *out, struct tidal_vm **used)
{
    memset(out, 0, sizeof(*out));
    out->out_fd = -1;
    *used = NULL;
    const struct tidal_fn_limits *l = &fn->spec->limits;
    int in_fd = memfd_create("tidal-request", MFD_CLOEXEC);
    int out_fd = bounded_memfd("tidal-response", l->max_output);
    int err_fd = bounded_memfd("tidal-stderr", STDERR_LIMIT);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0 ||
        (len && pwrite(in_fd, body, len, 0) != (ssize_t)len)) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "request files: %s", strerror(errno));
    } else if (fn->backend == TIDAL_BACKEND_VM) {
        run_clone(fn, in_fd, out_fd, err_fd, out, used);
    } else {
        tidal_process_invoke(fn, in_fd, out_fd, err_fd, out);
    }
    out->out_len = out_fd >= 0 ? memfd_written(out_fd) : 0;
    /* A write past the bound fails; the function may not notice (or may fail
     * because of it): either way its answer is incomplete. */
    if (out->output_overflow && (out->outcome == OUTCOME_OK || out->outcome == OUTCOME_FAILED)) {
        out->outcome = OUTCOME_OUTPUT_LIMIT;
        snprintf(out->detail, sizeof(out->detail), "the function wrote more than %llu bytes",
                 (unsigned long long)l->max_output);
    }
    add_stderr(out, err_fd);
    if (out->outcome == OUTCOME_OK) {
        out->out_fd = out_fd;
        out_fd = -1;
    }
    close_if_open(in_fd);
    close_if_open(out_fd);
    close_if_open(err_fd);
    atomic_fetch_add(&fn->counters.exits, out->exits);
}

void tidal_function_after(struct tidal_function *fn, struct tidal_vm *used)
{
    if (used)
        tidal_vm_destroy(used);
    if (fn->pool && tidal_shell_pool_ready(fn->pool) < fn->pool_target) {
        struct tidal_err err;
        tidal_shell_pool_fill(fn->pool, fn->pool_target, &err);
    }
}

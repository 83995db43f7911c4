/* The monitor: one microVM per struct tidal_vm, booted from a guest ELF image.
 * The run loop returns why the guest stopped; the caller decides what follows. */
#ifndef TIDAL_MONITOR_H
#define TIDAL_MONITOR_H

#include "tidal/calls.h"
#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tidal_fs_plan; /* include/tidal/fsimage.h */

struct tidal_vm_config {
    uint64_t mem_size;  /* bytes; TIDAL_MEM_DEFAULT when 0 */
    double timeout_sec; /* 0: no limit */
    int argc;           /* guest argv, argv[0] included */
    char *const *argv;
    int envc;
    char *const *envp;
    int in_fd, out_fd, err_fd; /* the guest's stdin/stdout/stderr on the host */
    bool stdout_is_tty;        /* flush console output per write */
    /* Boots only (a restore maps its snapshot copy-on-write, 4 KiB at a time): back the
     * heap and large stacks with transparent huge pages, so that first touches cost one
     * fault per 2 MiB; host memory is then committed in 2 MiB steps there. */
    bool huge_pages;
    /* Files (guest ABI 4): the read-only file image, planned (include/tidal/fsimage.h)
     * and written into guest memory above the heap as the VM is built, then mapped
     * read-only; guest memory grows by its size rounded to 4 KiB, so --mem stays what
     * the program has for itself. */
    struct tidal_fs_plan *fs_plan;
    size_t fs_image_size;
    /* Bytes the scratch file system (/tmp, /out) may hold; guest memory grows by as
     * much. 0: TIDAL_SCRATCH_DEFAULT, taken from the heap without growing memory. */
    uint64_t scratch_max;
    bool collect_out; /* the guest hands its /out archive over with EXIT */
    bool stdin_file;  /* the file image holds stdin at /dev/stdin (TIDAL_BOOT_STDIN_FILE) */
};

#define TIDAL_SCRATCH_DEFAULT (1ull << 20)

enum tidal_exit_reason {
    TIDAL_EXIT_HALTED,  /* the guest exited; status holds its exit status */
    TIDAL_EXIT_CRASHED, /* a fault, a triple fault or an invalid call; report says which */
    TIDAL_EXIT_TIMEOUT, /* killed after timeout_sec */
    TIDAL_EXIT_ERROR,   /* the monitor or KVM failed; report says what */
    TIDAL_EXIT_READY,   /* the guest called tidal_ready(): snapshot it, or run it on */
    TIDAL_EXIT_PAUSED,  /* tidal_vm_request_pause() stopped it: it can run on */
};

/* Time spent bringing the VM up, in nanoseconds (teardown is timed by the caller
 * around tidal_vm_destroy). first_exit: from the first KVM_RUN to the first exit. */
struct tidal_vm_timing {
    uint64_t create_vm, memory, vcpu, load, first_exit, run;
};

#define TIDAL_MAX_EXIT_REASONS 64

struct tidal_run_result {
    enum tidal_exit_reason reason;
    int status;
    char report[2048];                                /* crash / error report, one paragraph */
    uint64_t exits_by_reason[TIDAL_MAX_EXIT_REASONS]; /* KVM_EXIT_* seen by the monitor */
    uint64_t calls_by_nr[8];                          /* TIDAL_CALL_* handled */
    uint64_t bytes_out;
    uint64_t stdout_errors; /* guest stdout the host could not write (see calls.h) */
    /* With collect_out, the guest's /out archive (abi.h, struct tidal_out_record) when
     * it exited through EXIT: inside guest memory, valid until tidal_vm_destroy. Only
     * its place was checked; its content is the guest's (tidal_fs_write_outputs). */
    const uint8_t *outputs;
    uint64_t outputs_len;
};

struct tidal_vm;

/* Pre-created VM shells (VM and vCPU with their CPU model, no memory), so that a
 * restore does not pay KVM_CREATE_VM and vCPU set-up. Thread-safe. */
struct tidal_shell_pool;
struct tidal_shell_pool *tidal_shell_pool_new(void);
/* Creates shells until `count` are ready. */
int tidal_shell_pool_fill(struct tidal_shell_pool *pool, unsigned count, struct tidal_err *err);
unsigned tidal_shell_pool_ready(struct tidal_shell_pool *pool);
void tidal_shell_pool_free(struct tidal_shell_pool *pool);

/* Probes KVM; a clear message when /dev/kvm is missing or unusable. */
int tidal_kvm_available(struct tidal_err *err);

/* Returns 0, TIDAL_CREATE_BAD_INPUT (the image, its size or the arguments are wrong:
 * the user's to fix; checked before KVM is opened), TIDAL_CREATE_NO_KVM (/dev/kvm
 * missing or unusable) or TIDAL_CREATE_SYSTEM (KVM or the host failed). On failure
 * *out may hold a partly built VM: pass it to tidal_vm_destroy. */
#define TIDAL_CREATE_SYSTEM (-1)
#define TIDAL_CREATE_BAD_INPUT (-2)
#define TIDAL_CREATE_NO_KVM (-3)
int tidal_vm_create(const struct tidal_vm_config *cfg, const uint8_t *elf, size_t elf_size,
                    const char *path, struct tidal_vm **out, struct tidal_err *err);
/* Runs until the guest stops or calls tidal_ready(); after TIDAL_EXIT_READY it may be
 * called again to run on. Counters in res accumulate over calls. */
void tidal_vm_run(struct tidal_vm *vm, struct tidal_run_result *res);
void tidal_vm_destroy(struct tidal_vm *vm);
/* For a VM that will only run from now on (no reuse, diff snapshot or memory change):
 * closes its VM descriptor, which its vCPU's keeps alive, so that a process holding
 * many idle VMs spends one descriptor on each. Not for a reused VM, nor one whose dirty
 * pages are tracked (a no-op for those). */
void tidal_vm_drop_vm_fd(struct tidal_vm *vm);

/* "io", "hlt", "shutdown"... for a KVM_EXIT_* number; NULL when unnamed. */
const char *tidal_kvm_exit_name(unsigned reason);

/* Gives the guest new stdin/stdout/stderr descriptors (e.g. a clone restored idle,
 * which gets its files only when it runs). The VM does not close them. */
void tidal_vm_set_io(struct tidal_vm *vm, int in_fd, int out_fd, int err_fd);

const struct tidal_vm_timing *tidal_vm_timing(const struct tidal_vm *vm);
/* CLOCK_MONOTONIC in nanoseconds: the clock of every timing the monitor reports. */
uint64_t tidal_now_ns(void);
bool tidal_vm_is_pvm(const struct tidal_vm *vm);

/* Appends the vCPU's binary statistics (KVM_GET_STATS_FD) that are non-zero as
 * "name": value pairs through `emit`. Returns -1 when the kernel has none. */
int tidal_vm_stats(struct tidal_vm *vm, void (*emit)(void *ctx, const char *name, uint64_t value),
                   void *ctx);

/* Asks the vCPU to stop at the next opportunity; tidal_vm_run then returns
 * TIDAL_EXIT_PAUSED and the VM can be saved and run on. Async-signal-safe: meant for
 * a signal handler on the thread that runs the VM (elsewhere the vCPU stops at its
 * next exit). */
void tidal_vm_request_pause(struct tidal_vm *vm);

/* The guest's latest tidal_progress(done, total); both 0 until it first reports.
 * Safe to call from any thread while the VM runs. */
void tidal_vm_progress(const struct tidal_vm *vm, uint64_t *done, uint64_t *total);

/* Writes out the console output the guest has published in its ring (tidal/abi.h).
 * The monitor does so at every exit and whenever the guest stops; a host that wants
 * a running guest's output sooner calls this, from any thread, e.g. on a timer.
 * Returns 0, or -1 when the guest left its ring malformed (err says how; the vCPU's
 * thread then ends the guest at its next exit). */
int tidal_vm_drain_console(struct tidal_vm *vm, struct tidal_err *err);

/* One stat by name (e.g. "insn_emulation", "exits"); -1 when absent. */
int tidal_vm_stat(struct tidal_vm *vm, const char *name, uint64_t *value);

#endif

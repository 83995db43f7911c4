/* The run loop: KVM_RUN until the guest exits, crashes, misbehaves or runs out of
 * time. Every exit is counted; only port TIDAL_PORT_CALL is a legal way out. */
#include "vm_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_SIGNAL (SIGRTMIN + 1)

/* The VM this thread runs, for the timeout signal handler. */
static _Thread_local struct tidal_vm *current_vm;
static _Thread_local volatile sig_atomic_t timed_out;

/* Makes the vCPU leave KVM_RUN (or not enter it: immediate_exit closes the race with
 * a signal that lands just before the ioctl) and cuts a monitor-side sleep short. */
static void stop_vcpu(struct tidal_vm *vm)
{
    vm->stop_io = 1;
    vm->run->immediate_exit = 1;
}

static void on_timeout(int sig)
{
    (void)sig;
    timed_out = 1;
    if (current_vm)
        stop_vcpu(current_vm);
}

void tidal_vm_request_pause(struct tidal_vm *vm)
{
    vm->pause_requested = 1;
    stop_vcpu(vm);
}

/* A per-thread timer, so concurrent VMs on several threads time out independently. */
static int arm_timer(double seconds, timer_t *timer, struct tidal_err *err)
{
    struct sigaction sa = {.sa_handler = on_timeout};
    sigemptyset(&sa.sa_mask);
    if (sigaction(TIMEOUT_SIGNAL, &sa, NULL) < 0)
        return tidal_err_set(err, "sigaction: %s", strerror(errno));
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = TIMEOUT_SIGNAL};
#ifdef sigev_notify_thread_id /* musl names the field; glibc before 2.37 does not */
    ev.sigev_notify_thread_id = gettid();
#else
    ev._sigev_un._tid = gettid();
#endif
    if (timer_create(CLOCK_MONOTONIC, &ev, timer) < 0)
        return tidal_err_set(err, "timer_create: %s", strerror(errno));
    struct itimerspec its = {.it_value.tv_sec = (time_t)seconds,
                             .it_value.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    if (timer_settime(*timer, 0, &its, NULL) < 0) {
        timer_delete(*timer);
        return tidal_err_set(err, "timer_settime: %s", strerror(errno));
    }
    return 0;
}

const char *tidal_kvm_exit_name(unsigned r)
{
    static const char *const names[] = {
        [KVM_EXIT_UNKNOWN] = "unknown",   [KVM_EXIT_IO] = "io",
        [KVM_EXIT_HLT] = "hlt",           [KVM_EXIT_MMIO] = "mmio",
        [KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
        [KVM_EXIT_INTR] = "intr",         [KVM_EXIT_INTERNAL_ERROR] = "internal_error"};
    return r < sizeof(names) / sizeof(names[0]) ? names[r] : NULL;
}

static void set_error(struct tidal_run_result *res, const char *fmt, const char *detail)
{
    res->reason = TIDAL_EXIT_ERROR;
    snprintf(res->report, sizeof(res->report), fmt, detail);
}

static bool handle_io(struct tidal_vm *vm, struct tidal_run_result *res)
{
    struct kvm_run *run = vm->run;
    if (run->io.port != TIDAL_PORT_CALL || run->io.direction != KVM_EXIT_IO_OUT ||
        run->io.size != 4 || run->io.count != 1) {
        char what[160];
        snprintf(what, sizeof(what),
                 "guest %s %u byte(s) x%u on I/O port 0x%x; Tidal guests talk to the monitor "
                 "only by a 4-byte out to port 0x%x",
                 run->io.direction == KVM_EXIT_IO_OUT ? "wrote" : "read", run->io.size,
                 run->io.count, run->io.port, TIDAL_PORT_CALL);
        tidal_crash_from_vcpu(vm, what, res->report, sizeof(res->report));
        res->reason = TIDAL_EXIT_CRASHED;
        return false;
    }
    /* Output published before the call comes out before the call's own */
    if (!tidal_vm_drain_or_crash(vm, res))
        return false;
    uint32_t gpa;
    memcpy(&gpa, (uint8_t *)run + run->io.data_offset, sizeof(gpa));
    struct tidal_call_result cr;
    enum tidal_call_outcome out = tidal_call_handle(&vm->mem, &vm->io, gpa, &cr);
    if (cr.nr < sizeof(res->calls_by_nr) / sizeof(res->calls_by_nr[0]))
        res->calls_by_nr[cr.nr]++;
    switch (out) {
    case TIDAL_CALL_CONTINUE:
        return true;
    case TIDAL_CALL_EXITED:
        res->reason = TIDAL_EXIT_HALTED;
        res->status = cr.status;
        res->outputs = cr.out_len ? vm->mem.base + cr.out_gpa : NULL;
        res->outputs_len = cr.out_len;
        return false;
    case TIDAL_CALL_FAULTED:
        res->reason = TIDAL_EXIT_CRASHED;
        tidal_crash_from_fault(vm, &cr.fault, res->report, sizeof(res->report));
        return false;
    case TIDAL_CALL_READIED:
        vm->ready_gpa = cr.ready_gpa;
        res->reason = TIDAL_EXIT_READY;
        return false;
    case TIDAL_CALL_INVALID: {
        char what[300];
        snprintf(what, sizeof(what), "invalid call: %s", cr.msg);
        res->reason = TIDAL_EXIT_CRASHED;
        tidal_crash_from_vcpu(vm, what, res->report, sizeof(res->report));
        return false;
    }
    }
    return false;
}

static bool dispatch(struct tidal_vm *vm, struct tidal_run_result *res)
{
    struct kvm_run *run = vm->run;
    char what[200];
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return handle_io(vm, res);
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_HLT:
        /* Interrupts are never enabled, so a halted guest can never wake. */
        snprintf(what, sizeof(what), "guest executed hlt with nothing to wake it");
        break;
    case KVM_EXIT_MMIO:
        snprintf(what, sizeof(what), "guest %s %u byte(s) at 0x%llx, outside guest memory",
                 run->mmio.is_write ? "wrote" : "read", run->mmio.len,
                 (unsigned long long)run->mmio.phys_addr);
        break;
    case KVM_EXIT_SHUTDOWN:
        snprintf(what, sizeof(what), "triple fault (an exception its handler could not take)");
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(what, sizeof(what), "KVM internal error, suberror %u%s", run->internal.suberror,
                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                     ? " (an instruction KVM could not emulate)"
                     : "");
        break;
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(what, sizeof(what), "VM entry failed, hardware reason 0x%llx",
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        tidal_crash_from_vcpu(vm, what, res->report, sizeof(res->report));
        res->reason = TIDAL_EXIT_ERROR;
        return false;
    default:
        snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
        break;
    }
    tidal_crash_from_vcpu(vm, what, res->report, sizeof(res->report));
    res->reason = TIDAL_EXIT_CRASHED;
    return false;
}

void tidal_vm_run(struct tidal_vm *vm, struct tidal_run_result *res)
{
    struct tidal_err err;
    timer_t timer;
    bool timer_armed = false;
    res->reason = TIDAL_EXIT_ERROR;
    res->status = 0;
    res->report[0] = 0;
    timed_out = 0;
    current_vm = vm;
    vm->io.interrupted = &vm->stop_io;
    uint64_t start = tidal_now_ns();
    bool first = !vm->started;
    if (first && vm->place_file_input)
        tidal_vm_place_file_input(vm);
    if (first) {
        /* The guest's clocks start from this pair, taken just before it runs. */
        struct timespec wall;
        uint64_t tsc = 0;
        clock_gettime(CLOCK_REALTIME, &wall);
        tidal_vcpu_guest_tsc(vm, &tsc);
        tidal_layout_set_clock(vm->mem.base, tsc,
                               (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec,
                               vm->mono_base_ns);
        /* A migration may have copied the boot page already. */
        tidal_guest_mark_written(&vm->mem, TIDAL_BOOT_INFO_GPA, sizeof(struct tidal_boot_info));
        vm->started = true;
        vm->deadline_ns = vm->timeout_sec > 0 ? start + (uint64_t)(vm->timeout_sec * 1e9) : 0;
    }
    if (vm->deadline_ns) {
        /* One deadline for the guest's whole life, however often it stops at READY. */
        double left = vm->deadline_ns > start ? (double)(vm->deadline_ns - start) / 1e9 : 0;
        if (arm_timer(left, &timer, &err)) {
            set_error(res, "%s", err.msg);
            return;
        }
        timer_armed = true;
    }

    bool running = true;
    while (running) {
        if (timed_out) {
            res->reason = TIDAL_EXIT_TIMEOUT;
            snprintf(res->report, sizeof(res->report), "guest killed after its %.3g s timeout",
                     vm->timeout_sec);
            break;
        }
        if (vm->pause_requested) {
            vm->pause_requested = 0;
            vm->stop_io = 0;
            res->reason = TIDAL_EXIT_PAUSED;
            break;
        }
        int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        if (first) {
            vm->timing.first_exit = tidal_now_ns() - start;
            first = false;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                vm->run->immediate_exit = 0;
                vm->kvm_run_interrupted = true;
                continue;
            }
            set_error(res, "KVM_RUN: %s", strerror(errno));
            break;
        }
        vm->kvm_run_exits++;
        if (vm->run->exit_reason < TIDAL_MAX_EXIT_REASONS)
            res->exits_by_reason[vm->run->exit_reason]++;
        running = dispatch(vm, res);
    }
    /* What the guest published before it stopped comes out before any report. A
     * crash already reported keeps its report; the ring's output is still written. */
    if (res->reason != TIDAL_EXIT_CRASHED && res->reason != TIDAL_EXIT_ERROR) {
        tidal_vm_drain_or_crash(vm, res);
    } else {
        struct tidal_err ignored;
        tidal_vm_drain_console(vm, &ignored);
    }
    vm->timing.run += tidal_now_ns() - start;
    res->bytes_out = vm->io.bytes_out;
    res->stdout_errors = vm->io.stdout_errors;
    if (timer_armed)
        timer_delete(timer);
    current_vm = NULL;
}

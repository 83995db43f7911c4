/* Reusing a VM in place (tidal/reuse.h): the reset after each request, the state it
 * resets to, and the check that it was exact. */
#include "tidal/reuse.h"
#include "reset_msrs.h"
#include "vm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Every so often the hot pages are protected again, so a page that requests stopped
 * writing does not stay on the copy list forever. */
#define RELEARN_EVERY 256

/* The vCPU at the template point. */
struct vcpu_point {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_vcpu_events events;
    struct kvm_xsave xsave;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs debugregs;
};

struct tidal_reuse {
    const uint8_t *template_mem;
    uint64_t npages;
    size_t words;
    uint64_t *kvm_dirty, *to_clear;
    /* Pages the guest wrote in the previous request: a page written by two requests
     * in a row is taken to be written by every request ("hot"): it stays writable
     * and is copied back each time. */
    uint64_t *prev_dirty;
    bool manual_protect;
    bool sync_regs;
    struct vcpu_point point;
    struct reset_msrs msrs;
    uint64_t generation;   /* the template's tidal_ready_info.generation */
    uint64_t mono_base_ns; /* the guest's CLOCK_MONOTONIC at the template point */
    uint64_t begun_ns;     /* host CLOCK_MONOTONIC when reuse began */
    uint64_t resets;
    /* The vCPU's KVM exit count (all exits, in-kernel ones too) and the monitor's
     * count of exits it saw, at the last reset: see request_was_quiet(). */
    bool exits_stat;
    uint64_t kvm_exits, monitor_exits;
};

#define SYNC_FIELDS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

void tidal_reuse_free(struct tidal_reuse *r)
{
    if (!r)
        return;
    free(r->kvm_dirty);
    free(r->to_clear);
    free(r->prev_dirty);
    tidal_reset_msrs_free(&r->msrs);
    free(r);
}

bool tidal_reuse_verify_enabled(void)
{
    const char *v = getenv("TIDAL_VERIFY_RESET");
    return v && *v && strcmp(v, "0") != 0;
}

void tidal_vm_set_capture(struct tidal_vm *vm, struct tidal_out_buf *out, struct tidal_out_buf *err)
{
    vm->io.capture[0] = out;
    vm->io.capture[1] = err;
}

static int vcpu_ioctl(struct tidal_vm *vm, unsigned long req, void *arg, const char *name,
                      struct tidal_err *err)
{
    if (ioctl(vm->vcpu_fd, req, arg) < 0)
        return tidal_err_set(err, "%s: %s", name, strerror(errno));
    return 0;
}

/* The registers that sync_regs carries, read the same way KVM will report them after
 * every exit, so later comparisons are like for like. */
static int read_synced(struct tidal_vm *vm, struct vcpu_point *p, struct tidal_err *err)
{
    if (vm->reuse && vm->reuse->sync_regs) {
        vm->run->kvm_valid_regs = SYNC_FIELDS;
        if (tidal_vm_run_no_entry(vm, err))
            return -1;
        p->regs = vm->run->s.regs.regs;
        p->sregs = vm->run->s.regs.sregs;
        p->events = vm->run->s.regs.events;
        return 0;
    }
    return vcpu_ioctl(vm, KVM_GET_REGS, &p->regs, "KVM_GET_REGS", err) ||
           vcpu_ioctl(vm, KVM_GET_SREGS, &p->sregs, "KVM_GET_SREGS", err) ||
           vcpu_ioctl(vm, KVM_GET_VCPU_EVENTS, &p->events, "KVM_GET_VCPU_EVENTS", err);
}

static int read_point(struct tidal_vm *vm, struct vcpu_point *p, struct tidal_err *err)
{
    memset(p, 0, sizeof(*p));
    if (read_synced(vm, p, err) || vcpu_ioctl(vm, KVM_GET_XSAVE, &p->xsave, "KVM_GET_XSAVE", err) ||
        (vm->cr4_osxsave && vcpu_ioctl(vm, KVM_GET_XCRS, &p->xcrs, "KVM_GET_XCRS", err)) ||
        vcpu_ioctl(vm, KVM_GET_DEBUGREGS, &p->debugregs, "KVM_GET_DEBUGREGS", err))
        return -1;
    return 0;
}

static bool kvm_has(struct tidal_vm *vm, long cap, long *value)
{
    int r = ioctl(vm->kvm->fd, KVM_CHECK_EXTENSION, cap);
    if (value)
        *value = r;
    return r > 0;
}

static int start_dirty_log(struct tidal_vm *vm, struct tidal_reuse *r, struct tidal_err *err)
{
    long modes = 0;
    if (kvm_has(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, &modes) &&
        (modes & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
        struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                                     .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE};
        r->manual_protect = ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
    }
    return tidal_vm_set_memslot(vm, KVM_MEM_LOG_DIRTY_PAGES, err);
}

/* Copies back every page that differs from the template: the restore's own writes,
 * made before the dirty log started. */
static void align_with_template(struct tidal_vm *vm, const uint8_t *tmpl)
{
    for (uint64_t off = 0; off < vm->mem.size; off += TIDAL_PAGE_SIZE)
        if (memcmp(vm->mem.base + off, tmpl + off, TIDAL_PAGE_SIZE))
            memcpy(vm->mem.base + off, tmpl + off, TIDAL_PAGE_SIZE);
}

int tidal_vm_reuse_begin(struct tidal_vm *vm, const uint8_t *template_mem, struct tidal_err *err)
{
    if (vm->reuse || vm->started || !vm->ready_gpa)
        return tidal_err_set(err, "only a VM restored at its tidal_ready() point, not yet run, "
                                  "can be reused");
    struct tidal_reuse *r = calloc(1, sizeof(*r));
    if (!r)
        return tidal_err_set(err, "out of memory");
    vm->reuse = r;
    vm->place_file_input = false; /* each request's input is placed by reuse_prepare */
    r->template_mem = template_mem;
    r->npages = vm->mem.size / TIDAL_PAGE_SIZE;
    r->words = tidal_vm_dirty_words(vm);
    r->kvm_dirty = calloc(r->words, sizeof(uint64_t));
    r->to_clear = calloc(r->words, sizeof(uint64_t));
    r->prev_dirty = calloc(r->words, sizeof(uint64_t));
    if (!vm->mem.host_dirty)
        vm->mem.host_dirty = calloc(r->words, sizeof(uint64_t));
    if (!r->kvm_dirty || !r->to_clear || !r->prev_dirty || !vm->mem.host_dirty)
        return tidal_err_set(err, "out of memory for the dirty bitmaps");
    long fields = 0;
    r->sync_regs = kvm_has(vm, KVM_CAP_SYNC_REGS, &fields) && (fields & SYNC_FIELDS) == SYNC_FIELDS;

    struct tidal_ready_info info;
    memcpy(&info, template_mem + vm->ready_gpa, sizeof(info));
    r->generation = info.generation;
    r->mono_base_ns = vm->mono_base_ns;
    r->begun_ns = tidal_now_ns();

    align_with_template(vm, template_mem);
    if (read_point(vm, &r->point, err) || tidal_reset_msrs_init(vm, &r->msrs, err) ||
        start_dirty_log(vm, r, err))
        return -1;
    r->exits_stat = tidal_vm_stat(vm, "exits", &r->kvm_exits) == 0;
    r->monitor_exits = vm->kvm_run_exits;
    return 0;
}

int tidal_vm_reuse_prepare(struct tidal_vm *vm, const void *input, size_t len, uint64_t request_id,
                           size_t *placed, struct tidal_err *err)
{
    struct tidal_reuse *r = vm->reuse;
    if (!r)
        return tidal_err_set(err, "VM is not being reused");
    struct tidal_ready_info info;
    memcpy(&info, vm->mem.base + vm->ready_gpa, sizeof(info));
    /* The window is the guest's word: a bad one just means no placed input. */
    uint64_t n = len < info.input_cap ? len : info.input_cap;
    uint8_t *window = n ? tidal_guest_range(&vm->mem, info.input_gpa, n, 1) : NULL;
    if (!window)
        n = 0;
    if (n) {
        memcpy(window, input, n);
        tidal_guest_mark_written(&vm->mem, info.input_gpa, n);
    }
    *placed = n;
    uint64_t flags =
        window || !len ? TIDAL_INPUT_PLACED | (n == len ? TIDAL_INPUT_COMPLETE : 0) : 0;
    if (!info.input_cap)
        flags = 0; /* a guest without a window reads all of stdin through calls */
    if (tidal_vm_write_ready_info(vm, r->generation + 1, request_id, n, flags, err))
        return -1;
    /* tidal_vm_run starts the clocks and the timeout afresh on a VM not yet started;
     * monotonic time goes on from the template point by the time elapsed since. */
    vm->started = false;
    vm->mono_base_ns = r->mono_base_ns + (tidal_now_ns() - r->begun_ns);
    tidal_guest_mark_written(&vm->mem, TIDAL_BOOT_INFO_GPA, sizeof(struct tidal_boot_info));
    vm->io.bytes_out = 0;
    vm->io.stdout_errors = 0;
    return 0;
}

/* Copies back every page written since the last reset; decides which to protect. */
static int reset_memory(struct tidal_vm *vm, struct tidal_reset_counts *c, struct tidal_err *err)
{
    struct tidal_reuse *r = vm->reuse;
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = r->kvm_dirty};
    memset(r->kvm_dirty, 0, r->words * sizeof(uint64_t));
    c->kvm_ioctls++;
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
        return tidal_err_set(err, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
    bool relearn = ++r->resets % RELEARN_EVERY == 0;
    bool any_clear = false;
    for (size_t w = 0; w < r->words; w++) {
        uint64_t guest = r->kvm_dirty[w], host = vm->mem.host_dirty[w];
        if (w == r->words - 1 && r->npages % 64) {
            guest &= (1ull << (r->npages % 64)) - 1;
            host &= (1ull << (r->npages % 64)) - 1;
        }
        if (!(guest | host | r->prev_dirty[w])) {
            r->to_clear[w] = 0; /* most of memory: nothing written, nothing to remember */
            continue;
        }
        uint64_t hot = r->manual_protect && !relearn ? guest & r->prev_dirty[w] : 0;
        uint64_t clear = guest & ~hot;
        r->prev_dirty[w] = relearn ? 0 : guest;
        for (uint64_t bits = guest | host; bits; bits &= bits - 1) {
            size_t off = (w * 64 + (unsigned)__builtin_ctzll(bits)) * TIDAL_PAGE_SIZE;
            memcpy(vm->mem.base + off, r->template_mem + off, TIDAL_PAGE_SIZE);
        }
        c->pages_reset += (uint64_t)__builtin_popcountll(guest | host);
        c->guest_dirty += (uint64_t)__builtin_popcountll(guest);
        c->host_dirty += (uint64_t)__builtin_popcountll(host & ~guest);
        c->hot_pages += (uint64_t)__builtin_popcountll(hot);
        c->reprotected += (uint64_t)__builtin_popcountll(clear);
        r->to_clear[w] = clear;
        any_clear |= clear != 0;
        vm->mem.host_dirty[w] = 0;
    }
    if (!r->manual_protect || !any_clear)
        return 0; /* without manual protect, reading the log re-protected every page */
    struct kvm_clear_dirty_log clr = {
        .slot = 0, .first_page = 0, .num_pages = (uint32_t)r->npages, .dirty_bitmap = r->to_clear};
    c->kvm_ioctls++;
    if (ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
        return tidal_err_set(err, "KVM_CLEAR_DIRTY_LOG: %s", strerror(errno));
    return 0;
}

static int set_ioctl(struct tidal_vm *vm, unsigned long req, const void *arg, const char *name,
                     struct tidal_reset_counts *c, struct tidal_err *err)
{
    c->kvm_ioctls++;
    return vcpu_ioctl(vm, req, (void *)arg, name, err);
}

/* Whether every exit of the request since the last reset came to the monitor: then
 * the guest executed nothing that KVM intercepts and handles by itself, and so did
 * not change XCR0 (XSETBV always exits), the debug registers (the first access after
 * each entry exits, on VMX and SVM as on PVM) or the TSC (writes always exit). Some
 * MSRs, though, a VMX or SVM guest writes without an exit: those are reset always. */
static bool request_was_quiet(struct tidal_vm *vm, struct tidal_reuse *r)
{
    uint64_t kvm_exits = 0;
    bool read = r->exits_stat && tidal_vm_stat(vm, "exits", &kvm_exits) == 0;
    bool quiet = read && !vm->kvm_run_interrupted &&
                 kvm_exits - r->kvm_exits <= vm->kvm_run_exits - r->monitor_exits;
    r->kvm_exits = kvm_exits;
    r->monitor_exits = vm->kvm_run_exits;
    vm->kvm_run_interrupted = false;
    return quiet;
}

/* Registers through sync_regs where KVM offers it (applied at the next KVM_RUN, no
 * ioctl), and only the parts a request changed; XSAVE and the MSRs by ioctl, always,
 * since a guest changes them without the monitor seeing it; the rest by ioctl after
 * a request that was not quiet. */
static int reset_vcpu(struct tidal_vm *vm, struct tidal_reset_counts *c, struct tidal_err *err)
{
    struct tidal_reuse *r = vm->reuse;
    const struct vcpu_point *p = &r->point;
    bool quiet = request_was_quiet(vm, r);
    c->quiet = quiet;
    if (!quiet)
        tidal_vcpu_recheck_tsc(vm);
    /* The request's last exit was an `out` that KVM finishes (steps over) at the next
     * KVM_RUN, after applying sync_regs, and only if RIP still points at it. It does
     * not when the out lies elsewhere than the template RIP (guestlib's READY has an
     * `out` of its own); when it lies there, or RIP is unknown, finish it now, so the
     * template's instruction is not skipped. */
    if (!r->sync_regs || vm->run->s.regs.regs.rip == p->regs.rip) {
        c->kvm_ioctls++;
        if (tidal_vm_run_no_entry(vm, err))
            return -1;
    }
    if (r->sync_regs) {
        struct kvm_sync_regs *s = &vm->run->s.regs;
        uint64_t dirty = KVM_SYNC_X86_REGS;
        s->regs = p->regs;
        if (memcmp(&s->sregs, &p->sregs, sizeof(p->sregs))) {
            s->sregs = p->sregs;
            dirty |= KVM_SYNC_X86_SREGS;
        }
        if (memcmp(&s->events, &p->events, sizeof(p->events))) {
            s->events = p->events;
            dirty |= KVM_SYNC_X86_EVENTS;
        }
        vm->run->kvm_dirty_regs = dirty;
    } else if (set_ioctl(vm, KVM_SET_SREGS, &p->sregs, "KVM_SET_SREGS", c, err) ||
               set_ioctl(vm, KVM_SET_REGS, &p->regs, "KVM_SET_REGS", c, err) ||
               set_ioctl(vm, KVM_SET_VCPU_EVENTS, &p->events, "KVM_SET_VCPU_EVENTS", c, err)) {
        return -1;
    }
    if ((!quiet && vm->cr4_osxsave &&
         set_ioctl(vm, KVM_SET_XCRS, &p->xcrs, "KVM_SET_XCRS", c, err)) ||
        set_ioctl(vm, KVM_SET_XSAVE, &p->xsave, "KVM_SET_XSAVE", c, err) ||
        (!quiet && set_ioctl(vm, KVM_SET_DEBUGREGS, &p->debugregs, "KVM_SET_DEBUGREGS", c, err)))
        return -1;
    c->kvm_ioctls++;
    return tidal_reset_msrs_apply(vm, &r->msrs, !quiet, err);
}

int tidal_vm_reset(struct tidal_vm *vm, struct tidal_reset_counts *counts, struct tidal_err *err)
{
    memset(counts, 0, sizeof(*counts));
    if (!vm->reuse)
        return tidal_err_set(err, "VM is not being reused");
    if (reset_vcpu(vm, counts, err) || reset_memory(vm, counts, err))
        return -1;
    vm->io.capture[0] = vm->io.capture[1] = NULL;
    return 0;
}

static int differs(struct tidal_err *err, const char *what)
{
    return tidal_err_set(err, "after the reset, %s differs from the template point", what);
}

int tidal_vm_reuse_verify(struct tidal_vm *vm, struct tidal_err *err)
{
    struct tidal_reuse *r = vm->reuse;
    if (!r)
        return tidal_err_set(err, "VM is not being reused");
    for (uint64_t off = 0; off < vm->mem.size; off += TIDAL_PAGE_SIZE)
        if (memcmp(vm->mem.base + off, r->template_mem + off, TIDAL_PAGE_SIZE)) {
            char what[64];
            snprintf(what, sizeof(what), "guest page 0x%llx", (unsigned long long)off);
            return differs(err, what);
        }
    /* Reading applies the pending sync_regs writes first (an immediate-exit run). */
    struct vcpu_point now;
    if (read_point(vm, &now, err))
        return -1;
    const struct vcpu_point *p = &r->point;
    if (memcmp(&now.regs, &p->regs, sizeof(p->regs)))
        return differs(err, "a general-purpose register or RIP/RFLAGS");
    if (memcmp(&now.sregs, &p->sregs, sizeof(p->sregs)))
        return differs(err, "a segment, control or descriptor-table register");
    if (memcmp(&now.events, &p->events, sizeof(p->events)))
        return differs(err, "the pending-event state");
    if (memcmp(&now.xsave, &p->xsave, sizeof(p->xsave)))
        return differs(err, "the FPU/SSE/AVX state (XSAVE area)");
    if (memcmp(&now.xcrs, &p->xcrs, sizeof(p->xcrs)))
        return differs(err, "XCR0");
    if (memcmp(&now.debugregs, &p->debugregs, sizeof(p->debugregs)))
        return differs(err, "a debug register");
    return tidal_reset_msrs_verify(vm, &r->msrs, err);
}

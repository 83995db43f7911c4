/* Saving a VM's state and building a VM from saved state (tidal/vmstate.h). */
#include "vm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

const uint8_t *tidal_vm_memory(const struct tidal_vm *vm, uint64_t *size)
{
    *size = vm->mem.size;
    return vm->mem.base;
}

int tidal_vm_run_no_entry(struct tidal_vm *vm, struct tidal_err *err)
{
    vm->run->immediate_exit = 1;
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int e = errno;
    vm->run->immediate_exit = 0;
    if (r == 0 || e != EINTR)
        return tidal_err_set(err, "KVM_RUN without entering the guest: %s",
                             r == 0 ? "it entered the guest" : strerror(e));
    return 0;
}

static uint64_t guest_monotonic(struct tidal_vm *vm)
{
    const struct tidal_boot_info *bi =
        (const struct tidal_boot_info *)(vm->mem.base + TIDAL_BOOT_INFO_GPA);
    uint64_t tsc = bi->boot_tsc;
    tidal_vcpu_read_tsc(vm, &tsc);
    uint64_t khz = bi->tsc_khz ? bi->tsc_khz : 1000000;
    return bi->mono_base_ns + (uint64_t)((unsigned __int128)(tsc - bi->boot_tsc) * 1000000u / khz);
}

int tidal_vm_save_state(struct tidal_vm *vm, struct tidal_vcpu_state *vcpu,
                        struct tidal_vm_state *state, struct tidal_err *err)
{
    if (tidal_vm_drain_console(vm, err) || tidal_vm_run_no_entry(vm, err) ||
        tidal_vcpu_save(vm, vcpu, err))
        return -1;
    /* A guest paused anywhere else has no ready info: it resumes where it was. */
    struct tidal_ready_info info = {0};
    if (vm->ready_gpa)
        memcpy(&info, vm->mem.base + vm->ready_gpa, sizeof(info));
    *state = (struct tidal_vm_state){
        .abi_version = TIDAL_ABI_VERSION,
        .flags = vm->fsgsbase ? TIDAL_STATE_FSGSBASE : 0,
        .mem_size = vm->mem.size,
        .ready_gpa = vm->ready_gpa,
        .guest_mono_ns = guest_monotonic(vm),
        .generation = info.generation,
        .features = vm->features,
        .console_ring_gpa = vm->console_ring.gpa,
        .console_ring_size = vm->console_ring.size,
    };
    return 0;
}

int tidal_vm_write_ready_info(struct tidal_vm *vm, uint64_t generation, uint64_t clone_id,
                              uint64_t input_len, uint64_t input_flags, struct tidal_err *err)
{
    struct tidal_ready_info info;
    memcpy(&info, vm->mem.base + vm->ready_gpa, sizeof(info));
    info.generation = generation;
    if (clone_id != TIDAL_CLONE_ID_KEEP)
        info.clone_id = clone_id;
    info.input_len = input_len;
    info.input_flags = input_flags;
    if (getrandom(info.entropy, sizeof(info.entropy), 0) != (ssize_t)sizeof(info.entropy))
        return tidal_err_set(err, "getrandom: %s", strerror(errno));
    memcpy(vm->mem.base + vm->ready_gpa, &info, sizeof(info));
    tidal_guest_mark_written(&vm->mem, vm->ready_gpa, sizeof(info));
    return 0;
}

void tidal_vm_place_file_input(struct tidal_vm *vm)
{
    vm->place_file_input = false;
    struct tidal_ready_info info;
    memcpy(&info, vm->mem.base + vm->ready_gpa, sizeof(info));
    struct stat st;
    int fd = vm->io.in_fd;
    if (!info.input_cap || fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
        return;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0)
        return;
    uint64_t left = st.st_size > at ? (uint64_t)(st.st_size - at) : 0;
    uint64_t n = left < info.input_cap ? left : info.input_cap;
    /* The window is the guest's word: a bad one just means no placed input. */
    uint8_t *window = n ? tidal_guest_range(&vm->mem, info.input_gpa, n, 1) : NULL;
    if (n && !window)
        return;
    ssize_t got = n ? pread(fd, window, n, at) : 0;
    if (got < 0 || lseek(fd, at + got, SEEK_SET) < 0)
        return;
    tidal_guest_mark_written(&vm->mem, info.input_gpa, (uint64_t)got);
    info.input_len = (uint64_t)got;
    info.input_flags = TIDAL_INPUT_PLACED | ((uint64_t)got == left ? TIDAL_INPUT_COMPLETE : 0);
    memcpy(vm->mem.base + vm->ready_gpa, &info, sizeof(info));
    tidal_guest_mark_written(&vm->mem, vm->ready_gpa, sizeof(info));
}

static int check_state(const struct tidal_vm_state *st, struct tidal_err *err)
{
    if (st->abi_version != TIDAL_ABI_VERSION)
        return tidal_err_set(err,
                             "saved guest speaks guest ABI v%u, this monitor speaks v%d: "
                             "boot it again from its image",
                             st->abi_version, TIDAL_ABI_VERSION);
    if (tidal_layout_check_mem(st->mem_size, err))
        return -1;
    if (st->ready_gpa && (st->ready_gpa < TIDAL_IMAGE_MIN_GPA || st->ready_gpa % 8 ||
                          st->ready_gpa > st->mem_size - sizeof(struct tidal_ready_info)))
        return tidal_err_set(err, "saved ready-info address 0x%llx is outside guest memory",
                             (unsigned long long)st->ready_gpa);
    struct tidal_console_ring_place ring = {st->console_ring_gpa, st->console_ring_size};
    char why[200];
    if (tidal_console_ring_check(&ring, why, sizeof(why)))
        return tidal_err_set(err, "saved %s", why);
    if (ring.gpa && (ring.gpa < TIDAL_IMAGE_MIN_GPA || ring.gpa > st->mem_size ||
                     sizeof(struct tidal_console_ring) + ring.size > st->mem_size - ring.gpa))
        return tidal_err_set(err, "saved console ring at 0x%llx is outside guest memory",
                             (unsigned long long)ring.gpa);
    return 0;
}

int tidal_vm_restore(const struct tidal_vm_config *cfg, const struct tidal_vcpu_state *vcpu,
                     const struct tidal_vm_state *state, uint8_t *mem, uint64_t clone_id,
                     struct tidal_shell_pool *pool, struct tidal_vm **out, struct tidal_err *err)
{
    /* The snapshot's memory is the whole guest, files and scratch space included:
     * nothing is added to it (a size past the mapping would be unmapped with it). */
    struct tidal_vm_config sized = *cfg;
    sized.mem_size = state->mem_size;
    sized.fs_plan = NULL;
    sized.fs_image_size = 0;
    sized.scratch_max = 0;
    struct tidal_vm *vm = *out = tidal_vm_alloc(&sized, pool);
    if (!vm)
        return tidal_err_set(err, "out of memory");
    vm->mem.base = mem; /* owned from here on, so tidal_vm_destroy releases it */
    if (check_state(state, err))
        return TIDAL_CREATE_BAD_INPUT;
    int r = tidal_vm_bringup(vm, mem, err);
    if (r)
        return r;
    uint64_t t0 = tidal_now_ns();
    if (tidal_cpu_features_check(&state->features, &vm->features, err))
        return TIDAL_CREATE_BAD_INPUT;
    if ((r = tidal_vcpu_load(vm, vcpu, err)))
        return r;
    vm->fsgsbase = state->flags & TIDAL_STATE_FSGSBASE;
    vm->ready_gpa = state->ready_gpa;
    vm->console_ring =
        (struct tidal_console_ring_place){state->console_ring_gpa, state->console_ring_size};
    vm->mono_base_ns = state->guest_mono_ns;
    if (vm->ready_gpa && tidal_vm_write_ready_info(vm, state->generation + 1, clone_id, 0, 0, err))
        return TIDAL_CREATE_SYSTEM;
    vm->place_file_input = vm->ready_gpa != 0;
    struct tidal_boot_info *bi = (struct tidal_boot_info *)(vm->mem.base + TIDAL_BOOT_INFO_GPA);
    bi->tsc_khz = vm->tsc_khz ? vm->tsc_khz : bi->tsc_khz;
    bi->flags = (bi->flags & ~(uint32_t)TIDAL_BOOT_STDOUT_TTY) |
                (cfg->stdout_is_tty ? TIDAL_BOOT_STDOUT_TTY : 0u);
    vm->timing.load = tidal_now_ns() - t0;
    return 0;
}

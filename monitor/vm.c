/* VM lifecycle: KVM handles, guest memory, image load, vCPU; and teardown. */
#include "vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t tidal_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int open_kvm(struct tidal_err *err)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return tidal_err_set(err,
                             "/dev/kvm: %s (Tidal needs the KVM device: load kvm_intel or "
                             "kvm_amd, and give this user read/write access to /dev/kvm)",
                             strerror(errno));
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        close(fd);
        return tidal_err_set(err, "/dev/kvm: KVM API version %d (expected %d)", version,
                             KVM_API_VERSION);
    }
    static const struct {
        int cap;
        const char *name;
    } needed[] = {{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                  {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
                  {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"}};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
            close(fd);
            return tidal_err_set(err, "/dev/kvm: this kernel lacks %s", needed[i].name);
        }
    }
    return fd;
}

int tidal_kvm_available(struct tidal_err *err)
{
    int fd = open_kvm(err);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int setup_memory(struct tidal_vm *vm, struct tidal_err *err)
{
    /* Lazily backed: a small guest touches few pages, and untouched ones cost the
     * host nothing. */
    void *p = mmap(NULL, vm->mem.size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return tidal_err_set(err, "guest memory: mmap of %llu bytes: %s",
                             (unsigned long long)vm->mem.size, strerror(errno));
    vm->mem.base = p;
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = vm->mem.size,
        .userspace_addr = (uintptr_t)p,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return tidal_err_set(err, "KVM_SET_USER_MEMORY_REGION (%llu bytes): %s",
                             (unsigned long long)vm->mem.size, strerror(errno));
    return 0;
}

static int setup_vcpu_fds(struct tidal_vm *vm, struct tidal_err *err)
{
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        return tidal_err_set(err, "KVM_CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        return tidal_err_set(err, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    vm->run_size = (size_t)size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        return tidal_err_set(err, "mmap of the vCPU run area: %s", strerror(errno));
    }
    return 0;
}

static int load_image(struct tidal_vm *vm, const struct tidal_vm_config *cfg, const uint8_t *elf,
                      size_t elf_size, struct tidal_err *err)
{
    tidal_elf_load(elf, &vm->img, vm->mem.base);
    if (tidal_layout_map(&vm->pt, vm->mem.base, &vm->layout, &vm->img, err))
        return TIDAL_CREATE_BAD_INPUT;
    tidal_layout_write_cpu_tables(vm->mem.base, &vm->img.note);
    struct tidal_boot_args args = {
        .argc = cfg->argc,
        .argv = cfg->argv,
        .envc = cfg->envc,
        .envp = cfg->envp,
        .flags = (cfg->stdout_is_tty ? TIDAL_BOOT_STDOUT_TTY : 0u) |
                 (vm->fsgsbase ? TIDAL_BOOT_FSGSBASE : 0u),
        .tsc_khz = vm->tsc_khz,
    };
    if (getrandom(args.entropy, sizeof(args.entropy), 0) != (ssize_t)sizeof(args.entropy))
        return tidal_err_set(err, "getrandom: %s", strerror(errno));
    if (tidal_layout_write_boot(vm->mem.base, &vm->layout, &args, err))
        return TIDAL_CREATE_BAD_INPUT;
    vm->symbols = tidal_symtab_load(elf, elf_size);
    return 0;
}

int tidal_vm_create(const struct tidal_vm_config *cfg, const uint8_t *elf, size_t elf_size,
                    const char *path, struct tidal_vm **out, struct tidal_err *err)
{
    struct tidal_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return tidal_err_set(err, "out of memory");
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = vm->stats_fd = -1;
    vm->mem.size = cfg->mem_size ? cfg->mem_size : TIDAL_MEM_DEFAULT;
    vm->timeout_sec = cfg->timeout_sec;
    vm->io = (struct tidal_call_io){.in_fd = cfg->in_fd, .out_fd = cfg->out_fd,
                                     .err_fd = cfg->err_fd};
    *out = vm;
    /* A bad image is reported before KVM is touched: quicker, and it works on
     * machines without /dev/kvm. */
    if (tidal_layout_check_mem(vm->mem.size, err) ||
        tidal_elf_parse(elf, elf_size, path, TIDAL_IMAGE_MIN_GPA, vm->mem.size, &vm->img, err) ||
        tidal_layout_plan(vm->mem.size, &vm->img, &vm->layout, err))
        return TIDAL_CREATE_BAD_INPUT;

    uint64_t t0 = tidal_now_ns();
    if ((vm->kvm_fd = open_kvm(err)) < 0)
        return TIDAL_CREATE_NO_KVM;
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return tidal_err_set(err, "KVM_CREATE_VM: %s", strerror(errno));
    /* Only VMX without unrestricted guest uses this area, but it must not overlap
     * guest memory, which TIDAL_MEM_MAX guarantees. */
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
        return tidal_err_set(err, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    uint64_t t1 = tidal_now_ns();
    if (setup_memory(vm, err))
        return -1;
    uint64_t t2 = tidal_now_ns();
    if (setup_vcpu_fds(vm, err) || tidal_vcpu_setup(vm, err))
        return -1;
    uint64_t t3 = tidal_now_ns();
    int r = load_image(vm, cfg, elf, elf_size, err);
    if (r)
        return r;
    if (tidal_vcpu_set_boot_state(vm, err))
        return TIDAL_CREATE_SYSTEM;
    uint64_t t4 = tidal_now_ns();
    vm->timing.create_vm = t1 - t0;
    vm->timing.memory = t2 - t1;
    vm->timing.vcpu = t3 - t2;
    vm->timing.load = t4 - t3;
    return 0;
}

void tidal_vm_destroy(struct tidal_vm *vm)
{
    if (!vm)
        return;
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->stats_fd >= 0)
        close(vm->stats_fd);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->mem.base)
        munmap(vm->mem.base, vm->mem.size);
    tidal_symtab_free(vm->symbols);
    free(vm);
}

const struct tidal_vm_timing *tidal_vm_timing(const struct tidal_vm *vm)
{
    return &vm->timing;
}

bool tidal_vm_is_pvm(const struct tidal_vm *vm)
{
    return vm->pvm;
}

/* VM lifecycle: KVM handles, guest memory, image load, vCPU; and teardown. */
#include "vm_internal.h"
#include "tidal/fsimage.h"
#include "tidal/host_limits.h"

#include <errno.h>
#include <pthread.h>
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

/* `mem`: memory prepared by the caller (a restored snapshot), or NULL for fresh. */
static int setup_memory(struct tidal_vm *vm, uint8_t *mem, struct tidal_err *err)
{
    if (mem)
        vm->mem.base = mem;
    else if (tidal_guest_memory_map(vm, err))
        return -1;
    return tidal_vm_set_memslot(vm, 0, err);
}

int tidal_vm_set_memslot(struct tidal_vm *vm, uint32_t flags, struct tidal_err *err)
{
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .flags = flags,
        .guest_phys_addr = 0,
        .memory_size = vm->mem.size,
        .userspace_addr = (uintptr_t)vm->mem.base,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return tidal_err_set(err, "KVM_SET_USER_MEMORY_REGION (%llu bytes, flags 0x%x): %s",
                             (unsigned long long)vm->mem.size, flags, strerror(errno));
    return 0;
}

static int setup_vcpu_fds(struct tidal_vm *vm, struct tidal_err *err)
{
    char why[300];
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        return tidal_err_set(err, "KVM_CREATE_VCPU: %s",
                             tidal_describe_errno(errno, why, sizeof(why)));
    vm->run_size = (size_t)vm->kvm->run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        return tidal_err_set(err, "mmap of the vCPU run area: %s",
                             tidal_describe_errno(errno, why, sizeof(why)));
    }
    return 0;
}

static int load_image(struct tidal_vm *vm, const struct tidal_vm_config *cfg, const uint8_t *elf,
                      struct tidal_err *err)
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
        .scratch_max = cfg->scratch_max ? cfg->scratch_max : TIDAL_SCRATCH_DEFAULT,
    };
    if (cfg->collect_out)
        args.flags |= TIDAL_BOOT_COLLECT_OUT;
    if (cfg->stdin_file)
        args.flags |= TIDAL_BOOT_STDIN_FILE;
    if (cfg->fs_plan && tidal_fs_write(cfg->fs_plan, vm->mem.base + vm->layout.fs_start, err))
        return TIDAL_CREATE_BAD_INPUT;
    if (getrandom(args.entropy, sizeof(args.entropy), 0) != (ssize_t)sizeof(args.entropy))
        return tidal_err_set(err, "getrandom: %s", strerror(errno));
    if (tidal_layout_write_boot(vm->mem.base, &vm->layout, &args, err))
        return TIDAL_CREATE_BAD_INPUT;
    return 0;
}

static void apply_config(struct tidal_vm *vm, const struct tidal_vm_config *cfg)
{
    vm->mem.size = cfg->mem_size ? cfg->mem_size : TIDAL_MEM_DEFAULT;
    /* Files and scratch space come on top of what the program asked for; a sum past
     * the supported range is refused by the layout, naming it. */
    vm->mem.size += ((uint64_t)cfg->fs_image_size + 4095) & ~4095ull;
    vm->mem.size += (cfg->scratch_max + 4095) & ~4095ull;
    vm->timeout_sec = cfg->timeout_sec;
    vm->huge_pages = cfg->huge_pages;
    vm->io =
        (struct tidal_call_io){.in_fd = cfg->in_fd, .out_fd = cfg->out_fd, .err_fd = cfg->err_fd};
}

static struct tidal_vm *vm_new(void)
{
    struct tidal_vm *vm = calloc(1, sizeof(*vm));
    if (vm) {
        vm->vm_fd = vm->vcpu_fd = vm->stats_fd = -1;
        pthread_mutex_init(&vm->console_lock, NULL);
        pthread_mutex_init(&vm->dirty.lock, NULL);
    }
    return vm;
}

struct tidal_vm *tidal_vm_alloc(const struct tidal_vm_config *cfg, struct tidal_shell_pool *pool)
{
    struct tidal_vm *vm = pool ? tidal_shell_pool_take(pool) : NULL;
    if (!vm && !(vm = vm_new()))
        return NULL;
    apply_config(vm, cfg);
    return vm;
}

/* A shell: VM and vCPU with its CPU model, but no memory yet. This is the part of
 * bring-up a pool can do ahead of time. */
static int make_shell(struct tidal_vm *vm, struct tidal_err *err)
{
    uint64_t t0 = tidal_now_ns();
    if (!(vm->kvm = tidal_kvm_get(err)))
        return TIDAL_CREATE_NO_KVM;
    vm->vm_fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
    char why[300];
    if (vm->vm_fd < 0)
        return tidal_err_set(err, "KVM_CREATE_VM: %s",
                             tidal_describe_errno(errno, why, sizeof(why)));
    /* Only VMX without unrestricted guest uses this area, but it must not overlap
     * guest memory, which TIDAL_MEM_MAX guarantees. */
    if (vm->kvm->set_tss_addr && ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
        return tidal_err_set(err, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    uint64_t t1 = tidal_now_ns();
    if (setup_vcpu_fds(vm, err) || tidal_vcpu_setup(vm, err))
        return TIDAL_CREATE_SYSTEM;
    vm->timing.create_vm = t1 - t0;
    vm->timing.vcpu = tidal_now_ns() - t1;
    vm->is_shell = true;
    return 0;
}

int tidal_vm_bringup(struct tidal_vm *vm, uint8_t *mem, struct tidal_err *err)
{
    if (!vm->is_shell) {
        int r = make_shell(vm, err);
        if (r)
            return r;
    } else {
        vm->timing.create_vm = vm->timing.vcpu = 0; /* paid ahead, in the pool */
    }
    uint64_t t0 = tidal_now_ns();
    if (setup_memory(vm, mem, err) || tidal_vcpu_attach_memory(vm, err))
        return TIDAL_CREATE_SYSTEM;
    vm->is_shell = false;
    vm->timing.memory = tidal_now_ns() - t0;
    return 0;
}

/* ---- pools of shells ---- */

struct tidal_shell_pool {
    pthread_mutex_t lock;
    struct tidal_vm **shells;
    unsigned count, cap;
};

struct tidal_shell_pool *tidal_shell_pool_new(void)
{
    struct tidal_shell_pool *p = calloc(1, sizeof(*p));
    if (p)
        pthread_mutex_init(&p->lock, NULL);
    return p;
}

int tidal_shell_pool_fill(struct tidal_shell_pool *p, unsigned count, struct tidal_err *err)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        unsigned have = p->count;
        pthread_mutex_unlock(&p->lock);
        if (have >= count)
            return 0;
        /* Shells are made outside the lock: KVM_CREATE_VM is the slow part. */
        struct tidal_vm *vm = vm_new();
        if (!vm)
            return tidal_err_set(err, "out of memory");
        /* The warm-up run is paid here too, so that a restore's first run is warm. */
        if (make_shell(vm, err) || tidal_vcpu_warm_up(vm, err)) {
            tidal_vm_destroy(vm);
            return -1;
        }
        pthread_mutex_lock(&p->lock);
        if (p->count == p->cap) {
            unsigned cap = p->cap ? p->cap * 2 : 16;
            struct tidal_vm **grown = realloc(p->shells, cap * sizeof(*grown));
            if (!grown) {
                pthread_mutex_unlock(&p->lock);
                tidal_vm_destroy(vm);
                return tidal_err_set(err, "out of memory");
            }
            p->shells = grown;
            p->cap = cap;
        }
        p->shells[p->count++] = vm;
        pthread_mutex_unlock(&p->lock);
    }
}

struct tidal_vm *tidal_shell_pool_take(struct tidal_shell_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct tidal_vm *vm = p->count ? p->shells[--p->count] : NULL;
    pthread_mutex_unlock(&p->lock);
    return vm;
}

unsigned tidal_shell_pool_ready(struct tidal_shell_pool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void tidal_shell_pool_free(struct tidal_shell_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->count; i++)
        tidal_vm_destroy(p->shells[i]);
    free(p->shells);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int tidal_vm_create(const struct tidal_vm_config *cfg, const uint8_t *elf, size_t elf_size,
                    const char *path, struct tidal_vm **out, struct tidal_err *err)
{
    struct tidal_vm *vm = *out = tidal_vm_alloc(cfg, NULL);
    if (!vm)
        return tidal_err_set(err, "out of memory");
    /* A bad image is reported before KVM is touched: quicker, and it works on
     * machines without /dev/kvm. */
    if (tidal_elf_parse(elf, elf_size, path, TIDAL_IMAGE_MIN_GPA, vm->mem.size, &vm->img, err) ||
        tidal_layout_plan(vm->mem.size, &vm->img, &vm->layout, err) ||
        (cfg->fs_image_size && tidal_layout_reserve_fs(&vm->layout, cfg->fs_image_size, err)))
        return TIDAL_CREATE_BAD_INPUT;
    vm->console_ring = (struct tidal_console_ring_place){vm->img.note.console_ring,
                                                         vm->img.note.console_ring_size};
    /* Symbols are read only if the guest crashes: not on every boot. */
    if (path && !(vm->image_path = strdup(path)))
        return tidal_err_set(err, "out of memory");
    int r = tidal_vm_bringup(vm, NULL, err);
    if (r)
        return r;
    uint64_t t3 = tidal_now_ns();
    r = load_image(vm, cfg, elf, err);
    if (r)
        return r;
    if (tidal_vcpu_set_boot_state(vm, err))
        return TIDAL_CREATE_SYSTEM;
    vm->timing.load = tidal_now_ns() - t3;
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
    if (vm->mem.base)
        munmap(vm->mem.base, vm->mem.size);
    tidal_reuse_free(vm->reuse);
    tidal_symtab_free(vm->symbols);
    free(vm->image_path);
    free(vm->mem.host_dirty);
    for (int r = 0; r < TIDAL_DIRTY_READERS; r++)
        free(vm->dirty.pending[r]);
    free(vm->dirty.log);
    pthread_mutex_destroy(&vm->dirty.lock);
    pthread_mutex_destroy(&vm->console_lock);
    free(vm);
}

void tidal_vm_drop_vm_fd(struct tidal_vm *vm)
{
    if (vm->reuse || vm->dirty.logging || vm->vm_fd < 0)
        return; /* reset and dirty-page readers read the log through the VM descriptor */
    close(vm->vm_fd);
    vm->vm_fd = -1;
}

void tidal_vm_set_io(struct tidal_vm *vm, int in_fd, int out_fd, int err_fd)
{
    vm->io.in_fd = in_fd;
    vm->io.out_fd = out_fd;
    vm->io.err_fd = err_fd;
}

const struct tidal_vm_timing *tidal_vm_timing(const struct tidal_vm *vm)
{
    return &vm->timing;
}

bool tidal_vm_is_pvm(const struct tidal_vm *vm)
{
    return vm->pvm;
}

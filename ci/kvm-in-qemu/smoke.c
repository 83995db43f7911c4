/* Smoke test for the kvm-in-qemu harness: proves /dev/kvm works by running a
 * 64-bit guest (identity-mapped 1 GiB in 2 MiB pages) that writes memory and
 * does N port writes (timing the exits), then hlt. Also prints a few caps.
 * Usage: smoke [N]   Exit status 0 on success. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#define DIE(m) do { perror(m); exit(1); } while (0)
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc, char **argv) {
    unsigned iters = argc > 1 ? atoi(argv[1]) : 10000;
    int kvm = open("/dev/kvm", O_RDWR); if (kvm < 0) DIE("open");
    printf("KVM API version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
    static const struct { const char *n; int c; } caps[] = {
        {"IRQCHIP", KVM_CAP_IRQCHIP}, {"SPLIT_IRQCHIP", KVM_CAP_SPLIT_IRQCHIP},
        {"IOEVENTFD", KVM_CAP_IOEVENTFD}, {"IRQFD", KVM_CAP_IRQFD},
        {"IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT}, {"BINARY_STATS_FD", KVM_CAP_BINARY_STATS_FD},
        {"DIRTY_LOG_RING", KVM_CAP_DIRTY_LOG_RING}, {"TSC_DEADLINE_TIMER", KVM_CAP_TSC_DEADLINE_TIMER},
        {"NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS}, {"MAX_VCPUS", KVM_CAP_MAX_VCPUS},
    };
    for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++)
        printf("  KVM_CAP_%-20s %d\n", caps[i].n, ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].c));
    int vm = ioctl(kvm, KVM_CREATE_VM, 0); if (vm < 0) DIE("CREATE_VM");
    size_t memsz = 64 << 20;
    uint8_t *mem = mmap(NULL, memsz, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
    struct kvm_userspace_memory_region r = {0, 0, 0, memsz, (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) DIE("MEMREGION");
    uint64_t *pml4 = (void *)(mem + 0x2000), *pdpt = (void *)(mem + 0x3000), *pd = (void *)(mem + 0x4000);
    pml4[0] = 0x3000 | 3; pdpt[0] = 0x4000 | 3;
    for (int i = 0; i < 512; i++) pd[i] = ((uint64_t)i << 21) | 0x83;
    /* mov rcx, iters; mov rbx, 0x200000; loop: mov [rbx], rcx; add rbx, 8; mov al, cl; out 0x10, al; dec rcx; jnz loop; hlt */
    uint8_t code[] = { 0x48,0xb9,0,0,0,0,0,0,0,0, 0x48,0xbb,0,0,0x20,0,0,0,0,0,
                       0x48,0x89,0x0b, 0x48,0x83,0xc3,0x08, 0x88,0xc8, 0xe6,0x10, 0x48,0xff,0xc9, 0x75,0xf0, 0xf4 };
    memcpy(code + 2, &(uint64_t){iters}, 8);
    memcpy(mem + 0x10000, code, sizeof code);
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0); if (vcpu < 0) DIE("VCPU");
    /* give the vCPU the host-supported CPUID, as a real monitor would */
    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cp = { .c.nent = 256 };
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cp) < 0) DIE("GET_SUPPORTED_CPUID");
    if (ioctl(vcpu, KVM_SET_CPUID2, &cp) < 0) DIE("SET_CPUID2");
    struct kvm_run *run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ|PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct kvm_sregs s; ioctl(vcpu, KVM_GET_SREGS, &s);
    struct kvm_segment cs = { .base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
    struct kvm_segment ds = cs; ds.type = 3; ds.selector = 16; ds.l = 0; ds.db = 1;
    s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds;
    s.cr3 = 0x2000; s.cr4 = 1 << 5; s.cr0 = 0x80050033; s.efer = 0x500; /* LME|LMA */
    if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) DIE("SET_SREGS");
    struct kvm_regs g = { .rip = 0x10000, .rflags = 2, .rsp = 0x8000 };
    ioctl(vcpu, KVM_SET_REGS, &g);
    unsigned outs = 0; double t0 = now();
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) DIE("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10) { outs++; continue; }
        if (run->exit_reason == KVM_EXIT_HLT) break;
        fprintf(stderr, "unexpected exit %u (entry failure reason %llx)\n", run->exit_reason,
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason); return 2;
    }
    double dt = now() - t0;
    uint64_t *w = (void *)(mem + 0x200000); int ok = outs == iters && w[0] == iters && w[iters - 1] == 1;
    printf("64-bit guest: %u IO exits in %.3fs (%.1f us/exit), memory %s -> %s\n", outs, dt, dt / outs * 1e6,
           ok ? "ok" : "WRONG", ok ? "PASSED" : "FAILED");
    return !ok;
}

/* What a process learns about KVM once: the /dev/kvm handle, the capabilities it
 * needs, the vCPU run-area size and the CPUID the host supports. Every VM after the
 * first skips the open and the probing ioctls, which matters when restores are
 * counted in microseconds. */
#include "vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct tidal_kvm kvm;
static struct tidal_err kvm_error;
static int kvm_status = -1;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

static int probe(struct tidal_err *err)
{
    kvm.fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm.fd < 0)
        return tidal_err_set(err,
                             "/dev/kvm: %s (Tidal needs the KVM device: load kvm_intel or "
                             "kvm_amd, and give this user read/write access to /dev/kvm)",
                             strerror(errno));
    int version = ioctl(kvm.fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        return tidal_err_set(err, "/dev/kvm: KVM API version %d (expected %d)", version,
                             KVM_API_VERSION);
    static const struct {
        int cap;
        const char *name;
    } needed[] = {{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                  {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
                  {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"}};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        if (ioctl(kvm.fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0)
            return tidal_err_set(err, "/dev/kvm: this kernel lacks %s", needed[i].name);
    kvm.set_tss_addr = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0;
    kvm.run_size = ioctl(kvm.fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (kvm.run_size < (int)sizeof(struct kvm_run))
        return tidal_err_set(err, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    for (unsigned n = 128;; n *= 2) {
        free(kvm.cpuid);
        kvm.cpuid = calloc(1, sizeof(*kvm.cpuid) + n * sizeof(kvm.cpuid->entries[0]));
        if (!kvm.cpuid)
            return tidal_err_set(err, "out of memory");
        kvm.cpuid->nent = n;
        if (ioctl(kvm.fd, KVM_GET_SUPPORTED_CPUID, kvm.cpuid) == 0)
            return 0;
        if (errno != E2BIG || n >= 4096)
            return tidal_err_set(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
    }
}

static void probe_once(void)
{
    kvm_status = probe(&kvm_error);
    if (kvm_status && kvm.fd >= 0) {
        close(kvm.fd);
        kvm.fd = -1;
    }
}

const struct tidal_kvm *tidal_kvm_get(struct tidal_err *err)
{
    pthread_once(&kvm_once, probe_once);
    if (kvm_status) {
        if (err)
            *err = kvm_error;
        return NULL;
    }
    return &kvm;
}

int tidal_kvm_available(struct tidal_err *err)
{
    return tidal_kvm_get(err) ? 0 : -1;
}

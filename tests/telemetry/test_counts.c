/* The BPF counters charge each exit to the VM that made it: exact counts for a guest
 * with a known number of exits, and two VMs of one process kept apart. */
#include "../common/test_env.h"
#include "tidal/file.h"
#include "tidal/monitor.h"
#include "tidal/telemetry.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <unistd.h>

#define MAX_VMS 64

/* Counting only this process keeps other users' guests on the host out of the way. */
static struct tidal_telemetry *open_or_skip(void)
{
    require_kvm();
    struct tidal_err err;
    struct tidal_telemetry *t = tidal_telemetry_open((uint32_t)getpid(), &err);
    if (!t)
        cr_skip_test("SKIPPED: needs BPF privileges and a kernel with BTF: %s", err.msg);
    return t;
}

static struct tidal_vm *boot(const char *image)
{
    const char *path = path_to(image);
    const uint8_t *elf;
    size_t size;
    struct tidal_err err;
    cr_assert_eq(tidal_file_map(path, 64 << 20, &elf, &size, &err), 0, "%s", err.msg);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    char *argv[] = {(char *)path, NULL};
    struct tidal_vm_config cfg = {
        .argc = 1, .argv = argv, .in_fd = null_fd, .out_fd = null_fd, .err_fd = null_fd};
    struct tidal_vm *vm = NULL;
    cr_assert_eq(tidal_vm_create(&cfg, elf, size, path, &vm, &err), 0, "%s", err.msg);
    return vm;
}

static void run_to_end(struct tidal_vm *vm)
{
    struct tidal_run_result res = {0};
    tidal_vm_run(vm, &res);
    cr_assert_eq(res.reason, TIDAL_EXIT_HALTED, "the guest did not halt: %s", res.report);
}

Test(counts, exact_exits_of_one_guest_charged_to_it_alone)
{
    struct tidal_telemetry *t = open_or_skip();
    struct tidal_vm *vm = boot("build/tests/guests/forty_calls.elf");
    run_to_end(vm);
    struct tidal_top_vm vms[MAX_VMS];
    struct tidal_err err;
    int n = tidal_telemetry_read(t, vms, MAX_VMS, &err);
    cr_assert_eq(n, 1, "expected one VM in this process, saw %d (%s)", n, n < 0 ? err.msg : "");
    cr_expect_eq(vms[0].pid, (uint32_t)getpid());
    /* 40 calls and the exit call, each one port write: a KVM_EXIT_IO apiece. */
    cr_expect_eq(vms[0].user_exits[KVM_EXIT_IO], 41, "io exits: %lu",
                 (unsigned long)vms[0].user_exits[KVM_EXIT_IO]);
    cr_expect_eq(tidal_top_user_exits(&vms[0]), 41, "all userspace exits: %lu",
                 (unsigned long)tidal_top_user_exits(&vms[0]));
    /* kvm_entry/kvm_exit fire on VMX and SVM; PVM's exit path bypasses them. */
    if (!tidal_vm_is_pvm(vm)) {
        cr_expect_geq(vms[0].kernel_exits, 41, "kernel exits: %lu",
                      (unsigned long)vms[0].kernel_exits);
        cr_expect_gt(vms[0].guest_ns, 0);
    }
    uint64_t hist = 0;
    for (int i = 0; i < TIDAL_TOP_LAT_BUCKETS; i++)
        hist += vms[0].lat_hist[i];
    cr_expect_eq(hist, 40, "41 exits make 40 intervals in the histogram, saw %lu",
                 (unsigned long)hist);
    tidal_vm_destroy(vm);
    tidal_telemetry_close(t);
}

Test(counts, two_vms_of_one_process_told_apart)
{
    struct tidal_telemetry *t = open_or_skip();
    /* Both alive until the map is read: a freed VM's kernel address may be reused. */
    struct tidal_vm *a = boot("build/tests/guests/forty_calls.elf");
    struct tidal_vm *b = boot("build/examples/hello.elf");
    run_to_end(a);
    run_to_end(b);
    struct tidal_top_vm vms[MAX_VMS];
    struct tidal_err err;
    int n = tidal_telemetry_read(t, vms, MAX_VMS, &err);
    cr_assert_eq(n, 2, "expected two VMs in this process, saw %d", n);
    cr_expect_neq(vms[0].kvm, vms[1].kvm);
    uint64_t x = tidal_top_user_exits(&vms[0]), y = tidal_top_user_exits(&vms[1]);
    cr_expect((x == 41 && y == 1) || (x == 1 && y == 41),
              "userspace exits %lu and %lu, "
              "expected 41 and 1",
              (unsigned long)x, (unsigned long)y);
    tidal_vm_destroy(a);
    tidal_vm_destroy(b);
    tidal_telemetry_close(t);
}

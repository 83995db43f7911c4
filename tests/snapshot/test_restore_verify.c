/* Restoring checks the page data's checksum before a guest runs on it: a damaged
 * page is refused as bad input, never restored silently. No KVM is needed: the check
 * comes before the VM is built. */
#include "snap_helpers.h"

#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_SIZE (1 * MIB)

static char *dir;

static void setup(void)
{
    dir = th_tmpdir();
}

static void teardown(void)
{
    th_rmrf(dir);
    free(dir);
}

static int pick_some(uint64_t p)
{
    return p % 5 == 0;
}

/* A snapshot the restore path accepts up to building the VM: blobs of the monitor's
 * sizes, memory size agreeing with the monitor state. */
static char *write_restorable(const char *name)
{
    char *path = th_path(dir, name);
    struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state;
    memset(&vcpu, 0, sizeof(vcpu));
    memset(&state, 0, sizeof(state));
    state.mem_size = MEM_SIZE;
    struct tidal_snap_blob blobs[2] = {{TIDAL_SNAP_VCPU, &vcpu, sizeof(vcpu)},
                                       {TIDAL_SNAP_MONITOR, &state, sizeof(state)}};
    struct tidal_snap_header_info info = {.mem_size = MEM_SIZE};
    uint8_t *mem = th_mem(MEM_SIZE, 3, pick_some);
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_write(path, &info, blobs, 2, mem, &err), 0, "%s", err.msg);
    th_free_mem(mem, MEM_SIZE);
    return path;
}

/* Flips one byte of the last stored page. */
static void damage_page_data(const char *path)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, size - 100), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, size - 100), 1);
    close(fd);
}

TestSuite(snap_restore_verify, .init = setup, .fini = teardown);

Test(snap_restore_verify, damaged_page_data_is_refused_as_bad_input)
{
    char *path = write_restorable("damaged.snap");
    damage_page_data(path);
    struct tidal_snap *s = NULL;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "metadata is intact: %s", err.msg);
    const struct tidal_snap *chain[1] = {s};
    struct tidal_vm_config cfg = {.in_fd = -1, .out_fd = -1, .err_fd = -1};
    struct tidal_vm *vm = NULL;
    int rc = tidal_snapshot_restore(chain, 1, &cfg, 0, NULL, &vm, &err);
    tidal_vm_destroy(vm);
    cr_assert_eq(rc, TIDAL_CREATE_BAD_INPUT, "restore returned %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "memory section: checksum mismatch"), "%s",
              err.msg);
    tidal_snap_close(s);
    free(path);
}

/* The check reads the whole section once per opened file: later restores (clones of
 * one template) rely on the first verdict. */
Test(snap_restore_verify, verdict_is_remembered_per_opened_file)
{
    char *path = write_restorable("good.snap");
    struct tidal_snap *s = NULL;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), 0, "%s", err.msg);
    damage_page_data(path); /* not read again by this opened file */
    cr_assert_eq(tidal_snap_verify_memory(s, &err), 0, "%s", err.msg);
    tidal_snap_close(s);
    cr_assert_eq(tidal_snap_open(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_snap_verify_memory(s, &err), -1, "a newly opened file is checked again");
    tidal_snap_close(s);
    free(path);
}

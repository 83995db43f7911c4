/* Pool shells run a stub once before a restore takes them, so that the restore's
 * first run is a warm one; the restored guest must not be able to tell. */
#include "harness.h"
#include "tidal/monitor.h"
#include "tidal/snapshot_vm.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/tidal-pool-XXXXXX";

static void setup(void)
{
    require_kvm();
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(pool, .init = setup, .fini = teardown, .timeout = 180);

struct outcome {
    char out[256];
    uint64_t io_exits; /* KVM's count for the vCPU, the warm-up's exit included */
};

static void restore_echo(struct tidal_snap *snap, struct tidal_shell_pool *pool, struct outcome *o)
{
    char in_path[256], out_path[256];
    snprintf(in_path, sizeof(in_path), "%s/in", dir);
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    FILE *f = fopen(in_path, "w");
    cr_assert_not_null(f);
    fputs("the same request\n", f);
    fclose(f);
    int in = open(in_path, O_RDONLY), out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert(in >= 0 && out >= 0);
    struct tidal_vm_config cfg = {.in_fd = in, .out_fd = out, .err_fd = 2};
    struct tidal_vm *vm;
    struct tidal_err err;
    const struct tidal_snap *chain[] = {snap};
    cr_assert_eq(tidal_snapshot_restore(chain, 1, &cfg, 7, pool, &vm, &err), 0, "%s", err.msg);
    struct tidal_run_result res = {0};
    tidal_vm_run(vm, &res);
    cr_assert_eq(res.reason, TIDAL_EXIT_HALTED, "%s", res.report);
    cr_assert_eq(res.status, 0);
    if (tidal_vm_stat(vm, "io_exits", &o->io_exits))
        o->io_exits = UINT64_MAX;
    tidal_vm_destroy(vm);
    memset(o->out, 0, sizeof(o->out));
    cr_assert_gt(pread(out, o->out, sizeof(o->out) - 1, 0), 0);
    close(in);
    close(out);
}

Test(pool, warm_shell_restores_like_a_never_run_one)
{
    char snap_path[256];
    snprintf(snap_path, sizeof(snap_path), "%s/echo.snap", dir);
    const char *args[] = {"run", "--snapshot-on-ready", snap_path,
                          path_to("build/examples/echo.elf"), NULL};
    struct tidal_proc p;
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    struct tidal_snap *snap;
    struct tidal_err err;
    cr_assert_eq(tidal_snap_open(snap_path, &snap, &err), 0, "%s", err.msg);

    struct tidal_shell_pool *pool = tidal_shell_pool_new();
    cr_assert_not_null(pool);
    cr_assert_eq(tidal_shell_pool_fill(pool, 2, &err), 0, "%s", err.msg);
    static struct outcome warm[2], cold;
    restore_echo(snap, pool, &warm[0]);
    restore_echo(snap, pool, &warm[1]);
    cr_assert_eq(tidal_shell_pool_ready(pool), 0, "both restores took a pool shell");
    restore_echo(snap, NULL, &cold);
    tidal_shell_pool_free(pool);
    tidal_snap_close(snap);

    cr_assert_str_eq(warm[0].out, cold.out);
    cr_assert_str_eq(warm[1].out, cold.out);
    cr_assert(strstr(cold.out, "the same request"), "%s", cold.out);
    if (cold.io_exits == UINT64_MAX)
        cr_skip_test("this kernel's KVM has no vCPU statistics to show the warm-up run");
    if (!cold.io_exits)
        cr_skip_test("this KVM counts no port I/O exits by themselves (PVM), and its count of "
                     "all exits moves with interrupts and faults: the warm-up run is not shown");
    cr_assert_eq(warm[0].io_exits, cold.io_exits + 1, "a pool shell has run its stub once");
}

/* seccomp confinement of run, restore and clone (needs KVM): a confined thread that
 * makes a forbidden call (through the test-only hook, $TIDAL_CONFINE_TEST_CALL) kills
 * the process with SIGSYS and a line naming the call; --no-seccomp runs unconfined.
 * Under a sanitizer build confinement is off (its runtime makes calls of its own),
 * and these tests say so. */
#include "harness.h"
#include "tidal/confine.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int run_with_hook(const char *call, bool no_seccomp, char *out, size_t size)
{
    char env[64];
    snprintf(env, sizeof(env), "TIDAL_CONFINE_TEST_CALL=%s", call);
    char *envp[] = {env, NULL};
    const char *hello = path_to("build/examples/hello.elf");
    const char *with[] = {"run", hello, NULL};
    const char *without[] = {"run", "--no-seccomp", hello, NULL};
    return run_tidal_captured(no_seccomp ? without : with, envp, out, size);
}

Test(confine, a_forbidden_call_kills_the_monitor_with_sigsys_naming_it)
{
    require_kvm();
    if (!tidal_confine_enabled())
        cr_skip_test("confinement is off in sanitizer builds");
    char out[4096];
    static const char *const forbidden[] = {"socket", "execve", "ptrace", "fork", "mount"};
    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
        int rc = run_with_hook(forbidden[i], false, out, sizeof(out));
        cr_expect_eq(rc, 128 + SIGSYS, "%s: exit %d: %s", forbidden[i], rc, out);
        char want[128];
        snprintf(want, sizeof(want), "forbidden system call %s (", forbidden[i]);
        cr_expect(strstr(out, want), "%s: %s", forbidden[i], out);
        cr_expect(!strstr(out, "Hello"), "the guest never ran: %s", out);
    }
}

Test(confine, no_seccomp_runs_unconfined)
{
    require_kvm();
    char out[4096];
    /* getpid is allowed anyway: the hook's call must change nothing */
    cr_assert_eq(run_with_hook("getpid", false, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "Hello"), "%s", out);
    int rc = run_with_hook("socket", true, out, sizeof(out));
    cr_assert_eq(rc, 0, "--no-seccomp: exit %d: %s", rc, out);
    cr_assert(strstr(out, "Hello"), "%s", out);
}

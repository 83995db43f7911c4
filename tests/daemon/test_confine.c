/* seccomp in the daemon (needs KVM for the vCPU part): the process runs confined
 * (Seccomp: 2 in /proc/PID/status) unless started with --no-seccomp, and a VM's
 * thread adds its own, narrower filter: a call the service may make but a vCPU
 * thread may not (listen), made through the test-only hook as the thread confines
 * itself, kills the daemon with SIGSYS and a line naming it. */
#include "helpers.h"
#include "tidal/confine.h"
#include "tidal/daemon.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Test(confine, the_daemon_runs_confined_unless_told_not_to)
{
    if (!tidal_confine_enabled())
        cr_skip_test("confinement is off in sanitizer builds");
    struct test_daemon t;
    daemon_start(&t, NULL);
    cr_expect_eq(proc_status_field(t.pid, "Seccomp"), 2, "filter mode");
    daemon_stop(&t);
    daemon_start(&t, (const char *const[]){"--no-seccomp", NULL});
    cr_expect_eq(proc_status_field(t.pid, "Seccomp"), 0, "--no-seccomp");
    daemon_stop(&t);
}

Test(confine, a_vcpu_thread_making_a_service_call_kills_the_daemon, .timeout = 120)
{
    require_kvm();
    if (!tidal_confine_enabled())
        cr_skip_test("confinement is off in sanitizer builds");
    struct test_daemon t;
    setenv("TIDAL_CONFINE_TEST_CALL", "listen", 1);
    daemon_start(&t, NULL);
    unsetenv("TIDAL_CONFINE_TEST_CALL");
    char body[PATH_MAX + 200];
    snprintf(body, sizeof(body), "{\"name\":\"e\",\"image\":\"%s\",\"mem\":\"4M\"}",
             abs_path_to("build/examples/echo.elf"));
    struct tidal_response resp;
    struct tidal_err err;
    if (!tidal_client_request(t.socket, "POST", "/v1/vms", body, &resp, &err))
        tidal_response_free(&resp); /* the daemon may die before it answers */
    int status;
    cr_assert_eq(waitpid(t.pid, &status, 0), t.pid);
    t.pid = 0;
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status %#x", status);
    char path[400], log[4096] = "";
    snprintf(path, sizeof(path), "%s/daemon.err", t.dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = 0;
    fclose(f);
    cr_assert(strstr(log, "a vCPU thread made the forbidden system call listen"), "%s", log);
    daemon_stop(&t);
}

/* Least privilege: the daemon gives its state directory to the user, drops to it,
 * and still runs VMs (the KVM handle was opened before); its socket stays 0660. */
Test(confine, the_daemon_drops_to_a_user_and_runs_vms, .timeout = 120)
{
    require_kvm();
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw)
        cr_skip_test("needs root and a user \"nobody\" to drop to");
    struct test_daemon t;
    daemon_start(&t, (const char *const[]){"--user", "nobody", NULL});
    cr_assert_eq(proc_status_field(t.pid, "Uid"), (long)pw->pw_uid);
    cr_assert_eq(proc_status_field(t.pid, "Gid"), (long)pw->pw_gid);
    struct stat st;
    cr_assert_eq(stat(t.socket, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
    char body[PATH_MAX + 200];
    snprintf(body, sizeof(body), "{\"name\":\"e\",\"image\":\"%s\",\"mem\":\"4M\"}",
             abs_path_to("build/examples/echo.elf"));
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, &o), 201, "%s", jstr(o, "detail"));
    cr_assert_str_eq(jstr(o, "state"), "running");
    cJSON_Delete(o);
    char state[400];
    snprintf(state, sizeof(state), "%s/state.json", t.state);
    cr_assert_eq(stat(state, &st), 0);
    cr_assert_eq(st.st_uid, pw->pw_uid, "state.json written by the user");
    daemon_stop(&t);
}

/* VM transitions with real guests (needs KVM): a service through pause, resume,
 * snapshots (full then diff), suspend to disk, resume from the chain, stop, restore
 * and delete; a short batch guest run to the end through the VM API. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct test_daemon t;

static void stop(void)
{
    daemon_stop(&t);
}

TestSuite(lifecycle, .fini = stop, .timeout = 600);

static long last_beat(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/vms/%s/console", name);
    int status;
    char *text = api_text(&t, path, &status);
    long beat = -1;
    for (const char *p = text; (p = strstr(p, "beat ")); p += 5)
        beat = strtol(p + 5, NULL, 10);
    free(text);
    return beat;
}

struct beat_wait {
    const char *name;
    long after;
};

static bool beats_past(struct test_daemon *td, void *arg)
{
    (void)td;
    struct beat_wait *w = arg;
    return last_beat(w->name) > w->after;
}

static bool console_has(struct test_daemon *td, void *arg)
{
    int status;
    char *text = api_text(td, "/v1/vms/web/console", &status);
    bool found = strstr(text, arg) != NULL;
    free(text);
    return found;
}

/* The service "web" (16M) from a guest image, booted and running. */
static void create_web(const char *image)
{
    char body[PATH_MAX + 100];
    snprintf(body, sizeof(body), "{\"name\":\"web\",\"image\":\"%s\",\"mem\":\"16M\"}",
             abs_path_to(image));
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, &o), 201, "%s", jstr(o, "detail"));
    cr_assert_str_eq(jstr(o, "state"), "running");
    cJSON_Delete(o);
}

static void expect_state(const char *action, const char *state)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/vms/web/%s", action);
    cJSON *o;
    int status = api(&t, "POST", path, NULL, &o);
    cr_assert_eq(status, 200, "%s: %d %s", action, status, jstr(o, "detail"));
    cr_assert_str_eq(jstr(o, "state"), state, "after %s", action);
    cJSON_Delete(o);
}

Test(lifecycle, service_through_every_transition)
{
    require_kvm();
    daemon_start(&t, NULL);
    create_web("build/tests/guests/heartbeat.elf");
    cJSON *o;
    struct beat_wait w = {"web", 2};
    wait_for(&t, beats_past, &w, "the service's first beats");

    expect_state("pause", "paused");
    expect_state("resume", "running");
    expect_state("snapshot", "running");
    cr_assert_eq(api(&t, "GET", "/v1/vms/web", NULL, &o), 200);
    cr_assert_eq(jnum(o, "snapshots.full"), 1);
    cr_assert_eq(jnum(o, "snapshots.chain"), 1);
    cJSON_Delete(o);
    expect_state("snapshot", "running");
    expect_state("suspend", "suspended");
    cr_assert_eq(api(&t, "GET", "/v1/vms/web", NULL, &o), 200);
    cr_assert_eq(jnum(o, "snapshots.diff"), 2, "later saves are diffs");
    cr_assert_eq(jnum(o, "snapshots.chain"), 3);
    cJSON_Delete(o);
    w.after = last_beat("web");
    expect_state("resume", "running");
    wait_for(&t, beats_past, &w, "beats after resuming from the snapshot chain");
    expect_state("stop", "stopped");
    expect_state("restore", "running");
    expect_state("stop", "stopped");
    cr_assert_eq(api(&t, "DELETE", "/v1/vms/web", NULL, NULL), 204);

    char out[4096];
    cr_assert_eq(run_cli(&t, (const char *const[]){"ps", NULL}, out, sizeof(out)), 0);
    cr_assert_null(strstr(out, "web"), "%s", out);
}

static bool exited(struct test_daemon *td, void *arg)
{
    cJSON *o;
    api(td, "GET", arg, NULL, &o);
    bool done = !strcmp(jstr(o, "state"), "exited") || !strcmp(jstr(o, "state"), "failed");
    cJSON_Delete(o);
    return done;
}

Test(lifecycle, guest_runs_to_its_result)
{
    require_kvm();
    daemon_start(&t, NULL);
    char body[PATH_MAX + 100];
    snprintf(body, sizeof(body),
             "{\"name\":\"h\",\"image\":\"%s\",\"args\":[\"3000000\"],\"mem\":\"16M\"}",
             abs_path_to("build/examples/hashchain.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, NULL), 201);
    wait_for(&t, exited, "/v1/vms/h", "the guest to exit");
    cJSON *o;
    api(&t, "GET", "/v1/vms/h", NULL, &o);
    cr_assert_str_eq(jstr(o, "state"), "exited", "%s", jstr(o, "report"));
    cr_assert_eq(jnum(o, "exit_status"), 0);
    cr_assert_eq(jnum(o, "progress.done"), 3000000);
    cr_assert_eq(jnum(o, "progress.total"), 3000000);
    cJSON_Delete(o);
    int status;
    char *text = api_text(&t, "/v1/vms/h/console", &status);
    cr_assert(strstr(text, "hashchain 3000000 steps digest "), "%s", text);
    free(text);
}

Test(lifecycle, suspended_vm_survives_kill9)
{
    require_kvm();
    daemon_start(&t, NULL);
    create_web("build/tests/guests/heartbeat.elf");
    struct beat_wait w = {"web", 2};
    wait_for(&t, beats_past, &w, "the service's first beats");
    expect_state("suspend", "suspended");
    w.after = last_beat("web");
    daemon_kill9(&t);
    daemon_restart(&t, NULL);
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/vms/web", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "suspended");
    cJSON_Delete(o);
    cr_assert_eq(last_beat("web"), w.after, "the console log is kept as it was");
    expect_state("resume", "running");
    /* it goes on from its snapshot: the beats continue, they do not restart at 0 */
    wait_for(&t, beats_past, &w, "beats after resuming from disk in a new daemon");
}

/* A service that reads requests on stdin (examples/kv) answers them through the API,
 * and keeps answering across pause/resume and a suspend to its snapshot chain and back
 * (its read in progress is asked again after each stop). */
static void lookup(unsigned key)
{
    char body[64], want[32], what[64];
    snprintf(body, sizeof(body), "{\"data\":\"k%u\\n\"}", key);
    cJSON *o;
    int status = api(&t, "POST", "/v1/vms/web/input", body, &o);
    cr_assert_eq(status, 202, "input: %d %s", status, jstr(o, "detail"));
    cJSON_Delete(o);
    snprintf(want, sizeof(want), "k%u=", key);
    snprintf(what, sizeof(what), "the answer to k%u", key);
    wait_for(&t, console_has, want, what);
}

Test(lifecycle, service_answers_input_across_pause_and_suspend)
{
    require_kvm();
    daemon_start(&t, NULL);
    create_web("build/examples/kv.elf");
    lookup(1);
    expect_state("pause", "paused");
    expect_state("resume", "running");
    lookup(2);
    expect_state("snapshot", "running");
    lookup(3);
    expect_state("suspend", "suspended");
    expect_state("resume", "running");
    lookup(4);
    char out[4096];
    cr_assert_eq(
        run_cli(&t, (const char *const[]){"vm", "input", "web", "k5", NULL}, out, sizeof(out)), 0,
        "%s", out);
    wait_for(&t, console_has, "k5=", "the answer to k5, sent by tidal vm input");
    expect_state("stop", "stopped");
}

/* A service that prints a line and computes without a single call: the line can reach
 * its console only through the daemon's timed drain of the console ring. */
Test(lifecycle, console_of_a_guest_that_never_exits_is_drained_on_a_timer)
{
    require_kvm();
    daemon_start(&t, NULL);
    create_web("build/tests/guests/quiet_service.elf");
    wait_for(&t, console_has, "computing quietly\n", "the line of a guest that makes no calls");
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/vms/web", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "running", "%s", jstr(o, "report"));
    cJSON_Delete(o);
    expect_state("stop", "stopped");
}

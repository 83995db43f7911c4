/* Every endpoint and its errors, on a daemon whose VMs are never booted (so these
 * run without KVM): bad JSON, unknown fields, unknown VMs and jobs, wrong state
 * transitions, methods, the socket's permissions, persistence across a restart. */
#include "helpers.h"
#include "tidal/abi.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct test_daemon t;
static const char *const manual_clock[] = {
    "--clock-start", "2026-12-01T12:00:00Z", "--clock-scale", "0", "--tick", "0.05", NULL};

static void start(void)
{
    daemon_start(&t, manual_clock);
}

static void stop(void)
{
    daemon_stop(&t);
}

TestSuite(api, .init = start, .fini = stop);

static void expect_error(const char *method, const char *path, const char *body, int status,
                         const char *code, const char *detail_part)
{
    cJSON *o;
    int got = api(&t, method, path, body, &o);
    cr_expect_eq(got, status, "%s %s: status %d, expected %d", method, path, got, status);
    cr_expect_str_eq(jstr(o, "error"), code, "%s %s", method, path);
    if (detail_part)
        cr_expect(strstr(jstr(o, "detail"), detail_part), "%s %s: detail \"%s\" lacks \"%s\"",
                  method, path, jstr(o, "detail"), detail_part);
    cJSON_Delete(o);
}

static void create_idle(const char *name)
{
    char body[PATH_MAX + 200];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"image\":\"%s\",\"mem\":\"16M\",\"start\":false}", name,
             abs_path_to("build/examples/kv.elf"));
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, &o), 201);
    cr_assert_str_eq(jstr(o, "state"), "created");
    cJSON_Delete(o);
}

Test(api, socket_is_0660_and_closed_to_others)
{
    struct stat st;
    cr_assert_eq(stat(t.socket, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0660, "mode %o", st.st_mode & 0777);
    if (geteuid() != 0)
        return; /* only root can become another user to try */
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) || setuid(65534))
            _exit(2);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        memcpy(addr.sun_path, t.socket, strlen(t.socket) + 1); /* short: /tmp/... */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
        _exit(rc == 0 ? 1 : errno == EACCES ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "user nobody could connect (or setuid failed: 2)");
}

/* Two Content-Length headers leave the body's framing in doubt: refused unread. */
Test(api, repeated_content_length_is_refused)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, t.socket, strlen(t.socket) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    const char *req = "POST /v1/clock HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                      "Content-Length: 16\r\nConnection: close\r\n\r\n{\"advance\":\"1h\"}";
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char answer[4096];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
        got += (size_t)n;
    answer[got] = 0;
    close(fd);
    cr_expect(!strncmp(answer, "HTTP/1.1 400", 12), "%s", answer);
    cr_expect(strstr(answer, "Content-Length is given more than once"), "%s", answer);
}

Test(api, host_info_and_metrics)
{
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/host", NULL, &o), 200);
    cr_assert_gt(jnum(o, "cpus"), 0);
    cr_assert_eq(jnum(o, "guest_abi"), TIDAL_ABI_VERSION);
    cr_assert_str_eq(jstr(o, "clock.now"), "2026-12-01T12:00:00Z");
    cr_assert(cJSON_IsBool(cJSON_GetObjectItem(o, "cgroups")));
    cr_assert(strlen(jstr(o, "cgroups_note")) > 0, "cgroup status is explained");
    cJSON_Delete(o);
    int status;
    char *m = api_text(&t, "/metrics", &status);
    cr_assert_eq(status, 200);
    cr_assert(strstr(m, "tidal_vms{state=\"running\"} 0"), "%s", m);
    cr_assert(strstr(m, "tidal_api_requests_total"), "%s", m);
    free(m);
    expect_error("POST", "/v1/host", NULL, 405, "method_not_allowed", "expected GET");
}

Test(api, unknown_endpoints_and_methods)
{
    expect_error("GET", "/v2/vms", NULL, 404, "not_found", "/v1/");
    expect_error("GET", "/v1/things", NULL, 404, "not_found", "/v1/things");
    expect_error("PUT", "/v1/vms", "{}", 405, "method_not_allowed", "expected GET or POST");
    expect_error("PATCH", "/v1/batch", "{}", 405, "method_not_allowed", NULL);
}

Test(api, bad_bodies_are_refused_precisely)
{
    expect_error("POST", "/v1/vms", "{\"name\": \"web\",", 400, "bad_json", "not valid JSON");
    expect_error("POST", "/v1/vms", "[1,2]", 400, "bad_request", "JSON object");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/bin/sh\"} trailing", 400,
                 "bad_json", "unexpected text after the value at byte 33");
    expect_error("POST", "/v1/clock", "{\"advance\":\"1h\"}{}", 400, "bad_json", "after the value");
    expect_error("POST", "/v1/vms",
                 "{\"name\":\"web\\u0000x\",\"image\":\"/bin/sh\",\"start\":false}", 400,
                 "bad_json", "\\u0000 (NUL) at byte 12");
    expect_error("GET", "/v1/vms/web", NULL, 404, "unknown_vm", NULL);
    expect_error("POST", "/v1/vms", NULL, 400, "bad_request", "needs a JSON body");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/bin/sh\",\"colour\":\"red\"}",
                 400, "bad_request", "unknown field \"colour\"");
    expect_error("POST", "/v1/vms", "{\"image\":\"/bin/sh\"}", 400, "bad_request",
                 "missing field \"name\"");
    expect_error("POST", "/v1/vms", "{\"name\":\"../x\",\"image\":\"/bin/sh\"}", 400, "bad_request",
                 "field \"name\"");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/no/such.elf\"}", 400,
                 "bad_request", "/no/such.elf");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/bin/sh\",\"mem\":\"1T\"}", 400,
                 "bad_request", "field \"mem\"");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/bin/sh\",\"start\":1}", 400,
                 "bad_request", "field \"start\"");
    /* a FIFO would block the VM's runner in open() forever */
    char fifo[400], body[600];
    snprintf(fifo, sizeof(fifo), "%s/f.elf", t.dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    snprintf(body, sizeof(body), "{\"name\":\"web\",\"image\":\"%s\",\"start\":false}", fifo);
    expect_error("POST", "/v1/vms", body, 400, "bad_request", "a FIFO, not a regular file");
    /* arguments are checked against the guest's 32 KiB boot area at creation, not first
     * at boot: a VM that is never started must not store them */
    char *args = malloc(40000), *oversized = malloc(41000);
    memset(args, 'a', 39999);
    args[39999] = 0;
    snprintf(oversized, 41000,
             "{\"name\":\"web\",\"image\":\"/bin/sh\",\"args\":[\"%s\"],\"start\":false}", args);
    expect_error("POST", "/v1/vms", oversized, 400, "bad_request", "field \"args\"");
    snprintf(oversized, 41000,
             "{\"name\":\"job\",\"image\":\"/bin/sh\",\"args\":[\"%s\"],\"work\":1}", args);
    expect_error("POST", "/v1/batch", oversized, 400, "bad_request", "at most 32");
    free(args);
    free(oversized);
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = 0;
    expect_error("POST", "/v1/vms", huge, 413, "too_large", NULL);
    free(huge);
}

Test(api, unknown_vm_everywhere)
{
    expect_error("GET", "/v1/vms/ghost", NULL, 404, "unknown_vm", "\"ghost\"");
    expect_error("DELETE", "/v1/vms/ghost", NULL, 404, "unknown_vm", NULL);
    expect_error("GET", "/v1/vms/ghost/console", NULL, 404, "unknown_vm", NULL);
    static const char *const actions[] = {"start",   "pause",   "resume", "snapshot",
                                          "suspend", "restore", "stop",   "input"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/v1/vms/ghost/%s", actions[i]);
        expect_error("POST", path, NULL, 404, "unknown_vm", NULL);
    }
}

Test(api, wrong_state_transitions)
{
    create_idle("web");
    expect_error("POST", "/v1/vms/web/pause", NULL, 409, "wrong_state",
                 "it is created (expected running)");
    expect_error("POST", "/v1/vms/web/resume", NULL, 409, "wrong_state", "paused or suspended");
    expect_error("POST", "/v1/vms/web/snapshot", NULL, 409, "wrong_state", "running or paused");
    expect_error("POST", "/v1/vms/web/suspend", NULL, 409, "wrong_state", NULL);
    expect_error("POST", "/v1/vms/web/stop", NULL, 409, "wrong_state", NULL);
    expect_error("POST", "/v1/vms/web/restore", NULL, 409, "no_snapshot", "has no snapshot");
    expect_error("POST", "/v1/vms/web/fly", NULL, 404, "not_found", "unknown action \"fly\"");
    expect_error("POST", "/v1/vms/web/input", "{\"data\":\"k1\\n\"}", 409, "wrong_state",
                 "cannot take input VM \"web\": it is created");
    expect_error("POST", "/v1/vms/web/input", "{\"text\":\"k1\"}", 400, "bad_request",
                 "unknown field \"text\"");
    expect_error("POST", "/v1/vms/web/input", "{}", 400, "bad_request", "missing field \"data\"");
    expect_error("GET", "/v1/vms/web/input", NULL, 405, "method_not_allowed", "expected POST");
    expect_error("POST", "/v1/vms/web/pause", "{\"now\":true}", 400, "bad_request",
                 "takes no fields");
    expect_error("POST", "/v1/vms", "{\"name\":\"web\",\"image\":\"/bin/sh\",\"start\":false}", 409,
                 "conflict", "exists already");
}

Test(api, create_list_get_console_delete)
{
    create_idle("a");
    create_idle("b");
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/vms", NULL, &o), 200);
    cr_assert_eq(cJSON_GetArraySize(o), 2);
    cJSON_Delete(o);
    cr_assert_eq(api(&t, "GET", "/v1/vms/a", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "class"), "service");
    cr_assert_eq(jnum(o, "mem"), 16 << 20);
    cr_assert_eq(jnum(o, "snapshots.chain"), 0);
    cJSON_Delete(o);
    int status;
    free(api_text(&t, "/v1/vms/a/console", &status));
    cr_assert_eq(status, 200);
    cr_assert_eq(api(&t, "DELETE", "/v1/vms/a", NULL, NULL), 204);
    expect_error("GET", "/v1/vms/a", NULL, 404, "unknown_vm", NULL);
    char out[4096];
    cr_assert_eq(run_cli(&t, (const char *const[]){"ps", NULL}, out, sizeof(out)), 0);
    cr_assert(strstr(out, "b ") && strstr(out, "created") && !strstr(out, "\na "), "%s", out);
    cr_assert_eq(run_cli(&t, (const char *const[]){"vm", "pause", "nope", NULL}, out, sizeof(out)),
                 65);
    cr_assert(strstr(out, "no VM named \"nope\""), "%s", out);
    cr_assert_eq(
        run_cli(&t, (const char *const[]){"vm", "input", "b", "k1", NULL}, out, sizeof(out)), 65);
    cr_assert(strstr(out, "cannot take input VM \"b\": it is created"), "%s", out);
    cr_assert_eq(run_cli(&t, (const char *const[]){"vm", "input", "b", NULL}, out, sizeof(out)),
                 64);
}

static char *job_body(const char *name)
{
    static char body[PATH_MAX + 400];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"image\":\"%s\",\"args\":[\"1000\"],\"mem\":\"16M\","
             "\"deadline\":\"2026-12-03T06:00:00Z\","
             "\"window\":{\"cron\":\"0 22 * * *\",\"duration\":\"8h\",\"tz\":\"UTC\"}}",
             name, abs_path_to("build/examples/hashchain.elf"));
    return body;
}

Test(api, batch_submit_list_get_cancel)
{
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/batch", job_body("h1"), &o), 201);
    cr_assert_str_eq(jstr(o, "state"), "queued", "the window is closed at noon");
    cr_assert_str_eq(jstr(o, "window.opens"), "2026-12-01T22:00:00Z");
    cJSON_Delete(o);
    expect_error("POST", "/v1/batch", job_body("h1"), 409, "conflict", "exists already");
    expect_error("POST", "/v1/batch", "{\"name\":\"h2\"}", 400, "bad_request",
                 "missing field \"image\"");
    expect_error("POST", "/v1/batch", "{oops", 400, "bad_json", NULL);
    cr_assert_eq(api(&t, "GET", "/v1/batch", NULL, &o), 200);
    cr_assert_eq(cJSON_GetArraySize(o), 1);
    cJSON_Delete(o);
    cr_assert_eq(api(&t, "GET", "/v1/batch/h1", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "spec.window.cron"), "0 22 * * *");
    cr_assert_str_eq(jstr(o, "deadline"), "2026-12-03T06:00:00Z");
    cJSON_Delete(o);
    expect_error("GET", "/v1/batch/ghost", NULL, 404, "unknown_job", "\"ghost\"");
    expect_error("POST", "/v1/batch/ghost/cancel", NULL, 404, "unknown_job", NULL);
    expect_error("POST", "/v1/vms/h1/pause", NULL, 409, "batch_job", "batch job");
    char out[4096];
    cr_assert_eq(run_cli(&t, (const char *const[]){"batch", "ls", NULL}, out, sizeof(out)), 0);
    cr_assert(strstr(out, "h1") && strstr(out, "queued") && strstr(out, "[....."), "%s", out);
    cr_assert_eq(api(&t, "POST", "/v1/batch/h1/cancel", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "cancelled");
    cJSON_Delete(o);
    expect_error("POST", "/v1/batch/h1/cancel", NULL, 409, "wrong_state", "cancelled already");
}

Test(api, manual_clock)
{
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/clock", "{\"advance\":3600}", &o), 200);
    cr_assert_str_eq(jstr(o, "now"), "2026-12-01T13:00:00Z");
    cJSON_Delete(o);
    expect_error("POST", "/v1/clock", "{\"advance\":\"1h\"}", 400, "bad_request", "advance");
    expect_error("POST", "/v1/clock", "{\"advance\":-5}", 409, "wrong_state", "advance -5");
}

Test(api, state_survives_a_restart)
{
    create_idle("keep");
    cr_assert_eq(api(&t, "POST", "/v1/batch", job_body("job"), NULL), 201);
    daemon_kill9(&t);
    daemon_restart(&t, manual_clock);
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/vms/keep", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "created");
    cJSON_Delete(o);
    cr_assert_eq(api(&t, "GET", "/v1/batch/job", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "queued");
    cJSON_Delete(o);
}

/* kill -9 during a write of state.json leaves state.json.tmp.<pid>: the next start
 * removes them, truncated or whole, and keeps the state itself. */
Test(api, interrupted_state_writes_are_cleaned_at_start)
{
    create_idle("keep");
    daemon_kill9(&t);
    char tmp[400];
    for (int pid = 100; pid < 103; pid++) {
        snprintf(tmp, sizeof(tmp), "%s/state.json.tmp.%d", t.state, pid);
        FILE *f = fopen(tmp, "w");
        cr_assert_not_null(f);
        fputs(pid == 100 ? "{\"version\": 1, \"vm" : "{}", f);
        fclose(f);
    }
    daemon_restart(&t, manual_clock);
    for (int pid = 100; pid < 103; pid++) {
        snprintf(tmp, sizeof(tmp), "%s/state.json.tmp.%d", t.state, pid);
        cr_expect_neq(access(tmp, F_OK), 0, "%s was left behind", tmp);
    }
    cr_assert_eq(api(&t, "GET", "/v1/vms/keep", NULL, NULL), 200);
}

Test(api, refuses_a_second_daemon_on_the_same_state)
{
    char out[4096];
    char sock2[400];
    snprintf(sock2, sizeof(sock2), "%s/sock2", t.dir);
    int rc = run_cli(
        &t, (const char *const[]){"daemon", "--state-dir", t.state, "--socket", sock2, NULL}, out,
        sizeof(out));
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "another daemon uses it"), "%s", out);
}

/* --socket names a path the daemon will create: a file already there is the user's,
 * and a live socket is another daemon's; neither is removed. The timeout catches a
 * daemon that took the path and kept running. */
Test(api, socket_path_of_a_file_or_a_live_daemon_is_refused, .timeout = 60)
{
    char state2[400], file[400], out[4096];
    snprintf(state2, sizeof(state2), "%s/state2", t.dir);
    snprintf(file, sizeof(file), "%s/notes.txt", t.dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("precious", f);
    fclose(f);
    int rc =
        run_cli(&t, (const char *const[]){"daemon", "--state-dir", state2, "--socket", file, NULL},
                out, sizeof(out));
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, file) && strstr(out, "exists and is not a socket"), "%s", out);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "the file was removed");
    cr_assert_eq(st.st_size, 8);
    rc = run_cli(&t,
                 (const char *const[]){"daemon", "--state-dir", state2, "--socket", t.socket, NULL},
                 out, sizeof(out));
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "another daemon is listening there"), "%s", out);
    cr_assert_eq(api(&t, "GET", "/v1/host", NULL, NULL), 200, "the first daemon lost its socket");
}

struct plan_wait {
    const char *fragment;
};

static bool plan_says(struct test_daemon *td, void *arg)
{
    struct plan_wait *w = arg;
    cJSON *o;
    api(td, "GET", "/v1/host", NULL, &o);
    bool ok = strstr(jstr(o, "plan"), w->fragment) != NULL;
    cJSON_Delete(o);
    return ok;
}

Test(api, jobs_go_through_the_scheduler)
{
    cr_assert_eq(api(&t, "POST", "/v1/batch", job_body("fits"), NULL), 201);
    struct plan_wait planned = {"planned 1 batch job(s) with the scheduler"};
    wait_for(&t, plan_says, &planned, "a plan with the job");
    /* A job larger than this host: no plan can hold it, windows alone decide. */
    char body[PATH_MAX + 400];
    snprintf(body, sizeof(body),
             "{\"name\":\"huge\",\"image\":\"%s\",\"cpus\":1000,"
             "\"window\":{\"cron\":\"0 22 * * *\",\"duration\":\"8h\"}}",
             abs_path_to("build/examples/hashchain.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/batch", body, NULL), 201);
    struct plan_wait none = {"windows alone decide"};
    wait_for(&t, plan_says, &none, "the planner to refuse the oversized job");
}

Test(api, a_damaged_state_file_is_refused_by_name)
{
    daemon_kill9(&t);
    char path[400];
    snprintf(path, sizeof(path), "%s/state.json", t.state);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"version\": 1, \"vms\": [{\"name\": \"x\"}]}", f);
    fclose(f);
    char out[4096];
    int rc = run_cli(
        &t, (const char *const[]){"daemon", "--state-dir", t.state, "--socket", t.socket, NULL},
        out, sizeof(out));
    cr_assert_eq(rc, 65, "%s", out);
    cr_assert(strstr(out, "state.json") && strstr(out, "VM \"x\""), "%s", out);
}

/* tidal serve end to end: a real server on a loopback port, driven with libcurl.
 * Every behaviour is checked on both backends: process (runs anywhere) and vm (needs
 * KVM; `make test-nested` runs it where /dev/kvm is missing). */
#include "server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A config with the test functions and tight limits, written to a temp file. */
static const char *write_config(bool vm)
{
    static char path[64];
    strcpy(path, "/tmp/tidal-serve-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "{\"functions\": {\n"
            " \"echo\": {\"image\": \"%s\", \"max_body\": \"64K\"},\n"
            " \"small\": {\"image\": \"%s\", \"max_body\": 16},\n"
            " \"short\": {\"image\": \"%s\", \"max_output\": 64},\n"
            " \"crash\": {\"image\": \"%s\"},\n"
            " \"fail\": {\"image\": \"%s\"},\n"
            " \"spin\": {\"image\": \"%s\", \"timeout\": 0.5, \"max_concurrency\": 1,"
            " \"max_queue\": 0},\n"
            " \"slow\": {\"image\": \"%s\", \"timeout\": 30}\n"
            "}}\n",
            function_image("echo", vm), function_image("echo", vm), function_image("echo", vm),
            function_image("fn_crash", vm), function_image("fn_fail", vm),
            function_image("fn_spin", vm), function_image("fn_slow", vm));
    fclose(f);
    return path;
}

static void start(struct server *s, bool vm, const char *extra)
{
    const char *args[] = {"--config", write_config(vm),      "--workers",
                          "2",        "--backend",           vm ? "vm" : "process",
                          extra,      extra ? "json" : NULL, NULL};
    server_start(s, args);
}

static void invoke(struct server *s, const char *fn, const char *body, struct reply *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/functions/%s/invoke", fn);
    http(s, "POST", path, body, body ? strlen(body) : 0, r);
}

static void expect_error(const struct reply *r, long status, const char *error, const char *detail)
{
    cr_expect_eq(r->status, status, "status %ld, expected %ld: %s", r->status, status, r->body);
    cJSON *o = cJSON_Parse(r->body);
    cr_assert(o, "not JSON: %s", r->body);
    cJSON *e = cJSON_GetObjectItem(o, "error"), *d = cJSON_GetObjectItem(o, "detail");
    cr_expect(cJSON_IsString(e) && !strcmp(e->valuestring, error), "error: %s", r->body);
    if (detail)
        cr_expect(cJSON_IsString(d) && strstr(d->valuestring, detail), "detail lacks '%s': %s",
                  detail, r->body);
    cJSON_Delete(o);
}

static void check_routes(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    struct reply r;
    http(&s, "GET", "/healthz", NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "{\"status\":\"ok\"}");
    invoke(&s, "echo", "hi", &r);
    cr_expect_eq(r.status, 200);
    http(&s, "GET", "/v1/functions", NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    cJSON *list = cJSON_GetObjectItem(o, "functions");
    cr_assert_eq(cJSON_GetArraySize(list), 7, "%s", r.body);
    cJSON *echo = cJSON_GetArrayItem(list, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(echo, "name")->valuestring, "echo");
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(echo, "invocations"), "ok")->valueint, 1);
    cJSON_Delete(o);
    http(&s, "GET", "/metrics", NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, "tidal_invocations_total{function=\"echo\",outcome=\"ok\"} 1\n"), "%s",
              r.body);
    cr_expect(strstr(r.body, "tidal_invocation_duration_seconds_count{function=\"echo\"} 1\n"));
    cr_expect(strstr(r.body, "tidal_resident_bytes "));
    /* VM: the one request cost one exit (counted before the answer went out). */
    cr_expect(strstr(r.body, vm ? "tidal_vm_exits_total{function=\"echo\"} 1\n"
                                : "tidal_process_spawns_total{function=\"echo\"} 1\n"));
    http(&s, "GET", "/nowhere", NULL, 0, &r);
    expect_error(&r, 404, "not_found", NULL);
    http(&s, "GET", "/v1/functions/echo/invoke", NULL, 0, &r);
    expect_error(&r, 405, "method_not_allowed", NULL);
    http(&s, "DELETE", "/healthz", NULL, 0, &r);
    expect_error(&r, 405, "method_not_allowed", NULL);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

static void check_statuses(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    struct reply r;
    invoke(&s, "nosuch", "x", &r);
    expect_error(&r, 404, "unknown_function", "nosuch");
    invoke(&s, "small", "this body is longer than sixteen bytes", &r);
    expect_error(&r, 413, "body_too_large", "16 bytes");
    /* Without Content-Length the limit is found while reading. */
    http_post_chunked(&s, "/v1/functions/small/invoke", "a chunked body over sixteen bytes", &r);
    expect_error(&r, 413, "body_too_large", "16 bytes");
    invoke(&s, "small", "sixteen bytes ok", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    /* Output is bounded: echo's answer to this body is longer than 64 bytes. */
    invoke(&s, "short", "a body that, echoed with its header line, is over sixty-four bytes", &r);
    expect_error(&r, 502, "output_too_large", "more than 64 bytes");
    invoke(&s, "short", "fits", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    invoke(&s, "crash", "", &r);
    expect_error(&r, 502, "function_crashed", vm ? "page fault" : "signal 11");
    invoke(&s, "fail", "", &r);
    expect_error(&r, 502, "function_failed", "exit status 3");
    cr_expect(strstr(r.body, "no luck today"), "stderr missing: %s", r.body);
    invoke(&s, "spin", "", &r);
    expect_error(&r, 504, "function_timeout", NULL);
    cr_expect_eq(server_stop(&s), 0);
}

struct call {
    struct server *s;
    const char *fn;
    const char *body;
    unsigned times;
    struct reply r;
    unsigned ok;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    for (unsigned i = 0; i < c->times; i++) {
        invoke(c->s, c->fn, c->body, &c->r);
        c->ok += c->r.status == 200;
    }
    return NULL;
}

/* Waits until the server reports an invocation of fn running. */
static void wait_running(struct server *s, const char *fn)
{
    char want[128];
    snprintf(want, sizeof(want), "tidal_running{function=\"%s\"} 1\n", fn);
    struct reply r;
    for (int i = 0; i < 3000; i++) {
        http(s, "GET", "/metrics", NULL, 0, &r);
        if (strstr(r.body, want))
            return;
        usleep(10000);
    }
    cr_assert_fail("%s never started running", fn);
}

static void check_overload(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    struct call spinning = {.s = &s, .fn = "spin", .body = "", .times = 1};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &spinning);
    wait_running(&s, "spin");
    struct reply r;
    invoke(&s, "spin", "", &r);
    expect_error(&r, 503, "overloaded", NULL);
    cr_expect_str_eq(r.retry_after, "1");
    pthread_join(t, NULL);
    cr_expect_eq(spinning.r.status, 504);
    cr_expect_eq(server_stop(&s), 0);
}

/* 1000 invocations, each with its own input, each answered with exactly that input. */
static void check_sequential(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    unsigned wrong = 0;
    for (unsigned i = 0; i < 1000; i++) {
        char body[64], want[128];
        int n = snprintf(body, sizeof(body), "request %u: %08x", i, i * 2654435761u);
        snprintf(want, sizeof(want), "echo ready: %d bytes\n%s", n, body);
        struct reply r;
        invoke(&s, "echo", body, &r);
        if (r.status != 200 || strcmp(r.body, want)) {
            if (!wrong)
                cr_log_error("request %u: status %ld, body '%s', expected '%s'", i, r.status,
                             r.body, want);
            wrong++;
        }
    }
    cr_expect_eq(wrong, 0, "%u of 1000 answers were wrong", wrong);
    struct reply r;
    http(&s, "GET", "/metrics", NULL, 0, &r);
    cr_expect(strstr(r.body, "tidal_invocations_total{function=\"echo\",outcome=\"ok\"} 1000\n"));
    /* Every answer came from a VM at the template point, with one exit each. */
    if (vm)
        cr_expect(strstr(r.body, "tidal_vm_exits_total{function=\"echo\"} 1000\n"), "%s", r.body);
    cr_expect_eq(server_stop(&s), 0);
}

/* A crashing and a spinning function, called all along, while a healthy one serves. */
static void check_isolation(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    struct call spin = {.s = &s, .fn = "spin", .body = "", .times = 3};
    struct call crash = {.s = &s, .fn = "crash", .body = "", .times = 5};
    pthread_t ts, tc;
    pthread_create(&ts, NULL, call_thread, &spin);
    pthread_create(&tc, NULL, call_thread, &crash);
    unsigned good = 0;
    for (unsigned i = 0; i < 50; i++) {
        struct reply r;
        invoke(&s, "echo", "still here", &r);
        good += r.status == 200 && !strcmp(r.body, "echo ready: 10 bytes\nstill here");
    }
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    cr_expect_eq(good, 50, "%u of 50 healthy requests answered correctly", good);
    cr_expect_eq(crash.ok, 0);
    cr_expect_eq(crash.r.status, 502);
    cr_expect(spin.r.status == 504 || spin.r.status == 503, "spin: %ld", spin.r.status);
    cr_expect_eq(server_stop(&s), 0);
}

/* SIGTERM while a request runs: the request still gets its answer, then the server
 * exits 0. */
static void check_graceful_stop(bool vm)
{
    struct server s;
    start(&s, vm, NULL);
    struct call slow = {.s = &s, .fn = "slow", .body = "in flight", .times = 1};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &slow);
    wait_running(&s, "slow");
    int status = server_stop(&s);
    pthread_join(t, NULL);
    cr_expect_eq(slow.r.status, 200, "in-flight request: %ld %s", slow.r.status, slow.r.body);
    cr_expect_str_eq(slow.r.body, "slow: in flight");
    cr_expect_eq(status, 0);
    cr_expect(strstr(server_log(&s), "finishing 1 request(s) in flight"), "%s", server_log(&s));
}

static void check_logs(bool vm)
{
    struct server s;
    start(&s, vm, "--log-format");
    struct reply r;
    invoke(&s, "echo", "log me", &r);
    cr_expect_eq(server_stop(&s), 0);
    const char *log = server_log(&s);
    const char *line = strstr(log, "{\"time\"");
    cr_assert(line, "no JSON log line: %s", log);
    cJSON *o = cJSON_ParseWithOpts(line, NULL, false);
    cr_assert(o, "log line is not JSON: %s", line);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "method")->valuestring, "POST");
    cr_expect_str_eq(cJSON_GetObjectItem(o, "function")->valuestring, "echo");
    cr_expect_eq(cJSON_GetObjectItem(o, "status")->valueint, 200);
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(o, "latency_ms")));
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(o, "exits")));
    cJSON_Delete(o);
}

#define BOTH_BACKENDS(name)                                                                        \
    Test(serve_process, name, .timeout = 300)                                                      \
    {                                                                                              \
        check_##name(false);                                                                       \
    }                                                                                              \
    Test(serve_vm, name, .timeout = 600)                                                           \
    {                                                                                              \
        require_kvm();                                                                             \
        check_##name(true);                                                                        \
    }

BOTH_BACKENDS(routes)
BOTH_BACKENDS(statuses)
BOTH_BACKENDS(overload)
BOTH_BACKENDS(sequential)
BOTH_BACKENDS(isolation)
BOTH_BACKENDS(graceful_stop)
BOTH_BACKENDS(logs)

/* Routing runs on the path as sent: an encoded '/' or NUL is refused, never decoded
 * into a route; other encoded characters match no route. */
Test(serve_process, encoded_separators_are_refused, .timeout = 300)
{
    struct server s;
    start(&s, false, NULL);
    struct reply r;
    http(&s, "POST", "/v1/functions/echo%2Finvoke", "x", 1, &r);
    expect_error(&r, 400, "bad_path", "%2F");
    http(&s, "POST", "/v1/functions/echo/invoke%00garbage", "x", 1, &r);
    expect_error(&r, 400, "bad_path", "%00");
    http(&s, "POST", "/v1/functions/echo%2finvoke", "x", 1, &r);
    expect_error(&r, 400, "bad_path", NULL);
    http(&s, "POST", "/v1/functions/%65cho/invoke", "x", 1, &r);
    expect_error(&r, 404, "unknown_function", NULL);
    http(&s, "GET", "/healthz%00", NULL, 0, &r);
    expect_error(&r, 400, "bad_path", NULL);
    http(&s, "POST", "/v1/functions/echo/invoke", "x", 1, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

/* Sends one request as raw bytes (curl would refuse control characters or repeated
 * headers) and reads the answer until the server closes; returns its start. */
static const char *raw_request(const struct server *s, const char *text)
{
    static char answer[4096];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
        got += (size_t)n;
    answer[got] = 0;
    close(fd);
    return answer;
}

/* With default limits, a spinning function cannot take every worker: echo is answered
 * while the spins still run, before any of them has timed out. */
Test(serve_process, default_limits_leave_a_worker_to_others, .timeout = 300)
{
    char echo[600], spin[600];
    snprintf(echo, sizeof(echo), "echo=%s", function_image("echo", false));
    snprintf(spin, sizeof(spin), "spin=%s", function_image("fn_spin", false));
    const char *args[] = {"--function", echo,        "--function", spin, "--workers",
                          "2",          "--backend", "process",    NULL};
    struct server s;
    server_start(&s, args);
    struct call spins = {.s = &s, .fn = "spin", .body = "", .times = 1};
    struct call more = spins;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, call_thread, &spins);
    wait_running(&s, "spin");
    pthread_create(&t2, NULL, call_thread, &more);
    struct reply r;
    for (int i = 0; i < 3000; i++) { /* until the second spin is running or queued */
        http(&s, "GET", "/metrics", NULL, 0, &r);
        if (strstr(r.body, "tidal_running{function=\"spin\"} 2\n") ||
            strstr(r.body, "tidal_queued{function=\"spin\"} 1\n"))
            break;
        usleep(10000);
    }
    invoke(&s, "echo", "hi", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    http(&s, "GET", "/metrics", NULL, 0, &r);
    cr_expect(
        !strstr(r.body, "tidal_invocations_total{function=\"spin\",outcome=\"timeout\"} 1") &&
            !strstr(r.body, "tidal_invocations_total{function=\"spin\",outcome=\"timeout\"} 2"),
        "echo waited for a spin to time out: %s", r.body);
    server_stop(&s);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
}

/* Two Content-Length headers leave the body's framing in doubt: refused unread. */
Test(serve_process, repeated_content_length_is_refused, .timeout = 300)
{
    struct server s;
    start(&s, false, NULL);
    const char *answer = raw_request(&s, "POST /v1/functions/echo/invoke HTTP/1.1\r\nHost: a\r\n"
                                         "Content-Length: 2\r\nContent-Length: 4\r\n"
                                         "Connection: close\r\n\r\nabcd");
    cr_expect(!strncmp(answer, "HTTP/1.1 400", 12), "%s", answer);
    cr_expect(strstr(answer, "Content-Length is given more than once"), "%s", answer);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

/* The request log escapes the client's path: neither a decoded CR LF nor a terminal
 * escape reaches it. */
Test(serve_process, log_lines_cannot_be_forged, .timeout = 300)
{
    struct server s;
    start(&s, false, NULL);
    raw_request(&s, "GET /x%0D%0Aforged%20line HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    raw_request(&s, "GET /x\x1b[2Jred HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    struct reply r;
    http(&s, "GET", "/healthz", NULL, 0, &r);
    cr_expect_eq(server_stop(&s), 0);
    const char *log = server_log(&s);
    cr_expect(!strstr(log, "\nforged"), "a forged line: %s", log);
    cr_expect(!strchr(log, '\x1b'), "a raw escape character: %s", log);
    cr_expect(strstr(log, "/x%0D%0Aforged%20line"), "%s", log);
}

/* Templates are unlinked once opened and their directory removed before the server
 * listens: SIGKILL leaves nothing in the template directory. */
Test(serve_vm, sigkill_leaves_no_template_directory, .timeout = 600)
{
    require_kvm();
    char base[] = "/tmp/tidal-templates-XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    struct server s;
    const char *args[] = {"--config", write_config(true), "--workers", "2", "--backend",
                          "vm",       "--template-dir",   base,        NULL};
    server_start(&s, args);
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    cr_expect_eq(rmdir(base), 0, "%s is not empty after SIGKILL", base);
}

/* A guest that keeps each request in memory must not show it to the next one. */
Test(serve_vm, no_leak_between_requests, .timeout = 600)
{
    require_kvm();
    struct server s;
    char fn[4200];
    snprintf(fn, sizeof(fn), "secret=%s", function_image("fn_secret", true));
    const char *args[] = {"--function", fn, NULL};
    server_start(&s, args);
    for (unsigned i = 0; i < 5; i++) {
        struct reply r;
        invoke(&s, "secret", "the password is swordfish", &r);
        cr_expect_eq(r.status, 200);
        cr_expect_str_eq(r.body, "static=[] heap=[]\n", "request %u saw: %s", i, r.body);
    }
    cr_expect_eq(server_stop(&s), 0);
}

/* A function must reach tidal_ready(): one that exits first is refused at start. */
Test(serve_vm, refuses_function_without_ready, .timeout = 300)
{
    require_kvm();
    char fn[4200], err[8192];
    snprintf(fn, sizeof(fn), "hello=%s", function_image("hello", true));
    const char *args[] = {"serve", "--listen", "127.0.0.1:0", "--function", fn, NULL};
    cr_expect_eq(run_tidal_captured(args, NULL, err, sizeof(err)), 65, "%s", err);
    cr_expect(strstr(err, "before calling tidal_ready()"), "%s", err);
}

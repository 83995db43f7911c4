/* Reused VMs in tidal serve: the budgets of a request on a VM reset in place, and
 * that a reset leaves nothing of a request behind. Every server here runs with the
 * verification mode on: after each reset the whole guest memory and vCPU state are
 * compared with the template, and any difference aborts the server. */
#include "server.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void start_one(struct server *s, const char *name, const char *image, const char *limits)
{
    static char path[64];
    strcpy(path, "/tmp/tidal-reuse-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"functions\": {\"%s\": {\"image\": \"%s\"%s%s}}}\n", name, image,
            limits ? ", " : "", limits ? limits : "");
    fclose(f);
    setenv("TIDAL_VERIFY_RESET", "1", 1);
    const char *args[] = {"--config", path, "--workers", "2", NULL};
    server_start(s, args);
}

static void invoke(struct server *s, const char *fn, const char *body, struct reply *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/functions/%s/invoke", fn);
    http(s, "POST", path, body, strlen(body), r);
}

/* The value of a metric line `name{function="fn"} N`; -1 when absent. */
static long long metric(struct server *s, const char *name, const char *fn)
{
    struct reply r;
    http(s, "GET", "/metrics", NULL, 0, &r);
    char key[160];
    snprintf(key, sizeof(key), "\n%s{function=\"%s\"} ", name, fn);
    const char *at = strstr(r.body, key);
    return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

/* Resets and teardowns happen after the answer has gone: wait (boundedly) for the
 * counter to reach `want`, then return what it is. */
static long long metric_reaches(struct server *s, const char *name, const char *fn, long long want)
{
    long long v = -1;
    for (int tries = 0; tries < 300 && (v = metric(s, name, fn)) < want; tries++)
        usleep(100 * 1000);
    return v;
}

Test(serve_reuse, echo_costs_one_exit_and_no_vm, .timeout = 900)
{
    require_kvm();
    struct server s;
    start_one(&s, "echo", function_image("echo", true), "\"max_concurrency\": 1");
    struct reply r;
    invoke(&s, "echo", "warm", &r); /* the first request on a VM faults its pages in */
    cr_assert_eq(r.status, 200, "%s", r.body);
    long long created = metric(&s, "tidal_vm_creations_total", "echo");
    long long torn = metric(&s, "tidal_vm_teardowns_total", "echo");
    unsigned wrong = 0, over_budget = 0;
    long last_vm_requests = r.vm_requests;
    for (unsigned i = 0; i < 1000; i++) {
        char body[64], want[128];
        int n = snprintf(body, sizeof(body), "request %u: %08x", i, i * 2654435761u);
        snprintf(want, sizeof(want), "echo ready: %d bytes\n%s", n, body);
        invoke(&s, "echo", body, &r);
        if (r.status != 200 || strcmp(r.body, want))
            wrong++;
        if (r.exits != 1 && !over_budget++)
            cr_log_error("request %u: %ld exits", i, r.exits);
        cr_expect_eq(r.vm_requests, last_vm_requests + 1, "request %u ran on another VM", i);
        last_vm_requests = r.vm_requests;
    }
    cr_expect_eq(wrong, 0, "%u of 1000 answers were wrong", wrong);
    cr_expect_eq(over_budget, 0, "%u of 1000 requests made more than one exit", over_budget);
    cr_expect_eq(metric(&s, "tidal_vm_creations_total", "echo"), created);
    cr_expect_eq(metric(&s, "tidal_vm_teardowns_total", "echo"), torn);
    cr_expect_eq(metric_reaches(&s, "tidal_vm_resets_total", "echo", 1001), 1001);
    cr_expect_eq(metric(&s, "tidal_vm_exits_total", "echo"), 1001);
    long long pages = metric(&s, "tidal_pages_reset_total", "echo");
    cr_log_info("echo on a reused VM: %lld pages reset in 1001 requests, %lld reprotected, %lld "
                "KVM ioctls in resets, pf_taken %lld",
                pages, metric(&s, "tidal_reprotected_pages_total", "echo"),
                metric(&s, "tidal_reset_kvm_ioctls_total", "echo"),
                metric(&s, "tidal_pf_taken_total", "echo"));
    /* Echo itself writes about ten pages (stack, stdio and console buffers, its input
     * copy, the call block, the clock). Hosts differ in what else they report: with
     * nested paging a page-table walk marks the guest's page-table pages written (six
     * more here), with shadow paging it does not. The budget covers both, not one. */
    cr_expect(pages > 0 && pages <= 1001 * 32, "%lld pages reset", pages);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

Test(serve_reuse, scribbler_finds_only_the_template, .timeout = 600)
{
    require_kvm();
    struct server s;
    start_one(&s, "scribble", function_image("fn_scribble", true),
              "\"max_concurrency\": 1, \"memory\": \"16M\"");
    for (unsigned i = 0; i < 20; i++) {
        struct reply r;
        invoke(&s, "scribble", "", &r);
        cr_expect_eq(r.status, 200, "request %u: %ld %s", i, r.status, r.body);
        cr_expect(!strncmp(r.body, "clean", 5), "request %u: %s", i, r.body);
        cr_expect_eq(r.vm_requests, i + 1, "request %u ran on another VM", i);
    }
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

/* A VM whose request failed in any way is replaced, and the next request is served. */
Test(serve_reuse, failures_then_normal_requests, .timeout = 600)
{
    require_kvm();
    struct server s;
    start_one(&s, "mood", function_image("fn_mood", true),
              "\"max_concurrency\": 1, \"timeout\": 1, \"max_output\": \"4K\"");
    static const struct {
        const char *body;
        long status;
    } calls[] = {{"crash", 502}, {"spin", 504}, {"big", 502}, {"fail", 502}};
    for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        struct reply r;
        invoke(&s, "mood", calls[i].body, &r);
        cr_expect_eq(r.status, calls[i].status, "%s: %ld %s", calls[i].body, r.status, r.body);
        invoke(&s, "mood", "hello after", &r);
        cr_expect_eq(r.status, 200, "after %s: %ld %s", calls[i].body, r.status, r.body);
        cr_expect_str_eq(r.body, "hello after");
        cr_expect_eq(r.vm_requests, 1, "after %s: the failed VM was reused", calls[i].body);
    }
    cr_expect_eq(metric_reaches(&s, "tidal_vm_teardowns_total", "mood", 4), 4);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

Test(serve_reuse, fresh_entropy_and_clocks_per_request, .timeout = 600)
{
    require_kvm();
    struct server s;
    start_one(&s, "mood", function_image("fn_mood", true), "\"max_concurrency\": 1");
    char seen[20][40];
    for (unsigned i = 0; i < 20; i++) {
        struct reply r;
        invoke(&s, "mood", "random", &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        snprintf(seen[i], sizeof(seen[i]), "%.39s", r.body);
        for (unsigned j = 0; j < i; j++)
            cr_expect_str_neq(seen[i], seen[j], "requests %u and %u drew the same numbers", j, i);
    }
    unsigned long long last_mono = 0;
    for (unsigned i = 0; i < 5; i++) {
        struct reply r;
        invoke(&s, "mood", "clock", &r);
        unsigned long long mono = 0, wall = 0;
        cr_assert_eq(sscanf(r.body, "%llu %llu", &mono, &wall), 2, "%s", r.body);
        cr_expect_gt(mono, last_mono, "monotonic time went back between requests");
        last_mono = mono;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long host = (long long)now.tv_sec * 1000000000ll + now.tv_nsec;
        cr_expect(llabs(host - (long long)wall) < 60ll * 1000000000ll,
                  "guest wall clock %llu is far from the host's %lld", wall, host);
    }
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

/* Files in a function's config: the read-only tree is the template's, and each request
 * starts from the template's scratch files, never a previous request's. */
Test(serve_reuse, requests_see_the_templates_files_only, .timeout = 300)
{
    require_kvm();
    static char dir[64];
    strcpy(dir, "/tmp/tidal-fn-files-XXXXXX");
    cr_assert(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/greeting", dir);
    FILE *g = fopen(path, "w");
    fputs("hello from the host\n", g);
    fclose(g);
    char limits[256];
    snprintf(limits, sizeof(limits), "\"dirs\": [\"%s:/data\"], \"scratch\": \"64K\"", dir);
    struct server s;
    start_one(&s, "files", function_image("fn_files", true), limits);
    for (int i = 0; i < 20; i++) {
        struct reply r;
        char body[32];
        snprintf(body, sizeof(body), "request %d", i);
        invoke(&s, "files", body, &r);
        cr_assert_eq(r.status, 200, "request %d: %s", i, r.body);
        cr_assert_str_eq(r.body, "hello from the host\nstate: template\n", "request %d", i);
    }
    cr_assert_eq(server_stop(&s), 0, "%s", server_log(&s));
    unlink(path);
    rmdir(dir);
}

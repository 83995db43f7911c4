/* `tidal serve --kernel-metrics on`: /metrics adds the kernel's count of the server's
 * exits per function, one per echo request here; without BPF it says so and serves on. */
#include "server.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /metrics learns which function each VM belongs to from workers between jobs; a
 * worker still resetting its VM after the answer went out is not between jobs yet,
 * so the test asks again until nothing is unattributed (a bound on a hung server,
 * not a timing assertion). */
static void scrape_until_attributed(struct server *s, struct reply *r)
{
    for (int i = 0; i < 500; i++) {
        http(s, "GET", "/metrics", NULL, 0, r);
        cr_assert_eq(r->status, 200);
        if (!strstr(r->body, "(unattributed)"))
            return;
        usleep(10000);
    }
    cr_assert_fail("VMs left unattributed on /metrics:\n%s", r->body);
}

Test(kernel_metrics, exits_seen_by_the_kernel_on_metrics_per_function)
{
    require_kvm();
    struct server s;
    char fn[4200], fn2[4200];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", true));
    snprintf(fn2, sizeof(fn2), "echo2=%s", function_image("echo", true));
    const char *args[] = {"--function", fn, "--function", fn2, "--kernel-metrics", "on", NULL};
    server_start(&s, args);
    const char *log = server_log(&s);
    if (strstr(log, "--kernel-metrics: left out")) {
        char why[512];
        snprintf(why, sizeof(why), "%s", strstr(log, "--kernel-metrics"));
        server_stop(&s);
        cr_skip_test("SKIPPED: BPF unavailable: %s", why);
    }
    struct reply r;
    for (int i = 0; i < 5; i++) {
        http(&s, "POST", i < 3 ? "/v1/functions/echo/invoke" : "/v1/functions/echo2/invoke", "hi",
             2, &r);
        cr_assert_eq(r.status, 200);
        scrape_until_attributed(&s, &r);
    }
    /* echo answers with one exit per request; the templates were made before the load. */
    cr_expect(strstr(r.body, "tidal_kvm_user_exits_total{function=\"echo\",reason=\"io\"} 3\n"),
              "%s", r.body);
    cr_expect(strstr(r.body, "tidal_kvm_user_exits_total{function=\"echo2\",reason=\"io\"} 2\n"),
              "%s", r.body);
    cr_expect(strstr(r.body, "tidal_kvm_exit_interval_seconds_count{function=\"echo\"} "), "%s",
              r.body);
    cr_expect(
        strstr(r.body, "tidal_kvm_exit_interval_seconds_bucket{function=\"echo2\",le=\"+Inf\"} "));
    cr_expect_eq(server_stop(&s), 0);
}

Test(kernel_metrics, refused_load_leaves_the_figures_out_and_serves)
{
    require_kvm();
    setenv("TIDAL_TOP_DENY_BPF", "1", 1);
    struct server s;
    char fn[4200];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", true));
    const char *args[] = {"--function", fn, "--kernel-metrics", "on", NULL};
    server_start(&s, args);
    cr_expect(strstr(server_log(&s), "--kernel-metrics: left out of /metrics"), "%s",
              server_log(&s));
    struct reply r;
    http(&s, "GET", "/metrics", NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(!strstr(r.body, "tidal_kvm_"), "%s", r.body);
    cr_expect_eq(server_stop(&s), 0);
}

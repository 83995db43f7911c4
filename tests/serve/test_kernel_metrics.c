/* `tidal serve --kernel-metrics on`: /metrics adds the kernel's count of the server's
 * exits, one per echo request here; without BPF it says so and serves on. */
#include "server.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(kernel_metrics, exits_seen_by_the_kernel_on_metrics)
{
    require_kvm();
    struct server s;
    char fn[4200];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", true));
    const char *args[] = {"--function", fn, "--kernel-metrics", "on", NULL};
    server_start(&s, args);
    const char *log = server_log(&s);
    if (strstr(log, "--kernel-metrics: left out")) {
        char why[512];
        snprintf(why, sizeof(why), "%s", strstr(log, "--kernel-metrics"));
        server_stop(&s);
        cr_skip_test("SKIPPED: BPF unavailable: %s", why);
    }
    struct reply r;
    for (int i = 0; i < 3; i++) {
        http(&s, "POST", "/v1/functions/echo/invoke", "hi", 2, &r);
        cr_assert_eq(r.status, 200);
    }
    http(&s, "GET", "/metrics", NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    /* echo answers with one exit per request; the template was made before the load. */
    cr_expect(strstr(r.body, "tidal_kvm_user_exits_total{reason=\"io\"} 3\n"), "%s", r.body);
    /* Intervals: one fewer than a VM's exits, and requests spread over the pool's VMs. */
    cr_expect(strstr(r.body, "tidal_kvm_exit_interval_seconds_count "), "%s", r.body);
    cr_expect(strstr(r.body, "tidal_kvm_exit_interval_seconds_bucket{le=\"+Inf\"} "));
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

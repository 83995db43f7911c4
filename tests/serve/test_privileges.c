/* Least privilege for serve (needs KVM and root): --user drops to the user once the
 * templates are built and the port is bound; requests are still served (the KVM
 * handle stays open), the process runs as the user, confined, and cannot dump core. */
#include "server.h"
#include "tidal/confine.h"

#include <criterion/criterion.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

Test(serve_privileges, user_nobody_serves_requests, .timeout = 300)
{
    require_kvm();
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw)
        cr_skip_test("needs root and a user \"nobody\" to drop to");
    struct server s;
    char fn[4200];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", true));
    const char *args[] = {"--function", fn, "--user", "nobody", NULL};
    server_start(&s, args);
    cr_expect_eq(proc_status_field(s.pid, "Uid"), (long)pw->pw_uid);
    if (tidal_confine_enabled())
        cr_expect_eq(proc_status_field(s.pid, "Seccomp"), 2);
    for (int i = 0; i < 20; i++) {
        struct reply r;
        http(&s, "POST", "/v1/functions/echo/invoke", "hello", 5, &r);
        cr_assert_eq(r.status, 200, "request %d: %ld %s", i, r.status, r.body);
        cr_assert(strstr(r.body, "hello"), "%s", r.body);
    }
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

Test(serve_privileges, an_unknown_user_is_refused)
{
    require_kvm();
    if (geteuid() != 0)
        cr_skip_test("needs root");
    char fn[4200], out[4096];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", true));
    const char *args[] = {"serve", "--listen", "127.0.0.1:0",       "--function",
                          fn,      "--user",   "no-such-user-here", NULL};
    int rc = run_tidal_captured(args, NULL, out, sizeof(out));
    cr_expect_neq(rc, 0);
    cr_expect(strstr(out, "--user no-such-user-here: no such user"), "%s", out);
}

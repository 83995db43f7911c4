/* `tidal plan` end to end: exit codes for each kind of user mistake, outputs written.
 * cli/plan.c is compiled into this suite: the test binary links the libraries only. */
#include "../../cli/plan.c"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <unistd.h>

#include "helpers.h"

static int run(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"plan";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    return tidal_cmd_plan(argc, argv);
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static char hosts[256], work[256];
static const char work_text[] =
    "[{\"name\": \"s\", \"type\": \"service\", \"cpu\": [2, 12, 2], \"memoryGB\": 8},"
    " {\"name\": \"b\", \"type\": \"batch\", \"cpu\": 8, \"memoryGB\": 16, "
    "\"runTime\": \"3h\", \"start\": \"18:00\", \"deadline\": \"06:00\", "
    "\"suspendable\": true}]";

static void setup(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    snprintf(hosts, sizeof hosts, "%s",
             th_write("cli-hosts.json",
                      "{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 16, \"memoryGB\": 64}]}"));
    snprintf(work, sizeof work, "%s", th_write("cli-work.json", work_text));
}

Test(cli, plans_and_writes_outputs, .init = setup)
{
    char out[256], svg[256];
    snprintf(out, sizeof out, "%s", th_write("cli-plan.json", ""));
    snprintf(svg, sizeof svg, "%s", th_write("cli-plan.svg", ""));
    unlink(out);
    unlink(svg);
    cr_assert_eq(
        RUN("--hosts", hosts, "--workloads", work, "--slot", "15m", "--out", out, "--svg", svg), 0);
    cr_assert_eq(access(out, R_OK), 0);
    /* The chart leads with the tide: demand by class against the fleet's capacity. */
    FILE *f = fopen(svg, "r");
    cr_assert_not_null(f);
    char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    for (size_t i = 0; i < 3; i++) {
        static const char *const bands[] = {"<title>services</title>", "<title>functions</title>",
                                            "<title>batch</title>"};
        cr_assert(strstr(text, bands[i]), "no %s band in the chart", bands[i]);
    }
    cr_assert(strstr(text, "fleet capacity"));
}

Test(cli, exit_codes, .init = setup)
{
    cr_assert_eq(RUN("--hosts", hosts), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads", work, "--slot", "7m"), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads", work, "--slot", "abc"), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads", work, "--frobnicate"), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", "/nonexistent.json", "--workloads", work), TIDAL_RC_NO_INPUT);
    cr_assert_eq(RUN("--hosts", hosts, "--from-traces", "/nonexistent-dir"), TIDAL_RC_NO_INPUT);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads", th_write("cli-bad.json", "[{]")),
                 TIDAL_RC_BAD_INPUT);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads",
                     th_write("cli-big.json", "[{\"name\": \"x\", \"type\": \"service\", "
                                              "\"cpu\": 99, \"memoryGB\": 1}]")),
                 EXIT_INFEASIBLE);
    cr_assert_eq(RUN("--hosts", hosts, "--workloads", work, "--out", "/nonexistent/p.json"),
                 EXIT_CANTCREAT);
    cr_assert_eq(RUN("--help"), 0);
}

Test(cli, forecast_exit_codes, .init = setup)
{
    char day[256], dir[256];
    snprintf(day, sizeof day, "%s", th_write("2026-03-01.json", "[]"));
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(day, '/') - day), day);
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir, "--for", "2026-02-30"), TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir, "--for", "2026-03-02", "--margin", "-1"),
                 TIDAL_RC_USAGE);
    cr_assert_eq(RUN("--hosts", hosts, "--history", "/nonexistent-dir", "--for", "2026-03-02"),
                 TIDAL_RC_NO_INPUT);
    /* Nothing before the first day; a replayed day that does not exist. */
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir, "--for", "2026-03-01"), TIDAL_RC_NO_INPUT);
    th_write("2026-03-01.json", work_text);
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir, "--for", "2026-03-05", "--replay"),
                 TIDAL_RC_NO_INPUT);
    cr_assert_eq(RUN("--hosts", hosts, "--history", dir, "--for", "2026-03-05"), 0);
}

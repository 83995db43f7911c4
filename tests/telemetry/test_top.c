/* `tidal top --once --json`: its schema, with a busy guest of another process on the
 * host; and what it says when BPF is refused (TIDAL_TOP_DENY_BPF=1 simulates the
 * refusal an unprivileged user gets, since the suite runs as root here). */
#include "../common/test_env.h"
#include "tidal/telemetry.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 20];

/* A guest making exits as fast as it can for a few seconds, in its own process. */
static pid_t start_storm(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const char *image = abs_path_to("build/tests/guests/exit_storm.elf");
        int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        execl(tidal_bin(), tidal_bin(), "run", "--timeout", "5", image, (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000);
    return pid;
}

static void stop_storm(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void expect_number(const cJSON *o, const char *name)
{
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, name)),
              "field '%s' missing or not a number", name);
}

Test(top, once_json_schema_lists_a_busy_guest)
{
    require_kvm();
    pid_t storm = start_storm();
    const char *args[] = {"top", "--once", "--json", "--interval", "0.3", NULL};
    int rc = run_tidal_captured(args, NULL, out, sizeof(out));
    stop_storm(storm);
    cr_assert_eq(rc, 0, "tidal top failed (%d): %s", rc, out);
    cJSON *doc = cJSON_Parse(out);
    cr_assert(doc, "not JSON: %s", out);
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(doc, "source");
    cr_assert(cJSON_IsString(source), "no 'source' string: %s", out);
    if (strcmp(source->valuestring, "bpf")) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "bpf_error");
        cJSON_Delete(doc);
        cr_skip_test("SKIPPED: BPF unavailable here (%s)",
                     cJSON_IsString(why) ? why->valuestring : "no reason given");
    }
    expect_number(doc, "interval_s");
    const cJSON *vms = cJSON_GetObjectItemCaseSensitive(doc, "vms");
    cr_assert(cJSON_IsArray(vms), "no 'vms' array: %s", out);
    const cJSON *mine = NULL, *vm;
    cJSON_ArrayForEach(vm, vms)
    {
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(vm, "pid");
        if (cJSON_IsNumber(pid) && pid->valuedouble == storm)
            mine = vm;
    }
    cr_assert(mine, "the storm guest (pid %d) is not listed: %s", storm, out);
    static const char *const numbers[] = {
        "tid",        "rss_kib",          "kernel_exits",      "kernel_exits_per_s",
        "user_exits", "user_exits_per_s", "page_faults",       "page_faults_per_s",
        "guest_ns",   "guest_pct",        "kernel_handling_ns"};
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        expect_number(mine, numbers[i]);
    cr_expect(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(mine, "vm_id")));
    cr_expect(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(mine, "command")));
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mine, "counted")));
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(mine, "user_exits_by_reason");
    cr_assert(cJSON_IsObject(by));
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(by, "io");
    cr_expect(cJSON_IsNumber(io) && io->valuedouble > 0, "the storm makes io exits: %s", out);
    cr_expect_gt(cJSON_GetObjectItemCaseSensitive(mine, "user_exits_per_s")->valuedouble, 0);
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(mine, "exit_interval_log2_ns");
    cr_expect(cJSON_IsArray(hist) && cJSON_GetArraySize(hist) == TIDAL_TOP_LAT_BUCKETS);
    cJSON_Delete(doc);
}

static char *const deny_env[] = {"TIDAL_TOP_DENY_BPF=1", "PATH=/usr/bin:/bin", NULL};

Test(top, refused_bpf_says_what_is_missing_and_falls_back)
{
    const char *args[] = {"top", "--once", "--interval", "0.1", NULL};
    int rc = run_tidal_captured(args, deny_env, out, sizeof(out));
    cr_assert_eq(rc, 0, "tidal top failed (%d): %s", rc, out);
    cr_expect(strstr(out, "CAP_BPF and CAP_PERFMON"), "no privilege named: %s", out);
    cr_expect(strstr(out, "showing the vCPU statistics"), "no fallback named: %s", out);
    cr_expect(strstr(out, "PID"), "no table: %s", out);

    const char *json_args[] = {"top", "--once", "--json", "--interval", "0.1", NULL};
    rc = run_tidal_captured(json_args, deny_env, out, sizeof(out));
    cr_assert_eq(rc, 0, "tidal top --json failed (%d): %s", rc, out);
    cJSON *doc = cJSON_Parse(out);
    cr_assert(doc, "not JSON: %s", out);
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(doc, "source");
    cr_expect(cJSON_IsString(source) && !strcmp(source->valuestring, "vcpu_stats"), "%s", out);
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "bpf_error");
    cr_expect(cJSON_IsString(why) && strstr(why->valuestring, "CAP_BPF"), "%s", out);
    cr_expect(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "vms")));
    cJSON_Delete(doc);
}

Test(top, bad_options_are_named)
{
    const char *args[] = {"top", "--sort", "colour", NULL};
    int rc = run_tidal_captured(args, NULL, out, sizeof(out));
    cr_expect_neq(rc, 0);
    cr_expect(strstr(out, "--sort 'colour'"), "%s", out);
    const char *args2[] = {"top", "--json", NULL};
    rc = run_tidal_captured(args2, NULL, out, sizeof(out));
    cr_expect_neq(rc, 0);
    cr_expect(strstr(out, "--json needs --once"), "%s", out);
}

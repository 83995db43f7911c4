/* Files for daemon VMs and jobs (needs KVM): a night job reads a read-only tree,
 * keeps its work in scratch files across a suspension to disk, and its /out is kept
 * and served by the API; a job that crashes leaves no outputs; bad trees are refused
 * when the job is submitted, naming the path. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct test_daemon t;
static char data_dir[300];

static void stop(void)
{
    daemon_stop(&t);
    if (data_dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", data_dir);
    }
}

TestSuite(daemon_files, .fini = stop, .timeout = 600);

static const char *const manual_clock[] = {"--clock-start",
                                           "2026-12-01T21:00:00Z",
                                           "--clock-scale",
                                           "0",
                                           "--tick",
                                           "0.05",
                                           "--checkpoint-interval",
                                           "0",
                                           NULL};

#define ROUNDS "200"
#define SPIN "20000000"

static void make_data(void)
{
    snprintf(data_dir, sizeof(data_dir), "/tmp/tidal-daemon-files.XXXXXX");
    cr_assert_not_null(mkdtemp(data_dir));
    char path[400];
    snprintf(path, sizeof(path), "%s/input.txt", data_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("1\n2\n39\n", f);
    fclose(f);
}

static void advance(double seconds)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"advance\":%.0f}", seconds);
    cr_assert_eq(api(&t, "POST", "/v1/clock", body, NULL), 200);
}

struct job_wait {
    const char *name, *state;
    double progress_above;
};

static bool job_reaches(struct test_daemon *td, void *arg)
{
    struct job_wait *w = arg;
    char path[128];
    snprintf(path, sizeof(path), "/v1/batch/%s", w->name);
    cJSON *o;
    cr_assert_eq(api(td, "GET", path, NULL, &o), 200);
    if (strcmp(w->state, "failed"))
        cr_assert(strcmp(jstr(o, "state"), "failed"), "the job failed: %s", jstr(o, "report"));
    bool ok = !strcmp(jstr(o, "state"), w->state) && jnum(o, "progress.done") > w->progress_above;
    cJSON_Delete(o);
    return ok;
}

static double progress(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/batch/%s", name);
    cJSON *o;
    api(&t, "GET", path, NULL, &o);
    double done = jnum(o, "progress.done");
    cJSON_Delete(o);
    return done;
}

/* What the same guest writes to /out/result.txt when nothing interrupts it. */
static void reference_result(char *out, size_t size)
{
    char spec[400], outdir[400];
    snprintf(spec, sizeof(spec), "%s:/data", data_dir);
    snprintf(outdir, sizeof(outdir), "%s/reference", data_dir);
    const char *args[] = {
        "run",          "--dir", spec,
        "--output-dir", outdir,  abs_path_to("build/tests/guests/night_files.elf"),
        ROUNDS,         SPIN,    NULL};
    char log[4096];
    cr_assert_eq(run_tidal_captured(args, NULL, log, sizeof(log)), 0, "%s", log);
    char path[500];
    snprintf(path, sizeof(path), "%s/result.txt", outdir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    cr_assert_not_null(fgets(out, (int)size, f));
    fclose(f);
}

Test(daemon_files, night_job_keeps_scratch_files_across_a_suspension_and_its_outputs_are_served)
{
    require_kvm();
    make_data();
    char expected[256];
    reference_result(expected, sizeof(expected));
    cr_assert(strstr(expected, "sum 42 lines " ROUNDS " "), "%s", expected);
    daemon_start(&t, manual_clock);

    char body[PATH_MAX + 600];
    snprintf(body, sizeof(body),
             "{\"name\":\"nf\",\"image\":\"%s\",\"args\":[\"" ROUNDS "\",\"" SPIN "\"],"
             "\"dirs\":[\"%s:/data\"],\"scratch\":\"1M\","
             "\"window\":{\"cron\":\"0 22 * * *\",\"duration\":\"8h\",\"tz\":\"UTC\"}}",
             abs_path_to("build/tests/guests/night_files.elf"), data_dir);
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/batch", body, &o), 201, "%s", jstr(o, "detail"));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "dirs")), 1,
                 "the job's spec shows its tree");
    cJSON_Delete(o);

    advance(3600); /* 22:00: the window opens */
    struct job_wait running = {"nf", "running", 2};
    wait_for(&t, job_reaches, &running, "the job to run a few rounds");
    advance(8 * 3600); /* 06:00: suspended to disk, scratch files with it */
    struct job_wait suspended = {"nf", "suspended", -1};
    wait_for(&t, job_reaches, &suspended, "the job to be suspended at day start");
    double at_dawn = progress("nf");
    cr_assert_lt(at_dawn, atof(ROUNDS), "the job must still have rounds left at dawn");
    cr_assert_eq(api(&t, "GET", "/v1/batch/nf/outputs", NULL, &o), 200);
    cr_assert_eq(cJSON_GetArraySize(o), 0, "no outputs before the job exits");
    cJSON_Delete(o);

    advance(16 * 3600); /* 22:00 again: resumed from its snapshot */
    struct job_wait done = {"nf", "done", -1};
    wait_for(&t, job_reaches, &done, "the job to finish on the second night");

    cr_assert_eq(api(&t, "GET", "/v1/batch/nf/outputs", NULL, &o), 200);
    cr_assert_eq(cJSON_GetArraySize(o), 1);
    const cJSON *first = cJSON_GetArrayItem(o, 0);
    cr_assert_str_eq(jstr(first, "path"), "result.txt");
    cr_assert_eq(jnum(first, "size"), (double)strlen(expected));
    cJSON_Delete(o);
    int status;
    char *text = api_text(&t, "/v1/batch/nf/outputs/result.txt", &status);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(text, expected, "every round's scratch line survived the suspension");
    free(text);
    cr_log_info("suspended at round %.0f of " ROUNDS "; result: %s", at_dawn, expected);

    cr_assert_eq(api(&t, "GET", "/v1/batch/nf/outputs/missing.txt", NULL, NULL), 404);
    cr_assert_eq(api(&t, "GET", "/v1/batch/nf/outputs/../state.json", NULL, NULL), 400);
    cr_assert_eq(api(&t, "GET", "/v1/batch/nf/outputs/./result.txt", NULL, NULL), 400);
}

Test(daemon_files, a_crashed_job_leaves_no_outputs)
{
    require_kvm();
    daemon_start(&t, manual_clock);
    char body[PATH_MAX + 300];
    snprintf(body, sizeof(body),
             "{\"name\":\"c\",\"image\":\"%s\",\"args\":[\"out_crash\"],"
             "\"window\":{\"cron\":\"0 22 * * *\",\"duration\":\"8h\",\"tz\":\"UTC\"}}",
             abs_path_to("build/tests/guests/files.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/batch", body, NULL), 201);
    advance(3600);
    struct job_wait failed = {"c", "failed", -1};
    wait_for(&t, job_reaches, &failed, "the job to crash");
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/batch/c", NULL, &o), 200);
    cr_assert(strstr(jstr(o, "report"), "partial.txt") == NULL && strlen(jstr(o, "report")) > 0,
              "a crash report, not a failed start: %s", jstr(o, "report"));
    cr_log_info("report: %.200s", jstr(o, "report"));
    cJSON_Delete(o);
    cr_assert_eq(api(&t, "GET", "/v1/batch/c/outputs", NULL, &o), 200);
    cr_assert_eq(cJSON_GetArraySize(o), 0, "a crash leaves no output");
    cJSON_Delete(o);
}

Test(daemon_files, bad_trees_are_refused_at_submission)
{
    daemon_start(&t, manual_clock);
    const char *image = abs_path_to("build/tests/guests/files.elf");
    static const struct {
        const char *trees, *fragment;
    } cases[] = {
        {"\"dirs\":[\"relative/dir:/data\"]", "is not absolute"},
        {"\"files\":[\"/no/such/file:/data/x\"]", "/no/such/file"},
        {"\"dirs\":[\"/tmp:/tmp\"]", "/tmp"},
        {"\"files\":[\"/dev/null:/data/null\"]", "/dev/null"},
        {"\"dirs\":[\"no-colon\"]", "HOST_PATH:GUEST_PATH"},
        {"\"dirs\":\"/data\"", "array"},
        {"\"scratch\":\"lots\"", "scratch"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int kind = 0; kind < 2; kind++) {
            char body[PATH_MAX + 400];
            snprintf(body, sizeof(body),
                     kind
                         ? "{\"name\":\"b%zu\",\"image\":\"%s\",%s,\"window\":{\"cron\":\"0 22 * * "
                           "*\",\"duration\":\"8h\",\"tz\":\"UTC\"}}"
                         : "{\"name\":\"v%zu\",\"image\":\"%s\",%s,\"start\":false}",
                     i, image, cases[i].trees);
            cJSON *o;
            int status = api(&t, "POST", kind ? "/v1/batch" : "/v1/vms", body, &o);
            cr_expect_eq(status, 400, "%s: status %d", body, status);
            cr_expect(strstr(jstr(o, "detail"), cases[i].fragment), "%s: '%s' lacks '%s'", body,
                      jstr(o, "detail"), cases[i].fragment);
            cJSON_Delete(o);
        }
    }
}

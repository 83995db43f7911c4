/* The acceptance test of the night-job runner (needs KVM). A long hash-chain batch
 * job crosses three simulated day/night boundaries on a manual clock: each day it is
 * suspended to disk, each night resumed; in the second night the daemon is killed
 * with SIGKILL and restarted, and the job resumes from its last checkpoint. Its final
 * digest must equal that of an uninterrupted run (the same program as a Linux
 * process), and a day service must answer through every transition. */
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

TestSuite(nightjob, .fini = stop, .timeout = 1800);

/* Long enough to need several nights at nested-KVM speed; $TIDAL_NIGHTJOB_STEPS
 * overrides it. */
static const char *steps(void)
{
    const char *s = getenv("TIDAL_NIGHTJOB_STEPS");
    return s && *s ? s : "3000000000";
}
#define TABLE_MIB "4"

static void reference_digest(char *out, size_t size)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "%s %s %s", abs_path_to("build/examples/hashchain.linux"), steps(),
             TABLE_MIB);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(out, (int)size, p));
    pclose(p);
    out[strcspn(out, "\n")] = 0;
    cr_assert(strstr(out, "digest "), "reference run printed: %s", out);
}

/* ---- the day service ----
 * examples/kv, a key-value lookup service reading requests on stdin: at every
 * transition the test sends it a lookup through the API and waits for its answer. */

static long service_answers, lookups_answered;
static unsigned next_key = 1;

/* The service is asked on every poll of a transition; it must answer as running. */
static void service_answers_running(void)
{
    cJSON *o;
    cr_assert_eq(api(&t, "GET", "/v1/vms/web", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "state"), "running", "the day service was %s", jstr(o, "state"));
    cJSON_Delete(o);
    service_answers++;
}

struct lookup {
    unsigned key;
    bool sent;
};

static bool service_answers_lookup(struct test_daemon *td, void *arg)
{
    struct lookup *l = arg;
    service_answers_running();
    char want[32];
    snprintf(want, sizeof(want), "k%u=", l->key);
    if (!l->sent) {
        char body[64];
        snprintf(body, sizeof(body), "{\"data\":\"k%u\\n\"}", l->key);
        cr_assert_eq(api(td, "POST", "/v1/vms/web/input", body, NULL), 202);
        l->sent = true;
    }
    int status;
    char *text = api_text(td, "/v1/vms/web/console", &status);
    bool answered = strstr(text, want) != NULL;
    free(text);
    lookups_answered += answered;
    return answered;
}

static void day_service_answers(const char *when)
{
    struct lookup l = {next_key++, false};
    char what[96];
    snprintf(what, sizeof(what), "the day service to answer a lookup %s", when);
    wait_for(&t, service_answers_lookup, &l, what);
}

/* ---- the job ---- */

struct job_wait {
    const char *state;
    double progress_above; /* -1: any */
    int min_chain;         /* snapshot files the job's VM must have */
};

static bool job_reaches(struct test_daemon *td, void *arg)
{
    struct job_wait *w = arg;
    service_answers_running();
    cJSON *o, *vm;
    cr_assert_eq(api(td, "GET", "/v1/batch/h", NULL, &o), 200);
    cr_assert_eq(api(td, "GET", "/v1/vms/h", NULL, &vm), 200);
    cr_assert(strcmp(jstr(o, "state"), "failed"), "the job failed: %s", jstr(o, "report"));
    bool ok = !strcmp(jstr(o, "state"), w->state) && jnum(o, "progress.done") > w->progress_above &&
              jnum(vm, "snapshots.chain") >= w->min_chain;
    cJSON_Delete(o);
    cJSON_Delete(vm);
    return ok;
}

static double job_progress(void)
{
    cJSON *o;
    api(&t, "GET", "/v1/batch/h", NULL, &o);
    double done = jnum(o, "progress.done");
    cJSON_Delete(o);
    return done;
}

static void advance(double seconds)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"advance\":%.0f}", seconds);
    cr_assert_eq(api(&t, "POST", "/v1/clock", body, NULL), 200);
}

static const char *const daemon_opts_day1[] = {
    "--clock-start", "2026-12-01T21:00:00Z",  "--clock-scale", "0", "--tick",
    "0.05",          "--checkpoint-interval", "0.3",           NULL};

Test(nightjob, three_nights_a_crash_and_the_same_result)
{
    require_kvm();
    char expected[512];
    reference_digest(expected, sizeof(expected));
    daemon_start(&t, daemon_opts_day1);

    char body[PATH_MAX + 300];
    snprintf(body, sizeof(body), "{\"name\":\"web\",\"image\":\"%s\",\"mem\":\"16M\"}",
             abs_path_to("build/examples/kv.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, NULL), 201);
    day_service_answers("before the first night");

    snprintf(body, sizeof(body),
             "{\"name\":\"h\",\"image\":\"%s\",\"args\":[\"%s\",\"%s\"],\"mem\":\"32M\","
             "\"window\":{\"cron\":\"0 22 * * *\",\"duration\":\"8h\",\"tz\":\"UTC\"}}",
             abs_path_to("build/examples/hashchain.elf"), steps(), TABLE_MIB);
    cJSON *o;
    cr_assert_eq(api(&t, "POST", "/v1/batch", body, &o), 201, "%s", jstr(o, "detail"));
    cr_assert_str_eq(jstr(o, "state"), "queued");
    cJSON_Delete(o);

    double done = -1;
    double to_night = 3600; /* 21:00 -> 22:00 the first time, then 06:00 -> 22:00 */
    for (int night = 1; night <= 3; night++) {
        advance(to_night);
        to_night = 16 * 3600;
        struct job_wait run = {"running", done, 0};
        wait_for(&t, job_reaches, &run, "the job to run (and progress) at night");
        if (night == 2) {
            /* A checkpoint taken this night, then SIGKILL mid-job. */
            struct job_wait checkpointed = {"running", job_progress(), 1};
            wait_for(&t, job_reaches, &checkpointed, "a checkpoint of the running job");
            cJSON *clock;
            api(&t, "GET", "/v1/clock", NULL, &clock);
            char now[32];
            snprintf(now, sizeof(now), "%s", jstr(clock, "now"));
            cJSON_Delete(clock);
            daemon_kill9(&t);
            daemon_restart(&t, (const char *const[]){"--clock-start", now, "--clock-scale", "0",
                                                     "--tick", "0.05", "--checkpoint-interval",
                                                     "0.3", NULL});
            struct job_wait back = {"running", -1, 1};
            wait_for(&t, job_reaches, &back, "the job to come back from its checkpoint");
            struct job_wait moving = {"running", job_progress(), 1};
            wait_for(&t, job_reaches, &moving, "the recovered job to progress");
        }
        day_service_answers("at night");
        done = job_progress();
        advance(8 * 3600); /* 06:00: day */
        struct job_wait suspended = {"suspended", -1, 1};
        wait_for(&t, job_reaches, &suspended, "the job to be suspended at day start");
        day_service_answers("in the day");
        cr_assert_lt(job_progress(), atof(steps()), "the job must still have work left");
    }
    advance(to_night);
    struct job_wait finished = {"done", -1, 0};
    wait_for(&t, job_reaches, &finished, "the job to finish on the fourth night");
    cr_assert_eq(api(&t, "GET", "/v1/batch/h", NULL, &o), 200);
    cr_assert_str_eq(jstr(o, "output_last_line"), expected);
    cr_assert_geq(jnum(o, "suspensions"), 3, "suspended at the start of each day");
    cr_assert_eq(jnum(o, "progress.done"), atof(steps()));
    cJSON_Delete(o);
    cr_assert_eq(api(&t, "GET", "/v1/vms/h", NULL, &o), 200);
    cr_assert_gt(jnum(o, "snapshots.diff"), 0, "suspensions used diff snapshots");
    cJSON_Delete(o);
    cr_assert_gt(service_answers, 10);
    cr_assert_geq(lookups_answered, 7, "a lookup answered before, and in each night and day");
    char out[4096];
    cr_assert_eq(run_cli(&t, (const char *const[]){"batch", "ls", NULL}, out, sizeof(out)), 0);
    cr_assert(strstr(out, "done") && strstr(out, "[##########################] 100.0%"), "%s", out);
}

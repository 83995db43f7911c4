/* Batch job specs: what `tidal batch submit job.json` sends (docs/api.md). */
#include "../json_fields.h"
#include "tidal/daemon.h"
#include "tidal/layout.h"
#include "tidal/scheduler.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tidal_check_name(const char *field, const char *name, struct tidal_err *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n < TIDAL_DAEMON_NAME_MAX && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("_.-", name[i]);
    return ok ? 0
              : tidal_err_set(err,
                              "%s \"%s\": expected 1 to %d characters of A-Z a-z 0-9 _ . - "
                              "(not starting with '.')",
                              field, name, TIDAL_DAEMON_NAME_MAX - 1);
}

static int parse_window(const cJSON *body, struct tidal_window *w, struct tidal_err *err)
{
    static const char *const known[] = {"cron", "duration", "tz", NULL};
    const cJSON *win = cJSON_GetObjectItemCaseSensitive(body, "window");
    if (!win)
        return tidal_err_set(err, "missing field \"window\" ({\"cron\": \"0 22 * * *\", "
                                  "\"duration\": \"8h\", \"tz\": \"UTC\"})");
    if (tidal_json_only_fields(win, "window.", known, err))
        return -1;
    const char *cron, *duration, *tz;
    if (tidal_json_string(win, "window.", "cron", true, &cron, err) ||
        tidal_json_string(win, "window.", "duration", true, &duration, err) ||
        tidal_json_string(win, "window.", "tz", false, &tz, err))
        return -1;
    return tidal_window_parse(cron, duration, tz, w, err);
}

int tidal_job_spec_parse(const cJSON *body, struct tidal_job_spec *spec, struct tidal_err *err)
{
    static const char *const known[] = {"name",  "image",    "args",     "mem",    "cpus",
                                        "work",  "duration", "deadline", "window", "dirs",
                                        "files", "scratch",  NULL};
    memset(spec, 0, sizeof(*spec));
    spec->mem_size = TIDAL_MEM_DEFAULT;
    spec->cpus = 1;
    const char *name, *duration, *deadline;
    double work = 0;
    if (tidal_json_only_fields(body, "", known, err) ||
        tidal_json_string(body, "", "name", true, &name, err) ||
        tidal_check_name("field \"name\"", name, err) ||
        tidal_json_image(body, spec->image, sizeof(spec->image), err) ||
        tidal_json_args(body, "args", TIDAL_JOB_MAX_ARGS, spec->argv, &spec->argc, err) ||
        tidal_json_check_args_fit(spec->image, spec->argv, spec->argc, err) ||
        tidal_json_mem(body, "", "mem", &spec->mem_size, err) ||
        tidal_json_number(body, "", "cpus", 0.01, 1024, &spec->cpus, err) ||
        tidal_json_number(body, "", "work", 0, 1e18, &work, err) ||
        tidal_json_string(body, "", "duration", false, &duration, err) ||
        tidal_json_string(body, "", "deadline", false, &deadline, err) ||
        parse_window(body, &spec->window, err) || tidal_json_trees(body, "", &spec->trees, err) ||
        tidal_json_size(body, "", "scratch", &spec->scratch_max, err))
        return -1;
    snprintf(spec->name, sizeof(spec->name), "%s", name);
    spec->work = (uint64_t)work;
    long secs;
    if (duration) {
        if (tsched_parse_duration(duration, &secs))
            return tidal_err_set(err,
                                 "field \"duration\" \"%s\": expected a duration such as "
                                 "\"2h\"",
                                 duration);
        spec->duration_s = (double)secs;
    }
    if (deadline) {
        struct tidal_err inner;
        if (tidal_parse_time(deadline, &spec->deadline, &inner))
            return tidal_err_set(err, "field \"deadline\": %s", inner.msg);
    }
    return 0;
}

void tidal_job_spec_free(struct tidal_job_spec *spec)
{
    for (int i = 0; i < spec->argc; i++)
        free(spec->argv[i]);
    spec->argc = 0;
    tidal_fs_trees_free(&spec->trees);
}

cJSON *tidal_job_spec_json(const struct tidal_job_spec *spec)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", spec->name);
    cJSON_AddStringToObject(o, "image", spec->image);
    cJSON *args = cJSON_AddArrayToObject(o, "args");
    for (int i = 0; i < spec->argc; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(spec->argv[i]));
    cJSON_AddNumberToObject(o, "mem", (double)spec->mem_size);
    cJSON_AddNumberToObject(o, "cpus", spec->cpus);
    if (spec->work)
        cJSON_AddNumberToObject(o, "work", (double)spec->work);
    if (spec->duration_s > 0) {
        char d[32];
        snprintf(d, sizeof(d), "%lds", (long)spec->duration_s);
        cJSON_AddStringToObject(o, "duration", d);
    }
    if (spec->deadline > 0) {
        char t[32];
        tidal_format_time(spec->deadline, t);
        cJSON_AddStringToObject(o, "deadline", t);
    }
    tidal_json_add_trees(o, &spec->trees);
    if (spec->scratch_max)
        cJSON_AddNumberToObject(o, "scratch", (double)spec->scratch_max);
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    cJSON_AddStringToObject(w, "cron", spec->window.cron);
    char d[32];
    snprintf(d, sizeof(d), "%lds", spec->window.duration_s);
    cJSON_AddStringToObject(w, "duration", d);
    cJSON_AddStringToObject(w, "tz", spec->window.tz);
    return o;
}

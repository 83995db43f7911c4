/* The daemon's pure parts: clock, windows, job specs, atomic files. */
#include "tidal/daemon.h"
#include "tidal/host_file.h"

#include "../../host/daemon/internal.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static double at(const char *iso)
{
    double t;
    struct tidal_err err;
    cr_assert_eq(tidal_parse_time(iso, &t, &err), 0, "%s", err.msg);
    return t;
}

Test(clock, manual_clock_moves_only_when_asked)
{
    struct tidal_clock c;
    struct tidal_err err;
    tidal_clock_init(&c, true, at("2026-12-01T21:00:00Z"), 0);
    cr_assert_float_eq(tidal_clock_now(&c), at("2026-12-01T21:00:00Z"), 1e-6);
    cr_assert_eq(tidal_clock_advance(&c, 3600, &err), 0);
    cr_assert_float_eq(tidal_clock_now(&c), at("2026-12-01T22:00:00Z"), 1e-6);
    cr_assert_neq(tidal_clock_advance(&c, -1, &err), 0, "backwards is refused");
}

Test(clock, real_and_scaled_clocks_refuse_manual_moves)
{
    struct tidal_clock c;
    struct tidal_err err;
    tidal_clock_init(&c, false, 0, 0);
    cr_assert_neq(tidal_clock_advance(&c, 10, &err), 0);
    cr_assert(strstr(err.msg, "--clock-scale 0"), "%s", err.msg);
    tidal_clock_init(&c, true, 1000, 60);
    cr_assert_neq(tidal_clock_advance(&c, 10, &err), 0);
    cr_assert_geq(tidal_clock_now(&c), 1000);
}

Test(clock, times_parse_and_print)
{
    struct tidal_err err;
    double t;
    cr_assert_eq(tidal_parse_time("1796162400", &t, &err), 0);
    char out[32];
    tidal_format_time(t, out);
    cr_assert_str_eq(out, "2026-12-01T22:00:00Z");
    cr_assert_neq(tidal_parse_time("tomorrow", &t, &err), 0);
    cr_assert(strstr(err.msg, "\"tomorrow\""), "%s", err.msg);
}

/* Found by fuzzing (tests/fuzz/corpus/fuzz_time/deadline-1e65): a number of seconds
 * past any time_t was accepted, and printing it, as a job's deadline is printed, was
 * undefined behaviour (a float to time_t conversion out of range) and garbage. */
Test(clock, times_past_year_9999_are_refused_and_never_printed_as_garbage)
{
    struct tidal_err err;
    double t;
    cr_assert_neq(tidal_parse_time("1.7e65", &t, &err), 0, "accepted as %g", t);
    cr_assert(strstr(err.msg, "\"1.7e65\""), "%s", err.msg);
    cr_assert_eq(tidal_parse_time("253402300799", &t, &err), 0, "%s", err.msg);
    char out[32];
    tidal_format_time(t, out);
    cr_assert_str_eq(out, "9999-12-31T23:59:59Z");
    /* state.json may hold any number: it prints as the nearest time in the format. */
    tidal_format_time(1e300, out);
    cr_assert_str_eq(out, "9999-12-31T23:59:59Z");
    tidal_format_time(-1e300, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00Z");
}

Test(window, night_window_wraps_midnight)
{
    struct tidal_window w;
    struct tidal_err err;
    cr_assert_eq(tidal_window_parse("0 22 * * *", "8h", "UTC", &w, &err), 0, "%s", err.msg);
    cr_assert_not(tidal_window_open(&w, at("2026-12-01T21:59:00Z")));
    cr_assert(tidal_window_open(&w, at("2026-12-01T22:00:00Z")));
    cr_assert(tidal_window_open(&w, at("2026-12-02T05:59:59Z")));
    cr_assert_not(tidal_window_open(&w, at("2026-12-02T06:00:00Z")));
    cr_assert_float_eq(tidal_window_next_change(&w, at("2026-12-01T12:00:00Z")),
                       at("2026-12-01T22:00:00Z"), 1e-6);
    cr_assert_float_eq(tidal_window_next_change(&w, at("2026-12-01T23:00:00Z")),
                       at("2026-12-02T06:00:00Z"), 1e-6);
}

Test(window, time_zone_shifts_the_window)
{
    struct tidal_window w;
    struct tidal_err err;
    /* Paris is UTC+1 in December: 22:00 local is 21:00 UTC. */
    cr_assert_eq(tidal_window_parse("0 22 * * *", "2h", "Europe/Paris", &w, &err), 0, "%s",
                 err.msg);
    cr_assert(tidal_window_open(&w, at("2026-12-01T21:30:00Z")));
    cr_assert_not(tidal_window_open(&w, at("2026-12-01T23:30:00Z")));
    /* ... and UTC+2 in July: 22:00 local is 20:00 UTC. */
    cr_assert(tidal_window_open(&w, at("2026-07-01T20:30:00Z")));
    cr_assert_not(tidal_window_open(&w, at("2026-07-01T22:30:00Z")));
}

Test(window, bad_fields_are_named)
{
    struct tidal_window w;
    struct tidal_err err;
    cr_assert_neq(tidal_window_parse("0 22 * *", "8h", "UTC", &w, &err), 0);
    cr_assert(strstr(err.msg, "window.cron"), "%s", err.msg);
    cr_assert_neq(tidal_window_parse("0 22 * * *", "30h", "UTC", &w, &err), 0);
    cr_assert(strstr(err.msg, "window.duration"), "%s", err.msg);
    cr_assert_neq(tidal_window_parse("0 22 * * *", "8h", "Mars/Olympus", &w, &err), 0);
    cr_assert(strstr(err.msg, "window.tz"), "%s", err.msg);
}

static int parse(const char *json, struct tidal_job_spec *spec, struct tidal_err *err)
{
    cJSON *o = cJSON_Parse(json);
    cr_assert_not_null(o, "test JSON: %s", json);
    int rc = tidal_job_spec_parse(o, spec, err);
    cJSON_Delete(o);
    return rc;
}

Test(job, a_full_spec_parses)
{
    struct tidal_job_spec s;
    struct tidal_err err;
    cr_assert_eq(parse("{\"name\":\"h1\",\"image\":\"/bin/sh\",\"args\":[\"5\",\"x\"],"
                       "\"mem\":\"64M\",\"cpus\":2,\"work\":1000,\"duration\":\"2h\","
                       "\"deadline\":\"2026-12-05T06:00:00Z\",\"window\":{\"cron\":\"30 1 * * "
                       "*\",\"duration\":\"4h\",\"tz\":\"UTC\"}}",
                       &s, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(s.name, "h1");
    cr_assert_eq(s.argc, 2);
    cr_assert_str_eq(s.argv[1], "x");
    cr_assert_eq(s.mem_size, 64u << 20);
    cr_assert_float_eq(s.duration_s, 7200, 1e-9);
    cr_assert_eq(s.window.start_s, 5400);
    cJSON *back = tidal_job_spec_json(&s);
    struct tidal_job_spec again;
    cr_assert_eq(tidal_job_spec_parse(back, &again, &err), 0, "round trip: %s", err.msg);
    cr_assert_eq(again.window.duration_s, s.window.duration_s);
    cr_assert_float_eq(again.deadline, s.deadline, 1e-6);
    cJSON_Delete(back);
    tidal_job_spec_free(&again);
    tidal_job_spec_free(&s);
}

Test(job, mistakes_are_named)
{
    static const struct {
        const char *json, *expect;
    } cases[] = {
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"window\":{\"cron\":\"0 22 * * *\","
         "\"duration\":\"8h\"},\"colour\":1}",
         "unknown field \"colour\""},
        {"{\"image\":\"/bin/sh\"}", "missing field \"name\""},
        {"{\"name\":\"a b\",\"image\":\"/bin/sh\"}", "field \"name\" \"a b\""},
        {"{\"name\":\"h\",\"image\":\"rel.elf\"}", "absolute path"},
        {"{\"name\":\"h\",\"image\":\"/no/such.elf\"}", "/no/such.elf"},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"mem\":\"lots\"}", "field \"mem\""},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"args\":[1]}", "item 0 is not a string"},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\"}", "missing field \"window\""},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"window\":{\"cron\":\"0 22 * * *\","
         "\"duration\":\"8h\",\"when\":1}}",
         "unknown field \"window.when\""},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"cpus\":-1,\"window\":{}}", "field \"cpus\""},
        {"{\"name\":\"h\",\"image\":\"/bin/sh\",\"deadline\":\"soon\",\"window\":{\"cron\":\"0 "
         "22 * * *\",\"duration\":\"8h\"}}",
         "field \"deadline\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tidal_job_spec s;
        struct tidal_err err;
        cr_assert_neq(parse(cases[i].json, &s, &err), 0, "accepted: %s", cases[i].json);
        cr_expect(strstr(err.msg, cases[i].expect), "%s: got \"%s\", expected \"%s\"",
                  cases[i].json, err.msg, cases[i].expect);
        tidal_job_spec_free(&s);
    }
}

/* `state.json.tmp.<pid>` planted as a symlink by another user must not be written
 * through: the file it points to stays as it was. */
Test(files, atomic_write_never_follows_a_planted_temporary_file)
{
    char dir[] = "/tmp/tidal-atomic.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], tmp[160], victim[128];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    struct tidal_err err;
    cr_assert_eq(tidal_write_atomic(victim, "precious", 8, &err), 0, "%s", err.msg);
    cr_assert_eq(symlink(victim, tmp), 0);
    cr_assert_eq(tidal_write_atomic(path, "state", 5, &err), 0, "%s", err.msg);
    char *data;
    size_t len;
    cr_assert_eq(tidal_read_file(victim, 100, &data, &len, &err), 0, "%s", err.msg);
    cr_assert_str_eq(data, "precious", "written through the planted symlink");
    free(data);
    cr_assert_eq(tidal_read_file(path, 100, &data, &len, &err), 0, "%s", err.msg);
    cr_assert_str_eq(data, "state");
    free(data);
    unlink(path);
    unlink(victim);
    rmdir(dir);
}

Test(files, atomic_write_replaces_whole_files)
{
    char dir[] = "/tmp/tidal-atomic.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    struct tidal_err err;
    cr_assert_eq(tidal_write_atomic(path, "first", 5, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_write_atomic(path, "second", 6, &err), 0, "%s", err.msg);
    char *data;
    size_t len;
    cr_assert_eq(tidal_read_file(path, 100, &data, &len, &err), 0);
    cr_assert_str_eq(data, "second");
    free(data);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    unlink(path);
    rmdir(dir);
    cr_assert_neq(tidal_write_atomic("/nonexistent-dir/x", "a", 1, &err), 0);
    cr_assert(strstr(err.msg, "/nonexistent-dir/x"), "%s", err.msg);
}

/* Found by fuzzing (tests/fuzz/corpus/fuzz_daemon_state/mem-8e47): numbers in state.json
 * were converted to integers unchecked, undefined behaviour for a value out of range
 * (a damaged file's "mem": 8.9e47). They are refused, naming the VM and the field. */
Test(state, numbers_out_of_range_in_state_json_are_refused_by_name)
{
    static const char *const cases[][2] = {
        {"\"mem\": 888888888888888888888888888888888888888816777216", "\"mem\""},
        {"\"snap_gen\": -1", "\"snap_gen\""},
        {"\"snap_len\": 17", "\"snap_len\""},
        {"\"exit_status\": 1e300", "\"exit_status\""},
        {"\"progress_done\": 2.5", "\"progress_done\""},
        {"\"job\": {\"state\": \"active\", \"suspensions\": 1e10, "
         "\"spec\": {\"name\": \"web\", \"image\": \"/bin/true\", "
         "\"window\": {\"cron\": \"0 22 * * *\", \"duration\": \"8h\"}}}",
         "\"suspensions\""},
    };
    char dir[] = "/tmp/tidal-state-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    struct daemon d = {0};
    snprintf(d.state_dir, sizeof(d.state_dir), "%s", dir);
    char path[4300];
    snprintf(path, sizeof(path), "%s/vms", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    pthread_mutex_init(&d.lock, NULL);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/state.json", dir);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fprintf(f,
                "{\"version\": 1, \"vms\": [{\"name\": \"web\", \"class\": \"service\", "
                "\"image\": \"/bin/true\", \"state\": \"stopped\", %s}]}",
                cases[i][0]);
        fclose(f);
        struct tidal_err err = {{0}};
        cr_assert_eq(daemon_load(&d, &err), -1, "%s was loaded", cases[i][0]);
        cr_assert(strstr(err.msg, "VM \"web\"") && strstr(err.msg, cases[i][1]), "%s: %s",
                  cases[i][0], err.msg);
        while (d.vms) {
            struct dvm *v = d.vms;
            d.vms = v->next;
            rmdir(v->dir);
            dvm_free(v);
        }
    }
    snprintf(path, sizeof(path), "%s/state.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/vms", dir);
    rmdir(path);
    rmdir(dir);
}

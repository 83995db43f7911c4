/* Trace adapters on small hand-made files with odd rows, and on the shared samples
 * when they are present. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tidal/scheduler.h>

#include "helpers.h"

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

static const char *fixture(void)
{
    static char dir[256];
    const char *base = th_write("marker", "");
    snprintf(dir, sizeof dir, "%.200s.traces", base);
    char sub[300];
    mkdir(dir, 0755);
    const char *subs[] = {"azure-functions-2019", "azure-vm-2017", "alibaba-batch-2017"};
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        mkdir(sub, 0755);
    }
    /* Functions: f1 busy 60/min in minute 1 (UTC 00:00); f2 has no duration: rejected. */
    size_t cap = 64 * 1440 + 4096;
    char *inv = malloc(cap);
    strcpy(inv, "HashFunction,HashApp,HashOwner");
    for (int i = 1; i <= 1440; i++)
        sprintf(inv + strlen(inv), ",minute_%d", i);
    for (int f = 1; f <= 2; f++) {
        sprintf(inv + strlen(inv), "\nf%d,f%d,f%d", f, f, f);
        for (int i = 1; i <= 1440; i++)
            strcat(inv, i == 1 ? ",60" : ",0");
    }
    strcat(inv, "\n");
    put(dir, "azure-functions-2019/invocations_per_minute.csv", inv);
    free(inv);
    put(dir, "azure-functions-2019/durations_ms.csv",
        "HashFunction,HashApp,HashOwner,Count,Average\nf1,f1,f1,60,1000\n");
    put(dir, "azure-functions-2019/memory_mb.csv",
        "HashApp,HashOwner,SampleCount,AverageAllocatedMb\nf1,f1,10,512\nf2,f2,10,256\n");
    /* VMs: two flavors, two bins of 300 s; line 2 has a bad flavor. */
    put(dir, "azure-vm-2017/flavors.txt", "2,4 a\n4,8 b\n");
    put(dir, "azure-vm-2017/interval_map.txt", "0 0\n300 1\n600 1\n");
    put(dir, "azure-vm-2017/arrivals.txt", "0 a,|,b\n300 z\n86400 a\n172500 a\n");
    put(dir, "azure-vm-2017/durations.txt", "0 C0,|,U1\n300 U0\n86400 U1\n172500 U0\n");
    /* Batch: one good task, then odd rows (missing sizes, end before create, negative). */
    put(dir, "alibaba-batch-2017/batch_task.csv",
        "task_create_time,task_end_time,job_id,task_id,number_of_instances,status,cpus,mem\n"
        "3600,4200,1,1,10,Terminated,50,0.01\n"
        "3600,4200,2,1,10,Waiting,,\n"
        "5000,4000,3,1,1,Terminated,100,0.01\n"
        "-5,100,4,1,1,Terminated,100,0.01\n"
        "100,0,5,1,1,Running,100,0.01\n"
        "bad,row\n");
    return dir;
}

Test(traces, fixture_conversion_and_validation)
{
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.tz = "+01:00";
    struct tsched_trace_report rep;
    cr_assert_eq(tsched_load_traces(&m, fixture(), &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rep.functions, 1);
    cr_assert_eq(rep.batch_tasks, 1);
    /* 1 rejected function + 1 bad flavor + 5 odd batch rows. */
    cr_assert_eq(rep.skipped_rows, 7, "%d rejected: %s", rep.skipped_rows, rep.note);
    int fn = -1, nb = 0;
    double batch_cpu = 0;
    for (int i = 0; i < m.nw; i++) {
        if (m.w[i].kind == TSCHED_FUNCTION)
            fn = i;
        if (m.w[i].kind == TSCHED_BATCH) {
            nb++;
            batch_cpu += m.w[i].req[TSCHED_CPU];
            cr_assert_float_eq(m.w[i].duration_s, 600, 1e-9);
            /* released 18:00 + 1 h local = slot 228, due 12 h later */
            cr_assert_eq(m.w[i].win_start, 228);
            cr_assert_eq(m.w[i].win_len, 144);
        }
    }
    cr_assert_geq(fn, 0);
    /* 60 calls/min x 1 s = 1 busy instance in UTC minute 1 = local 01:00: slot 12,
     * 1/5 of a core averaged over the 5-min slot, 512 MB for the busiest minute. */
    cr_assert_float_eq(m.w[fn].demand[TSCHED_CPU][12], 0.2, 1e-6);
    cr_assert_float_eq(m.w[fn].demand[TSCHED_MEM][12], 0.5, 1e-6);
    cr_assert_float_eq(m.w[fn].demand[TSCHED_CPU][0], 0, 1e-6);
    cr_assert_float_eq(batch_cpu, 5, 1e-9); /* 10 instances x 0.5 core, chunked */
    cr_assert_gt(nb, 1);
    struct tsched_plan p;
    th_plan_checked(&m, &p);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

/* A directory for the function trace's three files, with `text` in each. */
static const char *functions_dir(const char *tag, const char *dur, const char *mem, const char *inv)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%.200s.%s", th_write("marker", ""), tag);
    char sub[300];
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/azure-functions-2019", dir);
    mkdir(sub, 0755);
    put(dir, "azure-functions-2019/durations_ms.csv", dur);
    put(dir, "azure-functions-2019/memory_mb.csv", mem);
    put(dir, "azure-functions-2019/invocations_per_minute.csv", inv);
    return dir;
}

/* Found by fuzzing (tests/fuzz/corpus/fuzz_traces/empty-tables): an empty durations file
 * made an empty table that was sorted as a NULL array, undefined behaviour that the
 * sanitizers of `make SAN=1 test` stop at. */
Test(traces, empty_function_tables_are_a_day_without_functions)
{
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.no_vms = o.no_batch = true;
    struct tsched_trace_report rep;
    const char *dir = functions_dir("empty", "", "", "");
    cr_assert_eq(tsched_load_traces(&m, dir, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rep.functions, 0);
    cr_assert_eq(m.nw, 0);
    tsched_model_free(&m);
}

/* Found by fuzzing (tests/fuzz/corpus/fuzz_traces/arrival-long-max): an arrival time of
 * LONG_MAX seconds overflowed the trace's end (undefined behaviour; in practice the
 * trace then covered "no full day"). It is a rejected row now. */
Test(traces, vm_arrivals_past_any_day_are_rejected_rows)
{
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.no_functions = o.no_batch = true;
    struct tsched_trace_report rep;
    static char dir[256];
    snprintf(dir, sizeof dir, "%.200s.vm-overflow", th_write("marker", ""));
    char sub[300];
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/azure-vm-2017", dir);
    mkdir(sub, 0755);
    put(dir, "azure-vm-2017/flavors.txt", "2,4 a\n");
    put(dir, "azure-vm-2017/interval_map.txt", "0 0\n300 0\n");
    put(dir, "azure-vm-2017/arrivals.txt", "0 a\n86400 a\n172500 a\n9223372036854775807 a\n");
    put(dir, "azure-vm-2017/durations.txt", "0 C0\n86400 U0\n172500 U0\n9223372036854775807 U0\n");
    cr_assert_eq(tsched_load_traces(&m, dir, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_gt(rep.vms, 0);
    cr_assert_eq(rep.skipped_rows, 1, "%s", rep.note);
    cr_assert(strstr(rep.note, "out of range"), "%s", rep.note);
    tsched_model_free(&m);
}

/* Seen while fuzzing the trace adapters: task times near LONG_MAX overflowed the span
 * and release time, a tiny request overflowed the instances per chunk, and a task with
 * 10^15 instances tried to add as many jobs. Such rows are rejected. */
Test(traces, batch_rows_with_absurd_times_or_instances_are_rejected)
{
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.no_functions = o.no_vms = true;
    struct tsched_trace_report rep;
    static char dir[256];
    snprintf(dir, sizeof dir, "%.200s.batch-overflow", th_write("marker", ""));
    char sub[300];
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/alibaba-batch-2017", dir);
    mkdir(sub, 0755);
    put(dir, "alibaba-batch-2017/batch_task.csv",
        "task_create_time,task_end_time,job_id,task_id,number_of_instances,status,cpus,mem\n"
        "0,100,1,1,1000000000000000,Terminated,100,0.01\n"
        "-9223372036854775807,9223372036854775807,2,1,1,Terminated,100,0.01\n"
        "9223372036854775000,9223372036854775100,3,1,1,Terminated,100,0.01\n"
        "3600,4200,4,1,10,Terminated,1e-300,1e-300\n");
    cr_assert_eq(tsched_load_traces(&m, dir, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rep.skipped_rows, 3, "%s", rep.note);
    cr_assert_eq(rep.batch_tasks, 1);
    cr_assert_eq(rep.batch_jobs, 1, "ten tiny instances fit one chunk");
    tsched_model_free(&m);
}

/* Seen while fixing the other trace overflows, confirmed with fuzz_traces on
 * tests/fuzz/corpus/fuzz_traces/invocations-1e308: 1e308 invocations
 * of a 1e300 ms function made an infinite demand, converted to an int replica count
 * (undefined; in practice --from-traces failed without a message). Such a function
 * is a rejected row. */
Test(traces, functions_with_absurd_demand_are_rejected_rows)
{
    size_t cap = 16 * 1440 + 256;
    char *inv = malloc(cap);
    strcpy(inv, "HashFunction,HashApp,HashOwner");
    for (int i = 1; i <= 1440; i++)
        sprintf(inv + strlen(inv), ",%d", i);
    strcat(inv, "\nf1,f1,f1");
    for (int i = 1; i <= 1440; i++)
        strcat(inv, i == 1 ? ",1e308" : ",0");
    strcat(inv, "\n");
    const char *dir =
        functions_dir("huge", "HashFunction,HashApp,HashOwner,Count,Average\nf1,f1,f1,60,1e300\n",
                      "HashApp,HashOwner,SampleCount,AverageAllocatedMb\nf1,f1,10,512\n", inv);
    free(inv);
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.no_vms = o.no_batch = true;
    struct tsched_trace_report rep;
    cr_assert_eq(tsched_load_traces(&m, dir, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rep.functions, 0);
    cr_assert_eq(rep.skipped_rows, 1, "%s", rep.note);
    cr_assert(strstr(rep.note, "beyond any pool"), "%s", rep.note);
    tsched_model_free(&m);
}

Test(traces, missing_directory_is_named)
{
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 300, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    struct tsched_trace_report rep;
    cr_assert_eq(tsched_load_traces(&m, "/nonexistent-traces", &o, &rep, &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent-traces/"), "%s", err.msg);
    o.tz = "Nowhere/Land";
    cr_assert_eq(tsched_load_traces(&m, "/nonexistent-traces", &o, &rep, &err), -1);
    cr_assert(strstr(err.msg, "--tz") && strstr(err.msg, "Nowhere/Land"), "%s", err.msg);
    tsched_model_free(&m);
}

Test(traces, shared_sample_small_plan)
{
    const char *root = getenv("TIDAL_ROOT");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/../shared/traces", root ? root : ".");
    struct stat st;
    if (stat(dir, &st) != 0)
        cr_skip_test("no shared traces at %s", dir);
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 900, 64, 256);
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.tz = "-08:00";
    o.sample = 0.01;
    o.bundle_frac = 0.125;
    struct tsched_trace_report rep;
    cr_assert_eq(tsched_load_traces(&m, dir, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_gt(rep.functions + rep.vms + rep.batch_jobs, 0);
    cr_assert_gt(rep.skipped_rows, 0, "the Alibaba sample has odd rows");
    struct tsched_plan p;
    int n = th_plan_checked(&m, &p);
    cr_assert_lt(n, tsched_baseline_peak(&m));
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

/* Every produced plan passes the independent checker, and the checker catches broken
 * plans; the JSON and SVG outputs are well formed. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tidal/scheduler.h>

#include "helpers.h"

static void synth(struct tsched_model *m, int n, uint64_t seed, int slot_s)
{
    struct tsched_err err;
    cr_assert_eq(tsched_model_init(m, slot_s, &err), 0);
    cr_assert_eq(tsched_synth(m, n, seed, &err), 0, "%s", err.msg);
}

Test(invariants, synthetic_plans_are_valid)
{
    int slots[] = {3600, 900, 300};
    for (int i = 0; i < 3; i++) {
        struct tsched_model m;
        synth(&m, 400, 7 + i, slots[i]);
        struct tsched_plan p;
        th_plan_checked(&m, &p);
        tsched_plan_free(&p);
        tsched_model_free(&m);
    }
}

static int find(const struct tsched_model *m, enum tsched_kind k, bool susp)
{
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind == k && (k != TSCHED_BATCH || m->w[i].suspendable == susp))
            return i;
    cr_assert_fail("no workload of kind %d", k);
    return -1;
}

Test(invariants, checker_catches_broken_plans)
{
    struct tsched_model m;
    synth(&m, 300, 3, 900);
    struct tsched_plan p;
    th_plan_checked(&m, &p);
    struct tsched_verify v;

    /* Every day workload piled onto host 0: over capacity. */
    int *saved = malloc((size_t)m.nw * sizeof *saved);
    memcpy(saved, p.day_host, (size_t)m.nw * sizeof *saved);
    for (int i = 0; i < m.nw; i++)
        if (m.w[i].kind != TSCHED_BATCH)
            p.day_host[i] = 0;
    tsched_plan_verify(&m, &p, &v);
    cr_assert_gt(v.capacity_violations, 0);
    memcpy(p.day_host, saved, (size_t)m.nw * sizeof *saved);

    /* A batch job that never runs misses its deadline. */
    int b = find(&m, TSCHED_BATCH, true);
    int *run = &p.run_host[p.run_off[b]];
    int *keep = malloc((size_t)m.w[b].win_len * sizeof *keep);
    memcpy(keep, run, (size_t)m.w[b].win_len * sizeof *keep);
    for (int o = 0; o < m.w[b].win_len; o++)
        run[o] = -1;
    tsched_plan_verify(&m, &p, &v);
    cr_assert_eq(v.deadline_misses, 1);
    memcpy(run, keep, (size_t)m.w[b].win_len * sizeof *keep);
    free(keep);

    /* A non-suspendable job split in two breaks the rules. */
    int ns = find(&m, TSCHED_BATCH, false);
    run = &p.run_host[p.run_off[ns]];
    int first = 0;
    while (run[first] < 0)
        first++;
    int h = run[first];
    run[first] = -1;
    int o = first + 1;
    while (o < m.w[ns].win_len && run[o] >= 0)
        o++;
    if (o + 1 < m.w[ns].win_len) {
        run[o + 1] = h;
        tsched_plan_verify(&m, &p, &v);
        cr_assert_eq(v.rule_violations, 1);
    }
    /* A host index outside the fleet. */
    p.day_host[find(&m, TSCHED_SERVICE, false)] = p.nhosts;
    tsched_plan_verify(&m, &p, &v);
    cr_assert_geq(v.unplaced, 1);
    free(saved);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(invariants, suspend_costs_are_paid)
{
    /* One suspendable job of 2 slots whose window has room only in two separate slots:
     * it runs in pieces, and a switch cost makes a third slot necessary. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 21600, 4, 4);
    struct tsched_workload *d = tsched_add(&m, TSCHED_SERVICE, "d", &err);
    d->demand[TSCHED_CPU][1] = 4;
    tsched_finish_workload(&m, d);
    struct tsched_workload *b = tsched_add(&m, TSCHED_BATCH, "b", &err);
    b->req[TSCHED_CPU] = 2;
    b->req[TSCHED_MEM] = 1;
    b->duration_s = 2 * 21600 - 100;
    b->switch_s = 50;
    b->win_start = 0;
    b->win_len = 3;
    b->suspendable = true;
    tsched_finish_workload(&m, b);
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 1);
    cr_assert_eq(p.suspends, 1);
    cr_assert_eq(p.resumes, 1);
    tsched_plan_free(&p);
    b->switch_s = 200; /* now two pieces cannot make the work: needs a second host */
    cr_assert_eq(th_plan_checked(&m, &p), 2);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

Test(invariants, outputs_are_well_formed)
{
    struct tsched_model m;
    synth(&m, 200, 5, 900);
    struct tsched_plan p;
    th_plan_checked(&m, &p);
    struct tsched_err err;
    char jp[256], sp[256];
    snprintf(jp, sizeof jp, "%s", th_write("plan.json", ""));
    snprintf(sp, sizeof sp, "%s", th_write("plan.svg", ""));
    cr_assert_eq(tsched_plan_write_json(&m, &p, jp, &err), 0, "%s", err.msg);
    cr_assert_eq(tsched_plan_write_svg(&m, &p, sp, &err), 0, "%s", err.msg);
    char *js = slurp(jp);
    cJSON *root = cJSON_Parse(js);
    cr_assert_not_null(root, "plan.json does not parse");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "workloads")), m.nw);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "hosts")), p.nhosts);
    cJSON *sum = cJSON_GetObjectItem(root, "summary");
    cr_assert_eq(cJSON_GetObjectItem(sum, "peakHosts")->valueint, p.peak_hosts);
    cJSON_Delete(root);
    free(js);
    char *svg = slurp(sp);
    cr_assert(strncmp(svg, "<svg", 4) == 0);
    cr_assert(strstr(svg, "</svg>"));
    free(svg);
    cr_assert_eq(tsched_plan_write_json(&m, &p, "/nonexistent/dir/plan.json", &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent/dir/plan.json"));
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

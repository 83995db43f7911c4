/* The baselines on instances small enough to solve by hand. */
#include <criterion/criterion.h>
#include <tidal/scheduler.h>

#include "helpers.h"

static void add_job(struct tsched_model *m, const char *name, double cpu, double hours,
                    int win_start, int win_len)
{
    struct tsched_err err;
    struct tsched_workload *w = tsched_add(m, TSCHED_BATCH, name, &err);
    cr_assert_not_null(w, "%s", err.msg);
    w->req[TSCHED_CPU] = cpu;
    w->req[TSCHED_MEM] = 1;
    w->duration_s = hours * 3600;
    w->win_start = win_start;
    w->win_len = win_len;
    tsched_finish_workload(m, w);
}

Test(baselines, fifo_runs_the_first_job_first)
{
    /* Two 12 h slots, 10-core hosts. A may run in either slot, B only in the first;
     * both are released at midnight and A came first. The queue starts A at once and B
     * needs a second host; planning puts A in the second slot and needs one. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 43200, 10, 100);
    add_job(&m, "A", 10, 12, 0, 2);
    add_job(&m, "B", 10, 12, 0, 1);
    struct tsched_baseline b;
    cr_assert_eq(tsched_baseline_fifo(&m, 1, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.hosts, 2);
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 1);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(baselines, fifo_waits_for_room_until_the_deadline)
{
    /* Four 6 h slots; three jobs of a whole host for 6 h, due within the first two
     * slots. One host runs two of them in turn; the third needs a second host. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 21600, 10, 100);
    for (int i = 0; i < 3; i++)
        add_job(&m, "J", 10, 6, 0, 2);
    struct tsched_baseline b;
    cr_assert_eq(tsched_baseline_fifo(&m, 1, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.hosts, 2);
    tsched_model_free(&m);
}

Test(baselines, requests_hide_the_peak)
{
    /* 24 one-hour slots, 10-core hosts. A service uses 10 cores at 00:00 and 4 the rest
     * of the day: its P95 request is 4. A 6-core job must run 00:00-01:00.
     * (a) requests: 4 + 6 fit one host, and the real peak overloads it in that slot;
     * (b) real curves: 10 + 6 need two hosts, as does (c) peak packing, and the plan. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 3600, 10, 100);
    struct tsched_workload *s = tsched_add(&m, TSCHED_SERVICE, "S", &err);
    cr_assert_not_null(s);
    for (int t = 0; t < 24; t++) {
        s->demand[TSCHED_CPU][t] = t == 0 ? 10 : 4;
        s->demand[TSCHED_MEM][t] = 1;
    }
    tsched_finish_workload(&m, s);
    add_job(&m, "J", 6, 1, 0, 1);
    struct tsched_baseline a, b;
    cr_assert_eq(tsched_baseline_k8s(&m, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.hosts, 1);
    cr_assert_eq(a.overloads, 1);
    cr_assert_eq(tsched_baseline_fifo(&m, 1, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.hosts, 2);
    cr_assert_eq(tsched_baseline_peak(&m), 2);
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 2);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(baselines, queue_day_starts_after_the_longest_quiet_stretch)
{
    /* Four 6 h slots. B is released at 18:00 and runs 12 h, until 06:00; A is released
     * at 00:00 and may run at 00:00 or 06:00. Releases at 18:00 and 00:00 leave the
     * longest quiet stretch before 18:00, so the queue's day starts there: B first, A
     * waits for 06:00, one host. Counted from midnight, A would take 00:00 and push B
     * onto a second host. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 21600, 10, 100);
    add_job(&m, "A", 10, 6, 0, 2);
    add_job(&m, "B", 10, 12, 3, 2);
    struct tsched_baseline b;
    cr_assert_eq(tsched_baseline_fifo(&m, 1, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.hosts, 1);
    tsched_model_free(&m);
}

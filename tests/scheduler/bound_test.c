/* The lower bound: valid (never above a real plan), and sharper than per-resource
 * volume where the day is CPU-bound and the night memory-bound. */
#include <criterion/criterion.h>
#include <tidal/scheduler.h>

#include "helpers.h"

Test(bound, needs_prices_per_slot)
{
    /* Slot 0 has no CPU left, slot 1 no memory: a job needing both fits in neither,
     * though each resource alone (and their sum) has room. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 43200, 1, 1);
    struct tsched_workload *a = tsched_add(&m, TSCHED_SERVICE, "a", &err);
    a->demand[TSCHED_CPU][0] = 1;
    a->demand[TSCHED_MEM][1] = 1;
    tsched_finish_workload(&m, a);
    struct tsched_workload *b = tsched_add(&m, TSCHED_BATCH, "b", &err);
    b->req[TSCHED_CPU] = b->req[TSCHED_MEM] = 0.5;
    b->duration_s = 43200;
    b->win_len = 2;
    tsched_finish_workload(&m, b);
    cr_assert_eq(tsched_lower_bound(&m, 10, &err), 2);
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 2);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(bound, batch_deferred_into_the_valley)
{
    /* 4 slots; the day takes 8 of 10 cores in slots 0-1 and none in 2-3; 8 batch jobs of
     * 2 cores x 1 slot, window = whole day: volume (16 + 16) / 40 -> 1 host suffices. */
    struct tsched_model m;
    struct tsched_err err;
    th_model(&m, 21600, 10, 100);
    struct tsched_workload *d = tsched_add(&m, TSCHED_SERVICE, "d", &err);
    d->demand[TSCHED_CPU][0] = d->demand[TSCHED_CPU][1] = 8;
    tsched_finish_workload(&m, d);
    for (int i = 0; i < 8; i++) {
        struct tsched_workload *b = tsched_add(&m, TSCHED_BATCH, "b", &err);
        b->req[TSCHED_CPU] = 2;
        b->req[TSCHED_MEM] = 1;
        b->duration_s = 21600;
        b->win_len = 4;
        b->suspendable = true;
        tsched_finish_workload(&m, b);
    }
    cr_assert_eq(tsched_lower_bound(&m, 100, &err), 1);
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 1);
    cr_assert_eq(tsched_baseline_peak(&m), 3);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(bound, synthetic_bound_below_plan)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct tsched_model m;
        struct tsched_err err;
        cr_assert_eq(tsched_model_init(&m, 900, &err), 0);
        cr_assert_eq(tsched_synth(&m, 300, seed, &err), 0, "%s", err.msg);
        struct tsched_plan p;
        int n = th_plan_checked(&m, &p); /* asserts LB* <= plan */
        cr_assert_lt(n, tsched_baseline_peak(&m));
        tsched_plan_free(&p);
        tsched_model_free(&m);
    }
}

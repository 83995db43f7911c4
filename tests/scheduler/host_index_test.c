/* On a small fleet the host index answers what a scan of every host would: same host,
 * ties included. */
#include <criterion/criterion.h>
#include <tidal/scheduler.h>

#include "../../scheduler/host_index.h"
#include "helpers.h"

#include <stdlib.h>

/* The rules written out plainly, host by host (lower score wins, then lower number). */
static int scan(const struct host_index *x, const double *load, const int *slots, int len,
                const double *req, enum hidx_rule rule)
{
    int best_h = -1;
    double best = 0;
    for (int h = 0; h < x->n; h++) {
        const double *c = &x->cap[h * TSCHED_NRES];
        double s = rule == HIDX_FIRST_FIT ? h : 0;
        bool fit = true;
        for (int i = 0; i < len && fit; i++)
            for (int r = 0; r < TSCHED_NRES; r++) {
                double room = c[r] - load[(h * x->T + slots[i]) * TSCHED_NRES + r];
                fit &= req[r] <= room + TSCHED_EPS;
                double f = (room - req[r]) / c[r];
                if (rule == HIDX_SPREAD)
                    s -= req[r] / c[r] * room / c[r];
                else if (rule == HIDX_BEST_FIT)
                    s += f * f;
            }
        if (fit && (best_h < 0 || s < best))
            best = s, best_h = h;
    }
    return best_h;
}

Test(host_index, same_choice_as_a_scan)
{
    struct tsched_model m;
    th_model(&m, 3600, 16, 64);
    /* Two host types, so that the bounds meet different capacities. */
    m.types[0].count = 7;
    m.types = realloc(m.types, 2 * sizeof *m.types);
    m.ntypes = 2;
    m.types[1] = (struct tsched_host_type){.name = "big", .cap = {32, 96}, .count = 0};
    uint64_t seed = 7;
    enum { N = 23, T = 24 };
    static double load[N * T * TSCHED_NRES];
    struct host_index x;
    cr_assert_eq(hidx_init(&x, &m, N, T), 0);
    for (int round = 0; round < 300; round++) {
        int h = (int)(tsched_rng(&seed) % N), t = (int)(tsched_rng(&seed) % T);
        double *l = &load[(h * T + t) * TSCHED_NRES];
        /* Loads on a coarse grid make exact ties common. */
        for (int r = 0; r < TSCHED_NRES; r++)
            l[r] = x.cap[h * TSCHED_NRES + r] * (double)(tsched_rng(&seed) % 5) / 4;
        hidx_set_load(&x, h, t, l);
        int len = 1 + (int)(tsched_rng(&seed) % 3), slots[3];
        for (int i = 0; i < len; i++)
            slots[i] = (int)(tsched_rng(&seed) % T);
        double req[TSCHED_NRES] = {(double)(tsched_rng(&seed) % 17),
                                   (double)(tsched_rng(&seed) % 65)};
        for (int rule = HIDX_FIRST_FIT; rule <= HIDX_BEST_FIT; rule++)
            cr_assert_eq(hidx_choose(&x, slots, len, req, rule),
                         scan(&x, load, slots, len, req, rule), "round %d rule %d", round, rule);
    }
    hidx_free(&x);
    tsched_model_free(&m);
}

/* A remembered search answers what a fresh one does, on a fleet too big for exhaustive
 * searches (the budget must run out at the same node), when the loads that changed were
 * forgotten; and an index kept for one rule answers it as one keeping everything. */
Test(host_index, memo_same_as_fresh_search)
{
    struct tsched_model m;
    th_model(&m, 3600, 16, 64);
    uint64_t seed = 11;
    enum { N = 200, T = 12 };
    static double load[N * T * TSCHED_NRES];
    for (int rule = HIDX_SPREAD; rule <= HIDX_BEST_FIT; rule++) {
        struct host_index x, kept;
        struct hidx_memo mm;
        cr_assert_eq(hidx_init(&x, &m, N, T), 0);
        cr_assert_eq(hidx_init(&kept, &m, N, T), 0);
        hidx_keep_for(&kept, rule);
        cr_assert_eq(hidx_memo_init(&mm, &kept), 0);
        int slots[4] = {3, 4, 5, 6};
        double req[TSCHED_NRES] = {2, 6};
        for (int round = 0; round < 400; round++) {
            if (round % 50 == 0) { /* another query */
                hidx_memo_reset(&mm);
                req[0] = 1 + (double)(tsched_rng(&seed) % 8);
                req[1] = 1 + (double)(tsched_rng(&seed) % 30);
            }
            int h = (int)(tsched_rng(&seed) % N), t = 2 + (int)(tsched_rng(&seed) % 6);
            double *l = &load[(h * T + t) * TSCHED_NRES];
            for (int r = 0; r < TSCHED_NRES; r++)
                l[r] = x.cap[h * TSCHED_NRES + r] * (double)(tsched_rng(&seed) % 9) / 8;
            hidx_set_load(&x, h, t, l);
            hidx_set_load(&kept, h, t, l);
            hidx_memo_forget(&mm, &kept, h);
            int fresh = hidx_choose(&x, slots, 4, req, rule);
            cr_assert_eq(hidx_choose(&kept, slots, 4, req, rule), fresh, "round %d", round);
            cr_assert_eq(hidx_choose_memo(&kept, slots, 4, req, rule, &mm), fresh, "round %d",
                         round);
        }
        hidx_memo_free(&mm);
        hidx_free(&kept);
        hidx_free(&x);
    }
    tsched_model_free(&m);
}

/*
 * Sharpening LB* with Lagrangian certificates.
 *
 * The max-flow bound weighs CPU and memory the same way in every slot. The real LP lets
 * the day be CPU-bound and the night memory-bound, with batch work moving between them;
 * its infeasibility for n hosts is proven by prices mu[t][r] >= 0 on every slot's
 * capacity such that, if every job runs in its cheapest slots at those prices,
 *     g(mu) = sum_j (cost of job j's cheapest slots) - sum_{t,r} mu[t][r] * room[t][r] > 0
 * (weak duality: any feasible schedule would cost at most the priced room). Projected
 * subgradient ascent looks for such prices; a found certificate is a proof, so the bound
 * stays sound even when the search gives up early (it then is merely less sharp).
 */
#include "lb_dual.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Moves the k smallest of v[0..n) (with their idx) to the front, in any order. */
static void select_k(double *v, int *idx, int n, int k)
{
    int lo = 0, hi = n - 1, kk = k - 1; /* the k-th smallest belongs at kk */
    if (k <= 0 || k >= n)
        return;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double tv = v[i];
                v[i] = v[j];
                v[j] = tv;
                int ti = idx[i];
                idx[i] = idx[j];
                idx[j] = ti;
                i++;
                j--;
            }
        }
        /* Now v[lo..j] <= pivot <= v[i..hi]; recurse into the side holding the k-th. */
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break;
    }
}

/* g(mu) and its subgradient (usage - room) for fleet capacity `cap`. */
static double eval(const struct lb_dual_in *in, const double *cap, const double *theta,
                   double *usage, double *buf, int *idx)
{
    int T = in->T;
    double g = 0;
    memset(usage, 0, (size_t)T * TSCHED_NRES * sizeof *usage);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < TSCHED_NRES; r++)
            g -= theta[t * TSCHED_NRES + r] / cap[r] * (cap[r] - in->day[t * TSCHED_NRES + r]);
    for (int j = 0; j < in->nj; j++) {
        const struct lb_dual_job *b = &in->jobs[j];
        for (int o = 0; o < b->win_len; o++) {
            int t = (b->win_start + o) % T;
            double c = 0;
            for (int r = 0; r < TSCHED_NRES; r++)
                c += theta[t * TSCHED_NRES + r] / cap[r] * b->a[r];
            buf[o] = c;
        }
        if (b->need == 1) {
            int mo = 0;
            for (int o = 1; o < b->win_len; o++)
                if (buf[o] < buf[mo])
                    mo = o;
            g += buf[mo];
            int t = (b->win_start + mo) % T;
            for (int r = 0; r < TSCHED_NRES; r++)
                usage[t * TSCHED_NRES + r] += b->a[r];
            continue;
        }
        /* The need cheapest slots: quickselect on (cost, offset) pairs, O(window). */
        int k = b->need < b->win_len ? b->need : b->win_len;
        for (int o = 0; o < b->win_len; o++)
            idx[o] = o;
        select_k(buf, idx, b->win_len, k);
        for (int i = 0; i < k; i++) {
            g += buf[i];
            int t = (b->win_start + idx[i]) % T;
            for (int r = 0; r < TSCHED_NRES; r++)
                usage[t * TSCHED_NRES + r] += b->a[r];
        }
    }
    return g;
}

/* Searches prices proving that capacity `cap` cannot hold the work; true if found. */
static bool certify(const struct lb_dual_in *in, const double *cap, double *theta, int iters,
                    double *usage, double *buf, int *idx)
{
    int T = in->T, N = T * TSCHED_NRES;
    for (int i = 0; i < N; i++)
        theta[i] = 0.5;
    double scale = 0;
    for (int t = 0; t < T; t++)
        for (int r = 0; r < TSCHED_NRES; r++)
            scale += 0.5 * (cap[r] - in->day[t * TSCHED_NRES + r]) / cap[r];
    double best = -INFINITY;
    int since = 0;
    for (int k = 0; k < iters; k++) {
        double g = eval(in, cap, theta, usage, buf, idx);
        if (g > 1e-7 * (scale > 1 ? scale : 1))
            return true;
        /* Gives up once the ascent stalls: the bound stays sound, only less sharp. */
        if (g > best + 1e-6 * fabs(best)) {
            best = g;
            since = 0;
        } else if (++since > 40) {
            return false;
        }
        double norm = 0;
        for (int t = 0; t < T; t++)
            for (int r = 0; r < TSCHED_NRES; r++) {
                double s =
                    (usage[t * TSCHED_NRES + r] - (cap[r] - in->day[t * TSCHED_NRES + r])) / cap[r];
                usage[t * TSCHED_NRES + r] = s;
                norm += s * s;
            }
        if (norm <= 0)
            return false;
        /* Steps of ~10% of |theta|, shrinking like 1/sqrt(k): the textbook schedule. */
        double step = 0.05 * sqrt((double)N) / sqrt(norm) / sqrt(k + 1.0);
        double sum = 0;
        for (int i = 0; i < N; i++) {
            theta[i] = fmax(0, theta[i] + step * usage[i]);
            sum += theta[i];
        }
        if (sum <= 0)
            return false;
        for (int i = 0; i < N; i++)
            theta[i] *= 0.5 * N / sum;
    }
    return false;
}

int tsched_lb_dual(const struct tsched_model *m, const struct lb_dual_in *in, int lo, int hi,
                   int iters)
{
    int T = in->T, maxw = 1;
    for (int j = 0; j < in->nj; j++)
        maxw = in->jobs[j].win_len > maxw ? in->jobs[j].win_len : maxw;
    double *theta = malloc((size_t)T * TSCHED_NRES * sizeof *theta);
    double *usage = malloc((size_t)T * TSCHED_NRES * sizeof *usage);
    double *buf = malloc((size_t)maxw * sizeof *buf);
    int *idx = malloc((size_t)maxw * sizeof *idx);
    int best = lo;
    if (!theta || !usage || !buf || !idx || in->nj == 0)
        goto out;
    /* Gallop up from lo while certificates are found, then bisect the gap. */
    int ok_n = lo - 1, fail_n = hi;
    long step = 1; /* long: lo + step must not overflow when hi is near INT32_MAX */
    for (long n = lo; n < hi; n += step, step *= 2) {
        double cap[TSCHED_NRES];
        tsched_fleet_cap(m, (int)n, cap);
        if (!certify(in, cap, theta, iters, usage, buf, idx)) {
            fail_n = (int)n;
            break;
        }
        ok_n = (int)n;
    }
    while (fail_n - ok_n > 1) {
        int mid = ok_n + (fail_n - ok_n) / 2;
        double cap[TSCHED_NRES];
        tsched_fleet_cap(m, mid, cap);
        if (certify(in, cap, theta, iters, usage, buf, idx))
            ok_n = mid;
        else
            fail_n = mid;
    }
    best = ok_n + 1 > lo ? ok_n + 1 : lo;
out:
    free(theta);
    free(usage);
    free(buf);
    free(idx);
    return best;
}

/*
 * The smallest fleet size that works, for the planner and the baselines alike. Larger
 * fleets are assumed to work whenever smaller ones do: the search grows from a lower
 * bound by steps that double (the first a 64th of the bound, so a big fleet is not
 * approached one host at a time), then bisects between the last failure and the first
 * success.
 */
#include "sched_internal.h"

int tsched_fleet_search(int lo, long limit, int (*works)(void *ctx, int n), void *ctx,
                        int *attempts, bool *last_worked)
{
    long n = lo > 0 ? lo : 1, step = n / 64 > 1 ? n / 64 : 1;
    int fail = (int)n - 1, best = 0, r = 0;
    *attempts = 0;
    while (!best) {
        if (n > limit)
            return 0;
        ++*attempts;
        if ((r = works(ctx, (int)n)) < 0)
            return -1;
        if (r == 1) {
            best = (int)n;
            break;
        }
        fail = (int)n;
        n = n < limit && n + step > limit ? limit : n + step;
        step *= 2;
    }
    int a = fail + 1, b = best - 1;
    while (a <= b) {
        int mid = a + (b - a) / 2;
        ++*attempts;
        if ((r = works(ctx, mid)) < 0)
            return -1;
        if (r == 1) {
            best = mid;
            b = mid - 1;
        } else {
            a = mid + 1;
        }
    }
    *last_worked = r == 1;
    return best;
}

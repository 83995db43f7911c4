/* Clocks and sleep: wall clock near the host's, monotonic time that advances by at
 * least the time slept, and never backwards. */
#include <stdio.h>
#include <time.h>

static double seconds(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    double wall = seconds(CLOCK_REALTIME);
    double before = seconds(CLOCK_MONOTONIC);
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    if (nanosleep(&nap, NULL) != 0) {
        printf("nanosleep failed\n");
        return 1;
    }
    double after = seconds(CLOCK_MONOTONIC);
    double last = after;
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        double now = seconds(CLOCK_MONOTONIC);
        backwards += now < last;
        last = now;
    }
    printf("wall %.3f\n", wall);
    printf("slept %.3f s (asked 0.050)\n", after - before);
    printf("monotonic backwards steps: %d\n", backwards);
    printf("time() %lld\n", (long long)time(NULL));
    return (after - before >= 0.049 && !backwards) ? 0 : 1;
}

/* A function whose request says how it behaves: "crash", "spin", "big" (more output
 * than any test allows), "fail", "random" (16 random bytes in hex), "clock" (its
 * monotonic and wall clocks in ns); anything else is echoed back. */
#include "tidal/guest.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static unsigned long long ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

int main(void)
{
    tidal_ready();
    size_t len;
    const char *in = tidal_input(&len);
    if (!strcmp(in, "crash"))
        return *(volatile int *)0;
    if (!strcmp(in, "spin"))
        for (volatile int x = 0;; x++)
            ;
    if (!strcmp(in, "big")) {
        for (int i = 0; i < 100000; i++)
            fputs("more output than allowed\n", stdout);
        return 0;
    }
    if (!strcmp(in, "fail")) {
        fputs("failing on purpose\n", stderr);
        return 3;
    }
    if (!strcmp(in, "random")) {
        unsigned char r[16];
        tidal_random(r, sizeof(r));
        for (unsigned i = 0; i < sizeof(r); i++)
            printf("%02x", r[i]);
        return 0;
    }
    if (!strcmp(in, "clock")) {
        printf("%llu %llu", ns(CLOCK_MONOTONIC), ns(CLOCK_REALTIME));
        return 0;
    }
    fwrite(in, 1, len, stdout);
    return 0;
}

/* What a restored guest sees after tidal_ready(): clocks, entropy, clone id, and
 * whether anything written by an earlier restore survived (it must not). */
#include "tidal/guest.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static char secret[64]; /* written after tidal_ready(): never part of the snapshot */

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    double mono_before = now(CLOCK_MONOTONIC);
    unsigned char before[16];
    tidal_random(before, sizeof(before));
    int restored = tidal_ready();
    double mono_after = now(CLOCK_MONOTONIC);
    unsigned char after[16];
    tidal_random(after, sizeof(after));
    printf("restored %d\n", restored);
    printf("clone %llu\n", (unsigned long long)tidal_clone_id());
    printf("monotonic_forward %d\n", mono_after >= mono_before);
    printf("wall %.0f\n", now(CLOCK_REALTIME));
    printf("random ");
    for (size_t i = 0; i < sizeof(after); i++)
        printf("%02x", after[i]);
    printf("\nprevious secret '%s'\n", secret);
    const char *in = tidal_input(NULL);
    snprintf(secret, sizeof(secret), "%s", in ? in : "");
    secret[strcspn(secret, "\n")] = 0;
    printf("stored secret '%s'\n", secret);
    return 0;
}

/* A long batch computation (an iterated hash) that says when it has started, so a
 * test can snapshot it mid-way with SIGUSR1 and check that the restored run ends
 * with exactly the result of an uninterrupted one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : 400000000ull;
    printf("started\n");
    fflush(stdout);
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < steps; i++)
        h = (h ^ (i & 0xff)) * 1099511628211ull;
    printf("result %016llx after %llu steps\n", (unsigned long long)h, (unsigned long long)steps);
    return 0;
}

/* A long batch computation (an iterated hash over a 1 MiB table it keeps
 * rewriting) that says when it has started, so a test can snapshot it mid-way with
 * SIGUSR1, once or repeatedly (diff snapshots), and check that a restored run ends
 * with exactly the result of an uninterrupted one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TABLE_WORDS (1u << 17) /* 1 MiB */

int main(int argc, char **argv)
{
    static uint64_t table[TABLE_WORDS];
    uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : 400000000ull;
    printf("started\n");
    fflush(stdout);
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < steps; i++) {
        h = (h ^ (i & 0xff)) * 1099511628211ull;
        if ((i & 0xfff) == 0)
            table[(i >> 12) % TABLE_WORDS] ^= h;
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < TABLE_WORDS; i++)
        sum = sum * 31 + table[i];
    printf("result %016llx table %016llx after %llu steps\n", (unsigned long long)h,
           (unsigned long long)sum, (unsigned long long)steps);
    return 0;
}

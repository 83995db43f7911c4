/* A long, deterministic batch job: an iterated hash over STEPS steps that also keeps
 * folding a table of TABLE_MIB MiB (so its result depends on guest memory surviving
 * suspend and resume, not just registers). It reports progress about every 1% via
 * tidal_progress() and prints the final digest; the same STEPS always give the same
 * digest, on Tidal or as a Linux process, however often the job is suspended.
 *
 *   hashchain STEPS [TABLE_MIB]     (defaults: 200000000 steps, 1 MiB)
 *
 * Only every 1024th step touches the table, one word at a time and in order, so a
 * suspended job has dirtied few pages since its previous snapshot: the case diff
 * snapshots are for. */
#include "tidal/guest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TABLE_STRIDE 1024u /* steps between two table updates */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* One step: a small ARX permutation of four words, keyed by the step number. */
static void step(uint64_t h[4], uint64_t i)
{
    h[0] += h[1] ^ i;
    h[1] = rotl(h[1], 13) ^ h[0];
    h[2] += h[3];
    h[3] = rotl(h[3], 17) ^ h[2];
    h[0] = rotl(h[0], 32) + h[3];
    h[2] += h[1];
    h[1] = rotl(h[1], 21) ^ h[2];
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    *out = strtoull(s, &end, 10);
    return *s && !*end ? 0 : -1;
}

int main(int argc, char **argv)
{
    uint64_t steps = 200000000u, table_mib = 1;
    if ((argc > 1 && parse_u64(argv[1], &steps)) || (argc > 2 && parse_u64(argv[2], &table_mib)) ||
        argc > 3 || table_mib == 0 || table_mib > 4096) {
        fprintf(stderr, "usage: hashchain STEPS [TABLE_MIB (1..4096)]\n");
        return 2;
    }
    size_t words = (size_t)(table_mib << 20) / sizeof(uint64_t);
    uint64_t *table = malloc(words * sizeof(uint64_t));
    if (!table) {
        fprintf(stderr, "hashchain: no memory for a %llu MiB table\n",
                (unsigned long long)table_mib);
        return 1;
    }
    for (size_t w = 0; w < words; w++) /* every page non-zero: snapshots must store it */
        table[w] = (uint64_t)w * 0x9e3779b97f4a7c15u + 1;

    uint64_t h[4] = {0x6a09e667f3bcc908u, 0xbb67ae8584caa73bu, 0x3c6ef372fe94f82bu,
                     0xa54ff53a5f1d36f1u};
    uint64_t report_every = steps / 100 ? steps / 100 : 1;
    tidal_progress(0, steps ? steps : 1);
    for (uint64_t i = 0; i < steps; i++) {
        step(h, i);
        if (i % TABLE_STRIDE == 0) {
            uint64_t n = i / TABLE_STRIDE;
            table[n % words] ^= h[0];
            h[3] ^= table[(n * 7919u) % words];
        }
        if ((i + 1) % report_every == 0)
            tidal_progress(i + 1, steps);
    }
    uint64_t fold = 0;
    for (size_t w = 0; w < words; w++)
        fold = rotl(fold, 7) ^ table[w];
    printf("hashchain %llu steps digest %016llx%016llx%016llx%016llx%016llx\n",
           (unsigned long long)steps, (unsigned long long)h[0], (unsigned long long)h[1],
           (unsigned long long)h[2], (unsigned long long)h[3], (unsigned long long)fold);
    tidal_progress(steps ? steps : 1, steps ? steps : 1);
    return 0;
}

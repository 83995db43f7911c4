/* A guest to migrate: fills FILL_MIB of memory with a pattern, then either keeps
 * rewriting the first HOT_MIB of it (a counter in every page, a running checksum
 * printed every REPORT iterations) or, with HOT_MIB 0, idles (1 ms sleeps, a beat
 * printed every REPORT of them). After ITERATIONS (0: never) it reads a line from
 * stdin, so that a test can hold it there until a migration is over, then prints a
 * checksum of all it filled and exits. Its output depends on its arguments only.
 *
 * usage: migrate_load FILL_MIB HOT_MIB ITERATIONS REPORT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WORDS_PER_PAGE 512

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: migrate_load FILL_MIB HOT_MIB ITERATIONS REPORT\n");
        return 2;
    }
    uint64_t fill_pages = strtoull(argv[1], NULL, 10) * 256;
    uint64_t hot_pages = strtoull(argv[2], NULL, 10) * 256;
    uint64_t iterations = strtoull(argv[3], NULL, 10);
    uint64_t report = strtoull(argv[4], NULL, 10);
    if (hot_pages > fill_pages || report == 0) {
        fprintf(stderr, "migrate_load: HOT_MIB must be at most FILL_MIB, REPORT above 0\n");
        return 2;
    }
    uint64_t *mem = malloc(fill_pages * WORDS_PER_PAGE * sizeof(uint64_t));
    if (!mem && fill_pages) {
        fprintf(stderr, "migrate_load: no room for %llu MiB\n",
                (unsigned long long)fill_pages / 256);
        return 1;
    }
    for (uint64_t p = 0; p < fill_pages; p++)
        for (unsigned k = 0; k < WORDS_PER_PAGE; k++)
            mem[p * WORDS_PER_PAGE + k] = (p * 2654435761u + k) | 1;
    printf("filled %llu pages\n", (unsigned long long)fill_pages);
    fflush(stdout);

    uint64_t sum = 0;
    struct timespec ms = {.tv_nsec = 1000000};
    for (uint64_t i = 1; iterations == 0 || i <= iterations; i++) {
        if (hot_pages == 0) {
            nanosleep(&ms, NULL);
        } else {
            for (uint64_t p = 0; p < hot_pages; p++) {
                uint64_t *w = &mem[p * WORDS_PER_PAGE + (i * 7 + p) % WORDS_PER_PAGE];
                *w += i ^ p;
                sum = sum * 31 + *w;
            }
        }
        if (i % report == 0) {
            if (hot_pages)
                printf("iteration %llu sum %016llx\n", (unsigned long long)i,
                       (unsigned long long)sum);
            else
                printf("beat %llu\n", (unsigned long long)i);
            fflush(stdout);
        }
    }
    char line[64];
    if (!fgets(line, sizeof(line), stdin))
        line[0] = 0;
    for (uint64_t j = 0; j < fill_pages * WORDS_PER_PAGE; j++)
        sum = sum * 31 + mem[j];
    printf("final %016llx\n", (unsigned long long)sum);
    return 0;
}

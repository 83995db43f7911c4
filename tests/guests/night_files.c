/* A night job with files: reads numbers from /data/input.txt (a read-only tree), then
 * works in rounds, after each appending a line to /tmp/partial (its scratch space) and
 * reporting progress; at the end it reads /tmp/partial back and writes the sum and
 * the number of lines it found to /out/result.txt. Suspended between rounds and
 * resumed, it must find every line it wrote before. */
#include "tidal/guest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 40;
    uint64_t spin = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000ull;
    FILE *in = fopen("/data/input.txt", "r");
    if (!in)
        return perror("/data/input.txt"), 2;
    long long sum = 0, v;
    while (fscanf(in, "%lld", &v) == 1)
        sum += v;
    fclose(in);
    uint64_t h = 1469598103934665603ull;
    for (unsigned r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < spin; i++)
            h = (h ^ (i & 0xff)) * 1099511628211ull;
        FILE *p = fopen("/tmp/partial", "a");
        if (!p || fprintf(p, "round %u %016llx\n", r, (unsigned long long)h) < 0 || fclose(p))
            return perror("/tmp/partial"), 3;
        tidal_progress(r + 1, rounds);
    }
    FILE *p = fopen("/tmp/partial", "r");
    if (!p)
        return perror("/tmp/partial"), 4;
    unsigned lines = 0;
    char line[128];
    while (fgets(line, sizeof(line), p))
        lines++;
    fclose(p);
    FILE *out = fopen("/out/result.txt", "w");
    if (!out ||
        fprintf(out, "sum %lld lines %u last %016llx\n", sum, lines, (unsigned long long)h) < 0 ||
        fclose(out))
        return perror("/out/result.txt"), 5;
    printf("done: %u lines\n", lines);
    return 0;
}

/* A night job in miniature: loads a data file (CSV lines "region,amount"), sums the
 * amounts per region, and writes a report to /out/report.txt, which
 * `tidal run --output-dir DIR` copies to the host when the guest exits.
 *   build/tidal run --file sales.csv:/data/sales.csv --output-dir out/ report.elf
 * As a Linux program (build/examples/report.linux) it takes the two paths as
 * arguments: report DATA_FILE REPORT_FILE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REGIONS 64

struct region {
    char name[32];
    double total;
    unsigned rows;
};

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "/data/sales.csv";
    const char *report = argc > 2 ? argv[2] : "/out/report.txt";
    FILE *in = fopen(data, "r");
    if (!in) {
        fprintf(stderr, "report: %s: %s\n", data, strerror(errno));
        return 1;
    }
    static struct region regions[MAX_REGIONS];
    unsigned nregions = 0, lines = 0, skipped = 0;
    char line[256];
    while (fgets(line, sizeof(line), in)) {
        lines++;
        char *comma = strchr(line, ',');
        if (!comma) {
            skipped++;
            continue;
        }
        *comma = 0;
        char *end;
        double amount = strtod(comma + 1, &end);
        if (end == comma + 1) {
            skipped++; /* the header, or a bad row */
            continue;
        }
        unsigned i = 0;
        while (i < nregions && strcmp(regions[i].name, line))
            i++;
        if (i == nregions) {
            if (nregions == MAX_REGIONS) {
                skipped++;
                continue;
            }
            snprintf(regions[nregions++].name, sizeof(regions[0].name), "%s", line);
        }
        regions[i].total += amount;
        regions[i].rows++;
    }
    fclose(in);

    FILE *out = fopen(report, "w");
    if (!out) {
        fprintf(stderr, "report: %s: %s\n", report, strerror(errno));
        return 1;
    }
    fprintf(out, "report on %s: %u lines, %u skipped\n", data, lines, skipped);
    double all = 0;
    for (unsigned i = 0; i < nregions; i++) {
        fprintf(out, "%-12s %8u rows %14.2f\n", regions[i].name, regions[i].rows, regions[i].total);
        all += regions[i].total;
    }
    fprintf(out, "%-12s %8s      %14.2f\n", "total", "", all);
    if (fclose(out)) {
        fprintf(stderr, "report: %s: %s\n", report, strerror(errno));
        return 1;
    }
    printf("report: %u regions from %u lines written to %s\n", nregions, lines, report);
    return 0;
}

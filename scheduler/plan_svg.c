/*
 * A chart of the plan, viewable in any browser: for CPU and memory, the fleet's use over
 * the day as stacked areas, one band per host (or per group of hosts when there are many,
 * so the file stays small), under the line of the capacity of the hosts in use; below,
 * hosts in use per slot. Styled after the Kubernetes dashboard's stacked usage graphs.
 */
#include "sched_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 1100
#define PH 260 /* height of one panel */
#define LM 70
#define RM 150
#define TM 40
#define MAXBANDS 32

static double xat(const struct tsched_model *m, int t)
{
    return LM + (double)t * (W - LM - RM) / m->nslots;
}

static void axes(FILE *f, const struct tsched_model *m, double y0, double ymax, const char *unit,
                 const char *title)
{
    fprintf(f, "<text x='%d' y='%.1f' font-weight='bold'>%s</text>\n", LM, y0 - PH - 8, title);
    fprintf(f, "<rect x='%d' y='%.1f' width='%d' height='%d' fill='#fafafa' stroke='#ccc'/>\n", LM,
            y0 - PH, W - LM - RM, PH);
    for (int h = 0; h <= 24; h += 2) {
        double x = xat(m, h * m->nslots / 24);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#e4e4e4'/>", x, y0 - PH,
                x, y0);
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='11'>%02d:00</text>\n",
                x, y0 + 14, h % 24);
    }
    for (int k = 0; k <= 4; k++) {
        double y = y0 - PH * k / 4.0;
        fprintf(f, "<text x='%d' y='%.1f' text-anchor='end' font-size='11'>%.0f %s</text>\n",
                LM - 4, y + 4, ymax * k / 4, unit);
    }
}

static void panel(FILE *f, const struct tsched_model *m, const struct tsched_plan *p, int r,
                  double y0, const char *unit, const char *title)
{
    int T = m->nslots, n = p->nhosts;
    int bands = n < MAXBANDS ? n : MAXBANDS;
    double *cum = calloc((size_t)(bands + 1) * T, sizeof *cum);
    double *capline = calloc((size_t)T, sizeof *capline);
    if (!cum || !capline) {
        free(cum);
        free(capline);
        return;
    }
    double ymax = 0;
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < n; h++) {
            int b = (int)((long)h * bands / n);
            cum[(b + 1) * T + t] += p->load[((size_t)h * T + t) * TSCHED_NRES + r];
            double cap[TSCHED_NRES];
            tsched_host_cap(m, h, cap);
            const double *l = &p->load[((size_t)h * T + t) * TSCHED_NRES];
            if (l[0] > TSCHED_EPS || l[1] > TSCHED_EPS)
                capline[t] += cap[r];
        }
        for (int b = 1; b <= bands; b++)
            cum[b * T + t] += cum[(b - 1) * T + t];
        ymax = fmax(ymax, capline[t]);
    }
    if (ymax <= 0)
        ymax = 1;
    axes(f, m, y0, ymax, unit, title);
    double sy = PH / ymax;
    for (int b = bands; b >= 1; b--) {
        fprintf(f, "<polygon fill='hsl(%d,60%%,%d%%)' fill-opacity='0.85' stroke='none' points='",
                (b * 137) % 360, 55 + (b % 3) * 8);
        for (int t = 0; t < T; t++)
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t), y0 - cum[b * T + t] * sy, xat(m, t + 1),
                    y0 - cum[b * T + t] * sy);
        for (int t = T - 1; t >= 0; t--)
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t + 1), y0 - cum[(b - 1) * T + t] * sy,
                    xat(m, t), y0 - cum[(b - 1) * T + t] * sy);
        fprintf(f, "'><title>hosts %d-%d</title></polygon>\n",
                (int)(((long)(b - 1) * n + bands - 1) / bands),
                (int)(((long)b * n + bands - 1) / bands) - 1);
    }
    fprintf(f, "<polyline fill='none' stroke='#d33' stroke-width='1.5' stroke-dasharray='5,3' "
               "points='");
    for (int t = 0; t < T; t++)
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t), y0 - capline[t] * sy, xat(m, t + 1),
                y0 - capline[t] * sy);
    fprintf(f, "'/>\n");
    fprintf(f, "<text x='%d' y='%.1f' font-size='11' fill='#d33'>capacity of hosts in use</text>\n",
            W - RM + 8, y0 - PH + 12);
    fprintf(f, "<text x='%d' y='%.1f' font-size='11'>%d bands of %s</text>\n", W - RM + 8,
            y0 - PH + 28, bands, bands == n ? "1 host" : "hosts");
    free(cum);
    free(capline);
}

int tsched_plan_write_svg(const struct tsched_model *m, const struct tsched_plan *p,
                          const char *path, struct tsched_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tsched_errc(err, tsched_errf(err, "%s: cannot write: %s", path, strerror(errno)),
                           TSCHED_E_OUTPUT);
    int H = TM + 3 * (PH + 50) + 20;
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "font-family='sans-serif' font-size='13'>\n<rect width='100%%' height='100%%' "
            "fill='white'/>\n",
            W, H);
    fprintf(f,
            "<text x='%d' y='22' font-size='16' font-weight='bold'>Tidal plan: %d peak hosts, "
            "%.0f host-hours, %d suspends, %d moves (zone %s)</text>\n",
            LM, p->peak_hosts, p->host_hours, p->suspends, p->moves, m->tz);
    double y = TM + PH + 30;
    panel(f, m, p, TSCHED_CPU, y, "", "CPU cores used, stacked by host");
    y += PH + 50;
    panel(f, m, p, TSCHED_MEM, y, "", "Memory GB used, stacked by host");
    y += PH + 50;
    /* Hosts in use per slot, on the same time axis. */
    double ymax = p->peak_hosts > 0 ? p->peak_hosts : 1;
    axes(f, m, y, ymax, "", "Hosts in use");
    fprintf(f, "<polyline fill='none' stroke='#326ce5' stroke-width='2' points='");
    for (int t = 0; t < m->nslots; t++)
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t), y - p->hosts_per_slot[t] * PH / ymax,
                xat(m, t + 1), y - p->hosts_per_slot[t] * PH / ymax);
    fprintf(f, "'/>\n</svg>\n");
    if (ferror(f) | (fclose(f) != 0))
        return tsched_errc(err, tsched_errf(err, "%s: write failed", path), TSCHED_E_OUTPUT);
    return 0;
}

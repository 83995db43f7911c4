/*
 * A chart of the plan, viewable in any browser. First the tide: for CPU and memory, the
 * demand of services, functions and batch stacked over the day against the fleet's
 * capacity, so that night work filling the day's trough shows at a glance. Then the
 * same use stacked by host (or by group of hosts when there are many, so the file
 * stays small) under the capacity of the hosts in use, and the hosts in use per slot.
 * Styled after the Kubernetes dashboard's stacked usage graphs.
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

/* The area between the cumulative curves b-1 and b of cum[band][slot]. */
static void band(FILE *f, const struct tsched_model *m, const double *cum, int b, double y0,
                 double sy, int hue, int light, const char *tip)
{
    int T = m->nslots;
    fprintf(f, "<polygon fill='hsl(%d,60%%,%d%%)' fill-opacity='0.85' stroke='none' points='", hue,
            light);
    for (int t = 0; t < T; t++)
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t), y0 - cum[b * T + t] * sy, xat(m, t + 1),
                y0 - cum[b * T + t] * sy);
    for (int t = T - 1; t >= 0; t--)
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t + 1), y0 - cum[(b - 1) * T + t] * sy, xat(m, t),
                y0 - cum[(b - 1) * T + t] * sy);
    fprintf(f, "'><title>%s</title></polygon>\n", tip);
}

static void step_line(FILE *f, const struct tsched_model *m, const double *v, double y0, double sy,
                      const char *color, const char *label, int label_row)
{
    fprintf(f,
            "<polyline fill='none' stroke='%s' stroke-width='1.5' stroke-dasharray='5,3' "
            "points='",
            color);
    for (int t = 0; t < m->nslots; t++)
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", xat(m, t), y0 - v[t] * sy, xat(m, t + 1),
                y0 - v[t] * sy);
    fprintf(f, "'/>\n<text x='%d' y='%.1f' font-size='11' fill='%s'>%s</text>\n", W - RM + 8,
            y0 - PH + 12 + 16 * label_row, color, label);
}

/* Demand by class (services, functions, batch as planned) against the fleet's capacity. */
static void tide_panel(FILE *f, const struct tsched_model *m, const struct tsched_plan *p, int r,
                       double y0, const char *title)
{
    static const char *names[] = {"services", "functions", "batch"};
    static const int hues[] = {210, 140, 30};
    int T = m->nslots;
    double *cum = calloc(4 * (size_t)T, sizeof *cum),
           *capline = malloc((size_t)T * sizeof *capline);
    if (!cum || !capline) {
        free(cum);
        free(capline);
        return;
    }
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        double *c = &cum[((size_t)w->kind + 1) * T];
        if (w->kind != TSCHED_BATCH) {
            for (int t = 0; t < T; t++)
                c[t] += w->demand[r][t];
            continue;
        }
        const int *run = &p->run_host[p->run_off[i]];
        for (int o = 0; o < w->win_len; o++)
            if (run[o] >= 0)
                c[(w->win_start + o) % T] += w->req[r];
    }
    double cap[TSCHED_NRES];
    tsched_fleet_cap(m, p->nhosts, cap);
    double ymax = cap[r] > 0 ? cap[r] : 1;
    for (int t = 0; t < T; t++) {
        capline[t] = cap[r];
        for (int b = 1; b <= 3; b++)
            cum[b * T + t] += cum[(b - 1) * T + t];
        ymax = fmax(ymax, cum[3 * T + t]);
    }
    axes(f, m, y0, ymax, "", title);
    for (int b = 3; b >= 1; b--) {
        band(f, m, cum, b, y0, PH / ymax, hues[b - 1], 55, names[b - 1]);
        fprintf(f, "<text x='%d' y='%.1f' font-size='11' fill='hsl(%d,60%%,40%%)'>%s</text>\n",
                W - RM + 8, y0 - PH + 12 + 16 * (4 - b), hues[b - 1], names[b - 1]);
    }
    step_line(f, m, capline, y0, PH / ymax, "#d33", "fleet capacity", 0);
    free(cum);
    free(capline);
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
        char tip[64];
        snprintf(tip, sizeof tip, "hosts %d-%d", (int)(((long)(b - 1) * n + bands - 1) / bands),
                 (int)(((long)b * n + bands - 1) / bands) - 1);
        band(f, m, cum, b, y0, sy, (b * 137) % 360, 55 + (b % 3) * 8, tip);
    }
    step_line(f, m, capline, y0, sy, "#d33", "capacity of hosts in use", 0);
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
    int H = TM + 5 * (PH + 50) + 20;
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
    tide_panel(f, m, p, TSCHED_CPU, y, "CPU cores: demand by class against the fleet's capacity");
    y += PH + 50;
    tide_panel(f, m, p, TSCHED_MEM, y, "Memory GB: demand by class against the fleet's capacity");
    y += PH + 50;
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

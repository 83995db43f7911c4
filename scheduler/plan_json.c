/* The plan as JSON: hosts with their per-slot use, each workload's placement (a day
 * workload's host for every slot it has demand; a batch workload's runs), and the
 * suspend / resume / move events in time order of each workload's window. */
#include "sched_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void clock_at(const struct tsched_model *m, int slot, char buf[6])
{
    tsched_fmt_clock((long)slot * m->slot_s, buf);
}

static void hosts(FILE *f, const struct tsched_model *m, const struct tsched_plan *p)
{
    fprintf(f, "  \"hosts\": [\n");
    for (int h = 0; h < p->nhosts; h++) {
        double cap[TSCHED_NRES];
        tsched_host_cap(m, h, cap);
        fprintf(f, "    {\"id\": %d, \"type\": ", h);
        jstr(f, m->types[tsched_fleet_type(m, h)].name);
        fprintf(f, ", \"cpu\": %g, \"memoryGB\": %g", cap[TSCHED_CPU], cap[TSCHED_MEM]);
        static const char *const key[TSCHED_NRES] = {"cpuUsed", "memoryUsedGB"};
        for (int r = 0; r < TSCHED_NRES; r++) {
            fprintf(f, ", \"%s\": [", key[r]);
            for (int t = 0; t < m->nslots; t++)
                fprintf(f, "%s%.3f", t ? "," : "",
                        p->load[((size_t)h * m->nslots + t) * TSCHED_NRES + r]);
            fprintf(f, "]");
        }
        fprintf(f, "}%s\n", h + 1 < p->nhosts ? "," : "");
    }
    fprintf(f, "  ],\n");
}

static void runs(FILE *f, const struct tsched_model *m, const struct tsched_plan *p, int i)
{
    const struct tsched_workload *w = &m->w[i];
    const int *run = &p->run_host[p->run_off[i]];
    char a[6], b[6];
    clock_at(m, w->win_start, a);
    clock_at(m, w->win_start + w->win_len, b);
    fprintf(f, ", \"windowStart\": \"%s\", \"deadline\": \"%s\", \"runs\": [", a, b);
    bool first = true;
    for (int o = 0; o < w->win_len;) {
        if (run[o] < 0) {
            o++;
            continue;
        }
        int e = o;
        while (e < w->win_len && run[e] == run[o])
            e++;
        clock_at(m, w->win_start + o, a);
        clock_at(m, w->win_start + e, b);
        fprintf(f,
                "%s{\"start\": \"%s\", \"end\": \"%s\", \"startSlot\": %d, \"slots\": %d, "
                "\"host\": %d}",
                first ? "" : ", ", a, b, (w->win_start + o) % m->nslots, e - o, run[o]);
        first = false;
        o = e;
    }
    fprintf(f, "]");
}

static void events(FILE *f, const struct tsched_model *m, const struct tsched_plan *p)
{
    fprintf(f, "  \"events\": [");
    bool first = true;
    char a[6];
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        if (w->kind != TSCHED_BATCH)
            continue;
        const int *run = &p->run_host[p->run_off[i]];
        int last = -1, prev = -1;
        for (int o = 0; o <= w->win_len; o++) {
            int cur = o < w->win_len ? run[o] : -1;
            const char *ev = NULL;
            int slot = w->win_start + o, host = cur;
            if (cur >= 0 && prev < 0)
                ev = last < 0 ? "start" : (last == cur ? "resume" : "resume-moved");
            else if (cur >= 0 && prev >= 0 && cur != prev)
                ev = "move";
            else if (cur < 0 && prev >= 0) {
                bool more = false;
                for (int q = o; q < w->win_len && !more; q++)
                    more = run[q] >= 0;
                ev = more ? "suspend" : "finish";
                host = prev;
            }
            if (ev) {
                clock_at(m, slot, a);
                fprintf(f,
                        "%s\n    {\"time\": \"%s\", \"slot\": %d, \"event\": \"%s\", "
                        "\"workload\": ",
                        first ? "" : ",", a, slot % m->nslots, ev);
                jstr(f, w->name);
                fprintf(f, ", \"host\": %d}", host);
                first = false;
            }
            if (cur >= 0)
                last = cur;
            prev = cur;
        }
    }
    fprintf(f, "\n  ]\n");
}

int tsched_plan_write_json(const struct tsched_model *m, const struct tsched_plan *p,
                           const char *path, struct tsched_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tsched_errc(err, tsched_errf(err, "%s: cannot write: %s", path, strerror(errno)),
                           TSCHED_E_OUTPUT);
    fprintf(f, "{\n  \"slotSeconds\": %d,\n  \"slots\": %d,\n  \"timeZone\": ", m->slot_s,
            m->nslots);
    jstr(f, m->tz);
    fprintf(f,
            ",\n  \"summary\": {\"peakHosts\": %d, \"hostHours\": %.2f, \"starts\": %d, "
            "\"suspends\": %d, \"resumes\": %d, \"moves\": %d, \"hostsPerSlot\": [",
            p->peak_hosts, p->host_hours, p->starts, p->suspends, p->resumes, p->moves);
    for (int t = 0; t < m->nslots; t++)
        fprintf(f, "%s%d", t ? "," : "", p->hosts_per_slot[t]);
    fprintf(f, "]},\n");
    hosts(f, m, p);
    fprintf(f, "  \"workloads\": [\n");
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        fprintf(f, "    {\"name\": ");
        jstr(f, w->name);
        fprintf(f, ", \"type\": \"%s\"", tsched_kind_name(w->kind));
        if (w->kind == TSCHED_BATCH)
            runs(f, m, p, i);
        else
            fprintf(f, ", \"host\": %d", p->day_host[i]);
        fprintf(f, "}%s\n", i + 1 < m->nw ? "," : "");
    }
    fprintf(f, "  ],\n");
    events(f, m, p);
    fprintf(f, "}\n");
    if (ferror(f) | (fclose(f) != 0))
        return tsched_errc(err, tsched_errf(err, "%s: write failed", path), TSCHED_E_OUTPUT);
    return 0;
}

#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *th_write(const char *name, const char *text)
{
    static char dir[64], path[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/tidal-sched-test-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

void th_model(struct tsched_model *m, int slot_s, double cpu, double mem)
{
    struct tsched_err err;
    cr_assert_eq(tsched_model_init(m, slot_s, &err), 0, "%s", err.msg);
    m->types = calloc(1, sizeof *m->types);
    cr_assert_not_null(m->types);
    strcpy(m->types[0].name, "t");
    m->types[0].cap[TSCHED_CPU] = cpu;
    m->types[0].cap[TSCHED_MEM] = mem;
    m->ntypes = 1;
}

int th_plan_checked(const struct tsched_model *m, struct tsched_plan *p)
{
    struct tsched_err err;
    int lb = tsched_lower_bound(m, tsched_baseline_peak(m), &err);
    cr_assert_geq(lb, 0, "%s", err.msg);
    cr_assert_eq(tsched_plan_build(m, lb, p, &err), 0, "%s", err.msg);
    struct tsched_verify v;
    tsched_plan_verify(m, p, &v);
    cr_assert_eq(v.capacity_violations, 0);
    cr_assert_eq(v.deadline_misses, 0);
    cr_assert_eq(v.unplaced, 0);
    cr_assert_eq(v.rule_violations, 0);
    cr_assert_leq(lb, p->nhosts, "LB* %d above a real plan's %d hosts", lb, p->nhosts);
    cr_assert_leq(p->peak_hosts, p->nhosts);
    return p->nhosts;
}

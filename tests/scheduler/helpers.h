/* Shared helpers for the scheduler tests: temporary files and tiny models. */
#ifndef TSCHED_TEST_HELPERS_H
#define TSCHED_TEST_HELPERS_H

#include <tidal/scheduler.h>

/* Writes `text` to a fresh file in a per-process temp dir; returns its path (static). */
const char *th_write(const char *name, const char *text);
/* A model with `slot_s` slots and one host type of (cpu, mem). */
void th_model(struct tsched_model *m, int slot_s, double cpu, double mem);
/* Plans, verifies and asserts every invariant; returns the plan's fleet size. */
int th_plan_checked(const struct tsched_model *m, struct tsched_plan *p);

#endif

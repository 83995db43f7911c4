/*
 * Tidal's time-aware scheduler: a pure planning library.
 *
 * The day is cut into slots (default 5 min, 288 slots). Day workloads (services,
 * function pools) have a demand curve per slot and stay on one host all day; batch
 * workloads have a window and an amount of work, and run in whichever slots of their
 * window have room, possibly suspended to a snapshot in between. The plan is periodic:
 * the day repeats, so a window from 22:00 to 06:00 wraps around midnight.
 *
 * Everything here is in the plan's local time; inputs in other time zones are shifted
 * when they are loaded. No I/O beyond reading inputs and writing the requested outputs.
 */
#ifndef TIDAL_SCHEDULER_H
#define TIDAL_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSCHED_NRES 2 /* resources: [0] CPU cores, [1] memory GB */
#define TSCHED_CPU 0
#define TSCHED_MEM 1
#define TSCHED_NAME_MAX 64

/* The scheduler's own error message: scheduler/ depends on nothing else in the tree.
 * `code` tells the CLI which exit code fits. */
enum tsched_err_code {
    TSCHED_E_INPUT = 0,  /* bad input contents or values (the default) */
    TSCHED_E_NOFILE,     /* an input file or directory is missing or unreadable */
    TSCHED_E_INFEASIBLE, /* valid inputs, but no plan can exist (too big, too few hosts) */
    TSCHED_E_OUTPUT,     /* an output file cannot be written */
    TSCHED_E_INTERNAL,   /* out of memory and the like */
};
struct tsched_err {
    char msg[512];
    enum tsched_err_code code;
};

struct tsched_host_type {
    char name[TSCHED_NAME_MAX];
    double cap[TSCHED_NRES];
    int count; /* how many exist; 0 = as many as needed */
};

enum tsched_kind { TSCHED_SERVICE, TSCHED_FUNCTION, TSCHED_BATCH };

struct tsched_workload {
    char name[TSCHED_NAME_MAX];
    enum tsched_kind kind;
    /* Day kinds: demand per slot (plan-local), nslots floats per resource. */
    float *demand[TSCHED_NRES];
    double peak[TSCHED_NRES];
    /* Batch: size while running, run time at that size, cyclic window of slots. */
    double req[TSCHED_NRES];
    double duration_s;
    int win_start; /* first slot allowed */
    int win_len;   /* slots in the window, 1..nslots; the deadline is the window's end */
    bool suspendable;
    double switch_s; /* cost of one suspend + resume (snapshot save + restore) */
};

struct tsched_model {
    int slot_s, nslots;
    char tz[TSCHED_NAME_MAX];
    int tz_offset_s;     /* plan time zone, seconds east of UTC */
    long ref_day;        /* days since 1970-01-01: the date zone offsets are taken at */
    double snapshot_gbs; /* snapshot bandwidth, GB/s: turns snapshot size into time */
    struct tsched_host_type *types;
    int ntypes;
    struct tsched_workload *w;
    int nw, capw;
};

/* ---- model (model.c) ---- */
int tsched_model_init(struct tsched_model *m, int slot_s, struct tsched_err *err);
void tsched_model_free(struct tsched_model *m);
/* Appends a workload; for day kinds the demand arrays are allocated and zeroed. */
struct tsched_workload *tsched_add(struct tsched_model *m, enum tsched_kind kind, const char *name,
                                   struct tsched_err *err);
/* Recomputes peaks of day workloads after their curves were filled in. */
void tsched_finish_workload(const struct tsched_model *m, struct tsched_workload *w);
/* Capacity of host i of the fleet: types are opened in the order listed. */
int tsched_fleet_type(const struct tsched_model *m, int host);
int tsched_fleet_max(const struct tsched_model *m); /* INT32_MAX if unlimited */
const char *tsched_kind_name(enum tsched_kind k);

/* ---- time (timefmt.c, tz.c, cron.c) ---- */
/* "300", "300s", "5m", "1h30m", "2d": seconds > 0. */
int tsched_parse_duration(const char *s, long *secs);
/* "HH:MM" or "HH:MM:SS" -> seconds after midnight. */
int tsched_parse_clock(const char *s, long *secs);
/* Cron "min hour dom mon dow": minute and hour fields (lists, ranges, steps, '*');
 * the day fields must be '*' since a plan covers one repeating day. Returns the first
 * firing time of the day in seconds after midnight. */
int tsched_parse_cron(const char *s, long *first_secs, struct tsched_err *err);
/* "UTC", "Z", "+HH:MM", "-HH[:MM]" or an IANA name (taken at noon UTC of ref_day). */
int tsched_tz_offset(const char *tz, long ref_day, int *offset_s, struct tsched_err *err);
/* "YYYY-MM-DD" -> days since 1970-01-01. */
int tsched_parse_date(const char *s, long *day);
/* Formats days since 1970-01-01 as YYYY-MM-DD into buf[11]. */
void tsched_fmt_date(long day, char buf[11]);
/* Formats seconds after midnight as HH:MM into buf[6]. */
void tsched_fmt_clock(long secs, char buf[6]);

/* ---- inputs (input_hosts.c, input_workloads.c) ---- */
int tsched_load_hosts(struct tsched_model *m, const char *path, struct tsched_err *err);
int tsched_load_workloads(struct tsched_model *m, const char *path, struct tsched_err *err);

struct tsched_trace_opts {
    const char *tz;      /* local zone of the plan the UTC traces are shifted into */
    double sample;       /* fraction of items kept (deterministic by id), (0,1] */
    int vm_day;          /* which day of the VM trace; -1 = last full day */
    long batch_start_s;  /* local time the batch trace's t=0 is placed at */
    long batch_window_s; /* deadline = release + max(window, run time) */
    double bundle_frac;  /* largest function replica / batch chunk (/ VM bundle), as a
                            fraction of the first host type */
    bool bundle_vms;     /* bundle VMs (fewer workloads) instead of one workload per VM */
    bool no_functions, no_vms, no_batch;
};
void tsched_trace_opts_default(struct tsched_trace_opts *o);
struct tsched_trace_report {
    int functions, vms, vm_bundles, batch_tasks, batch_jobs;
    int skipped_rows; /* rows rejected by validation, with reasons in `note` */
    char note[512];
};
int tsched_load_traces(struct tsched_model *m, const char *dir, const struct tsched_trace_opts *o,
                       struct tsched_trace_report *rep, struct tsched_err *err);

/* Forecast mode (forecast.c). `dir` holds one workloads file per day, YYYY-MM-DD.json.
 * tsched_forecast adds to m (hosts loaded, no workloads yet) the forecast of `day` from
 * every earlier day in dir: per workload (by name), a service's or function's highest
 * demand in each slot over those days, a batch job's longest run time and biggest size
 * in its latest window; all raised by `margin` (0.1 = 10%), run times capped at their
 * window. *ndays tells how many days were read. */
int tsched_forecast(struct tsched_model *m, const char *dir, long day, double margin, int *ndays,
                    struct tsched_err *err);
/* Loads dir/<day>.json into a new model `out` on m's clock and zone. */
int tsched_load_day(const struct tsched_model *m, const char *dir, long day,
                    struct tsched_model *out, struct tsched_err *err);

/* Synthetic instance: `n` workloads, deterministic from `seed` (for the bench). */
int tsched_synth(struct tsched_model *m, int n, uint64_t seed, struct tsched_err *err);

/* ---- plan (planner.c, plan_stats.c, verify.c) ---- */
struct tsched_plan {
    int nhosts;      /* hosts of the fleet the plan may use (0..nhosts-1) */
    int *day_host;   /* per workload: host of a day workload, -1 for batch */
    int *run_host;   /* per batch workload: win_len entries from run_off, -1 = idle */
    size_t *run_off; /* per workload offset into run_host */
    double *load;    /* [host][slot][res] */
    /* statistics, filled by tsched_plan_stats */
    int *hosts_per_slot;
    int peak_hosts;
    double host_hours;
    int starts, suspends, resumes, moves;
    int attempts; /* fleet sizes tried by the search */
};

/* Rejects a model no fleet can hold (a workload bigger than every host type). */
int tsched_check(const struct tsched_model *m, struct tsched_err *err);
/* Plans on the fewest hosts it can find, starting from `lb` hosts (0 = from scratch). */
int tsched_plan_build(const struct tsched_model *m, int lb, struct tsched_plan *p,
                      struct tsched_err *err);
void tsched_plan_free(struct tsched_plan *p);
void tsched_plan_stats(const struct tsched_model *m, struct tsched_plan *p);

struct tsched_verify {
    int capacity_violations;   /* (host, slot, resource) over capacity */
    int deadline_misses;       /* batch workloads whose work is not done in their window */
    int unplaced;              /* day workloads without a host, or bad hosts/slots */
    int rule_violations;       /* a non-suspendable workload suspended or moved */
    int overloaded_host_slots; /* (host, slot) pairs over capacity in some resource */
};
/* Rechecks a plan from scratch, independently of the planner's bookkeeping. */
void tsched_plan_verify(const struct tsched_model *m, const struct tsched_plan *p,
                        struct tsched_verify *v);
/* Work (seconds at full size) a batch workload gets from its runs, net of switch costs. */
double tsched_batch_done(const struct tsched_model *m, const struct tsched_plan *p, int wi,
                         int *segments, int *moves);

/* A plan replayed on the day that came (replay.c): each workload of `actual` keeps, by
 * name, its planned host or runs and carries its actual demand. */
struct tsched_replay {
    int host_slots;               /* fleet hosts x slots */
    int overloaded_host_slots;    /* over capacity in some resource */
    double unserved[TSCHED_NRES]; /* core-hours and GB-hours of demand beyond capacity, or
                                     of workloads the plan does not know */
    int deadline_misses;          /* batch jobs whose planned runs do not cover their work */
    int unplanned;                /* workloads of the day the plan does not know */
    int suspends, resumes;        /* the plan's, which the day goes through */
};
int tsched_replay(const struct tsched_model *plan_model, const struct tsched_plan *p,
                  const struct tsched_model *actual, struct tsched_replay *r,
                  struct tsched_err *err);

/* ---- bounds and baselines (lower_bound.c, baselines.c) ---- */
/* LB*: fewest fleet hosts whose summed capacity holds, in every slot and resource, the
 * day demand plus a fractional schedule of the batch work (binary search + max-flow). */
int tsched_lower_bound(const struct tsched_model *m, int upper, struct tsched_err *err);
/* (c) The extreme: every workload reserves its peak all day (a batch job its size),
 * first-fit decreasing, no time awareness. */
int tsched_baseline_peak(const struct tsched_model *m);

/* What an operator without Tidal runs: batch as a FIFO job queue (by release, each job
 * started at the first slot where a host has room for its whole run, never
 * suspended), day workloads placed as the planner places them. `hosts` is the smallest
 * fleet on which every job meets its deadline with no host over capacity (0: none
 * within hostTypes); `attempts` the fleet sizes tried. */
struct tsched_baseline {
    int hosts;
    int overloads; /* (a) only: host-slots the real day curves overload on that fleet */
    int attempts;
};
/* (a) Kubernetes-style: day workloads at requests = P95 of their curve, all day. */
int tsched_baseline_k8s(const struct tsched_model *m, struct tsched_baseline *b,
                        struct tsched_err *err);
/* (b) The real day curves (a perfect autoscaler) next to the same queue; the search
 * starts at `lb` (LB*: no fleet below it can work). */
int tsched_baseline_fifo(const struct tsched_model *m, int lb, struct tsched_baseline *b,
                         struct tsched_err *err);

/* ---- outputs (plan_json.c, plan_svg.c) ---- */
int tsched_plan_write_json(const struct tsched_model *m, const struct tsched_plan *p,
                           const char *path, struct tsched_err *err);
int tsched_plan_write_svg(const struct tsched_model *m, const struct tsched_plan *p,
                          const char *path, struct tsched_err *err);

/* ---- CLI (cli/plan.c) ---- */
int tidal_cmd_plan(int argc, char **argv);

#endif

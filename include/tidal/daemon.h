/* `tidal daemon`: one host's microVMs behind a REST API on a Unix socket, and the
 * night-job runner that follows the time-aware plan. The pieces that tests drive
 * without KVM (the clock, batch windows, job specs, the state file, the client) are
 * public here; the rest lives in host/daemon_*.c. */
#ifndef TIDAL_DAEMON_H
#define TIDAL_DAEMON_H

#include "tidal/err.h"
#include "tidal/fsimage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TIDAL_DAEMON_SOCKET_DEFAULT "/run/tidal.sock"
#define TIDAL_DAEMON_NAME_MAX 64

struct tidal_daemon_options {
    const char *state_dir;
    const char *socket_path;    /* default TIDAL_DAEMON_SOCKET_DEFAULT */
    double clock_start;         /* simulated clock: epoch seconds at daemon start; 0 = now */
    double clock_scale;         /* simulated seconds per real second; 0 = manual (POST /v1/clock) */
    bool simulated;             /* --clock-start or --clock-scale given */
    double checkpoint_interval; /* real seconds between checkpoints of running batch jobs */
    double tick;                /* real seconds between two enforcement passes */
    bool full_snapshots;        /* every save a full snapshot (for comparison); default: diffs */
    const char *log_path;       /* default <state_dir>/daemon.log */
    const char *user;           /* --user: become this user once set up (NULL: stay) */
    bool kernel_metrics;        /* /metrics adds the kernel's figures per VM (BPF) */
    /* A cluster (docs/cluster.md): all NULL/0 for a host on its own. */
    const char *etcd;       /* --etcd URL[,URL...]: the cluster's etcd endpoints */
    const char *host_name;  /* --host: this host's name in the cluster (default: hostname) */
    const char *advertise;  /* --advertise ADDR: where other hosts reach this one */
    int peer_port;          /* --peer-port: TCP port for migrations (default 7946) */
    const char *store_dir;  /* --store DIR: snapshots every host reaches (shared) */
    double lease_ttl;       /* --lease-ttl seconds (default 10) */
};

/* Runs until SIGTERM/SIGINT. Returns a TIDAL_RC_* code or 0. */
int tidal_daemon_run(const struct tidal_daemon_options *o);

/* ---- the clock (daemon_clock.c): real time, or simulated time for tests ---- */
struct tidal_clock {
    bool simulated;
    double start;      /* simulated epoch seconds at real_start */
    double scale;      /* 0: manual, moves only by tidal_clock_advance */
    double real_start; /* CLOCK_MONOTONIC seconds */
    double manual_offset;
};
void tidal_clock_init(struct tidal_clock *c, bool simulated, double start, double scale);
double tidal_clock_now(const struct tidal_clock *c); /* epoch seconds */
/* Only a manual clock moves by request; -1 with a message otherwise. */
int tidal_clock_advance(struct tidal_clock *c, double seconds, struct tidal_err *err);
/* "2026-12-02T21:30:00Z", "2026-12-02T21:30:00", or epoch seconds. */
int tidal_parse_time(const char *s, double *epoch, struct tidal_err *err);
void tidal_format_time(double epoch, char out[32]);

/* ---- batch windows (daemon_window.c) ---- */
struct tidal_window {
    char cron[64];
    char tz[64];
    long start_s;    /* local seconds after midnight the window opens (cron's first firing) */
    long duration_s; /* how long it stays open, 1..86400 */
};
/* cron "min hour * * *", duration "8h", tz "Europe/Paris" or "UTC"; messages name the
 * field ("window.cron", "window.duration", "window.tz"). */
int tidal_window_parse(const char *cron, const char *duration, const char *tz,
                       struct tidal_window *w, struct tidal_err *err);
/* Whether the window is open at `epoch` (UTC seconds), in the window's own zone
 * (its offset taken for that very day, so daylight saving is followed). */
bool tidal_window_open(const struct tidal_window *w, double epoch);
/* The next instant at or after `epoch` when it opens (if closed) or closes (if open). */
double tidal_window_next_change(const struct tidal_window *w, double epoch);

/* ---- job specs (daemon_job.c): the body of POST /v1/batch ---- */
#define TIDAL_JOB_MAX_ARGS 32
struct tidal_job_spec {
    char name[TIDAL_DAEMON_NAME_MAX];
    char image[4096];
    int argc; /* args after the image */
    char *argv[TIDAL_JOB_MAX_ARGS];
    uint64_t mem_size;
    double cpus;
    uint64_t work;     /* total work units the guest reports against (informational) */
    double duration_s; /* estimated run time, for the planner; 0 = the window's length */
    struct tidal_window window;
    double deadline;             /* epoch seconds; 0 = none */
    struct tidal_fs_trees trees; /* read-only files ("dirs", "files") */
    uint64_t scratch_max;        /* "scratch": bytes for /tmp and /out; 0 = the default */
};
struct cJSON;
/* Validates a job body; every message names the field and what was expected. Unknown
 * fields are refused. */
int tidal_job_spec_parse(const struct cJSON *body, struct tidal_job_spec *spec,
                         struct tidal_err *err);
void tidal_job_spec_free(struct tidal_job_spec *spec);
struct cJSON *tidal_job_spec_json(const struct tidal_job_spec *spec);

/* A name for a VM or job: 1..63 of [A-Za-z0-9_.-], not starting with '.'. */
int tidal_check_name(const char *field, const char *name, struct tidal_err *err);

/* ---- client (daemon_client.c): one HTTP/1.1 request over the Unix socket ---- */
struct tidal_response {
    int status; /* HTTP status, 0 on a transport failure */
    char *body; /* malloc'ed, NUL-terminated */
    size_t len;
};
int tidal_client_request(const char *socket_path, const char *method, const char *path,
                         const char *body, struct tidal_response *resp, struct tidal_err *err);
void tidal_response_free(struct tidal_response *resp);

#endif

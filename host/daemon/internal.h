/* The daemon's own structures, shared by host/daemon_*.c only.
 *
 * Threads: libmicrohttpd runs one thread per connection (so a slow snapshot never
 * holds up another client, the day services' included); each live VM has a runner
 * thread that owns its struct tidal_vm; one enforcement thread applies batch
 * windows, the plan and checkpoints; one console thread drains running guests'
 * console rings into their logs every 100 ms. VMs run as threads of the daemon rather than
 * child processes: pausing is a signal to the runner thread (tidal_vm_request_pause
 * is async-signal-safe), progress is a memory read, and there is no control
 * protocol to keep in sync. The cost is that a monitor bug takes the whole daemon
 * down, which the durability design (state.json + checkpoints) already covers.
 *
 * Locking: `lock` guards every field below that says so. Snapshot I/O and VM
 * building happen outside it. `persist_lock` serialises state.json writes and is
 * always taken before `lock`, never while holding it. */
#ifndef TIDAL_DAEMON_INTERNAL_H
#define TIDAL_DAEMON_INTERNAL_H

#include "tidal/daemon.h"
#include "tidal/monitor.h"
#include "tidal/snapshot.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#define DVM_MAX_ARGS 32
#define DVM_MAX_CHAIN 16 /* diffs before a fresh full snapshot */

enum dvm_state {
    DVM_CREATED,   /* defined, never run (or a queued batch job) */
    DVM_RUNNING,   /* its runner thread runs it */
    DVM_PAUSED,    /* in memory, vCPU stopped */
    DVM_SUSPENDED, /* on disk only (its snapshot chain); no memory held */
    DVM_STOPPED,   /* stopped by request */
    DVM_EXITED,    /* the guest exited: exit_status */
    DVM_FAILED,    /* crashed, or could not be built: report */
};
enum dvm_class { DVM_SERVICE, DVM_BATCH };
enum dvm_cmd { CMD_NONE, CMD_PAUSE, CMD_RESUME, CMD_SNAPSHOT, CMD_SUSPEND, CMD_STOP };

enum job_state { JOB_ACTIVE, JOB_DONE, JOB_FAILED, JOB_CANCELLED };

struct dvm {
    struct dvm *next;
    char name[TIDAL_DAEMON_NAME_MAX];
    char dir[4200]; /* <state>/vms/<name> */
    enum dvm_class cls;
    char image[4096];
    int argc;
    char *argv[DVM_MAX_ARGS + 1]; /* argv[0] is the image */
    uint64_t mem_size;
    double cpus;
    struct tidal_fs_trees trees; /* read-only files, placed in guest memory at boot */
    uint64_t scratch_max;        /* bytes for /tmp and /out; 0 = the default */

    /* guarded by lock */
    enum dvm_state state;
    unsigned snap_gen, snap_len; /* files dir/snap-<gen>.<i>, i < snap_len */
    uint64_t log_at_snap;        /* console.log bytes when the chain's last file was saved */
    uint64_t progress_done, progress_total; /* latest known (live, or saved) */
    int exit_status;
    char report[2048];
    uint64_t snapshots_full, snapshots_diff, bytes_last_save;
    double last_save_ms, last_restore_ms;
    double started_real; /* CLOCK_MONOTONIC seconds of the last boot/restore */
    double last_checkpoint_real;
    bool thread_live;
    pthread_t thread;
    pid_t runner_tid;    /* the thread running the guest: the kernel's figures are its */
    struct tidal_vm *vm; /* owned by the runner; non-NULL while built */
    int input_fd;        /* write end of the built guest's stdin (a pipe), else -1 */
    enum dvm_cmd cmd;
    uint64_t cmd_seq, done_seq;
    int cmd_rc;
    char cmd_msg[512];
    enum dvm_state start_as; /* what a new runner leaves the VM as once built */
    bool start_from_chain;
    bool launching; /* a runner is building the VM; launch_rc/cmd_msg when done */
    int launch_rc;

    /* cluster VMs only (cluster.h); guarded by lock */
    uint64_t epoch;       /* of the assignment it runs under here; 0: not a cluster VM */
    int64_t assign_rev;   /* that assignment's mod_revision: status writes hold while it does */
    bool fence_paused;    /* paused by fencing: resumed if the assignment is still ours */
    bool publish_pending; /* its status record is out of date */
    bool migrating;       /* a live migration has it (migrate.c): nobody else acts on it */
    struct dvm_incoming *incoming; /* set: the runner runs this VM instead of building one */
    int input_read_fd;             /* the runner's end of the stdin pipe, -1 when none */

    /* batch jobs only (cls == DVM_BATCH) */
    struct tidal_job_spec *job;
    enum job_state job_state;
    double submitted_at, finished_at; /* daemon clock */
    unsigned suspensions, resumptions;
};

/* A VM a migration built (migrate.c), with its console and stdin pipe. */
struct dvm_incoming {
    struct tidal_vm *vm;
    int console_fd;
    int input[2]; /* read end (the guest's stdin), write end (the API's) */
};

struct daemon_plan; /* plan.c */
struct cluster;     /* cluster.h */

struct daemon {
    struct tidal_daemon_options opts;
    char state_dir[4096];
    char vm_root[4096];      /* VMs' directories: <state>/vms, or <store>/vms in a cluster */
    struct cluster *cluster; /* NULL: a host on its own */
    char socket_path[4096];
    dev_t socket_dev; /* the socket we bound, removed at exit only if still there */
    ino_t socket_ino;
    struct tidal_clock clock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_mutex_t persist_lock;
    struct dvm *vms; /* guarded by lock */
    FILE *log;
    pthread_mutex_t log_lock;
    volatile int stopping;
    double started_real;
    char cgroup_note[1024]; /* how CPU/memory limits are applied, or why they are not */
    bool cgroups_ok;
    struct tidal_telemetry *kvm;       /* --kernel-metrics: the BPF counters of this process */
    char cgroup_dir[512];              /* this daemon's own group, when cgroups_ok */
    char plan_note[1024];              /* guarded by lock: the last plan's outcome */
    bool plan_stale;                   /* guarded by lock: jobs changed since the last plan */
    uint64_t plan_signature;           /* guarded by lock: the day and jobs it was made for */
    struct daemon_plan *plan;          /* guarded by lock; NULL: windows alone decide */
    uint64_t api_requests, api_errors; /* guarded by lock */
};

/* daemon.c */
void dlog(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double mono_now(void);

/* vm.c: VM lifecycle. Callers hold no lock; each takes it as needed. */
struct dvm *dvm_find(struct daemon *d, const char *name); /* lock held */
struct dvm *dvm_new(struct daemon *d, const char *name, enum dvm_class cls, const char *image,
                    int argc, char *const *argv, uint64_t mem_size, double cpus,
                    struct tidal_err *err); /* lock held; added to the list */
void dvm_free(struct dvm *v);
/* Starts a runner that boots (or restores, from_chain) the VM and leaves it
 * `as` (RUNNING or PAUSED); waits until it is built. Lock held on entry and exit. */
int dvm_launch(struct daemon *d, struct dvm *v, bool from_chain, enum dvm_state as,
               struct tidal_err *err);
/* How the VM is built on this host: its stdin and console are in_fd and out_fd. */
void dvm_vm_config(const struct dvm *v, int in_fd, int out_fd, struct tidal_vm_config *cfg);
/* Waits until a runner that has stopped or suspended its VM is gone. Lock held. */
void dvm_wait_wound_down(struct daemon *d, struct dvm *v);
/* Hands a command to the runner and waits for it. Lock held on entry and exit. */
int dvm_command(struct daemon *d, struct dvm *v, enum dvm_cmd cmd, struct tidal_err *err);
void dvm_install_signal(void);
const char *dvm_state_name(enum dvm_state s);
int dvm_state_parse(const char *s, enum dvm_state *out);
/* Files of the snapshot chain; removes files of other generations. */
/* What the VM was created with (image, args, mem, cpus, files), added to o: for the
 * API's view and the state file alike. */
void dvm_spec_json(struct cJSON *o, const struct dvm *v);
/* Removes path and everything under it, following no symbolic link. */
void dvm_remove_tree(const char *path);
void dvm_snap_path(const struct dvm *v, unsigned gen, unsigned i, char *out, size_t size);
void dvm_prune_snapshots(const struct dvm *v);
void dvm_console_path(const struct dvm *v, char *out, size_t size);
/* Live progress folded into the saved one (lock held). */
void dvm_refresh_progress(struct dvm *v);

/* state.c */
int daemon_persist(struct daemon *d); /* logs failures; returns -1 on them */
int daemon_load(struct daemon *d, struct tidal_err *err);
/* Brings VMs back to what state.json says after a restart. */
void daemon_recover(struct daemon *d);

/* api.c */
struct MHD_Daemon;
struct MHD_Daemon *daemon_http_start(struct daemon *d, int listen_fd, struct tidal_err *err);
struct cJSON *dvm_json(struct daemon *d, struct dvm *v); /* lock held */
struct cJSON *job_json(struct daemon *d, struct dvm *v); /* lock held */

/* batch.c */
void *daemon_enforcer(void *arg);

/* console.c */
void *daemon_console_drainer(void *arg);
const char *job_state_name(const struct dvm *v);

/* plan.c: the scheduler's plan for this host. Lock held. */
void daemon_plan_refresh(struct daemon *d, double now); /* replans when jobs changed */
void daemon_plan_invalidate(struct daemon *d);
bool daemon_job_may_run(struct daemon *d, struct dvm *v, double now);

/* cgroup.c */
void daemon_cgroup_init(struct daemon *d);
void daemon_cgroup_place(struct daemon *d, struct dvm *v);
void daemon_cgroup_release(struct daemon *d);

#endif

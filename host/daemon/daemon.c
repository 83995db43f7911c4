/* `tidal daemon`: sets up the state directory, the log and the socket, brings back
 * what state.json names, then serves the API and runs the enforcer until SIGTERM. */
#include "internal.h"
#include "cluster.h"
#include "../drop_user.h"
#include "tidal/confine.h"
#include "tidal/telemetry.h"
#include "tidal/host_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dlog(struct daemon *d, const char *fmt, ...)
{
    char t[32];
    tidal_format_time(tidal_clock_now(&d->clock), t);
    pthread_mutex_lock(&d->log_lock);
    fprintf(d->log, "%s ", t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->log, fmt, ap);
    va_end(ap);
    fputc('\n', d->log);
    fflush(d->log);
    pthread_mutex_unlock(&d->log_lock);
}

/* The socket: bound by us (a stale socket from a crashed daemon is replaced; a live
 * daemon, or anything that is not a socket, is refused: --socket must never delete a
 * user's file), mode 0660 so that only the owner and its group may drive VMs. */
static int open_socket(struct daemon *d, struct tidal_err *err)
{
    const char *path = d->socket_path;
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return tidal_err_set(err,
                             "--socket %s: exists and is not a socket: remove it or choose "
                             "another path",
                             path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return tidal_err_set(err, "--socket %s: longer than %zu bytes", path,
                             sizeof(addr.sun_path) - 1);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tidal_err_set(err, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        close(fd);
        return tidal_err_set(err, "%s: another daemon is listening there", path);
    }
    unlink(path);
    mode_t old = umask(0117); /* no window in which the socket is world-accessible */
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (rc || chmod(path, 0660) || listen(fd, 64) || lstat(path, &st)) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "%s: %s", path, strerror(e));
    }
    d->socket_dev = st.st_dev;
    d->socket_ino = st.st_ino;
    return fd;
}

static int prepare_dirs(struct daemon *d, struct tidal_err *err)
{
    char vms[4200];
    snprintf(vms, sizeof(vms), "%s/vms", d->state_dir);
    if ((mkdir(d->state_dir, 0700) && errno != EEXIST) || (mkdir(vms, 0700) && errno != EEXIST))
        return tidal_err_set(err, "--state-dir %s: %s", d->state_dir, strerror(errno));
    /* A cluster's VMs keep their snapshots and console in the store every host reaches. */
    if (d->opts.store_dir) {
        if (strlen(d->opts.store_dir) > 2048)
            return tidal_err_set(err, "--store: path longer than 2048 bytes");
        snprintf(d->vm_root, sizeof(d->vm_root), "%.2048s/vms", d->opts.store_dir);
        if ((mkdir(d->opts.store_dir, 0700) && errno != EEXIST) ||
            (mkdir(d->vm_root, 0700) && errno != EEXIST))
            return tidal_err_set(err, "--store %s: %s", d->opts.store_dir, strerror(errno));
    } else {
        snprintf(d->vm_root, sizeof(d->vm_root), "%.2048s/vms", d->state_dir);
    }
    /* One daemon per state directory: two would overwrite each other's state.json. */
    char lock[4200];
    snprintf(lock, sizeof(lock), "%s/daemon.lock", d->state_dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return tidal_err_set(err, "%s: %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB))
        return tidal_err_set(err, "--state-dir %s: another daemon uses it (%s is locked)",
                             d->state_dir, lock);
    return 0; /* fd stays open (and locked) for the daemon's life */
}

/* The state directory and the daemon's cgroup become the user's (the socket stays
 * root's, mode 0660: it is already bound and listening). */
static int drop_to_user(struct daemon *d, struct tidal_err *err)
{
    fflush(d->log);
    if (tidal_hand_over(d->state_dir, d->opts.user, err) ||
        (d->opts.log_path && tidal_hand_over(d->opts.log_path, d->opts.user, err)) ||
        (d->cgroups_ok && tidal_hand_over(d->cgroup_dir, d->opts.user, err)) ||
        tidal_drop_user(d->opts.user, err))
        return -1;
    dlog(d, "running as %s (uid %d)", d->opts.user, (int)getuid());
    return 0;
}

int tidal_daemon_run(const struct tidal_daemon_options *o)
{
    static struct daemon daemon_storage;
    struct daemon *d = &daemon_storage;
    struct tidal_err err;
    d->opts = *o;
    if (strlen(o->state_dir) > 2048) {
        fprintf(stderr, "tidal daemon: --state-dir: path longer than 2048 bytes\n");
        return 64;
    }
    snprintf(d->state_dir, sizeof(d->state_dir), "%s", o->state_dir);
    if (o->socket_path)
        snprintf(d->socket_path, sizeof(d->socket_path), "%s", o->socket_path);
    else
        snprintf(d->socket_path, sizeof(d->socket_path), "%s", TIDAL_DAEMON_SOCKET_DEFAULT);
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->persist_lock, NULL);
    pthread_mutex_init(&d->log_lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    tidal_clock_init(&d->clock, o->simulated, o->clock_start, o->clock_scale);
    d->started_real = mono_now();
    d->plan_stale = true;

    if (prepare_dirs(d, &err)) {
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 73; /* EX_CANTCREAT */
    }
    char log_path[sizeof(d->state_dir) + 16];
    if (snprintf(log_path, sizeof(log_path), "%s/daemon.log", d->state_dir) >=
        (int)sizeof(log_path))
        return 64;
    d->log = fopen(o->log_path ? o->log_path : log_path, "a");
    if (!d->log) {
        fprintf(stderr, "tidal daemon: %s: %s\n", o->log_path ? o->log_path : log_path,
                strerror(errno));
        return 73;
    }
    dlog(d, "starting (pid %d, state %s, socket %s)", (int)getpid(), d->state_dir, d->socket_path);
    /* In a cluster, etcd says what runs where; state.json is for a host on its own. */
    if (!o->etcd && daemon_load(d, &err)) {
        dlog(d, "cannot load the state: %s", err.msg);
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 65;
    }
    signal(SIGPIPE, SIG_IGN);
    dvm_install_signal();
    /* SIGTERM and SIGINT are taken by sigwait on this thread only: blocked here,
     * before any thread exists, so that every thread inherits the mask. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    tidal_raise_fd_limit();
    daemon_cgroup_init(d);
    dlog(d, "cgroups: %s", d->cgroup_note);

    int fd = open_socket(d, &err);
    if (fd < 0) {
        dlog(d, "%s", err.msg);
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 71;
    }
    /* Loaded for this process only, while it may still load BPF programs. A refusal
     * costs the figures, not the daemon. */
    if (o->kernel_metrics) {
        struct tidal_err why;
        d->kvm = tidal_telemetry_open((uint32_t)getpid(), &why);
        if (!d->kvm)
            dlog(d, "--kernel-metrics: left out of /metrics: %s", why.msg);
    }
    if (o->user && drop_to_user(d, &err)) {
        dlog(d, "%s", err.msg);
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 71;
    }
    /* Before any VM's thread starts (each confines itself further). A cluster's
     * host calls out: to etcd, and to other hosts' peer ports. */
    if (o->etcd)
        tidal_confine_allow_outbound();
    if (tidal_confine(TIDAL_CONFINE_SERVICE, &err)) {
        dlog(d, "%s", err.msg);
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 71;
    }
    if (o->etcd) {
        if (cluster_start(d, &err)) {
            dlog(d, "%s", err.msg);
            fprintf(stderr, "tidal daemon: %s\n", err.msg);
            return 69; /* EX_UNAVAILABLE */
        }
    } else {
        daemon_recover(d);
    }
    struct MHD_Daemon *http = daemon_http_start(d, fd, &err);
    if (!http) {
        fprintf(stderr, "tidal daemon: %s\n", err.msg);
        return 71;
    }
    pthread_t enforcer, console;
    pthread_create(&enforcer, NULL, daemon_enforcer, d);
    pthread_create(&console, NULL, daemon_console_drainer, d);

    fprintf(stderr, "tidal daemon: listening on %s\n", d->socket_path);
    dlog(d, "listening");
    int stop_signal = 0;
    while (sigwait(&stop_set, &stop_signal))
        ;

    dlog(d, "stopping on signal %d", stop_signal);
    d->stopping = 1;
    pthread_join(enforcer, NULL);
    pthread_join(console, NULL);
    MHD_stop_daemon(http);
    cluster_stop(d);
    /* VMs stay as state.json says: a restarted daemon brings running ones back from
     * their latest snapshot. Checkpoint running batch jobs now so little is redone. */
    pthread_mutex_lock(&d->lock);
    for (struct dvm *v = d->vms; v; v = v->next)
        if (v->job && v->state == DVM_RUNNING && v->thread_live)
            if (dvm_command(d, v, CMD_SNAPSHOT, &err))
                dlog(d, "%s: final checkpoint failed: %s", v->name, err.msg);
    pthread_mutex_unlock(&d->lock);
    daemon_persist(d);
    daemon_cgroup_release(d);
    tidal_telemetry_close(d->kvm);
    struct stat st; /* only our own socket: whatever replaced it is not ours to remove */
    if (lstat(d->socket_path, &st) == 0 && st.st_dev == d->socket_dev && st.st_ino == d->socket_ino)
        unlink(d->socket_path);
    dlog(d, "stopped");
    return 0;
}

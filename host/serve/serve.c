/* `tidal serve` from start to graceful stop: templates, workers, HTTP, signals. */
#include "server.h"
#include "../drop_user.h"
#include "tidal/confine.h"
#include "tidal/host_limits.h"
#include "tidal/snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* After the last invocation finished, how long its answer (and any upload still
 * arriving) may take to go out before the server closes every connection. */
#define FLUSH_WAIT_NS (5ull * 1000000000ull)

/* A connection that sends nothing for this long is closed: what bounds how long a
 * client may take over its headers, or stall in its body. */
#define IDLE_TIMEOUT_SEC 30
#define MAX_CONNECTIONS 16384u
#define MIN_CONNECTIONS 16u
#define FDS_PER_VM 6u
#define FD_RESERVE 64u /* the listening socket, epoll, logs, snapshots being opened */

/* Templates live on tmpfs when there is one: in memory, as the page cache every
 * clone maps copy-on-write. */
static int make_template_dir(const struct tidal_serve_config *cfg, char *dir, size_t size,
                             struct tidal_err *err)
{
    const char *base = cfg->template_dir;
    if (!base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
               : getenv("TMPDIR")            ? getenv("TMPDIR")
                                             : "/tmp";
    snprintf(dir, size, "%s/tidal-serve-XXXXXX", base);
    if (!mkdtemp(dir))
        return tidal_err_set(err, "template directory under %.300s: %s", base, strerror(errno));
    return 0;
}

static int register_all(struct tidal_server *srv, const char *dir, struct tidal_err *err)
{
    for (unsigned i = 0; i < srv->nfns; i++) {
        uint64_t t0 = tidal_serve_now_ns();
        int rc = tidal_function_register(&srv->fns[i], srv->cfg, i, dir, err);
        if (rc)
            return rc;
        fprintf(stderr,
                "tidal serve: function %s ready (%s, template %llu KiB, %u reused VMs, %.1f ms)\n",
                srv->fns[i].spec->name, srv->fns[i].spec->image,
                (unsigned long long)srv->fns[i].template_bytes >> 10, srv->fns[i].pool_target,
                (double)(tidal_serve_now_ns() - t0) / 1e6);
    }
    return 0;
}

/* Connections get what the open-file limit leaves once every pooled VM, worker and
 * template has its descriptors (a VM holds up to six: VM, vCPU, statistics, memory
 * image, and its output files while it runs), so that a flood of connections makes
 * the server refuse connections, never fail a request for want of a descriptor. */
static unsigned connection_limit(const struct tidal_server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return MAX_CONNECTIONS;
    uint64_t reserve = FD_RESERVE + (uint64_t)srv->cfg->workers * FDS_PER_VM;
    for (unsigned i = 0; i < srv->nfns; i++)
        reserve += (uint64_t)(srv->fns[i].pool_target + 1) * FDS_PER_VM;
    uint64_t left =
        rl.rlim_cur > reserve + MIN_CONNECTIONS ? rl.rlim_cur - reserve : MIN_CONNECTIONS;
    return left < MAX_CONNECTIONS ? (unsigned)left : MAX_CONNECTIONS;
}

/* Bound before the server drops to --user, so a port below 1024 works too. */
static int open_listener(const struct tidal_serve_config *cfg, struct tidal_err *err)
{
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &cfg->listen.sin_addr, addr, sizeof(addr));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, (const struct sockaddr *)&cfg->listen, sizeof(cfg->listen)) || listen(fd, 1024)) {
        tidal_err_set(err, "cannot listen on %s:%u: %s (in use, or not an address of this host?)",
                      addr, ntohs(cfg->listen.sin_port), strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static struct MHD_Daemon *start_http(struct tidal_server *srv, int listen_fd, unsigned connections,
                                     struct tidal_err *err)
{
    const struct tidal_serve_config *cfg = srv->cfg;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)tidal_serve_completed, srv},
        {MHD_OPTION_CONNECTION_LIMIT, connections, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_SEC, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)tidal_serve_keep_raw, NULL},
        /* Last, so that one epoll thread (the default) simply ends the list. */
        {cfg->http_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)cfg->http_threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, ntohs(cfg->listen.sin_port), NULL, NULL, tidal_serve_handle, srv,
                         MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!d)
        tidal_err_set(err, "cannot start the HTTP server");
    return d;
}

/* Stops accepting, finishes every request already taken (queued or running: each is
 * bounded by its function's timeout) and lets their answers go out; then the HTTP
 * server can stop without a worker still holding one of its connections. */
static void drain(struct tidal_server *srv, struct MHD_Daemon *d)
{
    MHD_socket listen_fd = MHD_quiesce_daemon(d);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    fprintf(stderr, "tidal serve: stopping; finishing %u request(s) in flight\n",
            atomic_load(&srv->requests_in_flight));
    tidal_dispatcher_stop(srv->dispatcher);
    uint64_t deadline = tidal_serve_now_ns() + FLUSH_WAIT_NS;
    while (atomic_load(&srv->requests_in_flight) && tidal_serve_now_ns() < deadline)
        usleep(5000);
}

int tidal_serve_run(const struct tidal_serve_config *cfg, struct tidal_err *err)
{
    /* Only the main thread takes SIGTERM/SIGINT: every thread started below inherits
     * this mask, and the main thread waits for them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    tidal_raise_fd_limit();
    struct tidal_server srv = {.cfg = cfg, .nfns = cfg->nfns};
    pthread_mutex_init(&srv.log_lock, NULL);
    pthread_mutex_init(&srv.owners_lock, NULL);
    char dir[4200] = "";
    int rc = 0;
    srv.fns = calloc(cfg->nfns, sizeof(*srv.fns));
    if (!srv.fns) {
        tidal_err_set(err, "out of memory");
        rc = TIDAL_SERVE_SYSTEM;
    } else if (cfg->backend == TIDAL_BACKEND_VM && make_template_dir(cfg, dir, sizeof(dir), err))
        rc = TIDAL_SERVE_SYSTEM;
    else
        rc = register_all(&srv, dir, err);
    /* Empty now: every template is unlinked once opened. Removed at once rather than at
     * exit, so that a server killed with SIGKILL leaves nothing behind. */
    if (dir[0])
        rmdir(dir);
    /* Loaded for this process only: serve's VMs run in it (clone groups past 1,000
     * clones run in children, which these figures leave out). A refusal costs the
     * figures, not the server. */
    if (!rc && cfg->kernel_metrics) {
        struct tidal_err why;
        srv.kvm = tidal_telemetry_open((uint32_t)getpid(), &why);
        if (!srv.kvm)
            fprintf(stderr, "tidal serve: --kernel-metrics: left out of /metrics: %s\n", why.msg);
    }
    int listen_fd = rc ? -1 : open_listener(cfg, err);
    if (!rc && listen_fd < 0)
        rc = TIDAL_SERVE_SYSTEM;
    if (!rc && cfg->user && tidal_drop_user(cfg->user, err))
        rc = TIDAL_SERVE_SYSTEM;
    /* Templates are built: from here the process only serves. The process backend
     * (fork+exec per request, the comparison baseline) is left unconfined. */
    if (!rc && cfg->backend == TIDAL_BACKEND_VM && tidal_confine(TIDAL_CONFINE_SERVICE, err))
        rc = TIDAL_SERVE_SYSTEM;
    struct MHD_Daemon *d = NULL;
    if (!rc && !(srv.dispatcher = tidal_dispatcher_start(srv.fns, srv.nfns, cfg->workers, err)))
        rc = TIDAL_SERVE_SYSTEM;
    unsigned connections = connection_limit(&srv);
    if (!rc && !(d = start_http(&srv, listen_fd, connections, err)))
        rc = TIDAL_SERVE_SYSTEM;
    if (!d && listen_fd >= 0)
        close(listen_fd);
    if (!rc) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &cfg->listen.sin_addr, addr, sizeof(addr));
        fprintf(stderr,
                "tidal serve: listening on http://%s:%u (%u function(s), %u worker(s), %s backend, "
                "%u connections at most)\n",
                addr, info ? info->port : ntohs(cfg->listen.sin_port), cfg->nfns, cfg->workers,
                cfg->backend == TIDAL_BACKEND_VM ? "vm" : "process", connections);
        int sig;
        sigwait(&stop, &sig);
        drain(&srv, d);
    }
    if (d)
        MHD_stop_daemon(d);
    tidal_dispatcher_stop(srv.dispatcher);
    tidal_dispatcher_free(srv.dispatcher);
    for (unsigned i = 0; srv.fns && i < cfg->nfns; i++)
        tidal_function_release(&srv.fns[i]);
    free(srv.fns);
    tidal_telemetry_close(srv.kvm);
    pthread_mutex_destroy(&srv.log_lock);
    pthread_mutex_destroy(&srv.owners_lock);
    free(srv.owners);
    if (!rc)
        fprintf(stderr, "tidal serve: stopped\n");
    return rc;
}

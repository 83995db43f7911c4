/* Live migration between hosts of a cluster (tidal/migrate.h moves the guest; this
 * file moves the ownership).
 *
 * The source daemon connects to the target's peer port and sends one header line:
 * {"vm", "epoch", "assign_rev", "from", "record"}. The target checks it can take the
 * VM, defines it, and answers "go". The source then streams the guest: pre-copy
 * rounds while it runs, then (paused) the last pages and its state. The target's
 * runner builds the VM from the stream and leaves it paused; the target then moves
 * the assignment to itself, epoch + 1, in a transaction that holds only if the
 * assignment still has the revision the source held (so neither a leader's move nor
 * a fence can cross it), resumes the guest, and acknowledges. The source destroys
 * its copy only on that acknowledgement; on a refusal it resumes the guest; with no
 * answer at all it asks etcd who owns the VM now. A VM never runs on two hosts, and
 * is never lost.
 *
 * While a VM migrates, its source refuses input (503, "send it to its new host"):
 * input the guest had accepted before is in the memory that moves. The source pauses
 * it only once its stdin pipe is empty, so that no byte stays behind. */
#include "cluster_internal.h"
#include "api.h"
#include "tidal/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536
#define IO_TIMEOUT_S 30 /* a peer that stops reading or answering */

int cluster_peer_listen(struct cluster *c, struct tidal_err *err)
{
    if (!c->port)
        c->port = 7946;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->addr, &a.sin_addr) != 1)
        return tidal_err_set(err, "--advertise %s: expected an IPv4 address", c->addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return tidal_err_set(err, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "--advertise %s --peer-port %d: %s", c->addr, c->port,
                             strerror(e));
    }
    c->peer_fd = fd;
    return 0;
}

static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* One line (without its newline) into buf; -1 on EOF, error or an overlong line. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (ch == '\n') {
            buf[n] = 0;
            return 0;
        }
        buf[n++] = ch;
    }
    return -1;
}

static int send_line(int fd, const char *line)
{
    size_t len = strlen(line);
    char *buf = malloc(len + 1);
    if (!buf)
        return -1;
    memcpy(buf, line, len);
    buf[len] = '\n';
    size_t off = 0;
    while (off <= len) {
        ssize_t w = write(fd, buf + off, len + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(buf);
    return off == len + 1 ? 0 : -1;
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
    return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e6 : 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- target ---- */

struct incoming {
    struct cluster *c;
    int fd;
};

/* Moves the assignment here (epoch + 1) if the source still held it at rev. */
static int take_assignment(struct cluster *c, struct etcd *e, const char *name, uint64_t epoch,
                           int64_t rev, int64_t *new_rev, struct tidal_err *err)
{
    char key[256], val[160];
    cluster_key(key, sizeof(key), "assign", name);
    snprintf(val, sizeof(val), "{\"host\":\"%s\",\"epoch\":%llu}", c->host,
             (unsigned long long)epoch);
    struct etcd_compare cmp = {.key = key, .target = ETCD_MOD, .result = ETCD_EQUAL, .number = rev};
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = key, .value = val, .value_len = strlen(val)};
    bool ok = false;
    if (etcd_txn(e, &cmp, 1, &put, 1, NULL, 0, &ok, new_rev, err))
        return -1;
    return ok ? 0 : tidal_err_set(err, "its assignment changed during the migration");
}

/* Refuses the migration described by the header, or defines the VM here for it. */
static struct dvm *accept_vm(struct cluster *c, const cJSON *h, uint64_t *epoch, int64_t *rev,
                             struct tidal_err *err)
{
    struct daemon *d = c->d;
    const cJSON *vm = cJSON_GetObjectItemCaseSensitive(h, "vm");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(h, "epoch");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(h, "assign_rev");
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(h, "record");
    if (!cJSON_IsString(vm) || !cJSON_IsNumber(ep) || ep->valuedouble < 1 || !cJSON_IsNumber(rv) ||
        rv->valuedouble < 1 || !cJSON_IsObject(rec)) {
        tidal_err_set(err, "a migration header needs \"vm\", \"epoch\", \"assign_rev\" and "
                           "\"record\"");
        return NULL;
    }
    *epoch = (uint64_t)ep->valuedouble;
    *rev = (int64_t)rv->valuedouble;
    pthread_mutex_lock(&d->lock);
    struct dvm *v = NULL;
    if (c->fenced || !c->lease)
        tidal_err_set(err, "host %s has lost touch with etcd", c->host);
    else if (dvm_find(d, vm->valuestring))
        tidal_err_set(err, "host %s has a VM named \"%s\" already", c->host, vm->valuestring);
    else if ((v = cluster_define_here(d, rec, err)) && strcmp(v->name, vm->valuestring)) {
        tidal_err_set(err, "the record is for \"%s\", not \"%s\"", v->name, vm->valuestring);
        cluster_drop_vm(d, v, false, "a malformed migration");
        v = NULL;
    }
    if (v) {
        v->epoch = *epoch + 1;
        v->migrating = true;
    }
    pthread_mutex_unlock(&d->lock);
    return v;
}

/* Builds the VM from the stream, with a console that goes on where the source's
 * ended (the same file, in the store) and a new stdin pipe, and hands it to a runner
 * that leaves it paused. A refusal has gone back to the source when this fails. */
static int receive(struct cluster *c, struct dvm *v, int fd, struct tidal_err *err)
{
    struct daemon *d = c->d;
    struct dvm_incoming in = {.console_fd = -1, .input = {-1, -1}};
    char path[4500];
    dvm_console_path(v, path, sizeof(path));
    in.console_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (in.console_fd < 0 || pipe2(in.input, O_CLOEXEC)) {
        tidal_err_set(err, "%s: %s", in.console_fd < 0 ? path : "stdin pipe", strerror(errno));
        tidal_migrate_ack(fd, false, err->msg, NULL);
        goto fail;
    }
    fcntl(in.input[1], F_SETFL, O_NONBLOCK);
    struct tidal_vm_config cfg;
    dvm_vm_config(v, in.input[0], in.console_fd, &cfg);
    struct tidal_migrate_stats st;
    if (tidal_migrate_receive(fd, &cfg, &in.vm, &st, err))
        goto fail;
    pthread_mutex_lock(&d->lock);
    v->incoming = &in;
    int rc = dvm_launch(d, v, false, DVM_PAUSED, err); /* the runner takes it all */
    v->incoming = NULL;
    pthread_mutex_unlock(&d->lock);
    if (rc) {
        tidal_migrate_ack(fd, false, err->msg, NULL);
        return -1;
    }
    return 0;
fail:
    tidal_vm_destroy(in.vm);
    if (in.console_fd >= 0)
        close(in.console_fd);
    for (int i = 0; i < 2; i++)
        if (in.input[i] >= 0)
            close(in.input[i]);
    return -1;
}

static void *incoming_main(void *arg)
{
    struct incoming *in = arg;
    struct cluster *c = in->c;
    struct daemon *d = c->d;
    int fd = in->fd;
    free(in);
    struct tidal_err err = {""};
    char *line = malloc(LINE_MAX_BYTES);
    cJSON *h = NULL;
    struct dvm *v = NULL;
    uint64_t epoch = 0;
    int64_t rev = 0, new_rev = 0;
    if (!line || read_line(fd, line, LINE_MAX_BYTES) || !(h = cJSON_Parse(line))) {
        dlog(d, "cluster: a migration offer without a JSON header line; refused");
        goto out;
    }
    if (!(v = accept_vm(c, h, &epoch, &rev, &err))) {
        snprintf(line, LINE_MAX_BYTES, "error %s", err.msg);
        send_line(fd, line);
        dlog(d, "cluster: migration refused: %s", err.msg);
        goto out;
    }
    if (send_line(fd, "go") || receive(c, v, fd, &err)) {
        dlog(d, "cluster: migration of %s failed here: %s", v->name, err.msg);
        goto drop;
    }
    struct etcd *e = etcd_open(c->endpoints, 2.0, &err);
    int rc = e ? take_assignment(c, e, v->name, epoch + 1, rev, &new_rev, &err) : -1;
    etcd_close(e);
    if (rc) {
        tidal_migrate_ack(fd, false, err.msg, NULL);
        dlog(d, "cluster: migration of %s refused: %s", v->name, err.msg);
        goto drop;
    }
    pthread_mutex_lock(&d->lock);
    v->assign_rev = new_rev;
    v->migrating = false;
    rc = dvm_command(d, v, CMD_RESUME, &err);
    cluster_note_change(d, v);
    pthread_mutex_unlock(&d->lock);
    /* The assignment is ours now: if the guest cannot resume here it fails here, as
     * any VM that fails on its host (the source must not take it back). */
    tidal_migrate_ack(fd, true, NULL, NULL);
    dlog(d, "cluster: %s migrated here (epoch %llu)%s%s", v->name, (unsigned long long)(epoch + 1),
         rc ? ": but it did not resume: " : "", rc ? err.msg : "");
    goto out;
drop:
    pthread_mutex_lock(&d->lock);
    v->migrating = false;
    cluster_drop_vm(d, v, false, "its migration did not complete");
    pthread_mutex_unlock(&d->lock);
out:
    cJSON_Delete(h);
    free(line);
    close(fd);
    return NULL;
}

void *cluster_peer_main(void *arg)
{
    struct cluster *c = arg;
    while (!c->stopping) {
        struct pollfd p = {.fd = c->peer_fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept4(c->peer_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        set_timeouts(fd);
        struct incoming *in = malloc(sizeof(*in));
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (!in || (in->c = c, in->fd = fd, pthread_create(&t, &attr, incoming_main, in))) {
            free(in);
            close(fd);
        }
        pthread_attr_destroy(&attr);
    }
    close(c->peer_fd);
    return NULL;
}

/* ---- source ---- */

/* Where host `to` takes migrations, and the VM's record, from etcd. */
static int look_up(struct cluster *c, const char *name, const char *to, struct sockaddr_in *addr,
                   char **record, unsigned *status, struct tidal_err *err)
{
    struct etcd *e = etcd_open(c->endpoints, 2.0, err);
    if (!e) {
        *status = 503;
        return -1;
    }
    char key[256], *val = NULL;
    size_t len;
    cluster_key(key, sizeof(key), "hosts", to);
    int rc = etcd_get(e, key, &val, &len, NULL, err);
    cJSON *h = rc == 0 ? cJSON_ParseWithLength(val, len) : NULL;
    free(val);
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(h, "addr");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(h, "port");
    *addr = (struct sockaddr_in){.sin_family = AF_INET};
    if (rc == ETCD_ABSENT ||
        (rc == 0 && (!cJSON_IsString(ip) || !cJSON_IsNumber(port) ||
                     inet_pton(AF_INET, ip->valuestring, &addr->sin_addr) != 1))) {
        *status = 404;
        rc = tidal_err_set(err, "no live host named \"%s\" in the cluster", to);
    } else if (rc == 0) {
        addr->sin_port = htons((uint16_t)port->valuedouble);
        cluster_key(key, sizeof(key), "vms", name);
        rc = etcd_get(e, key, record, &len, NULL, err);
        if (rc == ETCD_ABSENT)
            rc = tidal_err_set(err, "VM \"%s\" is no longer defined in the cluster", name);
    }
    if (rc && *status == 0)
        *status = 503;
    cJSON_Delete(h);
    etcd_close(e);
    return rc ? -1 : 0;
}

/* Pauses the VM once its stdin pipe is empty (input stays refused meanwhile). Lock
 * held. */
static int pause_drained(struct daemon *d, struct dvm *v, struct tidal_err *err)
{
    for (int tries = 0;; tries++) {
        struct pollfd p = {.fd = v->input_read_fd, .events = POLLIN};
        bool pending = v->input_read_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
        if (!pending)
            return dvm_command(d, v, CMD_PAUSE, err);
        if (tries == 1000)
            return tidal_err_set(err, "the guest does not read what waits on its stdin");
        pthread_mutex_unlock(&d->lock);
        struct timespec ms = {.tv_nsec = 1000000};
        nanosleep(&ms, NULL);
        pthread_mutex_lock(&d->lock);
    }
}

/* After an answer that never came: the VM is the target's if etcd says so; else it
 * is claimed back here (which also stops the target from taking it later). */
static bool target_took_it(struct cluster *c, const char *name, const char *to, int64_t rev)
{
    struct tidal_err err;
    struct etcd *e = etcd_open(c->endpoints, 2.0, &err);
    if (!e)
        return true; /* unknown: a paused copy is safe, a resumed one might be a twin */
    char key[256], val[160];
    cluster_key(key, sizeof(key), "assign", name);
    pthread_mutex_lock(&c->d->lock);
    struct dvm *v = dvm_find(c->d, name);
    uint64_t epoch = v ? v->epoch : 0;
    pthread_mutex_unlock(&c->d->lock);
    snprintf(val, sizeof(val), "{\"host\":\"%s\",\"epoch\":%llu}", c->host,
             (unsigned long long)epoch);
    struct etcd_compare cmp = {.key = key, .target = ETCD_MOD, .result = ETCD_EQUAL, .number = rev};
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = key, .value = val, .value_len = strlen(val)};
    bool ok = false;
    int64_t new_rev = 0;
    int rc = etcd_txn(e, &cmp, 1, &put, 1, NULL, 0, &ok, &new_rev, &err);
    etcd_close(e);
    if (rc || !ok)
        return true;
    pthread_mutex_lock(&c->d->lock);
    if (v && dvm_find(c->d, name) == v)
        v->assign_rev = new_rev;
    pthread_mutex_unlock(&c->d->lock);
    dlog(c->d, "cluster: %s: no answer from %s; claimed back", name, to);
    return false;
}

static cJSON *report_json(const struct tidal_migrate_stats *st, uint64_t t0, uint64_t t_pause)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "downtime_ms", ms_between(t_pause, st->t_acked));
    cJSON_AddNumberToObject(o, "total_ms", ms_between(t0, st->t_acked));
    cJSON_AddNumberToObject(o, "rounds", st->rounds);
    cJSON_AddNumberToObject(o, "bytes", (double)st->bytes);
    cJSON_AddNumberToObject(o, "final_pages", (double)st->final.pages);
    cJSON_AddBoolToObject(o, "converged", st->converged);
    cJSON *r = cJSON_AddArrayToObject(o, "round_pages");
    for (unsigned i = 0; i < st->rounds && i < TIDAL_MIGRATE_MAX_ROUNDS; i++)
        cJSON_AddItemToArray(r, cJSON_CreateNumber((double)st->round[i].pages));
    return o;
}

int cluster_migrate(struct daemon *d, const char *name, const char *to, cJSON **report,
                    unsigned *status, struct tidal_err *err)
{
    struct cluster *c = d->cluster;
    *report = NULL;
    *status = 0;
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    while (v && v->cmd != CMD_NONE) { /* a checkpoint in progress ends first */
        pthread_cond_wait(&d->cond, &d->lock);
        v = dvm_find(d, name);
    }
    const char *why = !v                          ? "it does not run on this host"
                      : !v->epoch                 ? "it is not a cluster VM"
                      : v->migrating              ? "it is migrating already"
                      : c->fenced                 ? "this host has lost touch with etcd"
                      : !strcmp(to, c->host)      ? "it runs on that host already"
                      : v->state != DVM_RUNNING   ? "it is not running"
                      : !v->thread_live || !v->vm ? "it is not in memory"
                                                  : NULL;
    if (why) {
        *status = !v ? 404 : 409;
        pthread_mutex_unlock(&d->lock);
        return tidal_err_set(err, "cannot migrate VM \"%s\": %s", name, why);
    }
    v->migrating = true;
    uint64_t epoch = v->epoch;
    int64_t rev = v->assign_rev;
    struct tidal_vm *vm = v->vm;
    pthread_mutex_unlock(&d->lock);

    struct sockaddr_in addr;
    char *record = NULL, *header = NULL;
    int fd = -1, rc = -1;
    uint64_t t0 = now_ns(), t_pause = 0;
    struct tidal_migrate_stats *st = calloc(1, sizeof(*st));
    if (!st || look_up(c, name, to, &addr, &record, status, err))
        goto undo;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "vm", name);
    cJSON_AddNumberToObject(h, "epoch", (double)epoch);
    cJSON_AddNumberToObject(h, "assign_rev", (double)rev);
    cJSON_AddStringToObject(h, "from", c->host);
    cJSON_AddItemToObject(h, "record", cJSON_Parse(record));
    header = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    char answer[2048];
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        set_timeouts(fd);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
        *status = 502;
        tidal_err_set(err, "cannot reach host %s at %s:%d: %s", to, inet_ntoa(addr.sin_addr),
                      ntohs(addr.sin_port), strerror(errno));
        goto undo;
    }
    if (!header || send_line(fd, header) || read_line(fd, answer, sizeof(answer)) ||
        strcmp(answer, "go")) {
        *status = 502;
        tidal_err_set(err, "host %s refused: %s", to,
                      strncmp(answer, "error ", 6) ? "no answer" : answer + 6);
        goto undo;
    }
    if (tidal_migrate_precopy(vm, fd, NULL, st, err)) {
        *status = 502;
        goto undo;
    }
    pthread_mutex_lock(&d->lock);
    t_pause = now_ns();
    rc = pause_drained(d, v, err);
    pthread_mutex_unlock(&d->lock);
    if (rc) {
        *status = 500;
        goto undo;
    }
    enum tidal_migrate_outcome out = tidal_migrate_finish(vm, fd, st, err);
    bool gone = out == TIDAL_MIGRATE_DONE ||
                (out == TIDAL_MIGRATE_IN_DOUBT && target_took_it(c, name, to, rev));
    pthread_mutex_lock(&d->lock);
    v->migrating = false;
    pthread_cond_broadcast(&d->cond);
    if (gone) {
        cluster_drop_vm(d, v, false,
                        out == TIDAL_MIGRATE_DONE ? "migrated" : "migrated (no answer)");
        pthread_mutex_unlock(&d->lock);
        *report = report_json(st, t0, t_pause);
        dlog(d, "cluster: %s migrated to %s: downtime %.2f ms, total %.1f ms, %u rounds", name, to,
             ms_between(t_pause, st->t_acked), ms_between(t0, st->t_acked), st->rounds);
        rc = 0;
        goto out;
    }
    if (c->fenced) /* the fence lifts it later, if the VM is still ours */
        v->fence_paused = true;
    else if (dvm_command(d, v, CMD_RESUME, err))
        dlog(d, "cluster: %s: resume after a failed migration: %s", name, err->msg);
    pthread_mutex_unlock(&d->lock);
    *status = 502;
    rc = -1;
    goto out;
undo: /* the guest never stopped (or could not be paused): it goes on here */
    if (st && st->t_begin)
        tidal_migrate_cancel(vm);
    pthread_mutex_lock(&d->lock);
    v->migrating = false;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    rc = -1;
out:
    if (rc && *status == 0)
        *status = 500;
    if (rc)
        dlog(d, "cluster: migration of %s to %s failed: %s", name, to, err->msg);
    if (fd >= 0)
        close(fd);
    free(header);
    free(record);
    free(st);
    return rc;
}

/* The migration stream's transport: a buffered writer and reader that keep the
 * stream's CRC32C, and the target's one-record answer. */
#include "migrate_wire.h"
#include "format.h"
#include "tidal/checksum.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define WRITE_BUFFER (256u << 10)
/* Writes this large (page data) are not copied into the buffer: they go out from
 * where they lie, together with what is buffered. */
#define WRITE_DIRECT (64u << 10)
#define READ_BUFFER (256u << 10)

/* A socket never raises SIGPIPE here; anything else (a pipe) is written plainly. */
static ssize_t send_vector(int fd, struct iovec *iov, int n)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t k = sendmsg(fd, &msg, MSG_NOSIGNAL);
    return k < 0 && errno == ENOTSOCK ? writev(fd, iov, n) : k;
}

/* Moves the vector past k bytes sent. */
static void advance(struct iovec **iov, int *n, size_t k)
{
    for (; *n > 0 && k >= (*iov)->iov_len; ++*iov, --*n)
        k -= (*iov)->iov_len;
    if (*n > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + k;
        (*iov)->iov_len -= k;
    }
}

static int read_full(int fd, void *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t k = read(fd, (uint8_t *)dst + *got, n - *got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : 0;
        *got += (size_t)k;
    }
    return 0;
}

/* The target only speaks to say no (or, at the very end, yes): anything readable
 * while the source still writes is its refusal, or its end of the stream. Returns 0
 * when it has said nothing, else -1 with err set. */
static int peer_spoke(struct mig_writer *w, struct tidal_err *err)
{
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
        return 0;
    bool refused = false;
    struct tidal_err why;
    if (mig_read_ack(w->fd, &refused, &why) == 0)
        return tidal_err_set(err, "the target acknowledged the migration before the stream "
                                  "ended (a confused peer)");
    if (refused)
        tidal_err_set(err, "%s", why.msg);
    else
        tidal_err_set(err, "the target broke off the migration stream %llu bytes into it (%s)",
                      (unsigned long long)w->bytes, why.msg);
    return -1;
}

static int send_all(struct mig_writer *w, struct iovec *iov, int n, struct tidal_err *err)
{
    while (n > 0) {
        if (peer_spoke(w, err))
            return -1;
        ssize_t k = send_vector(w->fd, iov, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            /* A target that refused and closed leaves its reason readable still. */
            if (peer_spoke(w, err))
                return -1;
            return tidal_err_set(err, "writing the migration stream (%llu bytes into it): %s",
                                 (unsigned long long)w->bytes, strerror(e));
        }
        advance(&iov, &n, (size_t)k);
    }
    return 0;
}

int mig_writer_open(struct mig_writer *w, int fd, uint64_t bytes, uint32_t crc,
                    struct tidal_err *err)
{
    *w = (struct mig_writer){.fd = fd, .cap = WRITE_BUFFER, .bytes = bytes, .crc = crc};
    if (!(w->buf = malloc(w->cap)))
        return tidal_err_set(err, "out of memory for the migration stream's buffer");
    return 0;
}

void mig_writer_close(struct mig_writer *w)
{
    free(w->buf);
    w->buf = NULL;
}

int mig_write(struct mig_writer *w, const void *data, size_t n, struct tidal_err *err)
{
    w->crc = tidal_crc32c(w->crc, data, n);
    w->bytes += n;
    if (n < WRITE_DIRECT && n <= w->cap - w->len) {
        memcpy(w->buf + w->len, data, n);
        w->len += n;
        return 0;
    }
    struct iovec iov[2] = {{w->buf, w->len}, {(void *)data, n}};
    size_t buffered = w->len;
    w->len = 0;
    return send_all(w, iov + (buffered == 0), 2 - (buffered == 0), err);
}

int mig_write_record(struct mig_writer *w, uint32_t type, uint32_t count, uint64_t arg,
                     struct tidal_err *err)
{
    uint8_t rec[MIG_REC_SIZE];
    put32(rec + MIG_REC_TYPE, type);
    put32(rec + MIG_REC_COUNT, count);
    put64(rec + MIG_REC_ARG, arg);
    return mig_write(w, rec, sizeof(rec), err);
}

int mig_flush(struct mig_writer *w, struct tidal_err *err)
{
    struct iovec iov = {w->buf, w->len};
    w->len = 0;
    return iov.iov_len ? send_all(w, &iov, 1, err) : 0;
}

int mig_reader_open(struct mig_reader *r, int fd, struct tidal_err *err)
{
    *r = (struct mig_reader){.fd = fd, .cap = READ_BUFFER};
    if (!(r->buf = malloc(r->cap)))
        return tidal_err_set(err, "out of memory for the migration stream's buffer");
    return 0;
}

void mig_reader_close(struct mig_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

int mig_read(struct mig_reader *r, void *dst, size_t n, const char *what, struct tidal_err *err)
{
    uint8_t *d = dst;
    size_t got = 0;
    while (got < n) {
        if (r->pos < r->len) {
            size_t k = r->len - r->pos < n - got ? r->len - r->pos : n - got;
            memcpy(d + got, r->buf + r->pos, k);
            r->pos += k;
            got += k;
            continue;
        }
        /* Large reads (page data) go straight to their place. */
        bool direct = n - got >= r->cap;
        ssize_t k = read(r->fd, direct ? d + got : r->buf, direct ? n - got : r->cap);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            return tidal_err_set(err,
                                 "migration stream ended at byte %llu, %zu of the %zu bytes of "
                                 "%s read",
                                 (unsigned long long)(r->offset + got), got, n, what);
        if (k < 0)
            return tidal_err_set(err, "reading the migration stream at byte %llu (%s): %s",
                                 (unsigned long long)(r->offset + got), what,
                                 errno == EAGAIN ? "timed out" : strerror(errno));
        if (direct) {
            got += (size_t)k;
        } else {
            r->len = (size_t)k;
            r->pos = 0;
        }
    }
    r->crc = tidal_crc32c(r->crc, dst, n);
    r->offset += n;
    return 0;
}

int mig_send_ack(int fd, uint32_t status, const char *message, struct tidal_err *err)
{
    size_t len = message ? strnlen(message, TIDAL_MIGRATE_MAX_MESSAGE) : 0;
    uint8_t head[MIG_ACK_SIZE];
    put32(head, status);
    put32(head + 4, (uint32_t)len);
    struct iovec iov[2] = {{head, sizeof(head)}, {(void *)message, len}};
    struct iovec *v = iov;
    int n = len ? 2 : 1;
    while (n > 0) {
        ssize_t k = send_vector(fd, v, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return tidal_err_set(err, "sending the migration's answer: %s", strerror(errno));
        advance(&v, &n, (size_t)k);
    }
    return 0;
}

int mig_read_ack(int fd, bool *refused, struct tidal_err *err)
{
    *refused = false;
    uint8_t head[MIG_ACK_SIZE];
    size_t got;
    int e = read_full(fd, head, sizeof(head), &got);
    if (e || got < sizeof(head))
        return tidal_err_set(err, "no answer from the target: %s",
                             e == -EAGAIN ? "timed out"
                             : e          ? strerror(-e)
                             : got        ? "the stream ended inside its answer"
                                          : "it closed the stream");
    uint32_t status = get32(head), len = get32(head + 4);
    if (status != MIG_ACK_RESUMED && status != MIG_ACK_REFUSED)
        return tidal_err_set(err, "the target's answer is malformed: status %u (expected %u or %u)",
                             status, MIG_ACK_RESUMED, MIG_ACK_REFUSED);
    if (len > TIDAL_MIGRATE_MAX_MESSAGE)
        return tidal_err_set(err,
                             "the target's answer is malformed: a message of %u bytes (at "
                             "most %u)",
                             len, TIDAL_MIGRATE_MAX_MESSAGE);
    char msg[TIDAL_MIGRATE_MAX_MESSAGE + 1];
    e = read_full(fd, msg, len, &got);
    if (e || got < len)
        return tidal_err_set(err, "the target's answer ended after %zu of its %u message bytes",
                             got, len);
    msg[len] = 0;
    for (uint32_t i = 0; i < len; i++) /* the peer's text goes into logs: keep it one line */
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = '?';
    if (status == MIG_ACK_RESUMED)
        return 0;
    *refused = true;
    return tidal_err_set(err, "the target refused the migration: %s", len ? msg : "(no reason)");
}

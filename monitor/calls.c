#include "tidal/calls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_MAX_NS (24ull * 3600 * 1000000000ull)

void *tidal_guest_range(const struct tidal_guest_mem *mem, uint64_t gpa, uint64_t len, int writable)
{
    if (gpa >= mem->size || len > mem->size - gpa)
        return NULL;
    if (writable && gpa < TIDAL_IMAGE_MIN_GPA)
        return NULL; /* boot info, descriptor and page tables are not the guest's to overwrite */
    if (!writable && gpa < TIDAL_PAGE_SIZE && len)
        return NULL; /* page 0 is never guest data */
    return mem->base + gpa;
}

void tidal_guest_mark_written(const struct tidal_guest_mem *mem, uint64_t gpa, uint64_t len)
{
    /* Atomic: a daemon drains the console ring from another thread, and dirty-page
     * readers start tracking and take pages from any thread (monitor/dirty.c). */
    uint64_t *host_dirty = __atomic_load_n(&mem->host_dirty, __ATOMIC_ACQUIRE);
    if (!host_dirty || !len)
        return;
    for (uint64_t page = gpa / TIDAL_PAGE_SIZE; page <= (gpa + len - 1) / TIDAL_PAGE_SIZE; page++)
        __atomic_fetch_or(&host_dirty[page / 64], 1ull << (page % 64), __ATOMIC_RELEASE);
}

const char *tidal_call_name(uint32_t nr)
{
    switch (nr) {
    case TIDAL_CALL_WRITE:
        return "WRITE";
    case TIDAL_CALL_READ:
        return "READ";
    case TIDAL_CALL_EXIT:
        return "EXIT";
    case TIDAL_CALL_FAULT:
        return "FAULT";
    case TIDAL_CALL_SLEEP:
        return "SLEEP";
    case TIDAL_CALL_READY:
        return "READY";
    case TIDAL_CALL_PROGRESS:
        return "PROGRESS";
    default:
        return "unknown";
    }
}

static enum tidal_call_outcome invalid(struct tidal_call_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
    return TIDAL_CALL_INVALID;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -(n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int append(struct tidal_out_buf *buf, const uint8_t *p, size_t len)
{
    if (len > buf->cap - buf->len)
        return -EFBIG;
    memcpy(buf->data + buf->len, p, len);
    buf->len += len;
    return 0;
}

int tidal_console_emit(struct tidal_call_io *io, uint32_t fd, const uint8_t *p, size_t len)
{
    struct tidal_out_buf *buf = io->capture[fd - 1];
    int e = buf ? append(buf, p, len) : write_all(fd == 1 ? io->out_fd : io->err_fd, p, len);
    if (e)
        io->stdout_errors += fd == 1;
    else
        io->bytes_out += len;
    return e;
}

/* Validates the whole vector before writing anything, so a bad piece never leaves
 * half of the output written. Returns bytes written, or -errno of the host write. */
static enum tidal_call_outcome console_flush(const struct tidal_guest_mem *mem,
                                             struct tidal_call_io *io, uint64_t iov_gpa,
                                             uint64_t count, struct tidal_call_result *res,
                                             int64_t *written)
{
    *written = 0;
    if (count == 0)
        return TIDAL_CALL_CONTINUE;
    if (count > TIDAL_IOV_MAX)
        return invalid(res, "%s: %llu output pieces (at most %u)", tidal_call_name(res->nr),
                       (unsigned long long)count, TIDAL_IOV_MAX);
    const struct tidal_iov *iov =
        tidal_guest_range(mem, iov_gpa, count * sizeof(struct tidal_iov), 0);
    if (!iov)
        return invalid(res, "%s: output vector at 0x%llx (%llu pieces) lies outside guest memory",
                       tidal_call_name(res->nr), (unsigned long long)iov_gpa,
                       (unsigned long long)count);
    uint64_t total = 0;
    for (uint64_t i = 0; i < count; i++) {
        struct tidal_iov v;
        memcpy(&v, &iov[i], sizeof(v));
        if (v.fd != 1 && v.fd != 2)
            return invalid(res, "%s: piece %llu names fd %u (expected 1 or 2)",
                           tidal_call_name(res->nr), (unsigned long long)i, v.fd);
        total += v.len; /* at most TIDAL_IOV_MAX 32-bit lengths: no overflow */
        if (total > TIDAL_CALL_LEN_MAX)
            return invalid(res, "%s: %llu bytes of output in one call (at most %u)",
                           tidal_call_name(res->nr), (unsigned long long)total, TIDAL_CALL_LEN_MAX);
        if (!tidal_guest_range(mem, v.gpa, v.len, 0))
            return invalid(res, "%s: piece %llu [0x%llx, +%u) lies outside guest memory",
                           tidal_call_name(res->nr), (unsigned long long)i,
                           (unsigned long long)v.gpa, v.len);
    }
    for (uint64_t i = 0; i < count; i++) {
        struct tidal_iov v;
        memcpy(&v, &iov[i], sizeof(v));
        int e = tidal_console_emit(io, v.fd, mem->base + v.gpa, v.len);
        if (e) {
            *written = e;
            return TIDAL_CALL_CONTINUE;
        }
        *written += v.len;
    }
    return TIDAL_CALL_CONTINUE;
}

static int64_t do_read(const struct tidal_guest_mem *mem, struct tidal_call_io *io,
                       const struct tidal_call *c, struct tidal_call_result *res,
                       enum tidal_call_outcome *out)
{
    *out = TIDAL_CALL_CONTINUE;
    if (c->arg[0] != 0)
        return -EBADF;
    if (c->arg[2] > TIDAL_CALL_LEN_MAX) {
        *out = invalid(res, "READ: length %llu (at most %u)", (unsigned long long)c->arg[2],
                       TIDAL_CALL_LEN_MAX);
        return 0;
    }
    uint8_t *buf = tidal_guest_range(mem, c->arg[1], c->arg[2], 1);
    if (!buf) {
        *out = invalid(res, "READ: buffer [0x%llx, +%llu) lies outside guest memory",
                       (unsigned long long)c->arg[1], (unsigned long long)c->arg[2]);
        return 0;
    }
    if (io->in_fd < 0)
        return 0;
    for (;;) {
        ssize_t n = read(io->in_fd, buf, c->arg[2]);
        if (n >= 0) {
            tidal_guest_mark_written(mem, c->arg[1], (uint64_t)n);
            return n;
        }
        if (errno != EINTR || *io->interrupted)
            return -errno;
    }
}

static void do_sleep(struct tidal_call_io *io, uint64_t ns)
{
    if (ns > SLEEP_MAX_NS)
        ns = SLEEP_MAX_NS;
    struct timespec req = {.tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u)};
    while (!*io->interrupted && nanosleep(&req, &req) && errno == EINTR)
        ;
}

enum tidal_call_outcome tidal_call_handle(const struct tidal_guest_mem *mem,
                                          struct tidal_call_io *io, uint64_t block_gpa,
                                          struct tidal_call_result *res)
{
    memset(res, 0, sizeof(*res));
    if (block_gpa % 8)
        return invalid(res, "call block at 0x%llx is not 8-byte aligned",
                       (unsigned long long)block_gpa);
    struct tidal_call *block = tidal_guest_range(mem, block_gpa, sizeof(*block), 1);
    if (!block)
        return invalid(res, "call block at 0x%llx lies outside guest memory",
                       (unsigned long long)block_gpa);
    struct tidal_call c;
    memcpy(&c, block, sizeof(c)); /* one snapshot: the guest cannot change it under us */
    res->nr = c.nr;
    if (c.reserved)
        return invalid(res, "%s: reserved field is %u (must be 0)", tidal_call_name(c.nr),
                       c.reserved);

    enum tidal_call_outcome out = TIDAL_CALL_CONTINUE;
    int64_t ret = 0;
    switch (c.nr) {
    case TIDAL_CALL_WRITE:
        out = console_flush(mem, io, c.arg[0], c.arg[1], res, &ret);
        break;
    case TIDAL_CALL_READ:
        ret = do_read(mem, io, &c, res, &out);
        break;
    case TIDAL_CALL_EXIT:
        if (c.arg[0] > 255)
            return invalid(res, "EXIT: status %llu (expected 0..255)",
                           (unsigned long long)c.arg[0]);
        if (c.arg[4] && !tidal_guest_range(mem, c.arg[3], c.arg[4], 0))
            return invalid(res,
                           "EXIT: /out archive at 0x%llx (%llu bytes) lies outside guest memory",
                           (unsigned long long)c.arg[3], (unsigned long long)c.arg[4]);
        out = console_flush(mem, io, c.arg[1], c.arg[2], res, &ret);
        if (out == TIDAL_CALL_CONTINUE) {
            res->status = (int)c.arg[0];
            res->out_gpa = c.arg[4] ? c.arg[3] : 0;
            res->out_len = c.arg[4];
            out = TIDAL_CALL_EXITED;
        }
        break;
    case TIDAL_CALL_FAULT: {
        const struct tidal_fault *f = tidal_guest_range(mem, c.arg[0], sizeof(*f), 0);
        if (!f)
            return invalid(res, "FAULT: report at 0x%llx lies outside guest memory",
                           (unsigned long long)c.arg[0]);
        memcpy(&res->fault, f, sizeof(*f));
        out = console_flush(mem, io, c.arg[1], c.arg[2], res, &ret);
        if (out == TIDAL_CALL_CONTINUE)
            out = TIDAL_CALL_FAULTED;
        break;
    }
    case TIDAL_CALL_SLEEP:
        do_sleep(io, c.arg[0]);
        break;
    case TIDAL_CALL_READY:
        if (!tidal_guest_range(mem, c.arg[0], sizeof(struct tidal_ready_info), 1) || c.arg[0] % 8)
            return invalid(res,
                           "READY: info block at 0x%llx is not a writable, aligned "
                           "guest address",
                           (unsigned long long)c.arg[0]);
        out = console_flush(mem, io, c.arg[1], c.arg[2], res, &ret);
        if (out == TIDAL_CALL_CONTINUE) {
            res->ready_gpa = c.arg[0];
            ret = 0;
            memcpy(&block->ret, &ret, sizeof(ret));
            tidal_guest_mark_written(mem, block_gpa, sizeof(*block));
            out = TIDAL_CALL_READIED;
        }
        break;
    case TIDAL_CALL_PROGRESS:
        /* A total of 0 or done past total would show as a nonsense progress bar: the
         * guest is told, but not killed, since this is advisory. */
        if (c.arg[1] == 0 || c.arg[0] > c.arg[1]) {
            ret = -EINVAL;
            break;
        }
        __atomic_store_n(&io->progress_total, c.arg[1], __ATOMIC_RELAXED);
        __atomic_store_n(&io->progress_done, c.arg[0], __ATOMIC_RELEASE);
        break;
    default:
        return invalid(res, "unknown call number %u", c.nr);
    }
    if (out == TIDAL_CALL_CONTINUE) {
        memcpy(&block->ret, &ret, sizeof(ret));
        tidal_guest_mark_written(mem, block_gpa, sizeof(*block));
    }
    return out;
}

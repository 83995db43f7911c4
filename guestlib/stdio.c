/* musl's stdio ends in __stdout_write/__stdio_write (writev, ioctl) and __stdio_read
 * (readv): each a trapping syscall. These replacements, linked ahead of libc.a, send
 * output to the console ring (so fflush costs no exit), input through one READ call
 * per refill, and streams on files (fopen) to the in-memory file system (fs.h).
 *
 * They touch musl's FILE internals, so the layout below mirrors musl 1.2.x
 * (src/internal/stdio_impl.h); the offsets were checked against the disassembly of
 * Debian's libc.a (wpos 0x28, wbase 0x38, buf 0x58, buf_size 0x60, fd 0x78). */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <sys/uio.h>

#define F_EOF 16
#define F_ERR 32

struct musl_file {
    unsigned flags;
    unsigned char *rpos, *rend;
    int (*close)(FILE *);
    unsigned char *wend, *wpos;
    unsigned char *mustbezero_1;
    unsigned char *wbase;
    size_t (*read)(FILE *, unsigned char *, size_t);
    size_t (*write)(FILE *, const unsigned char *, size_t);
    long (*seek)(FILE *, long, int);
    unsigned char *buf;
    size_t buf_size;
    FILE *prev, *next;
    int fd;
};

_Static_assert(__builtin_offsetof(struct musl_file, wpos) == 0x28, "musl FILE layout");
_Static_assert(__builtin_offsetof(struct musl_file, wbase) == 0x38, "musl FILE layout");
_Static_assert(__builtin_offsetof(struct musl_file, buf) == 0x58, "musl FILE layout");
_Static_assert(__builtin_offsetof(struct musl_file, fd) == 0x78, "musl FILE layout");

size_t __stdio_write(FILE *file, const unsigned char *buf, size_t len);
size_t __stdout_write(FILE *file, const unsigned char *buf, size_t len);
size_t __stdio_read(FILE *file, unsigned char *buf, size_t len);

/* A stream on a file (fopen): the buffered bytes, then the caller's, to the file
 * system; any failure (ENOSPC, EBADF) is the stream's error, as in musl. */
static size_t file_write(struct musl_file *f, const unsigned char *buf, size_t len)
{
    size_t pending = (size_t)(f->wpos - f->wbase);
    int64_t a = pending ? fs_write(f->fd, f->wbase, pending) : 0;
    int64_t b = a == (int64_t)pending && len ? fs_write(f->fd, buf, len) : 0;
    if (a != (int64_t)pending || b != (int64_t)len) {
        errno = a < 0 ? (int)-a : b < 0 ? (int)-b : EIO;
        f->wpos = f->wbase = f->wend = 0;
        f->flags |= F_ERR;
        return b > 0 ? (size_t)b : 0;
    }
    f->wend = f->buf + f->buf_size;
    f->wpos = f->wbase = f->buf;
    return len;
}

size_t __stdio_write(FILE *file, const unsigned char *buf, size_t len)
{
    struct musl_file *f = (struct musl_file *)file;
    if (f->fd != 1 && f->fd != 2)
        return file_write(f, buf, len);
    struct iovec both[2] = {{f->wbase, (size_t)(f->wpos - f->wbase)}, {(void *)buf, len}};
    tidal_console_writev(f->fd, both, 2);
    f->wend = f->buf + f->buf_size;
    f->wpos = f->wbase = f->buf;
    return len;
}

/* musl asks the terminal here whether stdout is line buffered; the console ring
 * makes line buffering cheap (a memcpy, no exit), so keep musl's default. */
size_t __stdout_write(FILE *file, const unsigned char *buf, size_t len)
{
    ((struct musl_file *)file)->write = __stdio_write;
    return __stdio_write(file, buf, len);
}

/* -1 on error, as musl tells error from end of file. */
static int64_t read_fd(int fd, unsigned char *buf, size_t len)
{
    return fd == 0 && fs_is_console(0) ? tidal_read_stdin(buf, len) : fs_read(fd, buf, len);
}

/* Same contract as musl's: fill the caller's buffer (all but its last byte) and the
 * FILE buffer in one go, return what landed in the caller's buffer. */
size_t __stdio_read(FILE *file, unsigned char *buf, size_t len)
{
    struct musl_file *f = (struct musl_file *)file;
    size_t want_user = len ? len - (f->buf_size != 0) : 0;
    size_t got = 0;
    if (want_user) {
        int64_t n = read_fd(f->fd, buf, want_user);
        if (n < 0) {
            errno = (int)-n;
            f->flags |= F_ERR;
            return 0;
        }
        got = (size_t)n;
        if (got < want_user) {
            f->flags |= got ? 0 : F_EOF;
            return got;
        }
    }
    int64_t n = read_fd(f->fd, f->buf, f->buf_size);
    if (n <= 0) {
        f->flags |= n < 0 ? F_ERR : got ? 0 : F_EOF;
        return got;
    }
    size_t cnt = (size_t)n;
    f->rpos = f->buf;
    f->rend = f->buf + cnt;
    if (f->buf_size && len) {
        buf[len - 1] = *f->rpos++;
        got++;
    }
    return got;
}

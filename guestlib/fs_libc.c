/* musl's file functions, replaced: each of musl's own issues a `syscall`, a trap on
 * a software-assisted KVM, while these answer from guest memory. Linked ahead of
 * libc.a (tidal-cc links guestlib whole), so musl's objects for them are never
 * pulled in; the 64-suffixed names are aliases, as in musl, so that no reference
 * pulls a musl object that would define the plain name a second time. musl functions
 * not replaced here still work through the catch-all syscall handler (syscall.c). */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* _GNU_SOURCE makes musl's headers define these as macros for the plain names. */
#undef open64
#undef openat64
#undef pread64
#undef pwrite64
#undef lseek64
#undef fstat64
#undef stat64
#undef lstat64
#undef fstatat64
#undef readdir64
#undef getdents64
#undef ftruncate64
#undef truncate64
#undef fopen64
#undef tmpfile64
#undef dirent64

#define ALIAS(name) __attribute__((alias(name)))

static long ret(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

static unsigned mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, unsigned) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = mode_arg(flags, ap);
    va_end(ap);
    return (int)ret(fs_open(AT_FDCWD, path, flags, mode));
}
int open64(const char *path, int flags, ...) ALIAS("open");

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = mode_arg(flags, ap);
    va_end(ap);
    return (int)ret(fs_open(dirfd, path, flags, mode));
}
int openat64(int dirfd, const char *path, int flags, ...) ALIAS("openat");

ssize_t read(int fd, void *buf, size_t len)
{
    if (fd == 0 && fs_is_console(0))
        return ret(tidal_read_stdin(buf, len));
    return ret(fs_read(fd, buf, len));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (fd == 1 || fd == 2) {
        struct iovec one = {(void *)buf, len};
        tidal_console_writev(fd, &one, 1);
        return (ssize_t)len;
    }
    return ret(fs_write(fd, buf, len));
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
    return ret(fs_is_console(fd) ? -ESPIPE : fs_pread(fd, buf, len, off));
}
ssize_t pread64(int fd, void *buf, size_t len, off_t off) ALIAS("pread");

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return ret(fs_is_console(fd) ? -ESPIPE : fs_pwrite(fd, buf, len, off));
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) ALIAS("pwrite");

off_t __lseek(int fd, off_t off, int whence);
off_t __lseek(int fd, off_t off, int whence)
{
    return ret(fs_is_console(fd) ? -ESPIPE : fs_lseek(fd, off, whence));
}
off_t lseek(int fd, off_t off, int whence) ALIAS("__lseek");
off_t lseek64(int fd, off_t off, int whence) ALIAS("__lseek");

int __aio_close(int fd);
int __aio_close(int fd)
{
    return fd; /* no asynchronous I/O in a guest: nothing to cancel */
}

int close(int fd)
{
    if (fd >= 0 && fd <= 2)
        return 0; /* the console's descriptors, and stdin as a file, stay open */
    return (int)ret(fs_close(fd));
}

/* musl's FILE close hook; the FILE's descriptor is at the offset stdio.c checks. */
int __stdio_close(FILE *f);
int __stdio_close(FILE *f)
{
    return close(*(int *)((char *)f + 0x78));
}

int fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags)
{
    if ((flags & AT_EMPTY_PATH) && path && !path[0] && fs_is_console(dirfd))
        return fstat(dirfd, st);
    return (int)ret(fs_stat(dirfd, path, st, flags));
}
int fstatat64(int dirfd, const char *restrict path, struct stat *restrict st, int flags)
    ALIAS("fstatat");

int fstat(int fd, struct stat *st)
{
    if (fs_is_console(fd)) {
        memset(st, 0, sizeof(*st));
        st->st_mode = S_IFCHR | 0620;
        st->st_blksize = 4096;
        return 0;
    }
    return (int)ret(fs_fstat(fd, st));
}
int fstat64(int fd, struct stat *st) ALIAS("fstat");

int stat(const char *restrict path, struct stat *restrict st)
{
    return (int)ret(fs_stat(AT_FDCWD, path, st, 0));
}
int stat64(const char *restrict path, struct stat *restrict st) ALIAS("stat");
int lstat(const char *restrict path, struct stat *restrict st) ALIAS("stat");
int lstat64(const char *restrict path, struct stat *restrict st) ALIAS("stat");

int getdents(int fd, struct dirent *buf, size_t len)
{
    return (int)ret(fs_getdents(fd, buf, len));
}
int getdents64(int fd, struct dirent *buf, size_t len) ALIAS("getdents");

/* musl's DIR (src/dirent/__dirent.h in musl 1.2.x): opendir, closedir, rewinddir,
 * seekdir, telldir and dirfd stay musl's and use this layout; only readdir, which
 * issues the getdents syscall itself, is replaced. */
struct __dirstream {
    off_t tell;
    int fd;
    int buf_pos;
    int buf_end;
    volatile int lock[1];
    char buf[2048];
};

struct dirent *readdir(DIR *dir)
{
    if (dir->buf_pos >= dir->buf_end) {
        int64_t len = fs_getdents(dir->fd, dir->buf, sizeof(dir->buf));
        if (len <= 0) {
            if (len < 0 && len != -ENOENT)
                errno = (int)-len;
            return 0;
        }
        dir->buf_end = (int)len;
        dir->buf_pos = 0;
    }
    struct dirent *de = (void *)(dir->buf + dir->buf_pos);
    dir->buf_pos += de->d_reclen;
    dir->tell = de->d_off;
    return de;
}
struct dirent *readdir64(DIR *dir) ALIAS("readdir");

int unlink(const char *path)
{
    return (int)ret(fs_unlink(AT_FDCWD, path, 0));
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return (int)ret(fs_unlink(dirfd, path, flags));
}

int rmdir(const char *path)
{
    return (int)ret(fs_unlink(AT_FDCWD, path, AT_REMOVEDIR));
}

int remove(const char *path)
{
    int r = fs_unlink(AT_FDCWD, path, 0);
    if (r == -EISDIR)
        r = fs_unlink(AT_FDCWD, path, AT_REMOVEDIR);
    return (int)ret(r);
}

int rename(const char *old, const char *new)
{
    return (int)ret(fs_rename(AT_FDCWD, old, AT_FDCWD, new));
}

int mkdir(const char *path, mode_t mode)
{
    return (int)ret(fs_mkdir(AT_FDCWD, path, mode));
}

int access(const char *path, int mode)
{
    return (int)ret(fs_access(AT_FDCWD, path, mode));
}

int ftruncate(int fd, off_t len)
{
    return (int)ret(fs_is_console(fd) ? -EINVAL : fs_ftruncate(fd, len));
}
int ftruncate64(int fd, off_t len) ALIAS("ftruncate");

int truncate(const char *path, off_t len)
{
    return (int)ret(fs_truncate(path, len));
}
int truncate64(const char *path, off_t len) ALIAS("truncate");

int fsync(int fd)
{
    struct fs_ref r;
    return (int)ret(fs_is_console(fd) ? 0 : fs_fd_ref(fd, &r));
}

/* musl's fopen opens through the open syscall itself; this one through open()
 * above, then musl's fdopen builds the FILE. For a stream that can write, fdopen
 * still asks (one trapping ioctl) whether it is a terminal. */
int __fmodeflags(const char *mode);
FILE *fopen(const char *restrict path, const char *restrict mode)
{
    if (!strchr("rwa", *mode)) {
        errno = EINVAL;
        return 0;
    }
    int fd = open(path, __fmodeflags(mode), 0666);
    if (fd < 0)
        return 0;
    FILE *f = fdopen(fd, mode);
    if (!f)
        close(fd);
    return f;
}
FILE *fopen64(const char *restrict path, const char *restrict mode) ALIAS("fopen");

FILE *tmpfile(void)
{
    char name[] = "/tmp/tmpfile_XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0)
        return 0;
    unlink(name); /* the file lives until it is closed */
    FILE *f = fdopen(fd, "w+");
    if (!f)
        close(fd);
    return f;
}
FILE *tmpfile64(void) ALIAS("tmpfile");

/* The catch-all behind `syscall`: musl code paths that guestlib does not replace
 * still work, at the price of one trap each. Hot paths (stdio, malloc, clocks,
 * random) never get here. Unknown syscalls answer -ENOSYS; docs/guestlib.md lists
 * what is supported. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/ioctl.h>
#include <time.h>

/* Saved by entry.S, in this order. */
struct syscall_frame {
    uint64_t nr, a1, a2, a3, a4, a5, a6;
};

uint64_t tidal_syscall(struct syscall_frame *f);

#define TIDAL_STR2(x) #x
#define TIDAL_STR(x) TIDAL_STR2(x)

static uint64_t brk_value;

static int64_t sys_write(int fd, const void *buf, size_t len)
{
    if (fd != 1 && fd != 2)
        return fs_write(fd, buf, len);
    struct iovec one = {(void *)buf, len};
    tidal_console_writev(fd, &one, 1);
    return (int64_t)len;
}

static int64_t sys_writev(int fd, const struct iovec *iov, int cnt)
{
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    if (fd != 1 && fd != 2) {
        int64_t total = 0;
        for (int i = 0; i < cnt; i++) {
            int64_t r = fs_write(fd, iov[i].iov_base, iov[i].iov_len);
            if (r < 0)
                return total ? total : r;
            total += r;
        }
        return total;
    }
    int64_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += (int64_t)iov[i].iov_len;
    tidal_console_writev(fd, iov, cnt);
    return total;
}

static int64_t sys_read(int fd, void *buf, size_t len)
{
    if (fd != 0 || !fs_is_console(0))
        return fs_read(fd, buf, len);
    return tidal_read_stdin(buf, len);
}

static int64_t sys_readv(int fd, const struct iovec *iov, int cnt)
{
    int64_t total = 0;
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    for (int i = 0; i < cnt; i++) {
        int64_t r = sys_read(fd, iov[i].iov_base, iov[i].iov_len);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((size_t)r < iov[i].iov_len)
            break;
    }
    return total;
}

/* A file mapping is a private copy in fresh heap pages: the image's pages are
 * read-only and the scratch file system's are not page-aligned. A shared writable
 * mapping would need writes to reach the file, so it is refused. */
static int64_t map_file(size_t len, int prot, int flags, int fd, int64_t off)
{
    struct fs_ref ref;
    int r = fs_fd_ref(fd, &ref);
    if (r)
        return r;
    if (fs_ref_is_dir(ref))
        return -ENODEV;
    if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
        return -ENODEV;
    if (off < 0 || (off & 4095))
        return -EINVAL;
    void *p = tidal_pages_alloc(len);
    if (!p)
        return -ENOMEM;
    int64_t got = fs_pread(fd, p, len, off);
    if (got < 0) {
        tidal_pages_free(p, len);
        return got;
    }
    return (int64_t)(uintptr_t)p;
}

static int64_t sys_mmap(uint64_t addr, size_t len, int prot, int flags, int fd, int64_t off)
{
    (void)addr; /* a hint only; MAP_FIXED is refused below */
    if (flags & MAP_FIXED)
        return -EINVAL;
    if (prot & PROT_EXEC)
        return -EACCES; /* heap pages are never executable (W^X) */
    if (!len)
        return -EINVAL;
    if (!(flags & MAP_ANONYMOUS))
        return map_file(len, prot, flags, fd, off);
    void *p = tidal_pages_alloc(len);
    return p ? (int64_t)(uintptr_t)p : -ENOMEM;
}

static int64_t sys_mremap(void *old, size_t old_len, size_t new_len, int flags)
{
    size_t old_pages = (old_len + 4095) & ~(size_t)4095;
    size_t new_pages = (new_len + 4095) & ~(size_t)4095;
    if (((uintptr_t)old & 4095) || !new_len)
        return -EINVAL;
    if (new_pages <= old_pages) {
        if (new_pages < old_pages)
            tidal_pages_free((char *)old + new_pages, old_pages - new_pages);
        return (int64_t)(uintptr_t)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -ENOMEM;
    void *p = tidal_pages_alloc(new_len);
    if (!p)
        return -ENOMEM;
    memcpy(p, old, old_len);
    tidal_pages_free(old, old_len);
    return (int64_t)(uintptr_t)p;
}

static int64_t sys_brk(uint64_t want)
{
    uint64_t page_top;
    if (!brk_value)
        tidal_pages_brk(0, &brk_value);
    if (want && tidal_pages_brk(want, &page_top) == 0)
        brk_value = want; /* Linux reports the exact value asked for */
    return (int64_t)brk_value;
}

static int64_t sys_clock_gettime(clockid_t clk, struct timespec *ts)
{
    return clock_gettime(clk, ts) ? -errno : 0;
}

static int64_t sys_nanosleep(clockid_t clk, int flags, const struct timespec *req)
{
    return -__clock_nanosleep(clk, flags, req, 0);
}

static int64_t sys_ioctl(int fd, unsigned long req, void *arg)
{
    if ((fd == 1 || fd == 2) && req == TIOCGWINSZ && (tidal_boot->flags & TIDAL_BOOT_STDOUT_TTY)) {
        struct winsize *ws = arg;
        *ws = (struct winsize){.ws_row = 24, .ws_col = 80};
        return 0;
    }
    struct fs_ref ref;
    return fs_is_console(fd) ? -ENOTTY : fs_fd_ref(fd, &ref) ? -EBADF : -ENOTTY;
}

static int64_t sys_fstat(int fd, struct stat *st)
{
    if (fd < 0 || fd > 2)
        return fs_fstat(fd, st);
    memset(st, 0, sizeof(*st));
    st->st_mode = S_IFCHR | 0620;
    st->st_blksize = 4096;
    return 0;
}

static int64_t sys_uname(struct utsname *u)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->sysname, "Tidal");
    strcpy(u->nodename, "tidal-guest");
    strcpy(u->release, "1");
    strcpy(u->version, "guest ABI " TIDAL_STR(TIDAL_ABI_VERSION));
    strcpy(u->machine, "x86_64");
    return 0;
}

uint64_t tidal_syscall(struct syscall_frame *f)
{
    int64_t r;
    switch (f->nr) {
    case SYS_write:
        r = sys_write((int)f->a1, (const void *)f->a2, f->a3);
        break;
    case SYS_writev:
        r = sys_writev((int)f->a1, (const struct iovec *)f->a2, (int)f->a3);
        break;
    case SYS_read:
        r = sys_read((int)f->a1, (void *)f->a2, f->a3);
        break;
    case SYS_readv:
        r = sys_readv((int)f->a1, (const struct iovec *)f->a2, (int)f->a3);
        break;
    case SYS_exit:
    case SYS_exit_group:
        tidal_exit_now((int)f->a1);
    case SYS_brk:
        r = sys_brk(f->a1);
        break;
    case SYS_mmap:
        r = sys_mmap(f->a1, f->a2, (int)f->a3, (int)f->a4, (int)f->a5, (int64_t)f->a6);
        break;
    case SYS_munmap:
        if (f->a1 & 4095)
            r = -EINVAL;
        else {
            tidal_pages_free((void *)f->a1, f->a2);
            r = 0;
        }
        break;
    case SYS_mremap:
        r = sys_mremap((void *)f->a1, f->a2, f->a3, (int)f->a4);
        break;
    case SYS_mprotect:
        r = (f->a3 & PROT_EXEC) ? -EACCES : 0;
        break;
    case SYS_madvise:
        r = 0;
        break;
    case SYS_clock_gettime:
        r = sys_clock_gettime((clockid_t)f->a1, (struct timespec *)f->a2);
        break;
    case SYS_gettimeofday: {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (f->a1) {
            ((long *)f->a1)[0] = ts.tv_sec;
            ((long *)f->a1)[1] = ts.tv_nsec / 1000;
        }
        r = 0;
        break;
    }
    case SYS_time:
        r = (int64_t)(tidal_realtime_ns() / 1000000000u);
        break;
    case SYS_nanosleep:
        r = sys_nanosleep(CLOCK_MONOTONIC, 0, (const struct timespec *)f->a1);
        break;
    case SYS_clock_nanosleep:
        r = sys_nanosleep((clockid_t)f->a1, (int)f->a2, (const struct timespec *)f->a3);
        break;
    case SYS_getrandom:
        tidal_random_fill((void *)f->a1, f->a2);
        r = (int64_t)f->a2;
        break;
    case SYS_ioctl:
        r = sys_ioctl((int)f->a1, f->a2, (void *)f->a3);
        break;
    case SYS_fstat:
        r = sys_fstat((int)f->a1, (struct stat *)f->a2);
        break;
    case SYS_lseek:
        r = f->a1 <= 2 ? -ESPIPE : fs_lseek((int)f->a1, (int64_t)f->a2, (int)f->a3);
        break;
    case SYS_close:
        r = f->a1 <= 2 ? 0 : fs_close((int)f->a1);
        break;
    case SYS_fcntl:
        r = f->a1 <= 2 ? 0 : fs_fcntl((int)f->a1, (int)f->a2, f->a3);
        break;
    case SYS_open:
        r = fs_open(AT_FDCWD, (const char *)f->a1, (int)f->a2, (unsigned)f->a3);
        break;
    case SYS_openat:
        r = fs_open((int)f->a1, (const char *)f->a2, (int)f->a3, (unsigned)f->a4);
        break;
    case SYS_creat:
        r = fs_open(AT_FDCWD, (const char *)f->a1, O_CREAT | O_WRONLY | O_TRUNC, (unsigned)f->a2);
        break;
    case SYS_pread64:
        r = f->a1 <= 2 ? -ESPIPE : fs_pread((int)f->a1, (void *)f->a2, f->a3, (int64_t)f->a4);
        break;
    case SYS_pwrite64:
        r = f->a1 <= 2 ? -ESPIPE
                       : fs_pwrite((int)f->a1, (const void *)f->a2, f->a3, (int64_t)f->a4);
        break;
    case SYS_stat:
    case SYS_lstat:
        r = fs_stat(AT_FDCWD, (const char *)f->a1, (struct stat *)f->a2, 0);
        break;
    case SYS_newfstatat:
        if ((f->a4 & AT_EMPTY_PATH) && f->a1 <= 2 && f->a2 && !*(const char *)f->a2)
            r = sys_fstat((int)f->a1, (struct stat *)f->a3);
        else
            r = fs_stat((int)f->a1, (const char *)f->a2, (struct stat *)f->a3, (int)f->a4);
        break;
    case SYS_getdents64:
        r = fs_getdents((int)f->a1, (void *)f->a2, f->a3);
        break;
    case SYS_unlink:
        r = fs_unlink(AT_FDCWD, (const char *)f->a1, 0);
        break;
    case SYS_rmdir:
        r = fs_unlink(AT_FDCWD, (const char *)f->a1, AT_REMOVEDIR);
        break;
    case SYS_unlinkat:
        r = fs_unlink((int)f->a1, (const char *)f->a2, (int)f->a3);
        break;
    case SYS_mkdir:
        r = fs_mkdir(AT_FDCWD, (const char *)f->a1, (unsigned)f->a2);
        break;
    case SYS_mkdirat:
        r = fs_mkdir((int)f->a1, (const char *)f->a2, (unsigned)f->a3);
        break;
    case SYS_rename:
        r = fs_rename(AT_FDCWD, (const char *)f->a1, AT_FDCWD, (const char *)f->a2);
        break;
    case SYS_renameat:
    case SYS_renameat2:
        r = f->nr == SYS_renameat2 && f->a5
                ? -EINVAL
                : fs_rename((int)f->a1, (const char *)f->a2, (int)f->a3, (const char *)f->a4);
        break;
    case SYS_access:
        r = fs_access(AT_FDCWD, (const char *)f->a1, (int)f->a2);
        break;
    case SYS_faccessat:
        r = fs_access((int)f->a1, (const char *)f->a2, (int)f->a3);
        break;
    case SYS_ftruncate:
        r = f->a1 <= 2 ? -EINVAL : fs_ftruncate((int)f->a1, (int64_t)f->a2);
        break;
    case SYS_truncate:
        r = fs_truncate((const char *)f->a1, (int64_t)f->a2);
        break;
    case SYS_fsync:
    case SYS_fdatasync: {
        struct fs_ref ref;
        r = f->a1 <= 2 ? 0 : fs_fd_ref((int)f->a1, &ref);
        break;
    }
    case SYS_dup:
        r = fs_dup((int)f->a1, 3);
        break;
    case SYS_readlink:
    case SYS_readlinkat:
        r = -EINVAL; /* there are no symbolic links in a guest */
        break;
    case SYS_getcwd:
        if (f->a2 < 2)
            r = -ERANGE;
        else {
            strcpy((char *)f->a1, "/");
            r = 2;
        }
        break;
    case SYS_chdir:
        r = strcmp((const char *)f->a1, "/") ? -ENOSYS : 0;
        break;
    case SYS_getpid:
    case SYS_gettid:
    case SYS_set_tid_address:
        r = 1;
        break;
    case SYS_getppid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
        r = 0;
        break;
    case SYS_uname:
        r = sys_uname((struct utsname *)f->a1);
        break;
    case SYS_arch_prctl:
        if (f->a1 == 0x1002) { /* ARCH_SET_FS */
            extern int __set_thread_area(void *);
            r = __set_thread_area((void *)f->a2);
        } else {
            r = -EINVAL;
        }
        break;
    case SYS_rt_sigaction:
    case SYS_rt_sigprocmask:
    case SYS_sched_yield:
    case SYS_futex: /* one thread: a wait would never be woken, so never block */
        r = 0;
        break;
    default:
        r = -ENOSYS;
        break;
    }
    return (uint64_t)r;
}

/* File descriptors 3 and up: open files of the read-only image and of the scratch
 * file system. Descriptors 0-2 stay the console's (stdin, stdout, stderr), but for
 * a stdin the host gave as a file: descriptor 0 is then that file, opened read-only. */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct ofile {
    int used;
    int flags; /* open flags: access mode, O_APPEND */
    uint64_t pos;
    struct fs_ref ref;
};

static struct ofile files[FS_MAX_FDS];

/* Bound on first use, when the file image is there to walk. */
static int stdin_is_file(void)
{
    static int state; /* 0: not looked at yet, 1: a file, -1: the console */
    if (!state) {
        struct fs_ref ref;
        state = (tidal_boot->flags & TIDAL_BOOT_STDIN_FILE) &&
                        fs_walk(AT_FDCWD, "/dev/stdin", &ref) == 0 && !fs_ref_is_dir(ref)
                    ? 1
                    : -1;
        if (state > 0)
            files[0] = (struct ofile){.used = 1, .flags = O_RDONLY, .ref = ref};
    }
    return state > 0;
}

int fs_is_console(int fd)
{
    return fd >= 0 && fd <= 2 && !(fd == 0 && stdin_is_file());
}

static struct ofile *of(int fd)
{
    if (fd < 0 || fd >= FS_MAX_FDS || fs_is_console(fd) || !files[fd].used)
        return 0;
    return &files[fd];
}

int fs_fd_ref(int fd, struct fs_ref *out)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    *out = f->ref;
    return 0;
}

static int new_fd(int min_fd, struct fs_ref ref, int flags)
{
    for (int fd = min_fd < 3 ? 3 : min_fd; fd < FS_MAX_FDS; fd++)
        if (!files[fd].used) {
            files[fd] = (struct ofile){.used = 1, .flags = flags, .ref = ref};
            if (ref.sn)
                ref.sn->opens++;
            return fd;
        }
    return -EMFILE;
}

/* Creates name in dir, or finds it; the open(2) rules for O_CREAT, O_EXCL, O_TRUNC. */
static int open_ref(int dirfd, const char *path, int flags, unsigned mode, struct fs_ref *ref)
{
    int acc = flags & O_ACCMODE, writes = acc == O_WRONLY || acc == O_RDWR;
    if (!(flags & O_CREAT)) {
        int r = fs_walk(dirfd, path, ref);
        if (r)
            return r;
    } else {
        struct fs_ref dir;
        const char *name;
        size_t len;
        int must_dir;
        int r = fs_walk_parent(dirfd, path, &dir, &name, &len, &must_dir);
        if (r)
            return r;
        if (must_dir)
            return -EISDIR;
        r = len ? fs_lookup(dir, name, len, ref) : (*ref = dir, 0);
        if (r == 0 && (flags & O_EXCL))
            return -EEXIST;
        if (r == -ENOENT) {
            if (dir.ro)
                return -EROFS;
            if (!dir.sn->linked)
                return -ENOENT; /* a directory removed while in use */
            struct snode *n;
            if ((r = fs_scratch_create(dir.sn, name, len, 0, mode & ~022u, &n)))
                return r;
            *ref = (struct fs_ref){.sn = n};
            return 0; /* new and empty: nothing to truncate */
        }
        if (r)
            return r;
    }
    if (fs_ref_is_dir(*ref)) {
        if (writes || (flags & O_CREAT))
            return -EISDIR;
        return 0;
    }
    if (flags & O_DIRECTORY)
        return -ENOTDIR;
    if (ref->ro)
        return writes || (flags & O_TRUNC) ? -EROFS : 0;
    if ((flags & O_TRUNC) && writes)
        return fs_scratch_resize(ref->sn, 0);
    return 0;
}

int fs_open(int dirfd, const char *path, int flags, unsigned mode)
{
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return -EOPNOTSUPP;
    struct fs_ref ref;
    int r = open_ref(dirfd, path, flags, mode, &ref);
    if (r)
        return r;
    return new_fd(3, ref, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK));
}

int fs_dup(int fd, int min_fd)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    /* A duplicate shares the offset on Linux; guests rarely rely on it, and a copy
     * is what a single table of plain entries can give. */
    int n = new_fd(min_fd, f->ref, f->flags);
    if (n >= 0)
        files[n].pos = f->pos;
    return n;
}

int fs_close(int fd)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    f->used = 0;
    if (f->ref.sn) {
        f->ref.sn->opens--;
        fs_scratch_put(f->ref.sn);
    }
    return 0;
}

static int64_t file_size(struct fs_ref r)
{
    return r.ro ? (int64_t)r.ro->size : (int64_t)r.sn->size;
}

int64_t fs_pread(int fd, void *buf, size_t len, int64_t off)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    if ((f->flags & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    if (fs_ref_is_dir(f->ref))
        return -EISDIR;
    if (off < 0)
        return -EINVAL;
    int64_t size = file_size(f->ref);
    if (off >= size)
        return 0;
    size_t n = (uint64_t)(size - off) < len ? (size_t)(size - off) : len;
    const unsigned char *src = f->ref.ro ? fs_ro_data(f->ref.ro) : f->ref.sn->data;
    memcpy(buf, src + off, n);
    return (int64_t)n;
}

int64_t fs_read(int fd, void *buf, size_t len)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    int64_t n = fs_pread(fd, buf, len, (int64_t)f->pos);
    if (n > 0)
        f->pos += (uint64_t)n;
    return n;
}

int64_t fs_pwrite(int fd, const void *buf, size_t len, int64_t off)
{
    struct ofile *f = of(fd);
    if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (f->ref.ro)
        return -EROFS;
    if (off < 0 || (uint64_t)off > (uint64_t)INT64_MAX - len)
        return -EINVAL;
    struct snode *n = f->ref.sn;
    if (!len)
        return 0;
    if ((uint64_t)off + len > n->size) {
        int r = fs_scratch_resize(n, (size_t)off + len);
        if (r)
            return r;
    }
    memcpy(n->data + off, buf, len);
    fs_scratch_touch(n);
    return (int64_t)len;
}

int64_t fs_write(int fd, const void *buf, size_t len)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    if ((f->flags & O_APPEND) && f->ref.sn)
        f->pos = f->ref.sn->size;
    int64_t n = fs_pwrite(fd, buf, len, (int64_t)f->pos);
    if (n > 0)
        f->pos += (uint64_t)n;
    return n;
}

int64_t fs_lseek(int fd, int64_t off, int whence)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    int64_t base;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)f->pos;
        break;
    case SEEK_END:
        if (fs_ref_is_dir(f->ref))
            return -EINVAL;
        base = file_size(f->ref);
        break;
    default:
        return -EINVAL;
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -EINVAL;
    f->pos = (uint64_t)(base + off);
    return base + off;
}

int fs_fstat(int fd, struct stat *st)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    fs_ref_stat(f->ref, st);
    return 0;
}

int fs_ftruncate(int fd, int64_t len)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    if (len < 0)
        return -EINVAL;
    if (f->ref.ro)
        return -EROFS;
    if (f->ref.sn->is_dir || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    return fs_scratch_resize(f->ref.sn, (size_t)len);
}

int fs_fcntl(int fd, int cmd, uint64_t arg)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    switch (cmd) {
    case F_GETFL:
        return f->flags;
    case F_SETFL:
        f->flags = (f->flags & O_ACCMODE) | ((int)arg & (O_APPEND | O_NONBLOCK));
        return 0;
    case F_GETFD:
    case F_SETFD:
        return 0; /* no exec: close-on-exec means nothing */
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        return fs_dup(fd, (int)arg);
    default:
        return -EINVAL;
    }
}

/* One linux_dirent64 (musl's struct dirent has its layout) per entry: ".", "..",
 * then the directory's entries; at "/" also the scratch mounts. The position is the
 * index of the next entry, so lseek/seekdir/rewinddir work. */
static int entry_at(struct fs_ref dir, uint64_t i, const char **name, size_t *len, uint64_t *ino,
                    unsigned char *type)
{
    struct fs_ref e = dir;
    if (i == 0) {
        *name = ".", *len = 1;
    } else if (i == 1) {
        *name = "..", *len = 2;
        fs_lookup(dir, "..", 2, &e);
    } else {
        i -= 2;
        if (dir.ro) {
            const struct tidal_fs_node *c = fs_ro_nth_child(dir.ro, (uint32_t)i);
            if (c) {
                e = (struct fs_ref){.ro = c};
                *name = fs_ro_name(c), *len = c->name_len;
            } else if (dir.ro != fs_ro_root() || i - dir.ro->nchildren >= 2) {
                return 0;
            } else {
                *name = i - dir.ro->nchildren == 0 ? "tmp" : "out", *len = 3;
                e = (struct fs_ref){.sn = fs_scratch_mount(*name, 3)};
            }
        } else {
            struct snode *c = fs_scratch_nth_child(dir.sn, (uint32_t)i);
            if (!c)
                return 0;
            e = (struct fs_ref){.sn = c};
            *name = c->name, *len = c->name_len;
        }
    }
    *ino = e.ro ? fs_ro_index(e.ro) + 1 : e.sn->ino;
    *type = fs_ref_is_dir(e) ? DT_DIR : DT_REG;
    return 1;
}

int64_t fs_getdents(int fd, void *buf, size_t len)
{
    struct ofile *f = of(fd);
    if (!f)
        return -EBADF;
    if (!fs_ref_is_dir(f->ref))
        return -ENOTDIR;
    size_t done = 0;
    for (;;) {
        const char *name;
        size_t nlen;
        uint64_t ino;
        unsigned char type;
        if (!entry_at(f->ref, f->pos, &name, &nlen, &ino, &type))
            break;
        size_t reclen = (offsetof(struct dirent, d_name) + nlen + 1 + 7) & ~(size_t)7;
        if (done + reclen > len) {
            if (!done)
                return -EINVAL; /* the buffer holds not even one entry */
            break;
        }
        struct dirent *d = (struct dirent *)((char *)buf + done);
        d->d_ino = ino;
        d->d_off = (off_t)(f->pos + 1);
        d->d_reclen = (unsigned short)reclen;
        d->d_type = type;
        memcpy(d->d_name, name, nlen);
        d->d_name[nlen] = 0;
        done += reclen;
        f->pos++;
    }
    return (int64_t)done;
}

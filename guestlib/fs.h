/* guestlib's file system: one namespace with the host's read-only trees (the image
 * the monitor placed in memory, fs_ro.c) and the writable scratch mounts /tmp and
 * /out (fs_scratch.c), all in guest memory, so no file operation costs an exit.
 * Functions return 0 or a result, or -errno, as the kernel's system calls do;
 * fs_libc.c turns that into musl's errno convention. */
#ifndef TIDAL_GUESTLIB_FS_H
#define TIDAL_GUESTLIB_FS_H

#include "guest.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

/* ---- the read-only image (fs_ro.c) ---- */
const struct tidal_fs_node *fs_ro_root(void);
const struct tidal_fs_node *fs_ro_parent(const struct tidal_fs_node *n);
const struct tidal_fs_node *fs_ro_child(const struct tidal_fs_node *dir, const char *name,
                                        size_t len);
/* The i-th child of a directory, NULL past the last. */
const struct tidal_fs_node *fs_ro_nth_child(const struct tidal_fs_node *dir, uint32_t i);
const char *fs_ro_name(const struct tidal_fs_node *n);
const unsigned char *fs_ro_data(const struct tidal_fs_node *n);
uint32_t fs_ro_index(const struct tidal_fs_node *n);

/* ---- the scratch file system (fs_scratch.c) ---- */
struct snode {
    struct snode *parent; /* NULL for a mount's root and for unlinked nodes */
    struct snode *child;  /* first entry of a directory */
    struct snode *next;   /* next entry in the parent */
    char *name;
    size_t name_len;
    int is_dir;
    int linked; /* still has a name; its memory goes when it has neither name nor opener */
    unsigned opens;
    uint32_t perm;
    unsigned char *data;
    size_t size, cap;
    int64_t mtime;
    uint64_t ino;
};

/* "tmp" and "out": the roots of the scratch mounts under "/"; NULL for other names. */
struct snode *fs_scratch_mount(const char *name, size_t len);
struct snode *fs_scratch_child(const struct snode *dir, const char *name, size_t len);
struct snode *fs_scratch_nth_child(const struct snode *dir, uint32_t i);
int fs_scratch_create(struct snode *dir, const char *name, size_t len, int is_dir, uint32_t perm,
                      struct snode **out);
int fs_scratch_resize(struct snode *f, size_t size); /* -ENOSPC past the budget */
void fs_scratch_detach(struct snode *n);             /* takes the name away */
void fs_scratch_attach(struct snode *dir, struct snode *n, const char *name, size_t len);
int fs_scratch_rename_name(struct snode *n, const char *name, size_t len);
void fs_scratch_put(struct snode *n); /* frees n if it has no name and no opener */
void fs_scratch_touch(struct snode *n);

/* ---- a file or directory of either kind; exactly one pointer is set ---- */
struct fs_ref {
    const struct tidal_fs_node *ro;
    struct snode *sn;
};

int fs_ref_is_dir(struct fs_ref r);
void fs_ref_stat(struct fs_ref r, struct stat *st);

/* ---- paths (fs_path.c) ---- */
/* Resolves `path` from `dirfd` (AT_FDCWD: "/"). */
int fs_walk(int dirfd, const char *path, struct fs_ref *out);
/* Resolves all but the last component into *dir; the last is name/len (len 0 when the
 * path names "/" itself). *must_dir: the path ended with '/'. */
int fs_walk_parent(int dirfd, const char *path, struct fs_ref *dir, const char **name, size_t *len,
                   int *must_dir);
/* The entry `name` of directory `dir`, or -ENOENT. */
int fs_lookup(struct fs_ref dir, const char *name, size_t len, struct fs_ref *out);

/* ---- descriptors (fs_fd.c): fds 3 and up; 0-2 stay the console's ---- */
#define FS_MAX_FDS 256
int fs_fd_ref(int fd, struct fs_ref *out); /* -EBADF for an fd that is not a file */
/* Whether fd is one of the console's (0-2): stdin is not when the host gave it as a
 * file (TIDAL_BOOT_STDIN_FILE), then descriptor 0 is that file's. */
int fs_is_console(int fd);
int fs_open(int dirfd, const char *path, int flags, unsigned mode);
int64_t fs_read(int fd, void *buf, size_t len);
int64_t fs_pread(int fd, void *buf, size_t len, int64_t off);
int64_t fs_write(int fd, const void *buf, size_t len);
int64_t fs_pwrite(int fd, const void *buf, size_t len, int64_t off);
int64_t fs_lseek(int fd, int64_t off, int whence);
int fs_close(int fd);
int fs_fstat(int fd, struct stat *st);
int64_t fs_getdents(int fd, void *buf, size_t len);
int fs_ftruncate(int fd, int64_t len);
int fs_fcntl(int fd, int cmd, uint64_t arg);
int fs_dup(int fd, int min_fd);

/* ---- operations on paths (fs_ops.c) ---- */
int fs_stat(int dirfd, const char *path, struct stat *st, int flags);
int fs_unlink(int dirfd, const char *path, int flags);
int fs_mkdir(int dirfd, const char *path, unsigned mode);
int fs_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int fs_access(int dirfd, const char *path, int mode);
int fs_truncate(const char *path, int64_t len);

/* The /out archive for the EXIT call (fs_out.c); len 0 when there is nothing. */
void fs_out_archive(uint64_t *gpa, uint64_t *len);

#endif

/* Operations on paths: stat, unlink, rmdir, mkdir, rename, access, truncate. Any
 * change inside a read-only tree is EROFS; /tmp and /out themselves cannot be
 * removed or renamed (EBUSY, as for a mount point). */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEV_RO 1
#define DEV_SCRATCH 2

void fs_ref_stat(struct fs_ref r, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_blksize = 4096;
    st->st_nlink = 1;
    if (r.ro) {
        st->st_dev = DEV_RO;
        st->st_ino = fs_ro_index(r.ro) + 1;
        st->st_mode = (r.ro->type == TIDAL_FS_DIR ? S_IFDIR : S_IFREG) | (r.ro->perm & 0555);
        st->st_size = r.ro->type == TIDAL_FS_FILE ? (off_t)r.ro->size : 4096;
        st->st_mtim.tv_sec = r.ro->mtime;
    } else {
        st->st_dev = DEV_SCRATCH;
        st->st_ino = r.sn->ino;
        st->st_mode = (r.sn->is_dir ? S_IFDIR : S_IFREG) | r.sn->perm;
        st->st_size = r.sn->is_dir ? 4096 : (off_t)r.sn->size;
        st->st_nlink = r.sn->linked ? 1 : 0;
        st->st_mtim.tv_sec = r.sn->mtime;
    }
    st->st_atim = st->st_ctim = st->st_mtim;
    st->st_blocks = (st->st_size + 511) / 512;
}

int fs_stat(int dirfd, const char *path, struct stat *st, int flags)
{
    struct fs_ref r;
    int e;
    if ((flags & AT_EMPTY_PATH) && path && !path[0])
        e = dirfd == AT_FDCWD ? fs_walk(AT_FDCWD, "/", &r) : fs_fd_ref(dirfd, &r);
    else
        e = fs_walk(dirfd, path, &r);
    if (e)
        return e;
    fs_ref_stat(r, st);
    return 0;
}

static int is_mount(struct fs_ref r)
{
    return r.sn && !r.sn->parent && r.sn->linked;
}

/* The parent directory and last name of a path that is to change. */
static int parent_for_change(int dirfd, const char *path, struct fs_ref *dir, const char **name,
                             size_t *len, int *must_dir)
{
    int r = fs_walk_parent(dirfd, path, dir, name, len, must_dir);
    if (r)
        return r;
    if (*len == 0 || (*len == 1 && **name == '.') || (*len == 2 && !memcmp(*name, "..", 2)))
        return -EBUSY; /* "/", "." or "..": never a plain entry to change */
    return 0;
}

int fs_unlink(int dirfd, const char *path, int flags)
{
    struct fs_ref dir, n;
    const char *name;
    size_t len;
    int must_dir;
    int r = parent_for_change(dirfd, path, &dir, &name, &len, &must_dir);
    if (r == -EBUSY)
        return (flags & AT_REMOVEDIR) ? -EBUSY : -EISDIR;
    if (r || (r = fs_lookup(dir, name, len, &n)))
        return r;
    int want_dir = (flags & AT_REMOVEDIR) != 0;
    if (fs_ref_is_dir(n) != want_dir)
        return want_dir ? -ENOTDIR : -EISDIR;
    if (must_dir && !want_dir)
        return -ENOTDIR;
    if (n.ro)
        return -EROFS;
    if (is_mount(n))
        return -EBUSY;
    if (want_dir && n.sn->child)
        return -ENOTEMPTY;
    fs_scratch_detach(n.sn);
    fs_scratch_put(n.sn);
    return 0;
}

int fs_mkdir(int dirfd, const char *path, unsigned mode)
{
    struct fs_ref dir, n;
    const char *name;
    size_t len;
    int must_dir;
    int r = parent_for_change(dirfd, path, &dir, &name, &len, &must_dir);
    if (r == -EBUSY)
        return -EEXIST;
    if (r)
        return r;
    r = fs_lookup(dir, name, len, &n);
    if (r == 0)
        return -EEXIST;
    if (r != -ENOENT)
        return r;
    if (dir.ro)
        return -EROFS;
    if (!dir.sn->linked)
        return -ENOENT;
    struct snode *made;
    return fs_scratch_create(dir.sn, name, len, 1, mode & ~022u, &made);
}

static int inside(const struct snode *n, const struct snode *dir)
{
    for (const struct snode *p = n; p; p = p->parent)
        if (p == dir)
            return 1;
    return 0;
}

int fs_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    struct fs_ref odir, ndir, from, to;
    const char *oname, *nname;
    size_t olen, nlen;
    int omust, nmust;
    int r = parent_for_change(olddirfd, oldpath, &odir, &oname, &olen, &omust);
    if (r || (r = fs_lookup(odir, oname, olen, &from)))
        return r;
    if ((r = parent_for_change(newdirfd, newpath, &ndir, &nname, &nlen, &nmust)))
        return r;
    if (from.ro || ndir.ro)
        return -EROFS;
    if (is_mount(from))
        return -EBUSY;
    if ((omust || nmust) && !from.sn->is_dir)
        return -ENOTDIR;
    r = fs_lookup(ndir, nname, nlen, &to);
    if (r && r != -ENOENT)
        return r;
    int replaces = r == 0;
    if (replaces) {
        if (to.sn == from.sn)
            return 0;
        if (to.ro)
            return -EROFS;
        if (is_mount(to))
            return -EBUSY;
        if (from.sn->is_dir && !to.sn->is_dir)
            return -ENOTDIR;
        if (!from.sn->is_dir && to.sn->is_dir)
            return -EISDIR;
        if (to.sn->is_dir && to.sn->child)
            return -ENOTEMPTY;
    }
    if (from.sn->is_dir && inside(ndir.sn, from.sn))
        return -EINVAL; /* a directory into itself */
    if (!ndir.sn->linked)
        return -ENOENT;
    if ((r = fs_scratch_rename_name(from.sn, nname, nlen)))
        return r;
    if (replaces) {
        fs_scratch_detach(to.sn);
        fs_scratch_put(to.sn);
    }
    fs_scratch_detach(from.sn);
    fs_scratch_attach(ndir.sn, from.sn, nname, nlen);
    return 0;
}

int fs_access(int dirfd, const char *path, int mode)
{
    struct fs_ref r;
    int e = fs_walk(dirfd, path, &r);
    if (e)
        return e;
    if ((mode & W_OK) && r.ro)
        return -EROFS;
    if ((mode & X_OK) && !fs_ref_is_dir(r))
        return -EACCES; /* nothing is executable in a guest */
    return 0;
}

int fs_truncate(const char *path, int64_t len)
{
    struct fs_ref r;
    int e = fs_walk(AT_FDCWD, path, &r);
    if (e)
        return e;
    if (len < 0)
        return -EINVAL;
    if (fs_ref_is_dir(r))
        return -EISDIR;
    if (r.ro)
        return -EROFS;
    return fs_scratch_resize(r.sn, (size_t)len);
}

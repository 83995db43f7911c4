/* Path resolution over the one namespace: "/" and everything under it come from
 * the read-only image, except /tmp and /out, the scratch mounts. There are no
 * symbolic links (the host resolved those when it built the image), so ".." is the
 * parent of the directory reached so far. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define NAME_MAX_LEN 255u
#define PATH_MAX_LEN 4096u

int fs_ref_is_dir(struct fs_ref r)
{
    return r.ro ? r.ro->type == TIDAL_FS_DIR : r.sn->is_dir;
}

static struct fs_ref root(void)
{
    return (struct fs_ref){.ro = fs_ro_root()};
}

static struct fs_ref parent_of(struct fs_ref r)
{
    if (r.ro)
        return (struct fs_ref){.ro = fs_ro_parent(r.ro)};
    if (r.sn->parent)
        return (struct fs_ref){.sn = r.sn->parent};
    return root(); /* a mount's root (or an unlinked directory) */
}

int fs_lookup(struct fs_ref dir, const char *name, size_t len, struct fs_ref *out)
{
    if (!fs_ref_is_dir(dir))
        return -ENOTDIR;
    if (len > NAME_MAX_LEN)
        return -ENAMETOOLONG;
    if (len == 1 && name[0] == '.') {
        *out = dir;
        return 0;
    }
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        *out = parent_of(dir);
        return 0;
    }
    if (dir.ro) {
        struct snode *m = dir.ro == fs_ro_root() ? fs_scratch_mount(name, len) : 0;
        if (m) {
            *out = (struct fs_ref){.sn = m};
            return 0;
        }
        const struct tidal_fs_node *c = fs_ro_child(dir.ro, name, len);
        if (!c)
            return -ENOENT;
        *out = (struct fs_ref){.ro = c};
        return 0;
    }
    struct snode *c = fs_scratch_child(dir.sn, name, len);
    if (!c)
        return -ENOENT;
    *out = (struct fs_ref){.sn = c};
    return 0;
}

static int start_of(int dirfd, const char *path, struct fs_ref *at)
{
    if (!path)
        return -EFAULT;
    if (!path[0])
        return -ENOENT;
    if (strnlen(path, PATH_MAX_LEN) == PATH_MAX_LEN)
        return -ENAMETOOLONG;
    if (path[0] == '/' || dirfd == AT_FDCWD) {
        *at = root();
        return 0;
    }
    int r = fs_fd_ref(dirfd, at);
    if (r)
        return r;
    return fs_ref_is_dir(*at) ? 0 : -ENOTDIR;
}

/* Walks components of path[0..end) from *cur. */
static int walk_from(struct fs_ref *cur, const char *path, size_t end)
{
    size_t i = 0;
    while (i < end) {
        while (i < end && path[i] == '/')
            i++;
        size_t j = i;
        while (j < end && path[j] != '/')
            j++;
        if (j > i) {
            int r = fs_lookup(*cur, path + i, j - i, cur);
            if (r)
                return r;
        }
        i = j;
    }
    return 0;
}

int fs_walk(int dirfd, const char *path, struct fs_ref *out)
{
    int r = start_of(dirfd, path, out);
    if (r)
        return r;
    size_t len = strlen(path);
    if ((r = walk_from(out, path, len)))
        return r;
    if (path[len - 1] == '/' && !fs_ref_is_dir(*out))
        return -ENOTDIR;
    return 0;
}

int fs_walk_parent(int dirfd, const char *path, struct fs_ref *dir, const char **name, size_t *len,
                   int *must_dir)
{
    int r = start_of(dirfd, path, dir);
    if (r)
        return r;
    size_t end = strlen(path);
    *must_dir = end && path[end - 1] == '/';
    while (end && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start && path[start - 1] != '/')
        start--;
    if ((r = walk_from(dir, path, start)))
        return r;
    if (!fs_ref_is_dir(*dir))
        return -ENOTDIR;
    *name = path + start;
    *len = end - start;
    if (*len > NAME_MAX_LEN)
        return -ENAMETOOLONG;
    return 0;
}

/* A guest's /out archive, written to the host. The archive is guest memory, so it is
 * read like any untrusted input: checked whole before anything is written, every
 * length against what is left, every path component against "", "." and "..". */
#include "tidal/abi.h"
#include "tidal/fsimage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PATH 4096u

struct rec {
    uint32_t type;
    const char *path;
    uint32_t path_len;
    const uint8_t *data;
    uint64_t size;
};

/* The record at *pos, or -1 with why; *pos moves past it. */
static int next_rec(const uint8_t *a, size_t len, size_t *pos, struct rec *r, struct tidal_err *err)
{
    struct tidal_out_record h;
    if (len - *pos < sizeof(h))
        return tidal_err_set(err, "/out archive: a record header at byte %zu is cut short", *pos);
    memcpy(&h, a + *pos, sizeof(h));
    size_t body = len - *pos - sizeof(h);
    if ((h.type != TIDAL_FS_DIR && h.type != TIDAL_FS_FILE) || h.path_len == 0 ||
        h.path_len >= MAX_PATH || h.path_len > body || (h.type == TIDAL_FS_DIR && h.size) ||
        h.size > body - h.path_len)
        return tidal_err_set(err,
                             "/out archive: bad record at byte %zu (type %u, path %u bytes, "
                             "size %llu; %zu bytes left)",
                             *pos, h.type, h.path_len, (unsigned long long)h.size, body);
    r->type = h.type;
    r->path = (const char *)a + *pos + sizeof(h);
    r->path_len = h.path_len;
    r->data = (const uint8_t *)r->path + h.path_len;
    r->size = h.size;
    uint64_t step = (sizeof(h) + h.path_len + h.size + 7) & ~7ull;
    *pos = step > len - *pos ? len : *pos + step;
    return 0;
}

static int check_path(const struct rec *r, struct tidal_err *err)
{
    const char *p = r->path, *end = p + r->path_len;
    if (memchr(p, 0, r->path_len))
        return tidal_err_set(err, "/out archive: a path holds a NUL byte");
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        size_t n = (size_t)(stop - p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n > 255)
            return tidal_err_set(err, "/out archive: path '%.*s' has an empty, '.' or '..' part",
                                 (int)r->path_len, r->path);
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

/* Opens (creating) each directory of path below dirfd without following links. */
static int open_parent(int root, char *path, const char **leaf, struct tidal_err *err)
{
    int fd = dup(root);
    char *p = path;
    for (char *slash; fd >= 0 && (slash = strchr(p, '/'));) {
        *slash = 0;
        if (mkdirat(fd, p, 0755) && errno != EEXIST) {
            tidal_err_set(err, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            tidal_err_set(err, "%s: %s", path, strerror(errno));
        *slash = '/';
        close(fd);
        fd = next;
        p = slash + 1;
    }
    *leaf = p;
    return fd;
}

static int write_file(int dirfd, const char *leaf, const struct rec *r, const char *shown,
                      struct tidal_err *err)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), ".tidal-out.%ld.%.200s", (long)getpid(), leaf);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return tidal_err_set(err, "%s: %s", shown, strerror(errno));
    uint64_t done = 0;
    while (done < r->size) {
        ssize_t n = write(fd, r->data + done, r->size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (uint64_t)n;
    }
    if (done != r->size || fsync(fd)) {
        int e = errno;
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return tidal_err_set(err, "%s: %s", shown, strerror(e ? e : EIO));
    }
    close(fd);
    if (renameat(dirfd, tmp, dirfd, leaf)) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return tidal_err_set(err, "%s: %s", shown, strerror(e));
    }
    return 0;
}

int tidal_fs_write_outputs(const uint8_t *archive, size_t len, const char *host_dir,
                           struct tidal_err *err)
{
    struct rec r;
    for (size_t pos = 0; pos < len;)
        if (next_rec(archive, len, &pos, &r, err) || check_path(&r, err))
            return -1;
    if (mkdir(host_dir, 0755) && errno != EEXIST)
        return tidal_err_set(err, "--output-dir %s: %s", host_dir, strerror(errno));
    int root = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return tidal_err_set(err, "--output-dir %s: %s", host_dir, strerror(errno));
    int rc = 0;
    char path[MAX_PATH + 2];
    for (size_t pos = 0; pos < len && !rc;) {
        next_rec(archive, len, &pos, &r, err);
        memcpy(path, r.path, r.path_len);
        path[r.path_len] = 0;
        if (r.type == TIDAL_FS_DIR)
            strcat(path, "/"); /* open_parent then creates the directory itself */
        char shown[MAX_PATH + 600];
        snprintf(shown, sizeof(shown), "%s/%s", host_dir, path);
        const char *leaf;
        int dfd = open_parent(root, path, &leaf, err);
        if (dfd < 0) {
            rc = -1;
            break;
        }
        if (r.type == TIDAL_FS_FILE)
            rc = write_file(dfd, leaf, &r, shown, err);
        close(dfd);
    }
    close(root);
    return rc;
}

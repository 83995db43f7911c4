/* Whole small files: written atomically (the daemon's state.json must never be left
 * half-written), read with a size limit (configuration, job files). */
#include "tidal/host_file.h"
#include "tidal/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path, struct tidal_err *err)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tidal_err_set(err, "%s: %s", dir, strerror(errno));
    int r = fsync(fd);
    close(fd);
    return r ? tidal_err_set(err, "fsync %s: %s", dir, strerror(errno)) : 0;
}

int tidal_write_atomic(const char *path, const void *data, size_t len, struct tidal_err *err)
{
    char tmp[4200];
    int fd = tidal_file_create_temp(path, tmp, sizeof(tmp), err);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            tidal_err_set(err, "%s: write: %s", tmp, n < 0 ? strerror(errno) : "short write");
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd)) {
        tidal_err_set(err, "%s: fsync: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    if (rename(tmp, path)) {
        tidal_err_set(err, "rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return fsync_dir_of(path, err);
fail:
    close(fd);
    unlink(tmp);
    return -1;
}

int tidal_read_file(const char *path, size_t limit, char **data, size_t *len, struct tidal_err *err)
{
    *data = NULL;
    *len = 0;
    int fd = tidal_file_open(path, true, err);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return tidal_err_set(err, "%s: %s", path, strerror(errno));
    }
    size_t cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + *len, 1, cap - *len - 1, f)) > 0) {
        *len += n;
        if (*len > limit) {
            free(buf);
            fclose(f);
            return tidal_err_set(err, "%s: larger than %zu bytes", path, limit);
        }
        if (cap - *len - 1 == 0) {
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return tidal_err_set(err, "%s: %s", path, bad ? "read error" : "out of memory");
    }
    buf[*len] = 0;
    *data = buf;
    return 0;
}

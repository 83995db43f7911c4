#include "tidal/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *type_name(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "a special file";
}

int tidal_file_open(const char *path, bool regular_only, struct tidal_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        tidal_err_set(err, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : 0;
    if (e)
        tidal_err_set(err, "%s: %s", path, strerror(e));
    else if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode)))
        tidal_err_set(err, "%s: %s, not a regular file", path, type_name(st.st_mode));
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
        tidal_err_set(err, "%s: %s", path, strerror(e = errno));
    else
        return fd;
    close(fd);
    errno = e ? e : EINVAL;
    return -1;
}

int tidal_file_create_temp(const char *path, char *tmp, size_t size, struct tidal_err *err)
{
    if (snprintf(tmp, size, "%s.tmp.%d", path, (int)getpid()) >= (int)size)
        return tidal_err_set(err, "%s: path too long", path);
    unlink(tmp); /* removes a planted symlink itself, never its target */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return tidal_err_set(err, "%s: cannot create temporary file %s: %s", path, tmp,
                             strerror(errno));
    return fd;
}

int tidal_file_map(const char *path, uint64_t max_size, const uint8_t **data, size_t *size,
                   struct tidal_err *err)
{
    int fd = tidal_file_open(path, true, err);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "%s: %s", path, strerror(e));
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return tidal_err_set(err, "%s: %lld bytes is larger than the %llu MiB limit", path,
                             (long long)st.st_size, (unsigned long long)(max_size >> 20));
    }
    *size = (size_t)st.st_size;
    *data = NULL;
    if (*size) {
        void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tidal_err_set(err, "%s: mmap: %s", path, strerror(e));
        }
        *data = p;
    }
    close(fd);
    return 0;
}

void tidal_file_unmap(const uint8_t *data, size_t size)
{
    if (data && size)
        munmap((void *)data, size);
}

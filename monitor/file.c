#include "tidal/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int tidal_file_map(const char *path, uint64_t max_size, const uint8_t **data, size_t *size,
                   struct tidal_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tidal_err_set(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tidal_err_set(err, "%s: not a regular file", path);
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

#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    abort();
}

static void write_all(int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("fuzz: write");
        data += n;
        size -= (size_t)n;
    }
}

void fuzz_file_open(struct fuzz_file *f, const uint8_t *data, size_t size)
{
    f->fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (f->fd < 0)
        die("fuzz: memfd_create");
    write_all(f->fd, data, size);
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

void fuzz_file_close(struct fuzz_file *f)
{
    close(f->fd);
    f->fd = -1;
}

static void empty(const char *dir, bool remove_self)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            struct stat st;
            if (!lstat(path, &st) && S_ISDIR(st.st_mode))
                empty(path, true);
            else
                unlink(path);
        }
        closedir(d);
    }
    if (remove_self)
        rmdir(dir);
}

void fuzz_empty_dir(const char *dir)
{
    empty(dir, false);
}

static char scratch[256];

static void remove_scratch(void)
{
    empty(scratch, true);
}

const char *fuzz_scratch_dir(void)
{
    char *dir = scratch;
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(scratch), "%s/tidal-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir))
            die("fuzz: mkdtemp");
        atexit(remove_scratch);
    }
    return dir;
}

void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        if (mkdir(path, 0700) && errno != EEXIST)
            die("fuzz: mkdir");
        *slash = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die("fuzz: open");
    write_all(fd, data, size);
    close(fd);
}

const uint8_t *fuzz_next_piece(const uint8_t *data, size_t size, size_t *pos, uint8_t sep,
                               size_t *len)
{
    if (*pos > size)
        return NULL;
    const uint8_t *start = data + *pos;
    const uint8_t *end = size > *pos ? memchr(start, sep, size - *pos) : NULL;
    *len = end ? (size_t)(end - start) : size - *pos;
    *pos += *len + 1;
    return start;
}

char *fuzz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        die("fuzz: malloc");
    memcpy(s, data, len);
    s[len] = 0;
    return s;
}

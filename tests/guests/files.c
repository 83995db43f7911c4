/* File operations from inside a guest, by mode (argv[1]); prints what it finds so the
 * integration tests compare it with the host's view.
 *   walk DIR      every file under DIR: "path size fnv64" (read in odd-sized pieces,
 *                 checked again with pread, lseek and mmap)
 *   scratch       create/write/rename/unlink/mkdir/rmdir/mkstemp/tmpfile in /tmp
 *   erofs PATH    each write-like call on PATH, with its errno
 *   enospc        write /tmp/fill until ENOSPC
 *   out           write /out/report.txt and /out/sub/data.bin, then exit 0
 *   out_crash     write /out/partial.txt, then crash
 *   exits N PATH  N rounds of open+read+close of PATH (the benchmark's loop) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long fnv(unsigned long long h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int check_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return printf("open %s: %s\n", path, strerror(errno)), 1;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        return printf("fstat %s\n", path), 1;
    unsigned long long h = 0xcbf29ce484222325ull;
    unsigned char buf[777];
    ssize_t n;
    size_t total = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        h = fnv(h, buf, (size_t)n);
        total += (size_t)n;
    }
    if (n < 0 || total != (size_t)st.st_size)
        return printf("read %s: %zd, %zu of %lld\n", path, n, total, (long long)st.st_size), 1;
    if (st.st_size > 0) {
        /* the last byte, three ways */
        unsigned char a = 0, b = 0;
        if (pread(fd, &a, 1, st.st_size - 1) != 1 || lseek(fd, -1, SEEK_END) != st.st_size - 1 ||
            read(fd, &b, 1) != 1 || a != b)
            return printf("pread/lseek %s\n", path), 1;
        unsigned char *m = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED || fnv(0xcbf29ce484222325ull, m, (size_t)st.st_size) != h)
            return printf("mmap %s\n", path), 1;
        munmap(m, (size_t)st.st_size);
    }
    close(fd);
    printf("%s %lld %016llx\n", path, (long long)st.st_size, h);
    return 0;
}

static int walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return printf("opendir %s: %s\n", dir, strerror(errno)), 1;
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st))
            return printf("stat %s: %s\n", path, strerror(errno)), 1;
        bad |= S_ISDIR(st.st_mode) ? walk(path) : check_file(path);
    }
    closedir(d);
    return bad;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED line %d: %s (errno %s)\n", __LINE__, #cond, strerror(errno));           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int scratch(void)
{
    FILE *f = fopen("/tmp/a.txt", "w");
    CHECK(f && fputs("hello scratch\n", f) >= 0 && fclose(f) == 0);
    CHECK(mkdir("/tmp/d", 0755) == 0 && mkdir("/tmp/d", 0755) == -1 && errno == EEXIST);
    CHECK(rename("/tmp/a.txt", "/tmp/d/b.txt") == 0);
    CHECK(access("/tmp/a.txt", F_OK) == -1 && errno == ENOENT);
    char line[64] = {0};
    f = fopen("/tmp/d/b.txt", "r");
    CHECK(f && fgets(line, sizeof(line), f) && !strcmp(line, "hello scratch\n"));
    fclose(f);
    CHECK(rmdir("/tmp/d") == -1 && errno == ENOTEMPTY);
    int fd = open("/tmp/d/b.txt", O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, 5) == 0 && lseek(fd, 0, SEEK_END) == 5);
    CHECK(pwrite(fd, "!", 1, 10) == 1);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 11);
    char back[11];
    CHECK(pread(fd, back, 11, 0) == 11 && !memcmp(back, "hello\0\0\0\0\0!", 11));
    CHECK(unlink("/tmp/d/b.txt") == 0 && pread(fd, back, 5, 0) == 5 && close(fd) == 0);
    CHECK(rmdir("/tmp/d") == 0 && stat("/tmp/d", &st) == -1 && errno == ENOENT);
    char tmpl[] = "/tmp/xXXXXXX";
    fd = mkstemp(tmpl);
    CHECK(fd >= 0 && write(fd, "mk", 2) == 2 && close(fd) == 0 && unlink(tmpl) == 0);
    FILE *t = tmpfile();
    CHECK(t && fputs("tmp", t) >= 0 && fseek(t, 0, SEEK_SET) == 0 && fgetc(t) == 't');
    fclose(t);
    CHECK(open("/tmp/x", O_RDONLY) == -1 && errno == ENOENT);
    CHECK(open("/tmp/x", O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0);
    CHECK(open("/tmp/x", O_CREAT | O_EXCL | O_WRONLY, 0600) == -1 && errno == EEXIST);
    CHECK(remove("/tmp/x") == 0);
    CHECK(rmdir("/tmp") == -1 && errno == EBUSY);
    DIR *d = opendir("/tmp");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n++;
    CHECK(d && n == 2); /* "." and ".." only: everything was removed */
    closedir(d);
    puts("scratch ok");
    return 0;
}

static int erofs(const char *path)
{
    errno = 0;
    printf("open-w %s\n", open(path, O_WRONLY) < 0 ? strerror(errno) : "ok");
    errno = 0;
    printf("fopen-a %s\n", fopen(path, "a") ? "ok" : strerror(errno));
    errno = 0;
    printf("unlink %s\n", unlink(path) ? strerror(errno) : "ok");
    char sib[512];
    snprintf(sib, sizeof(sib), "%s.new", path);
    errno = 0;
    printf("create %s\n", open(sib, O_CREAT | O_WRONLY, 0644) < 0 ? strerror(errno) : "ok");
    errno = 0;
    printf("rename %s\n", rename(path, "/tmp/moved") ? strerror(errno) : "ok");
    errno = 0;
    printf("missing %s\n", open("/no/such/file", O_RDONLY) < 0 ? strerror(errno) : "ok");
    return 0;
}

static int enospc(void)
{
    FILE *f = fopen("/tmp/fill", "w");
    if (!f)
        return printf("fopen: %s\n", strerror(errno)), 1;
    static char block[4096];
    size_t total = 0;
    while (fwrite(block, 1, sizeof(block), f) == sizeof(block) && fflush(f) == 0)
        total += sizeof(block);
    printf("full after %zu KiB: %s\n", total / 1024, strerror(errno));
    return errno == ENOSPC ? 0 : 1;
}

static int out(int crash)
{
    if (crash) {
        FILE *f = fopen("/out/partial.txt", "w");
        fputs("half", f);
        fclose(f);
        *(volatile int *)0 = 1;
    }
    FILE *f = fopen("/out/report.txt", "w");
    CHECK(f && fprintf(f, "report line\n") > 0 && fclose(f) == 0);
    CHECK(mkdir("/out/sub", 0755) == 0);
    int fd = open("/out/sub/data.bin", O_CREAT | O_WRONLY, 0644);
    for (int i = 0; i < 1000; i++)
        CHECK(write(fd, &i, sizeof(i)) == sizeof(i));
    close(fd);
    return 0;
}

static int exits(int n, const char *path)
{
    char buf[4096];
    long total = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY);
        ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (r < 0 || close(fd))
            return printf("round %d: %s\n", i, strerror(errno)), 1;
        total += r;
    }
    printf("read %ld bytes in %d rounds\n", total, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "walk"))
        return walk(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "scratch"))
        return scratch();
    if (argc >= 3 && !strcmp(argv[1], "erofs"))
        return erofs(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "enospc"))
        return enospc();
    if (argc >= 2 && !strcmp(argv[1], "out"))
        return out(0);
    if (argc >= 2 && !strcmp(argv[1], "out_crash"))
        return out(1);
    if (argc >= 4 && !strcmp(argv[1], "exits"))
        return exits(atoi(argv[2]), argv[3]);
    fputs(
        "usage: files walk DIR | scratch | erofs PATH | enospc | out | out_crash | exits N PATH\n",
        stderr);
    return 2;
}

#include "tidal/host_limits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* A mapping call may need a few VMAs (it can split its neighbours), so a process this
 * close to vm.max_map_count has reached it. */
#define MAP_COUNT_SLACK 8

static long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* /proc/self/maps has one line per mapping (VMA). */
static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (!f)
        return -1;
    while ((c = getc_unlocked(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

const char *tidal_describe_errno(int errnum, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", strerror(errnum));
    char *rest = buf + n;
    size_t room = size - (size_t)n;
    if (errnum == EMFILE) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            snprintf(rest, room,
                     " (this process reached RLIMIT_NOFILE, %llu open files, hard limit %llu: "
                     "raise it with ulimit -n, or LimitNOFILE= for a service)",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    } else if (errnum == ENFILE) {
        snprintf(rest, room,
                 " (the system reached fs.file-max, %ld open files: raise it with "
                 "sysctl -w fs.file-max=N)",
                 read_number("/proc/sys/fs/file-max"));
    } else if (errnum == ENOMEM) {
        long max = read_number("/proc/sys/vm/max_map_count"), have = count_mappings();
        if (max > 0 && have >= max - MAP_COUNT_SLACK)
            snprintf(rest, room,
                     " (this process has %ld memory mappings and vm.max_map_count is %ld: "
                     "raise it with sysctl -w vm.max_map_count=N)",
                     have, max);
    }
    return buf;
}

void tidal_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

long tidal_mem_available_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

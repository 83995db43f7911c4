/* Heavy and hostile clients against the server's own limits: thousands of connections
 * that never finish their headers, and many bodies left half sent. */
#include "server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLOW_CONNECTIONS 2000
#define HALF_BODIES 40

static int connect_to(const struct server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0,
              "connection %d to the server failed", fd);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        cr_assert_gt(n, 0, "write to the server failed");
        data += n;
        len -= (size_t)n;
    }
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Starts the server as a process whose soft open-file limit is 1,024, the usual
 * default: it must raise it itself. */
static void start_with_usual_fd_limit(struct server *s, const char *const *args)
{
    struct rlimit saved, usual;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_max < 4 * SLOW_CONNECTIONS)
        cr_skip_test("needs a hard open-file limit of %d, this machine's is %llu",
                     4 * SLOW_CONNECTIONS, (unsigned long long)saved.rlim_max);
    usual = saved;
    usual.rlim_cur = 1024;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &usual), 0);
    server_start(s, args);
    saved.rlim_cur = saved.rlim_max; /* this test opens thousands of sockets */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

Test(serve_limits, slow_connections_do_not_starve_a_good_client, .timeout = 300)
{
    struct server s;
    char fn[600];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", false));
    const char *args[] = {"--backend", "process", "--function", fn, NULL};
    start_with_usual_fd_limit(&s, args);
    static int slow[SLOW_CONNECTIONS];
    const char partial[] = "POST /v1/functions/echo/invoke HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < SLOW_CONNECTIONS; i++) {
        slow[i] = connect_to(&s);
        send_all(slow[i], partial, sizeof(partial) - 1);
    }
    usleep(500000); /* the server takes in all it will */
    char fd_dir[64];
    snprintf(fd_dir, sizeof(fd_dir), "/proc/%d/fd", (int)s.pid);
    cr_expect_gt(count_entries(fd_dir), SLOW_CONNECTIONS,
                 "the server did not take every connection");
    cr_expect(!strstr(server_log(&s), "resource limit"), "%s", server_log(&s));
    for (int i = 0; i < 5; i++) {
        struct reply r;
        http(&s, "POST", "/v1/functions/echo/invoke", "hello", 5, &r);
        cr_expect_eq(r.status, 200, "request %d under %d slow connections: %ld %s", i,
                     SLOW_CONNECTIONS, r.status, r.body);
    }
    for (int i = 0; i < SLOW_CONNECTIONS; i++)
        close(slow[i]);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

static bool maps_library(pid_t pid, const char *name)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, name) != NULL;
    if (f)
        fclose(f);
    return found;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Forty bodies of 900 KiB left unfinished would hold 36 MiB; the server's upload
 * memory is capped at 4 MiB here: it holds about that, and answers a request that
 * does not fit with 503 until the half-sent bodies are gone. */
Test(serve_limits, half_sent_bodies_hold_at_most_the_upload_cap, .timeout = 300)
{
    struct server s;
    char fn[600];
    snprintf(fn, sizeof(fn), "echo=%s", function_image("echo", false));
    const char *args[] = {"--backend", "process", "--function", fn, "--max-uploads", "4M", NULL};
    server_start(&s, args);
    long before = rss_kib(s.pid);
    static char chunk[900 * 1024];
    memset(chunk, 'x', sizeof(chunk));
    int half[HALF_BODIES];
    for (int i = 0; i < HALF_BODIES; i++) {
        half[i] = connect_to(&s);
        const char head[] = "POST /v1/functions/echo/invoke HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 1000000\r\n\r\n";
        send_all(half[i], head, sizeof(head) - 1);
        send_all(half[i], chunk, sizeof(chunk));
    }
    usleep(300000); /* let the server read what was sent */
    long grown = rss_kib(s.pid) - before;
    /* An AddressSanitizer build keeps freed memory in quarantine: its size means nothing. */
    if (!maps_library(s.pid, "libasan"))
        cr_expect_lt(grown, 16 * 1024, "%d half-sent bodies grew the server by %ld KiB",
                     HALF_BODIES, grown);
    static char big[1000000];
    memset(big, 'y', sizeof(big));
    struct reply r;
    http(&s, "POST", "/v1/functions/echo/invoke", big, sizeof(big), &r);
    cr_expect_eq(r.status, 503, "a body past the upload cap: %ld %.300s", r.status, r.body);
    cr_expect(strstr(r.body, "--max-uploads"), "%.300s", r.body);
    for (int i = 0; i < HALF_BODIES; i++)
        close(half[i]);
    usleep(300000);
    http(&s, "POST", "/v1/functions/echo/invoke", "after", 5, &r);
    cr_expect_eq(r.status, 200, "after the half-sent bodies went: %ld %.300s", r.status, r.body);
    cr_expect_eq(server_stop(&s), 0, "%s", server_log(&s));
}

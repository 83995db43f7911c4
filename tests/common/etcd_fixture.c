#include "etcd_fixture.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous: the machine is shared, and a member that joins must catch up. */
#define START_WAIT_S 60
/* A port taken between our probe and etcd's bind: start again with other ports. */
#define START_TRIES 3

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* n distinct ports that are free on host now: all bound at once, then released. */
static void free_ports(const char *host, int *ports, int n)
{
    int fds[2 * ETCD_FIXTURE_MAX];
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        cr_assert_eq(inet_pton(AF_INET, host, &a.sin_addr), 1,
                     "etcd fixture: \"%s\" is not "
                     "an IPv4 address",
                     host);
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(fds[i] >= 0);
        cr_assert_eq(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0,
                     "etcd fixture: cannot bind to %s: %s (is it an address of this machine?)",
                     host, strerror(errno));
        socklen_t len = sizeof(a);
        getsockname(fds[i], (struct sockaddr *)&a, &len);
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void log_path(const struct etcd_cluster *c, int i, char *out, size_t size)
{
    snprintf(out, size, "%s/%s.log", c->dir, c->m[i].name);
}

/* The end of member i's log, for a failure message. */
static const char *log_tail(const struct etcd_cluster *c, int i)
{
    static char text[4096];
    char path[256];
    log_path(c, i, path, sizeof(path));
    text[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return "(no log)";
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof(text) - 1 ? size - (long)sizeof(text) + 1 : 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
    return text;
}

static void spawn(struct etcd_cluster *c, int i)
{
    struct etcd_member *m = &c->m[i];
    char data[256], log[256], peer_url[96], cluster[1024] = "", token[64];
    snprintf(data, sizeof(data), "%s/data/%s", c->dir, m->name);
    log_path(c, i, log, sizeof(log));
    snprintf(peer_url, sizeof(peer_url), "http://%s:%d", c->host, m->peer_port);
    for (int j = 0; j < c->n; j++)
        snprintf(cluster + strlen(cluster), sizeof(cluster) - strlen(cluster), "%s%s=http://%s:%d",
                 j ? "," : "", c->m[j].name, c->host, c->m[j].peer_port);
    /* Unique per cluster: members of an earlier cluster on reused ports never join. */
    snprintf(token, sizeof(token), "tidal-test-%s", strrchr(c->dir, '/') + 1);
    const char *argv[] = {ETCD_FIXTURE_BIN,
                          "--name",
                          m->name,
                          "--data-dir",
                          data,
                          "--listen-client-urls",
                          m->client_url,
                          "--advertise-client-urls",
                          m->client_url,
                          "--listen-peer-urls",
                          peer_url,
                          "--initial-advertise-peer-urls",
                          peer_url,
                          "--initial-cluster",
                          cluster,
                          "--initial-cluster-token",
                          token,
                          "--initial-cluster-state",
                          "new",
                          "--heartbeat-interval",
                          "50",
                          "--election-timeout",
                          "500",
                          "--logger",
                          "zap",
                          "--log-outputs",
                          "stderr",
                          NULL};
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert(out >= 0, "etcd fixture: cannot create %s: %s", log, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "etcd fixture: fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out);
    setpgid(pid, pid); /* also here: kill(-pid) must work even before the child ran */
    m->pid = pid;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    char *body = arg;
    size_t have = strlen(body), add = size * n;
    if (add > 255 - have)
        add = 255 - have;
    memcpy(body + have, data, add);
    body[have + add] = 0;
    return size * n;
}

bool etcd_cluster_healthy(const struct etcd_cluster *c, int i)
{
    char url[128], body[256] = "";
    snprintf(url, sizeof(url), "%s/health", c->m[i].client_url);
    CURL *h = curl_easy_init();
    if (!h)
        return false;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    bool ok = curl_easy_perform(h) == CURLE_OK && strstr(body, "\"health\":\"true\"");
    curl_easy_cleanup(h);
    return ok;
}

/* Waits until member i is healthy: 1; 0 when it exited, with an "address already in
 * use" in its log (another process took a port); fails the test otherwise. */
static int wait_healthy(struct etcd_cluster *c, int i)
{
    double deadline = now_s() + START_WAIT_S;
    while (!etcd_cluster_healthy(c, i)) {
        int status;
        if (waitpid(c->m[i].pid, &status, WNOHANG) == c->m[i].pid) {
            c->m[i].pid = 0;
            if (strstr(log_tail(c, i), "address already in use"))
                return 0;
            cr_assert_fail("etcd member %s exited (status %d) before it was healthy:\n%s",
                           c->m[i].name, status, log_tail(c, i));
        }
        if (now_s() > deadline)
            cr_assert_fail("etcd member %s not healthy after %d s:\n%s", c->m[i].name, START_WAIT_S,
                           log_tail(c, i));
        usleep(50000);
    }
    return 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void etcd_cluster_start(struct etcd_cluster *c, int n, const char *host)
{
    memset(c, 0, sizeof(*c));
    if (access(ETCD_FIXTURE_BIN, X_OK))
        cr_skip_test("needs etcd (%s, Debian package etcd-server, which `make deps` "
                     "installs), skipped",
                     ETCD_FIXTURE_BIN);
    cr_assert(n >= 1 && n <= ETCD_FIXTURE_MAX, "etcd fixture: %d members", n);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int attempt = 1;; attempt++) {
        snprintf(c->host, sizeof(c->host), "%s", host ? host : "127.0.0.1");
        const char *tmp = getenv("TMPDIR");
        snprintf(c->dir, sizeof(c->dir), "%s/tidal-etcd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        cr_assert_not_null(mkdtemp(c->dir), "etcd fixture: mkdtemp: %s", strerror(errno));
        c->n = n;
        int ports[2 * ETCD_FIXTURE_MAX];
        free_ports(c->host, ports, 2 * n);
        c->endpoints[0] = 0;
        for (int i = 0; i < n; i++) {
            struct etcd_member *m = &c->m[i];
            snprintf(m->name, sizeof(m->name), "m%d", i);
            m->client_port = ports[2 * i];
            m->peer_port = ports[2 * i + 1];
            snprintf(m->client_url, sizeof(m->client_url), "http://%s:%d", c->host, m->client_port);
            snprintf(c->endpoints + strlen(c->endpoints),
                     sizeof(c->endpoints) - strlen(c->endpoints), "%s%s", i ? "," : "",
                     m->client_url);
        }
        for (int i = 0; i < n; i++)
            spawn(c, i);
        int up = 1;
        for (int i = 0; i < n && up; i++)
            up = wait_healthy(c, i);
        if (up)
            return;
        char tail[4096];
        snprintf(tail, sizeof(tail), "%s", log_tail(c, 0));
        etcd_cluster_stop(c);
        cr_assert(attempt < START_TRIES, "etcd fixture: ports taken %d times in a row:\n%s",
                  attempt, tail);
    }
}

void etcd_cluster_kill(struct etcd_cluster *c, int i)
{
    cr_assert(i >= 0 && i < c->n && c->m[i].pid, "etcd fixture: member %d is not running", i);
    kill(-c->m[i].pid, SIGKILL);
    waitpid(c->m[i].pid, NULL, 0);
    c->m[i].pid = 0;
}

void etcd_cluster_restart(struct etcd_cluster *c, int i)
{
    cr_assert(i >= 0 && i < c->n && !c->m[i].pid, "etcd fixture: member %d is running", i);
    spawn(c, i);
    cr_assert(wait_healthy(c, i), "etcd member %s: its ports were taken while it was down",
              c->m[i].name);
}

void etcd_cluster_stop(struct etcd_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->m[i].pid) {
            kill(-c->m[i].pid, SIGKILL);
            waitpid(c->m[i].pid, NULL, 0);
            c->m[i].pid = 0;
        }
    if (c->dir[0])
        nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    c->dir[0] = 0;
    c->n = 0;
}

int etcd_cluster_member(const struct etcd_cluster *c, const char *url)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->m[i].client_url, url))
            return i;
    return -1;
}

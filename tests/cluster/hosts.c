#include "hosts.h"
#include "../common/test_env.h"
#include "tidal/daemon.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void host_start(struct test_cluster *c, int i)
{
    struct test_host *h = &c->hosts[i];
    char port[16] = "7946", log[340];
    snprintf(log, sizeof(log), "%s/%s.err", c->dir, h->name);
    const char *argv[] = {"ip",
                          "netns",
                          "exec",
                          c->net->ns[i],
                          tidal_bin(),
                          "daemon",
                          "--state-dir",
                          h->state,
                          "--socket",
                          h->socket,
                          "--etcd",
                          c->endpoints,
                          "--store",
                          c->store,
                          "--host",
                          h->name,
                          "--advertise",
                          c->net->addr[i],
                          "--peer-port",
                          port,
                          "--lease-ttl",
                          CLUSTER_TTL,
                          "--checkpoint-interval",
                          "1",
                          "--tick",
                          "0.1",
                          NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&h->pid, "ip", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn ip netns exec: %s", strerror(rc));
    for (int t = 0; t < 600; t++) {
        struct tidal_response resp;
        struct tidal_err err;
        if (!tidal_client_request(h->socket, "GET", "/v1/host", NULL, &resp, &err)) {
            tidal_response_free(&resp);
            return;
        }
        int st;
        if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
            char said[1024] = "";
            FILE *f = fopen(log, "r");
            if (f) {
                size_t n = fread(said, 1, sizeof(said) - 1, f);
                said[n] = 0;
                fclose(f);
            }
            cr_assert_fail("host %s exited (status %d) before listening: %s", h->name,
                           WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), said);
        }
        sleep_ms(50);
    }
    cr_assert_fail("host %s did not listen on %s", h->name, h->socket);
}

void cluster_up(struct test_cluster *c, struct test_net *net, int n, const char *endpoints)
{
    memset(c, 0, sizeof(*c));
    c->net = net;
    c->n = n;
    snprintf(c->dir, sizeof(c->dir), "/tmp/tidal-cluster-test.XXXXXX");
    cr_assert_not_null(mkdtemp(c->dir));
    snprintf(c->store, sizeof(c->store), "%s/store", c->dir);
    snprintf(c->endpoints, sizeof(c->endpoints), "%s", endpoints);
    for (int i = 0; i < n; i++) {
        struct test_host *h = &c->hosts[i];
        snprintf(h->name, sizeof(h->name), "h%d", i);
        snprintf(h->socket, sizeof(h->socket), "%s/%s.sock", c->dir, h->name);
        snprintf(h->state, sizeof(h->state), "%s/%s", c->dir, h->name);
        host_start(c, i);
    }
}

void host_kill9(struct test_cluster *c, int i)
{
    struct test_host *h = &c->hosts[i];
    if (h->pid <= 0)
        return;
    /* `ip netns exec` execs the daemon: the pid is the daemon's */
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    h->pid = 0;
}

void cluster_down(struct test_cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        struct test_host *h = &c->hosts[i];
        if (h->pid <= 0)
            continue;
        kill(h->pid, SIGTERM);
        for (int t = 0; t < 200 && waitpid(h->pid, NULL, WNOHANG) == 0; t++)
            sleep_ms(50);
        host_kill9(c, i);
    }
    if (c->dir[0] && !getenv("TIDAL_KEEP_TEST_DIRS")) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
        if (system(cmd)) {
        }
    }
}

int host_api(struct test_cluster *c, int i, const char *method, const char *path, const char *body,
             cJSON **out)
{
    struct tidal_response resp;
    struct tidal_err err;
    if (out)
        *out = NULL;
    if (tidal_client_request(c->hosts[i].socket, method, path, body, &resp, &err))
        return 0;
    int status = resp.status;
    if (out)
        *out = cJSON_Parse(resp.body);
    tidal_response_free(&resp);
    return status;
}

bool cluster_vm(struct test_cluster *c, int i, const char *name, char host[16], double *epoch,
                char state[32])
{
    cJSON *o;
    if (host_api(c, i, "GET", "/v1/cluster", NULL, &o) != 200 || !o) {
        cJSON_Delete(o);
        return false;
    }
    bool found = false;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "vms"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name))
            continue;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "host");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "epoch");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "state");
        snprintf(host, 16, "%s", cJSON_IsString(h) ? h->valuestring : "");
        *epoch = cJSON_IsNumber(e) ? e->valuedouble : 0;
        snprintf(state, 32, "%s", cJSON_IsString(s) ? s->valuestring : "");
        found = true;
    }
    cJSON_Delete(o);
    return found;
}

int host_index(const struct test_cluster *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->hosts[i].name, name))
            return i;
    return -1;
}

char *host_console(struct test_cluster *c, int i, const char *name)
{
    char path[200];
    snprintf(path, sizeof(path), "/v1/vms/%s/console", name);
    struct tidal_response resp;
    struct tidal_err err;
    if (tidal_client_request(c->hosts[i].socket, "GET", path, NULL, &resp, &err))
        return NULL;
    char *text = resp.status == 200 ? strdup(resp.body) : NULL;
    tidal_response_free(&resp);
    return text;
}

#include "helpers.h"
#include "tidal/daemon.h"
#include "tidal/monitor.h"

#include <criterion/criterion.h>
#include <errno.h>
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

/* The longest any one wait may take before the test calls the daemon hung. */
#define HUNG_SECONDS 300

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void spawn(struct test_daemon *t, const char *const *extra)
{
    const char *argv[40] = {tidal_bin(), "daemon", "--state-dir", t->state, "--socket", t->socket};
    int n = 6;
    for (; extra && *extra && n < 38; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    char err_path[320];
    snprintf(err_path, sizeof(err_path), "%s/daemon.err", t->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawn(&t->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    for (int i = 0; i < HUNG_SECONDS * 20; i++) {
        struct tidal_response resp;
        struct tidal_err err;
        if (!tidal_client_request(t->socket, "GET", "/v1/host", NULL, &resp, &err)) {
            tidal_response_free(&resp);
            return;
        }
        int status;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid)
            cr_assert_fail("the daemon exited (status %d) before listening; see %s", status,
                           err_path);
        sleep_ms(50);
    }
    cr_assert_fail("the daemon did not listen on %s", t->socket);
}

void daemon_start(struct test_daemon *t, const char *const *extra)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/tidal-daemon-test.XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    chmod(t->dir, 0711); /* a daemon run as another user (--user) reaches its state */
    snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
    snprintf(t->socket, sizeof(t->socket), "%s/sock", t->dir);
    spawn(t, extra);
}

void daemon_restart(struct test_daemon *t, const char *const *extra)
{
    spawn(t, extra);
}

void daemon_kill9(struct test_daemon *t)
{
    kill(t->pid, SIGKILL);
    int status;
    waitpid(t->pid, &status, 0);
    t->pid = 0;
}

void daemon_stop(struct test_daemon *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        int status;
        waitpid(t->pid, &status, 0);
        t->pid = 0;
    }
    if (t->dir[0] && !getenv("TIDAL_KEEP_TEST_DIRS")) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", t->dir);
    }
}

int api(struct test_daemon *t, const char *method, const char *path, const char *body, cJSON **out)
{
    struct tidal_response resp;
    struct tidal_err err;
    if (out)
        *out = NULL;
    cr_assert_eq(tidal_client_request(t->socket, method, path, body, &resp, &err), 0, "%s %s: %s",
                 method, path, err.msg);
    if (out)
        *out = resp.len ? cJSON_Parse(resp.body) : NULL;
    int status = resp.status;
    tidal_response_free(&resp);
    return status;
}

char *api_text(struct test_daemon *t, const char *path, int *status)
{
    struct tidal_response resp;
    struct tidal_err err;
    cr_assert_eq(tidal_client_request(t->socket, "GET", path, NULL, &resp, &err), 0, "GET %s: %s",
                 path, err.msg);
    *status = resp.status;
    return resp.body;
}

static const cJSON *lookup(const cJSON *o, const char *dotted)
{
    char key[128];
    snprintf(key, sizeof(key), "%s", dotted);
    char *save = NULL;
    for (char *part = strtok_r(key, ".", &save); part && o; part = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, part);
    return o;
}

const char *jstr(const cJSON *o, const char *dotted)
{
    const cJSON *v = lookup(o, dotted);
    return cJSON_IsString(v) ? v->valuestring : "";
}

double jnum(const cJSON *o, const char *dotted)
{
    const cJSON *v = lookup(o, dotted);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

void wait_for(struct test_daemon *t, bool (*fn)(struct test_daemon *, void *), void *arg,
              const char *what)
{
    for (int i = 0; i < HUNG_SECONDS * 50; i++) {
        if (fn(t, arg))
            return;
        sleep_ms(20);
    }
    cr_assert_fail("gave up waiting for %s (see %s/state/daemon.log)", what, t->dir);
}

int run_cli(struct test_daemon *t, const char *const *args, char *out, size_t size)
{
    char env_sock[400];
    snprintf(env_sock, sizeof(env_sock), "TIDAL_SOCKET=%s", t->socket);
    char *envp[] = {env_sock, NULL};
    return run_tidal_captured(args, envp, out, size);
}

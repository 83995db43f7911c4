#include "harness.h"
#include "tidal/monitor.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void run_program(const char *const *argv, const char *stdin_data, struct tidal_proc *p)
{
    int in[2], out[2], err[2];
    cr_assert(pipe(in) == 0 && pipe(out) == 0 && pipe(err) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    for (int i = 0; i < 2; i++) {
        posix_spawn_file_actions_addclose(&fa, in[i]);
        posix_spawn_file_actions_addclose(&fa, out[i]);
        posix_spawn_file_actions_addclose(&fa, err[i]);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_data) {
        /* A program that exits before it reads its input (a refused snapshot, say)
         * closes the pipe: EPIPE is its answer, not the test's failure. */
        signal(SIGPIPE, SIG_IGN);
        size_t len = strlen(stdin_data);
        ssize_t n = write(in[1], stdin_data, len);
        cr_assert(n == (ssize_t)len || (n < 0 && errno == EPIPE), "writing stdin: %s",
                  strerror(errno));
    }
    close(in[1]);
    p->out_len = p->err_len = 0;
    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds) {
        if (poll(fds, 2, -1) < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            char *buf = i ? p->err : p->out;
            size_t *len = i ? &p->err_len : &p->out_len;
            char scratch[4096];
            size_t room = sizeof(p->out) - 1 - *len;
            ssize_t n = read(fds[i].fd, room ? buf + *len : scratch, room ? room : sizeof(scratch));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (room) {
                *len += (size_t)n;
            }
        }
    }
    p->out[p->out_len] = 0;
    p->err[p->err_len] = 0;
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_tidal(const char *const *args, const char *stdin_data, struct tidal_proc *p)
{
    const char *argv[64];
    argv[0] = tidal_bin();
    size_t n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    run_program(argv, stdin_data, p);
}

static cJSON *stats_line(const struct tidal_proc *p)
{
    /* The stats line is the last line of stderr that starts with '{'. */
    const char *line = NULL;
    for (const char *s = p->err; (s = strchr(s, '{')); s++)
        if (s == p->err || s[-1] == '\n')
            line = s;
    return line ? cJSON_Parse(line) : NULL;
}

double stats_value(const struct tidal_proc *p, const char *dotted)
{
    cJSON *root = stats_line(p), *node = root;
    char key[128];
    snprintf(key, sizeof(key), "%s", dotted);
    for (char *part = strtok(key, "."); part && node; part = strtok(NULL, "."))
        node = cJSON_GetObjectItemCaseSensitive(node, part);
    double v = cJSON_IsNumber(node) ? node->valuedouble : -1;
    cJSON_Delete(root);
    return v;
}

double stats_sum(const struct tidal_proc *p, const char *object)
{
    cJSON *root = stats_line(p);
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, object), *item;
    double sum = obj ? 0 : -1;
    cJSON_ArrayForEach(item, obj) sum += item->valuedouble;
    cJSON_Delete(root);
    return sum;
}

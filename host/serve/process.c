/* The process-per-request baseline: the same front end fork+exec'ing the function's
 * static Linux build for every request, with the body as stdin. Its stdout comes
 * through a pipe into the bounded output file, so that a process writing more than
 * max_output is caught (and killed) rather than silently cut short. */
#include "fn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum child_end { CHILD_EXITED, CHILD_TIMED_OUT, CHILD_OVERFLOWED };

static int pidfd_open_compat(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves what the pipe holds into the output file. Returns 0 at end of output, 1 for
 * more to come, -1 when the output file is full (or failed). */
static int pump(int pipe_fd, int out_fd)
{
    char buf[65536];
    ssize_t n = read(pipe_fd, buf, sizeof(buf));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    for (ssize_t done = 0; done < n;) {
        ssize_t w = write(out_fd, buf + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += w;
    }
    return 1;
}

/* Copies the child's output until it ends and the child exits, within the timeout. */
static enum child_end supervise(pid_t pid, int pipe_fd, int out_fd, double timeout_sec)
{
    int pidfd = pidfd_open_compat(pid);
    int64_t deadline = now_ms() + (int64_t)(timeout_sec * 1000);
    bool output_open = true, exited = pidfd < 0;
    enum child_end end = CHILD_EXITED;
    while (output_open || !exited) {
        int64_t left = deadline - now_ms();
        struct pollfd p[2] = {{.fd = output_open ? pipe_fd : -1, .events = POLLIN},
                              {.fd = exited ? -1 : pidfd, .events = POLLIN}};
        int r = left > 0 ? poll(p, 2, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            end = CHILD_TIMED_OUT;
            break;
        }
        if (p[0].revents) {
            int more = pump(pipe_fd, out_fd);
            if (more < 0) {
                end = CHILD_OVERFLOWED;
                break;
            }
            output_open = more > 0;
        }
        if (p[1].revents)
            exited = true;
    }
    if (end != CHILD_EXITED)
        kill(pid, SIGKILL);
    if (pidfd >= 0)
        close(pidfd);
    return end;
}

static pid_t spawn(const char *image, int in_fd, int out_fd, int err_fd, int *rc)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
    /* The server blocks SIGTERM/SIGINT and ignores SIGPIPE; the function starts with
     * the defaults, as from a shell. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)image, NULL};
    char *envp[] = {NULL};
    pid_t pid = -1;
    *rc = posix_spawn(&pid, image, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return *rc ? -1 : pid;
}

static void spawn_failed(struct tidal_invocation *out, const char *image, int err)
{
    out->outcome = OUTCOME_ERROR;
    snprintf(out->detail, sizeof(out->detail), "spawn %.300s: %s", image, strerror(err));
}

void tidal_process_invoke(struct tidal_function *fn, int in_fd, int out_fd, int err_fd,
                          struct tidal_invocation *out)
{
    const struct tidal_fn_limits *l = &fn->spec->limits;
    int pipefd[2], rc;
    if (pipe2(pipefd, O_CLOEXEC))
        return spawn_failed(out, fn->spec->image, errno);
    pid_t pid = spawn(fn->spec->image, in_fd, pipefd[1], err_fd, &rc);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return spawn_failed(out, fn->spec->image, rc);
    }
    atomic_fetch_add(&fn->counters.spawns, 1);
    enum child_end end = supervise(pid, pipefd[0], out_fd, l->timeout_sec);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    out->output_overflow = end == CHILD_OVERFLOWED;
    if (end == CHILD_TIMED_OUT) {
        out->outcome = OUTCOME_TIMEOUT;
        snprintf(out->detail, sizeof(out->detail), "process killed after its %.3g s timeout",
                 l->timeout_sec);
    } else if (end == CHILD_OVERFLOWED || WIFEXITED(status)) {
        tidal_invocation_exited(out, end == CHILD_OVERFLOWED ? 0 : WEXITSTATUS(status));
    } else {
        out->outcome = OUTCOME_CRASHED;
        snprintf(out->detail, sizeof(out->detail), "process killed by signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
}

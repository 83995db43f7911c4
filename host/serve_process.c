/* The process-per-request baseline: the same front end fork+exec'ing the function's
 * static Linux build for every request, with the body as stdin. */
#include "serve_fn.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd_open_compat(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Waits for the child up to timeout_sec; kills it past that. Returns 1 on timeout. */
static int wait_child(pid_t pid, double timeout_sec, int *status)
{
    int pidfd = pidfd_open_compat(pid);
    int timed_out = 0;
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;
        do
            r = poll(&p, 1, (int)(timeout_sec * 1000));
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            kill(pid, SIGKILL);
            timed_out = 1;
        }
        close(pidfd);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return timed_out;
}

void tidal_process_invoke(struct tidal_function *fn, int in_fd, int out_fd, int err_fd,
                          struct tidal_invocation *out)
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
    char *argv[] = {fn->spec->image, NULL};
    char *envp[] = {NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, fn->spec->image, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        out->outcome = OUTCOME_ERROR;
        snprintf(out->detail, sizeof(out->detail), "spawn %.300s: %s", fn->spec->image,
                 strerror(rc));
        return;
    }
    atomic_fetch_add(&fn->counters.spawns, 1);
    int status = 0;
    if (wait_child(pid, fn->spec->limits.timeout_sec, &status)) {
        out->outcome = OUTCOME_TIMEOUT;
        snprintf(out->detail, sizeof(out->detail), "process killed after its %.3g s timeout",
                 fn->spec->limits.timeout_sec);
    } else if (WIFEXITED(status)) {
        out->exit_status = WEXITSTATUS(status);
        out->outcome = out->exit_status ? OUTCOME_FAILED : OUTCOME_OK;
        if (out->exit_status)
            snprintf(out->detail, sizeof(out->detail), "exit status %d", out->exit_status);
    } else {
        out->outcome = OUTCOME_CRASHED;
        snprintf(out->detail, sizeof(out->detail), "process killed by signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
}

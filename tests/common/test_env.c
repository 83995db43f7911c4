#include "test_env.h"
#include "tidal/monitor.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *path_to(const char *relative)
{
    static char buf[8][4096];
    static int next;
    const char *root = getenv("TIDAL_ROOT");
    char *out = buf[next++ % 8];
    snprintf(out, sizeof(buf[0]), "%s/%s", root ? root : ".", relative);
    return out;
}

const char *tidal_bin(void)
{
    const char *bin = getenv("TIDAL_BIN");
    return bin ? bin : path_to("build/tidal");
}

const char *abs_path_to(const char *relative)
{
    static char full[8][PATH_MAX];
    static int next;
    char *out = full[next++ % 8];
    cr_assert_not_null(realpath(path_to(relative), out), "%s: build it first", relative);
    return out;
}

int run_tidal_captured(const char *const *args, char *const *envp, char *out, size_t size)
{
    const char *argv[40] = {tidal_bin()};
    int n = 1;
    for (; *args && n < 39; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot run %s", argv[0]);
    close(pipefd[1]);
    size_t len = 0;
    ssize_t got;
    while (len + 1 < size && (got = read(pipefd[0], out + len, size - 1 - len)) > 0)
        len += (size_t)got;
    out[len] = 0;
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void require_kvm(void)
{
    struct tidal_err err;
    if (tidal_kvm_available(&err))
        cr_skip_test("needs KVM, skipped: %s (run `make test-nested` to run this suite "
                     "inside QEMU with nested KVM)",
                     err.msg);
}

long proc_status_field(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, len) && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* proc-timer: whole-process wall time of two commands, A and B, run alternately
 * (A, B, A, B...) so that machine noise (frequency changes, other load, page cache)
 * hits both alike. Prints median and p90 of each and the ratio of the medians, as
 * `BENCH <name> <value> <unit>` lines and a readable table.
 *
 * usage: proc-timer [-n RUNS] [-w WARMUP] [-p PREFIX] [--name-a A] [--name-b B]
 *                   [--show-output] [--stderr-a FILE] [--status-a N] -- CMD_A... [--vs CMD_B...]
 *
 * Each run is posix_spawn (vfork + execve in glibc) + waitpid, timed with
 * CLOCK_MONOTONIC. posix_spawn rather than fork: fork's cost grows with the
 * parent's page tables and belongs to neither command, so it would only add noise.
 * A run that does not exit with status 0 (A: --status-a, for a command timed on its
 * way to a documented failure) is an error, never a sample. */
#include "bench_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
    const char *name;
    char **argv;
    const char *stderr_path; /* NULL: /dev/null (or inherited with --show-output) */
    int status;              /* the exit status of a run that did its work */
    double *ms;              /* one sample per timed run */
};

static void usage(void)
{
    fputs("usage: proc-timer [-n RUNS] [-w WARMUP] [-p PREFIX] [--name-a A] [--name-b B]\n"
          "                  [--show-output] [--stderr-a FILE] [--status-a N]\n"
          "                  -- CMD_A... [--vs CMD_B...]\n",
          stderr);
    exit(2);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs c once; returns its wall time in ms, or exits the program if it failed:
 * a sample from a run that did not do its work would be meaningless. */
static double run_once(const struct cmd *c, int show_output)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!show_output)
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (c->stderr_path)
        posix_spawn_file_actions_addopen(&fa, 2, c->stderr_path, O_WRONLY | O_CREAT | O_APPEND,
                                         0644);
    else if (!show_output)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

    pid_t pid;
    double t0 = now_ms();
    int r = posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, environ);
    if (r) {
        fprintf(stderr, "proc-timer: %s: %s\n", c->argv[0], strerror(r));
        exit(1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("proc-timer: waitpid");
            exit(1);
        }
    }
    double t1 = now_ms();
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != c->status) {
        fprintf(stderr, "proc-timer: %s (%s) failed: ", c->name, c->argv[0]);
        if (WIFEXITED(status))
            fprintf(stderr, "exit status %d, expected %d\n", WEXITSTATUS(status), c->status);
        else
            fprintf(stderr, "killed by signal %d\n", WTERMSIG(status));
        exit(1);
    }
    return t1 - t0;
}

int main(int argc, char **argv)
{
    int runs = 200, warmup = 5, show_output = 0;
    const char *prefix = "proc";
    struct cmd cmds[2] = {{.name = "a"}, {.name = "b"}};
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--show-output")) {
            show_output = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *val = argv[++i];
        if (!strcmp(opt, "-n"))
            runs = parse_count("proc-timer", val, 1);
        else if (!strcmp(opt, "-w"))
            warmup = parse_count("proc-timer", val, 0);
        else if (!strcmp(opt, "-p"))
            prefix = val;
        else if (!strcmp(opt, "--name-a"))
            cmds[0].name = val;
        else if (!strcmp(opt, "--name-b"))
            cmds[1].name = val;
        else if (!strcmp(opt, "--stderr-a"))
            cmds[0].stderr_path = val;
        else if (!strcmp(opt, "--status-a"))
            cmds[0].status = parse_count("proc-timer", val, 0);
        else
            usage();
    }
    if (i + 1 >= argc)
        usage();
    /* CMD_A runs to "--vs", CMD_B from there to the end; the split is done in place. */
    cmds[0].argv = &argv[i + 1];
    int ncmds = 1;
    for (int j = i + 1; j < argc; j++) {
        if (!strcmp(argv[j], "--vs")) {
            argv[j] = NULL;
            if (j + 1 >= argc || j == i + 1)
                usage();
            cmds[1].argv = &argv[j + 1];
            ncmds = 2;
            break;
        }
    }

    for (int c = 0; c < ncmds; c++) {
        cmds[c].ms = malloc(sizeof(double) * (size_t)runs);
        if (!cmds[c].ms) {
            perror("proc-timer");
            return 1;
        }
    }
    /* Warm-up: page cache, dynamic loader caches, CPU frequency; not recorded. */
    for (int r = 0; r < warmup; r++)
        for (int c = 0; c < ncmds; c++)
            run_once(&cmds[c], show_output);
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < ncmds; c++)
            cmds[c].ms[r] = run_once(&cmds[c], show_output);

    double med[2], p90[2];
    printf("%-24s %6s %12s %12s %12s %12s\n", "whole process", "runs", "median ms", "p90 ms",
           "min ms", "max ms");
    for (int c = 0; c < ncmds; c++) {
        med[c] = median(cmds[c].ms, runs);
        p90[c] = percentile(cmds[c].ms, runs, 90);
        printf("%-24s %6d %12.3f %12.3f %12.3f %12.3f\n", cmds[c].name, runs, med[c], p90[c],
               cmds[c].ms[0], cmds[c].ms[runs - 1]);
    }
    if (ncmds == 2)
        printf("%-24s %6s %12.2fx  (%s median / %s median)\n", "ratio", "", med[0] / med[1],
               cmds[0].name, cmds[1].name);
    for (int c = 0; c < ncmds; c++) {
        printf("BENCH %s_%s_median %.4f ms\n", prefix, cmds[c].name, med[c]);
        printf("BENCH %s_%s_p90 %.4f ms\n", prefix, cmds[c].name, p90[c]);
    }
    if (ncmds == 2)
        printf("BENCH %s_ratio %.3f x\n", prefix, med[0] / med[1]);
    for (int c = 0; c < ncmds; c++)
        free(cmds[c].ms);
    return 0;
}

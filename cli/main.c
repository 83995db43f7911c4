/* `tidal`: the command-line front end. The commands that start guests (run, restore,
 * clone) live here; the others need HTTP and JSON libraries, and every process that
 * loads those pays for it at start, so they live in tidal-host, next to this binary,
 * which this one becomes (exec, same process) for them. Each subcommand lives in its
 * own file. */
#include "commands.h"
#include "exit_codes.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: tidal <command> [options]\n"
          "\n"
          "commands:\n"
          "  run [--mem SIZE] [--timeout SEC] [--stats] [--env K=V]...\n"
          "      [--snapshot-on-ready SNAP] [--snapshot-path SNAP [--diff]] IMAGE [--] [ARGS...]\n"
          "                    boot a guest ELF image as a microVM; its output and exit\n"
          "                    status are tidal's; save it at tidal_ready() (and stop),\n"
          "                    or on SIGUSR1 (and run on; --diff: later saves are diffs)\n"
          "  restore [--input FILE] [--clone-id N] [--timeout SEC] [--stats] SNAP [DIFF...]\n"
          "                    resume a saved guest (a snapshot, then its diffs in order)\n"
          "                    with FILE as its stdin\n"
          "  clone SNAP -n N [--input-dir DIR] [--output-dir DIR] [--threads T]\n"
          "                    run N clones of a saved guest concurrently, each with its\n"
          "                    own input and output file\n"
          "  serve --listen HOST:PORT --function NAME=IMAGE... [--config FILE]\n"
          "                    serve functions over HTTP, each request in a fresh clone\n"
          "                    of the function's template (tidal serve --help)\n"
          "  plan ...          plan day and night workloads onto hosts (tidal plan --help)\n"
          "  daemon --state-dir DIR [--socket PATH] [--checkpoint-interval SEC]\n"
          "         [--clock-start TIME] [--clock-scale X]\n"
          "                    own this host's microVMs: REST API on a Unix socket, batch\n"
          "                    jobs run in their windows (docs/api.md)\n"
          "  vm create|start|pause|resume|snapshot|suspend|restore|stop|rm|get|console|ls\n"
          "                    VMs on the daemon (tidal vm for usage)\n"
          "  ps                list the daemon's VMs\n"
          "  top               every VM on the host, live, from the kernel (--once, --json)\n"
          "  batch submit JOB.json|ls|get NAME|cancel NAME\n"
          "                    batch jobs on the daemon, with progress bars\n"
          "  version           print the version and the guest ABI version\n",
          out);
}

/* The commands that host_main.c dispatches, in tidal-host. */
static bool is_host_command(const char *cmd)
{
    static const char *const names[] = {"serve", "daemon", "vm", "ps", "batch", "top", "plan"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(cmd, names[i]))
            return true;
    return false;
}

/* Replaces this process with tidal-host from our own directory, argv unchanged but
 * for argv[0]: same pid, so whoever started `tidal serve` or `tidal daemon` can
 * signal and wait for it as before. Returns only on failure. */
static int exec_host(char **argv)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n < 0) {
        fprintf(stderr, "tidal: /proc/self/exe: %s\n", strerror(errno));
        return TIDAL_RC_SYSTEM;
    }
    path[n] = 0;
    char *slash = strrchr(path, '/');
    const char *host = "tidal-host";
    if (!slash || (size_t)(slash + 1 - path) + strlen(host) >= sizeof(path)) {
        fprintf(stderr, "tidal: cannot place tidal-host next to '%s'\n", path);
        return TIDAL_RC_SYSTEM;
    }
    strcpy(slash + 1, host);
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr,
            "tidal: %s: %s (the '%s' command is in tidal-host, which belongs in the directory of "
            "tidal)\n",
            path, strerror(errno), argv[1]);
    return TIDAL_RC_SYSTEM;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TIDAL_RC_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return tidal_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "restore"))
        return tidal_cmd_restore(argc - 1, argv + 1);
    if (!strcmp(cmd, "clone"))
        return tidal_cmd_clone(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tidal %s (guest ABI %d)\n", TIDAL_VERSION, TIDAL_ABI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (is_host_command(cmd))
        return exec_host(argv);
    fprintf(stderr, "tidal: unknown command '%s'\n", cmd);
    usage(stderr);
    return TIDAL_RC_USAGE;
}

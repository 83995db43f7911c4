/* `tidal`: the command-line front end. Each subcommand lives in its own file. */
#include "commands.h"
#include "exit_codes.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: tidal <command> [options]\n"
          "\n"
          "commands:\n"
          "  run [--mem SIZE] [--timeout SEC] [--stats] [--env K=V]... IMAGE [--] [ARGS...]\n"
          "                    boot a guest ELF image as a microVM; its output and exit\n"
          "                    status are tidal's\n"
          "  plan ...          plan day and night workloads onto hosts (tidal plan --help)\n"
          "  version           print the version and the guest ABI version\n",
          out);
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
    if (!strcmp(cmd, "plan"))
        return tidal_cmd_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tidal %s (guest ABI %d)\n", TIDAL_VERSION, TIDAL_ABI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "tidal: unknown command '%s'\n", cmd);
    usage(stderr);
    return TIDAL_RC_USAGE;
}

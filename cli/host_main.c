/* `tidal-host`: the commands of `tidal` that serve or talk HTTP and read JSON (serve,
 * daemon, vm, ps, batch, top, plan). `tidal` execs it for them; see main.c for why they
 * are a binary of their own. */
#include "commands.h"
#include "exit_codes.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *cmd = argc < 2 ? "" : argv[1];
    if (!strcmp(cmd, "serve"))
        return tidal_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "daemon"))
        return tidal_cmd_daemon(argc - 1, argv + 1);
    if (!strcmp(cmd, "vm"))
        return tidal_cmd_vm(argc - 1, argv + 1);
    if (!strcmp(cmd, "ps"))
        return tidal_cmd_ps(argc - 1, argv + 1);
    if (!strcmp(cmd, "batch"))
        return tidal_cmd_batch(argc - 1, argv + 1);
    if (!strcmp(cmd, "top"))
        return tidal_cmd_top(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan"))
        return tidal_cmd_plan(argc - 1, argv + 1);
    fprintf(stderr,
            "tidal-host: unknown command '%s': it runs serve, daemon, vm, ps, batch, top and plan "
            "for tidal (tidal help lists every command)\n",
            cmd);
    return TIDAL_RC_USAGE;
}

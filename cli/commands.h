#ifndef TIDAL_COMMANDS_H
#define TIDAL_COMMANDS_H

#include "tidal/abi.h"

#define TIDAL_VERSION "0.1.0"

/* argv[0] is the subcommand's name. Each returns tidal's exit code. */

/* In tidal: the commands that start guests. */
int tidal_cmd_run(int argc, char **argv);
int tidal_cmd_restore(int argc, char **argv);
int tidal_cmd_clone(int argc, char **argv);

/* In tidal-host: the commands that serve or talk HTTP and read JSON. */
int tidal_cmd_plan(int argc, char **argv);
int tidal_cmd_serve(int argc, char **argv);
int tidal_cmd_daemon(int argc, char **argv);
int tidal_cmd_vm(int argc, char **argv);
int tidal_cmd_ps(int argc, char **argv);
int tidal_cmd_batch(int argc, char **argv);
int tidal_cmd_top(int argc, char **argv);

#endif

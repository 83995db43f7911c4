/* Shared by the CLI commands that talk to `tidal daemon` (cli/vm.c, cli/batch.c). */
#ifndef TIDAL_DAEMON_CLI_H
#define TIDAL_DAEMON_CLI_H

#include <cjson/cJSON.h>

/* --socket SOCK before the subcommand's own arguments; else $TIDAL_SOCKET; else the
 * default. Consumes the option from argv. */
const char *tidal_cli_socket(int *argc, char **argv);

/* One API call. Prints the daemon's error message (or the transport failure) to
 * stderr prefixed with `who` and returns a TIDAL_RC_* code; on success 0 and *out (may
 * be NULL when not wanted) holds the parsed JSON body. */
int tidal_cli_call(const char *who, const char *socket, const char *method, const char *path,
                   const char *body, cJSON **out);

/* POSTs body (consumed) to path and prints the created object's name and state. */
int tidal_cli_create(const char *who, const char *socket, const char *path, cJSON *body);

/* A member of an API answer for display: "" / 0 when absent or of another type. */
const char *tidal_cli_str(const cJSON *o, const char *name);
double tidal_cli_num(const cJSON *o, const char *name);

/* "64M" style sizes and a text progress bar of `width` cells. */
void tidal_cli_bar(double fraction, int width, char *out);
void tidal_cli_size(double bytes, char out[16]);

#endif

/* What `tidal run`, `restore` and `clone` share: exit codes and reports. */
#ifndef TIDAL_VM_REPORT_H
#define TIDAL_VM_REPORT_H

#include "tidal/monitor.h"

#include <stdbool.h>
#include <stdio.h>

/* tidal's exit code for a failed tidal_vm_create / restore (TIDAL_CREATE_*). */
int tidal_cli_create_rc(int create_rc);

/* tidal's exit code for how a guest stopped: its status, 70, 124, 71. */
int tidal_cli_exit_rc(const struct tidal_run_result *res);

/* Prints the report of an abnormal stop ("<cmd>: <label>: ...") and, with stats, the
 * JSON stats line; destroys the VM. Returns rc_override when >= 0, else the exit
 * code for how the guest stopped. */
int tidal_cli_finish(struct tidal_vm *vm, struct tidal_run_result *res, const char *cmd,
                     const char *label, bool stats, int rc_override);

/* Writes the --stats JSON line for a VM that has run. */
void tidal_cli_print_stats(FILE *out, struct tidal_vm *vm, const struct tidal_run_result *res);

struct tidal_snap;
/* Opens a snapshot file for `cmd`, printing why not: returns 0, or 66 (missing,
 * unreadable) or 65 (not a valid snapshot). */
int tidal_cli_open_snapshot(const char *cmd, const char *path, struct tidal_snap **snap);

/* "--timeout" values: seconds, a finite number > 0. */
int tidal_cli_parse_timeout(const char *text, double *seconds);

#endif

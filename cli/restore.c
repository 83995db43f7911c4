/* `tidal restore SNAP`: resume a saved guest from tidal_ready() with new input. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/snapshot_vm.h"
#include "vm_report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal restore: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal restore [--input FILE] [--clone-id N] [--timeout SEC] [--stats] "
          "SNAP\n",
          stderr);
    return TIDAL_RC_USAGE;
}

int tidal_cmd_restore(int argc, char **argv)
{
    const char *input = NULL, *snap_path = NULL;
    double timeout = 0;
    unsigned long long clone_id = 0;
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] != '-') {
            if (snap_path)
                return usage_error("unexpected argument '%s'", opt);
            snap_path = opt;
            continue;
        }
        if (!strcmp(opt, "--stats")) {
            stats = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        char *end;
        if (!strcmp(opt, "--input")) {
            input = val;
        } else if (!strcmp(opt, "--timeout")) {
            if (tidal_cli_parse_timeout(val, &timeout))
                return usage_error("--timeout '%s': expected seconds, a number > 0", val);
        } else if (!strcmp(opt, "--clone-id")) {
            errno = 0;
            clone_id = strtoull(val, &end, 10);
            if (errno || *end || end == val)
                return usage_error("--clone-id '%s': expected a number", val);
        } else {
            return usage_error("unknown option '%s'", opt);
        }
    }
    if (!snap_path)
        return usage_error("%s", "missing SNAP");
    signal(SIGPIPE, SIG_IGN);

    int in_fd = 0;
    if (input && (in_fd = open(input, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "tidal restore: %s: %s\n", input, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    struct tidal_err err;
    struct tidal_snap *snap;
    if (access(snap_path, R_OK)) {
        fprintf(stderr, "tidal restore: %s: %s\n", snap_path, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    if (tidal_snap_open(snap_path, &snap, &err)) {
        fprintf(stderr, "tidal restore: %s\n", err.msg);
        return TIDAL_RC_BAD_INPUT;
    }
    struct tidal_vm_config cfg = {
        .timeout_sec = timeout,
        .in_fd = in_fd,
        .out_fd = 1,
        .err_fd = 2,
        .stdout_is_tty = isatty(1),
    };
    struct tidal_vm *vm;
    int rc = tidal_snapshot_restore(snap, &cfg, clone_id, NULL, &vm, &err);
    tidal_snap_close(snap);
    if (rc) {
        fprintf(stderr, "tidal restore: %s: %s\n", snap_path, err.msg);
        tidal_vm_destroy(vm);
        return tidal_cli_create_rc(rc);
    }
    struct tidal_run_result res = {0};
    do /* a guest may come back to tidal_ready(); with nothing to save, it goes on */
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    rc = tidal_cli_finish(vm, &res, "tidal restore", snap_path, stats, -1);
    if (in_fd > 0)
        close(in_fd);
    return rc;
}

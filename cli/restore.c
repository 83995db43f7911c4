/* `tidal restore SNAP`: resume a saved guest from tidal_ready() with new input. */
#include "commands.h"
#include "console_timer.h"
#include "exit_codes.h"
#include "tidal/confine.h"
#include "tidal/file.h"
#include "tidal/fsimage.h"
#include "tidal/prefetch.h"
#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"
#include "vm_report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHAIN 64
#define MAX_TREES 64

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal restore: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal restore [--input FILE] [--clone-id N] [--timeout SEC] [--stats] "
          "[--prefetch]\n"
          "                     [--dir HOST:GUEST]... [--file HOST:GUEST]... SNAP [DIFF...]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

/* A missing or unusable working set only costs speed: say so and go on. */
static void prefetch_working_set(struct tidal_vm *vm, const char *path)
{
    struct tidal_err err;
    struct tidal_ws *ws;
    uint64_t size;
    tidal_vm_memory(vm, &size);
    if (tidal_ws_load(path, size, &ws, &err)) {
        fprintf(stderr, "tidal restore: ignoring %s\n", err.msg);
        return;
    }
    tidal_ws_prefetch(ws, vm);
    tidal_ws_free(ws);
}

static void close_chain(struct tidal_snap **chain, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        tidal_snap_close(chain[i]);
}

int tidal_cmd_restore(int argc, char **argv)
{
    const char *input = NULL, *paths[MAX_CHAIN];
    unsigned npaths = 0;
    double timeout = 0;
    unsigned long long clone_id = 0;
    bool stats = false, prefetch = false;
    struct tidal_fs_spec trees[MAX_TREES];
    unsigned ntrees = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] != '-') {
            if (npaths == MAX_CHAIN)
                return usage_error("more than %s snapshot files", "64");
            paths[npaths++] = opt;
            continue;
        }
        if (!strcmp(opt, "--stats")) {
            stats = true;
            continue;
        }
        if (!strcmp(opt, "--no-seccomp")) {
            tidal_confine_disable();
            continue;
        }
        if (!strcmp(opt, "--prefetch")) {
            prefetch = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        char *end;
        if (!strcmp(opt, "--dir") || !strcmp(opt, "--file")) {
            struct tidal_err err;
            if (ntrees == MAX_TREES)
                return usage_error("more than %s --dir and --file options", "64");
            if (tidal_fs_spec_parse(argv[i], !strcmp(opt, "--dir"), &trees[ntrees], &err))
                return usage_error("%s", err.msg);
            ntrees++;
        } else if (!strcmp(opt, "--input")) {
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
    if (!npaths)
        return usage_error("%s", "missing SNAP");
    signal(SIGPIPE, SIG_IGN);

    struct tidal_err err;
    int in_fd = 0;
    if (input && (in_fd = tidal_file_open(input, false, &err)) < 0) {
        fprintf(stderr, "tidal restore: %s\n", err.msg);
        return TIDAL_RC_NO_INPUT;
    }
    struct tidal_snap *chain[MAX_CHAIN];
    unsigned opened = 0;
    int rc;
    for (; opened < npaths; opened++) {
        rc = tidal_cli_open_snapshot("tidal restore", paths[opened], &chain[opened]);
        if (rc) {
            close_chain(chain, opened);
            return rc;
        }
    }
    struct tidal_vm_config cfg = {
        .timeout_sec = timeout,
        .in_fd = in_fd,
        .out_fd = 1,
        .err_fd = 2,
        .stdout_is_tty = isatty(1),
    };
    struct tidal_vm *vm;
    rc = tidal_snapshot_restore((const struct tidal_snap *const *)chain, npaths, &cfg, clone_id,
                                NULL, &vm, &err);
    close_chain(chain, npaths); /* the guest's memory mappings outlive the files */
    if (rc) {
        fprintf(stderr, "tidal restore: %s: %s\n", paths[npaths - 1], err.msg);
        tidal_vm_destroy(vm);
        return tidal_cli_create_rc(rc);
    }
    /* The guest has its files in its memory; given again, they must be the same. */
    uint64_t mem_size;
    const uint8_t *mem = tidal_vm_memory(vm, &mem_size);
    if (ntrees && tidal_fs_match_snapshot(mem, mem_size, trees, ntrees, &err)) {
        fprintf(stderr, "tidal restore: %s: %s\n", paths[npaths - 1], err.msg);
        tidal_vm_destroy(vm);
        return TIDAL_RC_BAD_INPUT;
    }
    char ws_path[4096];
    snprintf(ws_path, sizeof(ws_path), "%s.ws", paths[npaths - 1]);
    if (prefetch)
        prefetch_working_set(vm, ws_path);
    struct tidal_run_result res = {0};
    struct console_timer timer;
    console_timer_start(&timer, vm, cfg.stdout_is_tty);
    if (tidal_confine(TIDAL_CONFINE_MONITOR, &err)) {
        fprintf(stderr, "tidal restore: %s\n", err.msg);
        console_timer_stop(&timer);
        return tidal_cli_finish(vm, &res, "tidal restore", paths[npaths - 1], stats,
                                TIDAL_RC_SYSTEM);
    }
    do /* a guest may come back to tidal_ready(); with nothing to save, it goes on */
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    console_timer_stop(&timer);
    /* What this run touched is the next run's working set. */
    if (prefetch && res.reason == TIDAL_EXIT_HALTED && tidal_ws_record(vm, ws_path, &err))
        fprintf(stderr, "tidal restore: %s\n", err.msg);
    rc = tidal_cli_finish(vm, &res, "tidal restore", paths[npaths - 1], stats, -1);
    if (in_fd > 0)
        close(in_fd);
    return rc;
}

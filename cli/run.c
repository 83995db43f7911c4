/* `tidal run`: boot one guest image, pass its output and exit status through. */
#include "commands.h"
#include "console_timer.h"
#include "exit_codes.h"
#include "tidal/confine.h"
#include "tidal/file.h"
#include "tidal/fsimage.h"
#include "tidal/layout.h"
#include "tidal/monitor.h"
#include "tidal/size.h"
#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"
#include "vm_report.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENV 256
#define MAX_TREES 64

struct run_options {
    uint64_t mem_size;
    double timeout_sec;
    int stats;
    int envc;
    char *envp[MAX_ENV];
    const char *image;
    int guest_argc;
    char **guest_argv;
    const char *snapshot_on_ready; /* save at tidal_ready() and stop */
    const char *snapshot_path;     /* save here on SIGUSR1 and run on */
    int diff;                      /* later SIGUSR1s save diffs: path.1, path.2... */
    bool huge_pages;
    struct tidal_fs_spec trees[MAX_TREES]; /* --dir, --file */
    unsigned ntrees;
    uint64_t scratch_max;   /* --scratch */
    const char *output_dir; /* --output-dir: /out is copied here at exit */
};

static struct tidal_vm *volatile usr1_vm;

static void on_usr1(int sig)
{
    (void)sig;
    if (usr1_vm)
        tidal_vm_request_pause(usr1_vm);
}

/* With --diff, the first SIGUSR1 saves a full snapshot to the path and each later
 * one a diff on the previous file (path.1, path.2...): suspending a long job again
 * costs only the pages it changed. */
struct diff_chain {
    struct tidal_snap *last; /* the newest file of the chain, opened for its identity */
    unsigned length;
};

static void save_on_signal(struct tidal_vm *vm, const struct run_options *o,
                           struct diff_chain *chain)
{
    struct tidal_err err;
    char path[4096];
    if (!o->diff || !chain->last) {
        snprintf(path, sizeof(path), "%s", o->snapshot_path);
        if (tidal_snapshot_save(vm, path, &err))
            goto failed;
        if (o->diff &&
            (tidal_snap_open(path, &chain->last, &err) || tidal_vm_track_dirty(vm, &err)))
            goto failed;
        chain->length = 1;
    } else {
        snprintf(path, sizeof(path), "%s.%u", o->snapshot_path, chain->length);
        struct tidal_snap *next;
        if (tidal_snapshot_save_diff(vm, chain->last, path, &err) ||
            tidal_snap_open(path, &next, &err))
            goto failed;
        tidal_snap_close(chain->last);
        chain->last = next;
        chain->length++;
    }
    fprintf(stderr, "tidal run: saved %s\n", path);
    return;
failed:
    fprintf(stderr, "tidal run: %s: %s\n", path, err.msg);
}

/* Installed before the VM exists, so that an early SIGUSR1 is ignored, not fatal. */
static void watch_usr1(void)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal run: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal run [--mem SIZE] [--timeout SEC] [--stats] [--env K=V]...\n"
          "                 [--huge-pages on|off] [--snapshot-on-ready SNAP]\n"
          "                 [--dir HOST:GUEST]... [--file HOST:GUEST]... [--scratch SIZE]\n"
          "                 [--output-dir DIR]\n"
          "                 [--snapshot-path SNAP [--diff]] IMAGE [--] [ARGS...]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--")) {
            i++;
            break;
        }
        if (!strcmp(opt, "--stats")) {
            o->stats = 1;
            continue;
        }
        if (!strcmp(opt, "--no-seccomp")) {
            tidal_confine_disable();
            continue;
        }
        if (!strcmp(opt, "--diff")) {
            o->diff = 1;
            continue;
        }
        if (strcmp(opt, "--mem") && strcmp(opt, "--timeout") && strcmp(opt, "--env") &&
            strcmp(opt, "--snapshot-on-ready") && strcmp(opt, "--snapshot-path") &&
            strcmp(opt, "--huge-pages") && strcmp(opt, "--dir") && strcmp(opt, "--file") &&
            strcmp(opt, "--scratch") && strcmp(opt, "--output-dir"))
            return usage_error("unknown option '%s'", opt);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        if (!strcmp(opt, "--dir") || !strcmp(opt, "--file")) {
            struct tidal_err err;
            if (o->ntrees == MAX_TREES)
                return usage_error("more than %s --dir and --file options", "64");
            if (tidal_fs_spec_parse(argv[i], !strcmp(opt, "--dir"), &o->trees[o->ntrees], &err))
                return usage_error("%s", err.msg);
            o->ntrees++;
        } else if (!strcmp(opt, "--scratch")) {
            struct tidal_err err;
            if (tidal_parse_size(val, "--scratch", &o->scratch_max, &err))
                return usage_error("%s", err.msg);
            if (o->scratch_max == 0 || o->scratch_max > TIDAL_MEM_MAX)
                return usage_error("--scratch '%s': expected a size from 1 byte to 3G", val);
        } else if (!strcmp(opt, "--output-dir")) {
            o->output_dir = val;
        } else if (!strcmp(opt, "--snapshot-on-ready")) {
            o->snapshot_on_ready = val;
        } else if (!strcmp(opt, "--snapshot-path")) {
            o->snapshot_path = val;
        } else if (!strcmp(opt, "--mem")) {
            struct tidal_err err;
            if (tidal_parse_size(val, "--mem", &o->mem_size, &err) ||
                tidal_layout_check_mem(o->mem_size, &err))
                return usage_error("%s", err.msg);
        } else if (!strcmp(opt, "--huge-pages")) {
            if (strcmp(val, "on") && strcmp(val, "off"))
                return usage_error("--huge-pages '%s': expected on or off", val);
            o->huge_pages = !strcmp(val, "on");
        } else if (!strcmp(opt, "--timeout")) {
            if (tidal_cli_parse_timeout(val, &o->timeout_sec))
                return usage_error("--timeout '%s': expected seconds, a number > 0", val);
        } else {
            if (o->envc == MAX_ENV)
                return usage_error("more than %s --env options", "256");
            if (!strchr(val, '=')) {
                /* --env NAME passes the host's value through, as docker run -e does */
                const char *host = getenv(val);
                if (!host)
                    return usage_error("--env %s: not set in this environment", val);
                size_t n = strlen(val) + strlen(host) + 2;
                char *kv = malloc(n);
                if (!kv)
                    return TIDAL_RC_SYSTEM;
                snprintf(kv, n, "%s=%s", val, host);
                o->envp[o->envc++] = kv;
            } else {
                o->envp[o->envc++] = (char *)val;
            }
        }
    }
    if (o->diff && !o->snapshot_path)
        return usage_error("%s", "--diff needs --snapshot-path");
    if (i >= argc)
        return usage_error("%s", "missing IMAGE");
    o->image = argv[i];
    /* The guest's argv: the image path, then everything after it ("--" optional). */
    o->guest_argv = &argv[i];
    o->guest_argc = argc - i;
    if (o->guest_argc > 1 && !strcmp(o->guest_argv[1], "--")) {
        o->guest_argv[1] = o->guest_argv[0];
        o->guest_argv++;
        o->guest_argc--;
    }
    return 0;
}

/* A regular file on stdin, read from its start, goes into the file image whole as
 * /dev/stdin: the guest reads, seeks and stats it as a file, with no exit. Anything
 * else (a pipe, a terminal, a file read part-way, one too large to copy into guest
 * memory) stays a stream the guest reads through calls to the monitor. */
#define STDIN_FILE_MAX (256ull << 20)
static bool stdin_as_file(struct run_options *o, char *path)
{
    struct stat st;
    if (o->ntrees == MAX_TREES || fstat(0, &st) || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > STDIN_FILE_MAX || lseek(0, 0, SEEK_CUR) != 0 ||
        !realpath("/proc/self/fd/0", path))
        return false;
    o->trees[o->ntrees++] = (struct tidal_fs_spec){.host = path, .guest = "/dev/stdin"};
    return true;
}

int tidal_cmd_run(int argc, char **argv)
{
    /* Huge pages by default: one process runs one guest, whose first touches in bulk
     * then cost a fault per 2 MiB instead of per 4 KiB; a small guest holds one huge
     * page, the one its image shares with the start of its heap (tidal_layout_bulk). */
    struct run_options o = {.mem_size = TIDAL_MEM_DEFAULT, .huge_pages = true};
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout becomes -EPIPE for the guest */
    if (o.snapshot_path)
        watch_usr1();

    struct tidal_err err;
    char stdin_path[PATH_MAX];
    bool stdin_file = stdin_as_file(&o, stdin_path);
    struct tidal_fs_plan *fs_plan = NULL;
    size_t fs_size = 0;
    if (o.ntrees && tidal_fs_plan(o.trees, o.ntrees, &fs_plan, &fs_size, &err)) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        return TIDAL_RC_BAD_INPUT;
    }
    const uint8_t *image;
    size_t image_size;
    if (tidal_file_map(o.image, TIDAL_IMAGE_MAX_BYTES, &image, &image_size, &err)) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        return TIDAL_RC_NO_INPUT;
    }
    struct tidal_vm_config cfg = {
        .mem_size = o.mem_size,
        .timeout_sec = o.timeout_sec,
        .argc = o.guest_argc,
        .argv = o.guest_argv,
        .envc = o.envc,
        .envp = o.envp,
        .in_fd = 0,
        .out_fd = 1,
        .err_fd = 2,
        .stdout_is_tty = isatty(1),
        .huge_pages = o.huge_pages,
        .fs_plan = fs_plan,
        .fs_image_size = fs_size,
        .scratch_max = o.scratch_max,
        .collect_out = o.output_dir != NULL,
        .stdin_file = stdin_file,
    };
    struct tidal_vm *vm = NULL;
    rc = tidal_vm_create(&cfg, image, image_size, o.image, &vm, &err);
    tidal_fs_plan_free(fs_plan);
    if (rc) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        tidal_vm_destroy(vm);
        tidal_file_unmap(image, image_size);
        return tidal_cli_create_rc(rc);
    }
    tidal_file_unmap(image, image_size);
    struct tidal_run_result res = {0};
    struct diff_chain chain = {0};
    struct console_timer timer;
    console_timer_start(&timer, vm, cfg.stdout_is_tty);
    if (tidal_confine(TIDAL_CONFINE_MONITOR, &err)) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        console_timer_stop(&timer);
        return tidal_cli_finish(vm, &res, "tidal run", o.image, o.stats, TIDAL_RC_SYSTEM);
    }
    usr1_vm = vm;
    for (;;) {
        tidal_vm_run(vm, &res);
        if (res.reason == TIDAL_EXIT_PAUSED) {
            /* kill -USR1: save where the guest is, then let it run on */
            save_on_signal(vm, &o, &chain);
            continue;
        }
        /* without a snapshot to take, tidal_ready() just goes on */
        if (res.reason != TIDAL_EXIT_READY || o.snapshot_on_ready)
            break;
    }
    usr1_vm = NULL;
    console_timer_stop(&timer);
    tidal_snap_close(chain.last);
    if (res.reason == TIDAL_EXIT_READY) {
        if (tidal_snapshot_save(vm, o.snapshot_on_ready, &err)) {
            fprintf(stderr, "tidal run: %s: %s\n", o.snapshot_on_ready, err.msg);
            return tidal_cli_finish(vm, &res, "tidal run", o.image, o.stats, TIDAL_RC_SYSTEM);
        }
        fprintf(stderr, "tidal run: saved %s at tidal_ready()\n", o.snapshot_on_ready);
        return tidal_cli_finish(vm, &res, "tidal run", o.image, o.stats, 0);
    }
    /* Only a guest that exited through EXIT hands /out over: after a crash or a
     * timeout nothing reaches the host. */
    if (o.output_dir && res.reason == TIDAL_EXIT_HALTED &&
        tidal_fs_write_outputs(res.outputs, res.outputs_len, o.output_dir, &err)) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        return tidal_cli_finish(vm, &res, "tidal run", o.image, o.stats, TIDAL_RC_SYSTEM);
    }
    return tidal_cli_finish(vm, &res, "tidal run", o.image, o.stats, -1);
}

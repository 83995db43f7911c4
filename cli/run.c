/* `tidal run`: boot one guest image, pass its output and exit status through. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/file.h"
#include "tidal/layout.h"
#include "tidal/monitor.h"
#include "tidal/size.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMAGE_MAX_BYTES (256ull << 20)
#define MAX_ENV 256

struct run_options {
    uint64_t mem_size;
    double timeout_sec;
    int stats;
    int envc;
    char *envp[MAX_ENV];
    const char *image;
    int guest_argc;
    char **guest_argv;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal run: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal run [--mem SIZE] [--timeout SEC] [--stats] [--env K=V]... IMAGE "
          "[--] [ARGS...]\n",
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
        if (strcmp(opt, "--mem") && strcmp(opt, "--timeout") && strcmp(opt, "--env"))
            return usage_error("unknown option '%s'", opt);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        const char *val = argv[++i];
        if (!strcmp(opt, "--mem")) {
            struct tidal_err err;
            if (tidal_parse_size(val, "--mem", &o->mem_size, &err) ||
                tidal_layout_check_mem(o->mem_size, &err))
                return usage_error("%s", err.msg);
        } else if (!strcmp(opt, "--timeout")) {
            char *end;
            errno = 0;
            o->timeout_sec = strtod(val, &end);
            if (errno || *end || end == val || !(o->timeout_sec > 0) ||
                !isfinite(o->timeout_sec) || o->timeout_sec > 1e7)
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

static const char *reason_name(enum tidal_exit_reason r)
{
    switch (r) {
    case TIDAL_EXIT_HALTED: return "halted";
    case TIDAL_EXIT_CRASHED: return "crashed";
    case TIDAL_EXIT_TIMEOUT: return "timeout";
    case TIDAL_EXIT_ERROR: return "error";
    }
    return "?";
}

static void add_stat(void *ctx, const char *name, uint64_t value)
{
    if (value)
        cJSON_AddNumberToObject(ctx, name, (double)value);
}

static void print_stats(struct tidal_vm *vm, const struct tidal_run_result *res)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "exit_reason", reason_name(res->reason));
    cJSON_AddNumberToObject(root, "status", res->status);
    cJSON_AddBoolToObject(root, "pvm", tidal_vm_is_pvm(vm));
    cJSON *exits = cJSON_AddObjectToObject(root, "exits");
    for (unsigned r = 0; r < TIDAL_MAX_EXIT_REASONS; r++) {
        if (!res->exits_by_reason[r])
            continue;
        char other[32];
        const char *name = tidal_kvm_exit_name(r);
        if (!name) {
            snprintf(other, sizeof(other), "reason_%u", r);
            name = other;
        }
        cJSON_AddNumberToObject(exits, name, (double)res->exits_by_reason[r]);
    }
    cJSON *calls = cJSON_AddObjectToObject(root, "calls");
    for (unsigned c = 1; c < sizeof(res->calls_by_nr) / sizeof(res->calls_by_nr[0]); c++)
        if (res->calls_by_nr[c])
            cJSON_AddNumberToObject(calls, tidal_call_name(c), (double)res->calls_by_nr[c]);
    cJSON *vcpu = cJSON_AddObjectToObject(root, "vcpu");
    tidal_vm_stats(vm, add_stat, vcpu);
    const struct tidal_vm_timing *t = tidal_vm_timing(vm);
    cJSON_AddNumberToObject(root, "run_us", (double)t->run / 1e3);
    cJSON *up = cJSON_AddObjectToObject(root, "bringup_us");
    cJSON_AddNumberToObject(up, "create_vm", (double)t->create_vm / 1e3);
    cJSON_AddNumberToObject(up, "memory", (double)t->memory / 1e3);
    cJSON_AddNumberToObject(up, "vcpu", (double)t->vcpu / 1e3);
    cJSON_AddNumberToObject(up, "load", (double)t->load / 1e3);
    cJSON_AddNumberToObject(up, "first_exit", (double)t->first_exit / 1e3);
    cJSON_AddNumberToObject(root, "output_bytes", (double)res->bytes_out);
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        fprintf(stderr, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

int tidal_cmd_run(int argc, char **argv)
{
    struct run_options o = {.mem_size = TIDAL_MEM_DEFAULT};
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout becomes -EPIPE for the guest */

    struct tidal_err err;
    const uint8_t *image;
    size_t image_size;
    if (tidal_file_map(o.image, IMAGE_MAX_BYTES, &image, &image_size, &err)) {
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
    };
    struct tidal_vm *vm = NULL;
    rc = tidal_vm_create(&cfg, image, image_size, o.image, &vm, &err);
    if (rc) {
        fprintf(stderr, "tidal run: %s\n", err.msg);
        tidal_vm_destroy(vm);
        tidal_file_unmap(image, image_size);
        return rc == TIDAL_CREATE_BAD_INPUT ? TIDAL_RC_BAD_INPUT
               : rc == TIDAL_CREATE_NO_KVM  ? TIDAL_RC_NO_KVM
                                            : TIDAL_RC_SYSTEM;
    }
    tidal_file_unmap(image, image_size);
    struct tidal_run_result res;
    tidal_vm_run(vm, &res);
    if (res.reason != TIDAL_EXIT_HALTED)
        fprintf(stderr, "tidal run: %s: %s\n", o.image, res.report);
    if (o.stats)
        print_stats(vm, &res);
    tidal_vm_destroy(vm);
    switch (res.reason) {
    case TIDAL_EXIT_HALTED: return res.status;
    case TIDAL_EXIT_CRASHED: return TIDAL_RC_GUEST_CRASH;
    case TIDAL_EXIT_TIMEOUT: return TIDAL_RC_TIMEOUT;
    case TIDAL_EXIT_ERROR: return TIDAL_RC_SYSTEM;
    }
    return TIDAL_RC_SYSTEM;
}

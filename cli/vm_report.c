#include "vm_report.h"
#include "exit_codes.h"
#include "json_line.h"
#include "tidal/snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tidal_cli_create_rc(int create_rc)
{
    return create_rc == TIDAL_CREATE_BAD_INPUT ? TIDAL_RC_BAD_INPUT
           : create_rc == TIDAL_CREATE_NO_KVM  ? TIDAL_RC_NO_KVM
                                               : TIDAL_RC_SYSTEM;
}

int tidal_cli_exit_rc(const struct tidal_run_result *res)
{
    switch (res->reason) {
    case TIDAL_EXIT_HALTED:
        return res->status;
    case TIDAL_EXIT_CRASHED:
        return TIDAL_RC_GUEST_CRASH;
    case TIDAL_EXIT_TIMEOUT:
        return TIDAL_RC_TIMEOUT;
    case TIDAL_EXIT_ERROR:
    case TIDAL_EXIT_READY:
    case TIDAL_EXIT_PAUSED:
        return TIDAL_RC_SYSTEM;
    }
    return TIDAL_RC_SYSTEM;
}

int tidal_cli_open_snapshot(const char *cmd, const char *path, struct tidal_snap **snap)
{
    struct tidal_err err;
    if (access(path, R_OK)) {
        fprintf(stderr, "%s: %s: %s\n", cmd, path, strerror(errno));
        return TIDAL_RC_NO_INPUT;
    }
    if (tidal_snap_open(path, snap, &err)) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        return TIDAL_RC_BAD_INPUT;
    }
    return 0;
}

int tidal_cli_parse_timeout(const char *text, double *seconds)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || end == text || !(v > 0) || !isfinite(v) || v > 1e7)
        return -1;
    *seconds = v;
    return 0;
}

static const char *reason_name(enum tidal_exit_reason r)
{
    switch (r) {
    case TIDAL_EXIT_HALTED:
        return "halted";
    case TIDAL_EXIT_READY:
        return "ready";
    case TIDAL_EXIT_PAUSED:
        return "paused";
    case TIDAL_EXIT_CRASHED:
        return "crashed";
    case TIDAL_EXIT_TIMEOUT:
        return "timeout";
    case TIDAL_EXIT_ERROR:
        return "error";
    }
    return "?";
}

static void add_stat(void *ctx, const char *name, uint64_t value)
{
    if (value)
        json_line_uint(ctx, name, value);
}

static void write_stats(FILE *out, struct tidal_vm *vm, const struct tidal_run_result *res)
{
    struct json_line j;
    json_line_begin(&j, out);
    json_line_string(&j, "exit_reason", reason_name(res->reason));
    json_line_int(&j, "status", res->status);
    json_line_bool(&j, "pvm", tidal_vm_is_pvm(vm));
    json_line_object(&j, "exits");
    for (unsigned r = 0; r < TIDAL_MAX_EXIT_REASONS; r++) {
        if (!res->exits_by_reason[r])
            continue;
        char other[32];
        const char *name = tidal_kvm_exit_name(r);
        if (!name) {
            snprintf(other, sizeof(other), "reason_%u", r);
            name = other;
        }
        json_line_uint(&j, name, res->exits_by_reason[r]);
    }
    json_line_end(&j);
    json_line_object(&j, "calls");
    for (unsigned c = 1; c < sizeof(res->calls_by_nr) / sizeof(res->calls_by_nr[0]); c++)
        if (res->calls_by_nr[c])
            json_line_uint(&j, tidal_call_name(c), res->calls_by_nr[c]);
    json_line_end(&j);
    json_line_object(&j, "vcpu");
    tidal_vm_stats(vm, add_stat, &j);
    json_line_end(&j);
    const struct tidal_vm_timing *t = tidal_vm_timing(vm);
    json_line_number(&j, "run_us", (double)t->run / 1e3);
    json_line_object(&j, "bringup_us");
    json_line_number(&j, "create_vm", (double)t->create_vm / 1e3);
    json_line_number(&j, "memory", (double)t->memory / 1e3);
    json_line_number(&j, "vcpu", (double)t->vcpu / 1e3);
    json_line_number(&j, "load", (double)t->load / 1e3);
    json_line_number(&j, "first_exit", (double)t->first_exit / 1e3);
    json_line_end(&j);
    json_line_uint(&j, "output_bytes", res->bytes_out);
    json_line_end(&j);
}

void tidal_cli_print_stats(FILE *out, struct tidal_vm *vm, const struct tidal_run_result *res)
{
    /* Built in memory and written at once: stderr is unbuffered, and the line should
     * neither cost a write per piece nor interleave with other output. */
    char *text = NULL;
    size_t len = 0;
    FILE *line = open_memstream(&text, &len);
    if (!line)
        return;
    write_stats(line, vm, res);
    if (!fclose(line))
        fwrite(text, 1, len, out);
    free(text);
}

int tidal_cli_finish(struct tidal_vm *vm, struct tidal_run_result *res, const char *cmd,
                     const char *label, bool stats, int rc_override)
{
    if (res->reason != TIDAL_EXIT_HALTED && res->reason != TIDAL_EXIT_READY)
        fprintf(stderr, "%s: %s: %s\n", cmd, label, res->report);
    if (stats)
        tidal_cli_print_stats(stderr, vm, res);
    tidal_vm_destroy(vm);
    return rc_override >= 0 ? rc_override : tidal_cli_exit_rc(res);
}

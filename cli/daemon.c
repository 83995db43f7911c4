/* `tidal daemon`: option parsing; the daemon itself is host/daemon*.c. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/confine.h"
#include "tidal/daemon.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal daemon: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal daemon --state-dir DIR [--socket PATH] [--checkpoint-interval SEC]\n"
          "                    [--clock-start TIME] [--clock-scale X] [--tick SEC]\n"
          "                    [--full-snapshots] [--user NAME] [--no-seccomp]\n"
          "                    [--kernel-metrics on|off]\n"
          "       cluster:     --etcd URL[,URL...] --store DIR [--host NAME]\n"
          "                    [--advertise IPV4] [--peer-port N] [--lease-ttl SEC]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int parse_seconds(const char *opt, const char *val, double min, double *out)
{
    char *end;
    double v = strtod(val, &end);
    if (!*val || *end || !isfinite(v) || v < min) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s '%%s': expected a number >= %g", opt, min);
        return usage_error(msg, val);
    }
    *out = v;
    return 0;
}

int tidal_cmd_daemon(int argc, char **argv)
{
    struct tidal_daemon_options o = {.checkpoint_interval = 60, .tick = 0.2};
    bool scale_given = false;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--full-snapshots")) {
            o.full_snapshots = true;
            continue;
        }
        if (!strcmp(opt, "--no-seccomp")) {
            tidal_confine_disable();
            continue;
        }
        if (i + 1 >= argc)
            return usage_error(
                strncmp(opt, "--", 2) ? "unexpected argument '%s'" : "%s needs a value", opt);
        const char *val = argv[++i];
        int rc = 0;
        if (!strcmp(opt, "--state-dir")) {
            o.state_dir = val;
        } else if (!strcmp(opt, "--socket")) {
            o.socket_path = val;
        } else if (!strcmp(opt, "--user")) {
            o.user = val;
        } else if (!strcmp(opt, "--kernel-metrics")) {
            if (strcmp(val, "on") && strcmp(val, "off"))
                return usage_error("--kernel-metrics '%s': expected on or off", val);
            o.kernel_metrics = !strcmp(val, "on");
        } else if (!strcmp(opt, "--etcd")) {
            o.etcd = val;
        } else if (!strcmp(opt, "--store")) {
            o.store_dir = val;
        } else if (!strcmp(opt, "--host")) {
            o.host_name = val;
        } else if (!strcmp(opt, "--advertise")) {
            o.advertise = val;
        } else if (!strcmp(opt, "--peer-port")) {
            double port;
            rc = parse_seconds(opt, val, 1, &port);
            if (!rc && (port > 65535 || port != floor(port)))
                return usage_error("--peer-port '%s': expected a port number 1..65535", val);
            o.peer_port = (int)port;
        } else if (!strcmp(opt, "--lease-ttl")) {
            rc = parse_seconds(opt, val, 1, &o.lease_ttl);
        } else if (!strcmp(opt, "--checkpoint-interval")) {
            rc = parse_seconds(opt, val, 0, &o.checkpoint_interval);
        } else if (!strcmp(opt, "--tick")) {
            rc = parse_seconds(opt, val, 0.01, &o.tick);
        } else if (!strcmp(opt, "--clock-scale")) {
            rc = parse_seconds(opt, val, 0, &o.clock_scale);
            o.simulated = scale_given = true;
        } else if (!strcmp(opt, "--clock-start")) {
            struct tidal_err err;
            if (tidal_parse_time(val, &o.clock_start, &err))
                return usage_error("--clock-start: %s", err.msg);
            o.simulated = true;
        } else {
            return usage_error("unknown option '%s'", opt);
        }
        if (rc)
            return rc;
    }
    if (!o.state_dir)
        return usage_error("%s", "missing --state-dir DIR");
    if (!o.etcd != !o.store_dir)
        return usage_error("%s", "--etcd and --store go together: a cluster's hosts need both");
    if (o.simulated && !scale_given)
        o.clock_scale = 1; /* --clock-start alone: the simulated clock runs at real speed */
    return tidal_daemon_run(&o);
}

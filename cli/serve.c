/* `tidal serve`: the function-as-a-service front end (host/serve*.c). */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/confine.h"
#include "tidal/http.h"
#include "tidal/serve.h"
#include "tidal/size.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal serve: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal serve --listen HOST:PORT --function NAME=IMAGE... [--config FILE]\n"
          "                   [--workers N] [--http-threads N] [--backend vm|process]\n"
          "                   [--log-format text|json] [--template-dir DIR] [--max-uploads SIZE]\n"
          "                   [--kernel-metrics on|off] [--user NAME] [--no-seccomp]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int parse_count(const char *opt, const char *text, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end || v < 1 || v > 1024) {
        fprintf(stderr, "tidal serve: %s '%s': expected a whole number in 1..1024\n", opt, text);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int tidal_cmd_serve(int argc, char **argv)
{
    struct tidal_serve_config cfg = {0};
    struct tidal_err err;
    const char *listen = "127.0.0.1:8080";
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = strcmp(a, "--help") && strcmp(a, "-h") && strcmp(a, "--no-seccomp");
        if (takes_value && !v) {
            rc = usage_error("%s needs a value", a);
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rc = usage_error("%s", "help");
            break;
        } else if (!strcmp(a, "--no-seccomp")) {
            tidal_confine_disable();
            continue;
        } else if (!strcmp(a, "--listen")) {
            listen = v;
        } else if (!strcmp(a, "--function")) {
            if (tidal_serve_config_add_arg(&cfg, v, &err))
                rc = usage_error("%s", err.msg);
        } else if (!strcmp(a, "--config")) {
            if (tidal_serve_config_load(&cfg, v, &err)) {
                fprintf(stderr, "tidal serve: %s\n", err.msg);
                rc = TIDAL_RC_BAD_INPUT;
            }
        } else if (!strcmp(a, "--workers")) {
            rc = parse_count(a, v, &cfg.workers) ? TIDAL_RC_USAGE : 0;
        } else if (!strcmp(a, "--http-threads")) {
            rc = parse_count(a, v, &cfg.http_threads) ? TIDAL_RC_USAGE : 0;
        } else if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "vm"))
                cfg.backend = TIDAL_BACKEND_VM;
            else if (!strcmp(v, "process"))
                cfg.backend = TIDAL_BACKEND_PROCESS;
            else
                rc = usage_error("--backend '%s': expected vm or process", v);
        } else if (!strcmp(a, "--log-format")) {
            if (!strcmp(v, "text"))
                cfg.log_format = TIDAL_LOG_TEXT;
            else if (!strcmp(v, "json"))
                cfg.log_format = TIDAL_LOG_JSON;
            else
                rc = usage_error("--log-format '%s': expected text or json", v);
        } else if (!strcmp(a, "--kernel-metrics")) {
            if (!strcmp(v, "on") || !strcmp(v, "off"))
                cfg.kernel_metrics = !strcmp(v, "on");
            else
                rc = usage_error("--kernel-metrics '%s': expected on or off", v);
        } else if (!strcmp(a, "--template-dir")) {
            cfg.template_dir = v;
        } else if (!strcmp(a, "--user")) {
            cfg.user = v;
        } else if (!strcmp(a, "--max-uploads")) {
            uint64_t bytes = 0;
            if (tidal_parse_size(v, "--max-uploads", &bytes, &err))
                rc = usage_error("%s", err.msg);
            else if (!bytes)
                rc = usage_error("%s", "--max-uploads: expected more than 0 bytes");
            else
                cfg.max_uploads = bytes;
        } else {
            rc = usage_error("unknown option '%s'", a);
            break;
        }
        i++;
    }
    char msg[300];
    if (!rc && tidal_http_parse_listen(listen, &cfg.listen, msg, sizeof(msg)))
        rc = usage_error("%s", msg);
    if (!rc && tidal_serve_config_finish(&cfg, &err))
        rc = usage_error("%s", err.msg);
    if (!rc) {
        int r = tidal_serve_run(&cfg, &err);
        if (r)
            fprintf(stderr, "tidal serve: %s\n", err.msg);
        rc = r == TIDAL_SERVE_BAD_INPUT ? TIDAL_RC_BAD_INPUT
             : r == TIDAL_SERVE_NO_KVM  ? TIDAL_RC_NO_KVM
             : r                        ? TIDAL_RC_SYSTEM
                                        : 0;
    }
    tidal_serve_config_free(&cfg);
    return rc;
}

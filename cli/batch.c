/* `tidal batch ...`: batch jobs on a running daemon, through its API. */
#include "commands.h"
#include "daemon_cli.h"
#include "exit_codes.h"
#include "tidal/daemon.h"
#include "tidal/host_file.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal batch: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal batch submit JOB.json | ls | get NAME | cancel NAME\n"
          "       --socket PATH (or $TIDAL_SOCKET) selects the daemon\n",
          stderr);
    return TIDAL_RC_USAGE;
}

/* The job file names its image relative to where the user stands; the daemon needs
 * an absolute path. */
static int submit(const char *sock, const char *file)
{
    struct tidal_err err;
    char *text;
    size_t len;
    if (tidal_read_file(file, 1u << 20, &text, &len, &err)) {
        fprintf(stderr, "tidal batch submit: %s\n", err.msg);
        return TIDAL_RC_NO_INPUT;
    }
    cJSON *job = cJSON_ParseWithLength(text, len);
    free(text);
    if (!job) {
        fprintf(stderr, "tidal batch submit: %s: not valid JSON\n", file);
        return TIDAL_RC_BAD_INPUT;
    }
    cJSON *image = cJSON_GetObjectItemCaseSensitive(job, "image");
    char full[PATH_MAX];
    if (cJSON_IsString(image) && image->valuestring[0] != '/') {
        if (!realpath(image->valuestring, full)) {
            fprintf(stderr, "tidal batch submit: %s: field \"image\": %s: no such file\n", file,
                    image->valuestring);
            cJSON_Delete(job);
            return TIDAL_RC_NO_INPUT;
        }
        cJSON_SetValuestring(image, full);
    }
    return tidal_cli_create("tidal batch submit", sock, "/v1/batch", job);
}

static int list(const char *sock)
{
    cJSON *jobs;
    int rc = tidal_cli_call("tidal batch ls", sock, "GET", "/v1/batch", NULL, &jobs);
    if (rc)
        return rc;
    printf("%-20s %-10s %-28s %6s %5s  %s\n", "NAME", "STATE", "PROGRESS", "", "SUSP", "WINDOW");
    const cJSON *j;
    cJSON_ArrayForEach(j, jobs)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "progress");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "window");
        double f = tidal_cli_num(p, "fraction");
        char bar[40];
        tidal_cli_bar(f, 26, bar);
        char when[64];
        bool open = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "open"));
        snprintf(when, sizeof(when), "%s %s", open ? "open, closes" : "closed, opens",
                 tidal_cli_str(w, open ? "closes" : "opens"));
        printf("%-20s %-10s %s %5.1f%% %5g  %s%s\n", tidal_cli_str(j, "name"),
               tidal_cli_str(j, "state"), bar, f * 100, tidal_cli_num(j, "suspensions"), when,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "late")) ? "  LATE" : "");
    }
    cJSON_Delete(jobs);
    return 0;
}

int tidal_cmd_batch(int argc, char **argv)
{
    const char *sock = tidal_cli_socket(&argc, argv);
    if (argc < 2)
        return usage_error("%s", "missing subcommand");
    const char *sub = argv[1];
    if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
        return argc == 2 ? list(sock) : usage_error("unexpected argument '%s'", argv[2]);
    if (argc != 3)
        return usage_error("%s needs exactly one argument", sub);
    if (!strcmp(sub, "submit"))
        return submit(sock, argv[2]);
    if (strlen(argv[2]) > 100)
        return usage_error("NAME '%s' is too long", argv[2]);
    char path[256];
    cJSON *out = NULL;
    int rc;
    if (!strcmp(sub, "get")) {
        snprintf(path, sizeof(path), "/v1/batch/%s", argv[2]);
        rc = tidal_cli_call("tidal batch get", sock, "GET", path, NULL, &out);
        if (!rc) {
            char *text = cJSON_Print(out);
            puts(text);
            free(text);
        }
    } else if (!strcmp(sub, "cancel")) {
        snprintf(path, sizeof(path), "/v1/batch/%s/cancel", argv[2]);
        rc = tidal_cli_call("tidal batch cancel", sock, "POST", path, NULL, &out);
        if (!rc)
            printf("%s %s\n", tidal_cli_str(out, "name"), tidal_cli_str(out, "state"));
    } else {
        return usage_error("unknown subcommand '%s'", sub);
    }
    cJSON_Delete(out);
    return rc;
}

/* `tidal vm ...` and `tidal ps`: VMs on a running daemon, through its API. */
#include "commands.h"
#include "daemon_cli.h"
#include "exit_codes.h"
#include "tidal/daemon.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal vm: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal vm create --name NAME IMAGE [--mem SIZE] [--cpus N] [--no-start] "
          "[-- ARGS...]\n"
          "       tidal vm {start|pause|resume|snapshot|suspend|restore|stop|rm|get|console} NAME\n"
          "       tidal vm input NAME LINE   (LINE and a newline onto the guest's stdin)\n"
          "       tidal vm migrate NAME --to HOST   (a cluster's host: live migration)\n"
          "       tidal vm ls        (also: tidal ps; tidal ps --cluster: every host's VMs)\n"
          "       --socket PATH (or $TIDAL_SOCKET) selects the daemon\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int list(const char *sock)
{
    cJSON *vms;
    int rc = tidal_cli_call("tidal ps", sock, "GET", "/v1/vms", NULL, &vms);
    if (rc)
        return rc;
    printf("%-20s %-8s %-10s %6s %5s %8s %s\n", "NAME", "CLASS", "STATE", "MEM", "CPUS", "SNAPS",
           "IMAGE");
    const cJSON *v;
    cJSON_ArrayForEach(v, vms)
    {
        char mem[16];
        tidal_cli_size(tidal_cli_num(v, "mem"), mem);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "snapshots");
        printf("%-20s %-8s %-10s %6s %5g %8g %s\n", tidal_cli_str(v, "name"),
               tidal_cli_str(v, "class"), tidal_cli_str(v, "state"), mem, tidal_cli_num(v, "cpus"),
               tidal_cli_num(s, "chain"), tidal_cli_str(v, "image"));
    }
    cJSON_Delete(vms);
    return 0;
}

static int create(const char *sock, int argc, char **argv)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *args = cJSON_AddArrayToObject(body, "args");
    const char *image = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--no-start")) {
            cJSON_AddBoolToObject(body, "start", 0);
        } else if (!strcmp(a, "--name") || !strcmp(a, "--mem") || !strcmp(a, "--cpus")) {
            if (i + 1 >= argc) {
                cJSON_Delete(body);
                return usage_error("%s needs a value", a);
            }
            const char *val = argv[++i];
            if (!strcmp(a, "--cpus")) {
                char *end;
                double c = strtod(val, &end);
                if (*end || !*val) {
                    cJSON_Delete(body);
                    return usage_error("--cpus '%s': expected a number", val);
                }
                cJSON_AddNumberToObject(body, "cpus", c);
            } else {
                cJSON_AddStringToObject(body, a + 2, val);
            }
        } else if (a[0] == '-') {
            cJSON_Delete(body);
            return usage_error("unknown option '%s'", a);
        } else if (!image) {
            image = a;
        } else {
            cJSON_AddItemToArray(args, cJSON_CreateString(a));
        }
    }
    for (; i < argc; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
    if (!cJSON_GetObjectItemCaseSensitive(body, "name") || !image) {
        cJSON_Delete(body);
        return usage_error("%s", "create needs --name NAME and an IMAGE");
    }
    char full[PATH_MAX];
    if (!realpath(image, full)) {
        cJSON_Delete(body);
        fprintf(stderr, "tidal vm create: %s: no such file\n", image);
        return TIDAL_RC_NO_INPUT;
    }
    cJSON_AddStringToObject(body, "image", full);
    return tidal_cli_create("tidal vm create", sock, "/v1/vms", body);
}

/* `tidal ps --cluster`: every VM of the cluster, with its host and epoch. */
static int list_cluster(const char *sock)
{
    cJSON *o;
    int rc = tidal_cli_call("tidal ps --cluster", sock, "GET", "/v1/cluster", NULL, &o);
    if (rc)
        return rc;
    printf("leader: %s   this host: %s%s\n", tidal_cli_str(o, "leader_host"),
           tidal_cli_str(o, "host"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "fenced")) ? " (fenced)" : "");
    const cJSON *h;
    printf("%-16s %-16s %6s %8s\n", "HOST", "ADDRESS", "CPUS", "MEM");
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(o, "hosts"))
    {
        char mem[16];
        tidal_cli_size(tidal_cli_num(h, "mem"), mem);
        printf("%-16s %-16s %6g %8s\n", tidal_cli_str(h, "name"), tidal_cli_str(h, "addr"),
               tidal_cli_num(h, "cpus"), mem);
    }
    printf("\n%-20s %-8s %-16s %6s %s\n", "NAME", "CLASS", "HOST", "EPOCH", "STATE");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "vms"))
        printf("%-20s %-8s %-16s %6g %s\n", tidal_cli_str(v, "name"), tidal_cli_str(v, "class"),
               tidal_cli_str(v, "host"), tidal_cli_num(v, "epoch"), tidal_cli_str(v, "state"));
    cJSON_Delete(o);
    return 0;
}

int tidal_cmd_ps(int argc, char **argv)
{
    const char *sock = tidal_cli_socket(&argc, argv);
    if (argc == 2 && !strcmp(argv[1], "--cluster"))
        return list_cluster(sock);
    if (argc > 1)
        return usage_error("unexpected argument '%s'", argv[1]);
    return list(sock);
}

/* `tidal vm migrate NAME --to HOST` */
static int migrate(const char *sock, const char *name, const char *to)
{
    char path[256];
    if (strlen(name) > 100)
        return usage_error("NAME '%s' is too long", name);
    snprintf(path, sizeof(path), "/v1/vms/%s/migrate", name);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "to", to);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *out = NULL;
    int rc =
        text ? tidal_cli_call("tidal vm migrate", sock, "POST", path, text, &out) : TIDAL_RC_SYSTEM;
    free(text);
    if (!rc)
        printf("%s migrated to %s: downtime %.2f ms, total %.1f ms, %g rounds, %g MiB sent\n", name,
               to, tidal_cli_num(out, "downtime_ms"), tidal_cli_num(out, "total_ms"),
               tidal_cli_num(out, "rounds"), tidal_cli_num(out, "bytes") / 1048576.0);
    cJSON_Delete(out);
    return rc;
}

/* `tidal vm input NAME LINE`: LINE and a newline onto the guest's stdin. */
static int send_line(const char *sock, const char *name, const char *line)
{
    char path[256];
    if (strlen(name) > 100)
        return usage_error("NAME '%s' is too long", name);
    snprintf(path, sizeof(path), "/v1/vms/%s/input", name);
    cJSON *body = cJSON_CreateObject();
    size_t len = strlen(line);
    char *data = malloc(len + 2);
    if (!body || !data) {
        cJSON_Delete(body);
        free(data);
        fputs("tidal vm input: out of memory\n", stderr);
        return TIDAL_RC_SYSTEM;
    }
    memcpy(data, line, len);
    memcpy(data + len, "\n", 2);
    cJSON_AddStringToObject(body, "data", data);
    free(data);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    int rc =
        text ? tidal_cli_call("tidal vm input", sock, "POST", path, text, NULL) : TIDAL_RC_SYSTEM;
    free(text);
    return rc;
}

int tidal_cmd_vm(int argc, char **argv)
{
    const char *sock = tidal_cli_socket(&argc, argv);
    if (argc < 2)
        return usage_error("%s", "missing subcommand");
    const char *sub = argv[1];
    if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
        return argc == 2 ? list(sock) : usage_error("unexpected argument '%s'", argv[2]);
    if (!strcmp(sub, "create"))
        return create(sock, argc - 1, argv + 1);
    static const char *const actions[] = {"start",   "pause",   "resume", "snapshot",
                                          "suspend", "restore", "stop",   NULL};
    if (!strcmp(sub, "input"))
        return argc == 4 ? send_line(sock, argv[2], argv[3])
                         : usage_error("%s", "input needs NAME and one LINE");
    if (!strcmp(sub, "migrate"))
        return argc == 5 && !strcmp(argv[3], "--to")
                   ? migrate(sock, argv[2], argv[4])
                   : usage_error("%s", "migrate needs NAME --to HOST");
    if (argc != 3)
        return usage_error("%s needs exactly one NAME", sub);
    const char *name = argv[2];
    char path[256], who[64];
    snprintf(who, sizeof(who), "tidal vm %s", sub);
    if (strlen(name) > 100)
        return usage_error("NAME '%s' is too long", name);
    cJSON *out = NULL;
    int rc;
    if (!strcmp(sub, "get") || !strcmp(sub, "console")) {
        snprintf(path, sizeof(path), "/v1/vms/%s%s", name, sub[0] == 'c' ? "/console" : "");
        if (sub[0] == 'c') {
            struct tidal_response resp;
            struct tidal_err err;
            if (tidal_client_request(sock, "GET", path, NULL, &resp, &err)) {
                fprintf(stderr, "%s: %s\n", who, err.msg);
                return TIDAL_RC_NO_INPUT;
            }
            if (resp.status >= 400) {
                tidal_response_free(&resp);
                return tidal_cli_call(who, sock, "GET", path, NULL, NULL);
            }
            fwrite(resp.body, 1, resp.len, stdout);
            tidal_response_free(&resp);
            return 0;
        }
        rc = tidal_cli_call(who, sock, "GET", path, NULL, &out);
        if (!rc) {
            char *text = cJSON_Print(out);
            puts(text);
            free(text);
        }
        cJSON_Delete(out);
        return rc;
    }
    if (!strcmp(sub, "rm") || !strcmp(sub, "delete")) {
        snprintf(path, sizeof(path), "/v1/vms/%s", name);
        return tidal_cli_call(who, sock, "DELETE", path, NULL, NULL);
    }
    for (const char *const *a = actions; *a; a++)
        if (!strcmp(sub, *a)) {
            snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, sub);
            rc = tidal_cli_call(who, sock, "POST", path, NULL, &out);
            if (!rc) {
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(out, "snapshots");
                if (!strcmp(sub, "snapshot") || !strcmp(sub, "suspend"))
                    printf("%s %s (snapshot chain %g, last save %g bytes in %.1f ms)\n", name,
                           tidal_cli_str(out, "state"), tidal_cli_num(s, "chain"),
                           tidal_cli_num(s, "last_bytes"), tidal_cli_num(s, "last_save_ms"));
                else
                    printf("%s %s\n", name, tidal_cli_str(out, "state"));
            }
            cJSON_Delete(out);
            return rc;
        }
    return usage_error("unknown subcommand '%s'", sub);
}

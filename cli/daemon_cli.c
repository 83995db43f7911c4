#include "daemon_cli.h"
#include "exit_codes.h"
#include "tidal/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tidal_cli_socket(int *argc, char **argv)
{
    const char *sock = getenv("TIDAL_SOCKET");
    for (int i = 1; i + 1 < *argc; i++)
        if (!strcmp(argv[i], "--socket")) {
            sock = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof(char *));
            *argc -= 2;
            break;
        }
    return sock && *sock ? sock : TIDAL_DAEMON_SOCKET_DEFAULT;
}

int tidal_cli_call(const char *who, const char *socket, const char *method, const char *path,
                   const char *body, cJSON **out)
{
    struct tidal_response resp;
    struct tidal_err err;
    if (out)
        *out = NULL;
    if (tidal_client_request(socket, method, path, body, &resp, &err)) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return TIDAL_RC_NO_INPUT;
    }
    cJSON *json = resp.len ? cJSON_Parse(resp.body) : NULL;
    int rc = 0;
    if (resp.status >= 400) {
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(json, "detail");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(json, "error");
        fprintf(stderr, "%s: %s\n", who,
                cJSON_IsString(detail)  ? detail->valuestring
                : cJSON_IsString(error) ? error->valuestring
                                        : resp.body);
        rc = resp.status == 404 || resp.status == 400 || resp.status == 409 || resp.status == 422
                 ? TIDAL_RC_BAD_INPUT
                 : TIDAL_RC_SYSTEM;
        cJSON_Delete(json);
    } else if (out) {
        *out = json;
    } else {
        cJSON_Delete(json);
    }
    tidal_response_free(&resp);
    return rc;
}

void tidal_cli_bar(double fraction, int width, char *out)
{
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int full = (int)(fraction * width + 0.5);
    out[0] = '[';
    for (int i = 0; i < width; i++)
        out[1 + i] = i < full ? '#' : '.';
    out[1 + width] = ']';
    out[2 + width] = 0;
}

void tidal_cli_size(double bytes, char out[16])
{
    const char *units = "BKMGT";
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, 16, u ? "%.0f%c" : "%.0f%c", bytes, units[u]);
}

const char *tidal_cli_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

double tidal_cli_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int tidal_cli_create(const char *who, const char *socket, const char *path, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) {
        fprintf(stderr, "%s: out of memory\n", who);
        return TIDAL_RC_SYSTEM;
    }
    cJSON *created;
    int rc = tidal_cli_call(who, socket, "POST", path, text, &created);
    free(text);
    if (!rc)
        printf("%s %s\n", tidal_cli_str(created, "name"), tidal_cli_str(created, "state"));
    cJSON_Delete(created);
    return rc;
}

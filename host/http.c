#include "tidal/http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tidal_http_body_append(struct tidal_http_body *body, const char *data, size_t len)
{
    if (body->too_large || body->over_shared)
        return 0;
    if (len > body->limit - body->len) {
        body->too_large = true;
        tidal_http_body_free(body);
        return 0;
    }
    if (body->shared && atomic_fetch_add(body->shared, len) + len > body->shared_cap) {
        atomic_fetch_sub(body->shared, len);
        body->over_shared = true;
        tidal_http_body_free(body);
        return 0;
    }
    char *grown = realloc(body->data, body->len + len + 1);
    if (!grown) {
        if (body->shared)
            atomic_fetch_sub(body->shared, len);
        return -1;
    }
    memcpy(grown + body->len, data, len);
    body->data = grown;
    body->len += len;
    body->data[body->len] = 0;
    return 0;
}

void tidal_http_body_free(struct tidal_http_body *body)
{
    if (body->shared)
        atomic_fetch_sub(body->shared, body->len);
    free(body->data);
    body->data = NULL;
    body->len = 0;
}

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        ++*(unsigned *)cls;
    return MHD_YES;
}

bool tidal_http_length_ambiguous(struct MHD_Connection *conn)
{
    unsigned n = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length, &n);
    return n > 1;
}

enum MHD_Result tidal_http_send(struct MHD_Connection *conn, unsigned status,
                                const char *content_type, const void *data, size_t len,
                                const char *extra_header, const char *extra_value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_header)
        MHD_add_response_header(r, extra_header, extra_value);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result tidal_http_send_error(struct MHD_Connection *conn, unsigned status,
                                      const char *error, const char *detail)
{
    return tidal_http_send_error_header(conn, status, error, detail, NULL, NULL);
}

enum MHD_Result tidal_http_send_error_header(struct MHD_Connection *conn, unsigned status,
                                             const char *error, const char *detail,
                                             const char *header, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", error);
    if (detail)
        cJSON_AddStringToObject(o, "detail", detail);
    else
        cJSON_AddNullToObject(o, "detail");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    enum MHD_Result r = tidal_http_send(conn, status, "application/json", text, len, header, value);
    free(text);
    return r;
}

int tidal_http_parse_listen(const char *text, struct sockaddr_in *out, char *msg, size_t msg_size)
{
    const char *colon = strrchr(text, ':');
    char host[64];
    if (!colon || (size_t)(colon - text) >= sizeof(host) || colon == text) {
        snprintf(msg, msg_size, "--listen '%.100s': expected HOST:PORT, e.g. 127.0.0.1:8080", text);
        return -1;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535) {
        snprintf(msg, msg_size, "--listen '%.100s': port '%.20s' is not a number in 0..65535", text,
                 colon + 1);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1) {
        snprintf(msg, msg_size, "--listen '%.100s': '%s' is not an IPv4 address", text, host);
        return -1;
    }
    return 0;
}

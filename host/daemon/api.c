/* HTTP for the API: libmicrohttpd on the daemon's Unix socket, one thread per
 * connection, bodies gathered with a limit, then routed to daemon_api_*.c. */
#include "api.h"
#include "tidal/http.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT (1u << 20)

struct conn_ctx {
    struct tidal_http_body body;
};

int api_fail(struct api_reply *r, unsigned status, const char *error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->status = status;
    r->error = error;
    return 0;
}

static void route(struct daemon *d, struct api_request *q, struct api_reply *r)
{
    const char *first = q->nparts ? q->parts[0] : "";
    if (!strcmp(first, "metrics") && q->nparts == 1) {
        api_metrics(d, q, r);
        return;
    }
    if (strcmp(first, "v1") || q->nparts < 2) {
        api_fail(r, 404, "not_found",
                 "no endpoint %s /%s (the API lives under /v1/, see "
                 "docs/api.md)",
                 q->method, first);
        return;
    }
    const char *what = q->parts[1];
    if (!strcmp(what, "vms"))
        api_vms(d, q, r);
    else if (!strcmp(what, "batch"))
        api_batch(d, q, r);
    else if (!strcmp(what, "host") && q->nparts == 2)
        api_host(d, q, r);
    else if (!strcmp(what, "clock") && q->nparts == 2)
        api_clock(d, q, r);
    else if (!strcmp(what, "cluster"))
        api_cluster(d, q, r);
    else
        api_fail(r, 404, "not_found", "no endpoint %s /v1/%s", q->method, what);
}

static enum MHD_Result reply(struct daemon *d, struct MHD_Connection *conn, struct api_reply *r)
{
    pthread_mutex_lock(&d->lock);
    d->api_requests++;
    if (r->error)
        d->api_errors++;
    pthread_mutex_unlock(&d->lock);
    enum MHD_Result ret;
    if (r->error) {
        ret = tidal_http_send_error(conn, r->status, r->error, r->detail);
    } else if (r->bytes) {
        ret = tidal_http_send(conn, r->status ? r->status : 200, "application/octet-stream",
                              r->bytes, r->bytes_len, NULL, NULL);
    } else if (r->text) {
        ret = tidal_http_send(conn, r->status ? r->status : 200, "text/plain; charset=utf-8",
                              r->text, strlen(r->text), NULL, NULL);
    } else {
        char *text = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
        ret = text ? tidal_http_send(conn, r->status ? r->status : 200, "application/json", text,
                                     strlen(text), NULL, NULL)
                   : tidal_http_send_error(conn, 500, "internal", "out of memory");
        free(text);
    }
    cJSON_Delete(r->json);
    free(r->text);
    free(r->bytes);
    return ret;
}

/* The offset of a \u0000 escape inside a JSON string of text, or -1. cJSON decodes it
 * into a NUL that silently ends the string ("web\u0000x" would name VM "web"). */
static long escaped_nul_at(const char *text, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"')
            in_string = !in_string;
        else if (in_string && text[i] == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 6 <= len && !strncmp(text + i + 2, "0000", 4))
                return (long)i;
            i++; /* the escaped character, a quote included */
        }
    }
    return -1;
}

int api_parse_request(const char *method, const char *url, const char *body, size_t len, char *path,
                      size_t path_size, struct api_request *q, struct api_reply *r)
{
    *q = (struct api_request){.method = method};
    if (snprintf(path, path_size, "%s", url) >= (int)path_size)
        return api_fail(r, 404, "not_found", "path too long"), -1;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save), q->nparts++) {
        if (q->nparts < 6) {
            q->parts[q->nparts] = p;
            q->from[q->nparts] = url + (p - path); /* path is url, copied */
        }
    }
    if (!len)
        return 0;
    long nul = escaped_nul_at(body, len);
    if (nul >= 0)
        return api_fail(r, 400, "bad_json",
                        "request body: a string holds \\u0000 (NUL) at byte %ld; names and "
                        "values cannot contain NUL",
                        nul),
               -1;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(body, len, &end, false);
    /* One value, then only white space: text after it is a malformed request. */
    while (json && end < body + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (!json || end != body + len) {
        const char *at = json ? end : cJSON_GetErrorPtr();
        size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : 0;
        api_fail(r, 400, "bad_json", "request body is not valid JSON (%s at byte %zu)",
                 json ? "unexpected text after the value" : "error", off);
        cJSON_Delete(json);
        return -1;
    }
    q->body = json;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct daemon *d = cls;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx) {
        if (tidal_http_length_ambiguous(conn))
            return tidal_http_send_error(conn, 400, "bad_request",
                                         "Content-Length is given more than once");
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
            return MHD_NO;
        ctx->body.limit = BODY_LIMIT;
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (tidal_http_body_append(&ctx->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    struct api_reply r = {0};
    if (ctx->body.too_large)
        return tidal_http_send_error(conn, 413, "too_large", "request body over 1 MiB");

    char path[1024];
    struct api_request q;
    if (api_parse_request(method, url, ctx->body.data, ctx->body.len, path, sizeof(path), &q, &r))
        return reply(d, conn, &r);
    route(d, &q, &r);
    cJSON_Delete((cJSON *)q.body);
    return reply(d, conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_ctx *ctx = *con_cls;
    if (ctx) {
        tidal_http_body_free(&ctx->body);
        free(ctx);
    }
    *con_cls = NULL;
}

struct MHD_Daemon *daemon_http_start(struct daemon *d, int listen_fd, struct tidal_err *err)
{
    struct MHD_Daemon *h = MHD_start_daemon(
        /* poll(), not select(): each VM holds descriptors, and select() cannot watch
         * one numbered 1024 or more */
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, d, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h)
        tidal_err_set(err, "libmicrohttpd could not start on the socket");
    return h;
}

/* The HTTP API of `tidal serve`. An invocation's connection is suspended while a
 * worker runs the guest, so the epoll thread keeps serving other connections. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* From the end of the headers to the end of the body, at most this. */
#define BODY_DEADLINE_NS (30ull * 1000000000ull)

#define INVOKE_PREFIX "/v1/functions/"
#define INVOKE_SUFFIX "/invoke"

enum phase { RECEIVING, RUNNING, DONE };

struct request {
    struct tidal_server *srv;
    struct MHD_Connection *conn;
    struct tidal_function *fn;
    struct tidal_http_body body;
    struct tidal_job job;
    _Atomic enum phase phase;
    uint64_t start_ns;
};

uint64_t tidal_serve_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct tidal_function *find_function(struct tidal_server *srv, const char *name, size_t len)
{
    for (unsigned i = 0; i < srv->nfns; i++)
        if (strlen(srv->fns[i].spec->name) == len && !memcmp(srv->fns[i].spec->name, name, len))
            return &srv->fns[i];
    return NULL;
}

size_t tidal_serve_keep_raw(void *cls, struct MHD_Connection *conn, char *text)
{
    (void)cls;
    (void)conn;
    return strlen(text);
}

/* An encoded '/' or NUL: decoded, it would move a segment boundary or end the path
 * early (echo%2Finvoke, echo/invoke%00garbage), so it is refused rather than routed. */
static bool has_encoded_separator(const char *url)
{
    for (const char *p = strchr(url, '%'); p; p = strchr(p + 1, '%'))
        if (!strncasecmp(p + 1, "2f", 2) || !strncmp(p + 1, "00", 2))
            return true;
    return false;
}

/* "/v1/functions/NAME/invoke" -> NAME; false for any other path. Names are plain
 * characters (A-Z a-z 0-9 - _ .), so the raw path is compared as sent. */
static bool invoke_path(const char *url, const char **name, size_t *len)
{
    size_t plen = strlen(INVOKE_PREFIX), slen = strlen(INVOKE_SUFFIX), ulen = strlen(url);
    if (ulen <= plen + slen || strncmp(url, INVOKE_PREFIX, plen) ||
        strcmp(url + ulen - slen, INVOKE_SUFFIX))
        return false;
    *name = url + plen;
    *len = ulen - plen - slen;
    return !memchr(*name, '/', *len);
}

enum tidal_serve_route tidal_serve_route(const char *url, const char **name, size_t *len)
{
    if (has_encoded_separator(url))
        return TIDAL_ROUTE_BAD_PATH;
    return invoke_path(url, name, len) ? TIDAL_ROUTE_INVOKE : TIDAL_ROUTE_OTHER;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *type,
                                 char *text)
{
    if (!text)
        return tidal_http_send_error(conn, 500, "internal", "out of memory");
    enum MHD_Result r = tidal_http_send(conn, status, type, text, strlen(text), NULL, NULL);
    free(text);
    return r;
}

static enum MHD_Result handle_get(struct tidal_server *srv, struct MHD_Connection *conn,
                                  const char *url, const char *method)
{
    unsigned status = 200;
    enum MHD_Result r;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool known =
        !strcmp(url, "/healthz") || !strcmp(url, "/metrics") || !strcmp(url, "/v1/functions");
    if (!known) {
        status = 404;
        r = tidal_http_send_error(conn, status, "not_found",
                                  "routes: POST /v1/functions/{name}/invoke, GET /v1/functions, "
                                  "GET /healthz, GET /metrics");
    } else if (!get) {
        status = 405;
        r = tidal_http_send_error_header(conn, status, "method_not_allowed", "use GET",
                                         MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    } else if (!strcmp(url, "/healthz")) {
        r = tidal_http_send(conn, status, "application/json", "{\"status\":\"ok\"}", 15, NULL,
                            NULL);
    } else if (!strcmp(url, "/metrics")) {
        r = send_text(conn, status, "text/plain; version=0.0.4", tidal_serve_metrics(srv));
    } else {
        r = send_text(conn, status, "application/json", tidal_serve_functions_json(srv));
    }
    tidal_serve_log(srv, method, url, "-", status, 0, NULL);
    return r;
}

static unsigned outcome_status(enum tidal_outcome o)
{
    switch (o) {
    case OUTCOME_OK:
        return 200;
    case OUTCOME_TIMEOUT:
        return 504;
    case OUTCOME_REJECTED:
        return 503;
    case OUTCOME_TOO_LARGE:
        return 413;
    case OUTCOME_ERROR:
        return 500;
    default:
        return 502;
    }
}

static const char *outcome_message(enum tidal_outcome o)
{
    switch (o) {
    case OUTCOME_FAILED:
        return "function_failed";
    case OUTCOME_CRASHED:
        return "function_crashed";
    case OUTCOME_TIMEOUT:
        return "function_timeout";
    case OUTCOME_OUTPUT_LIMIT:
        return "output_too_large";
    case OUTCOME_REJECTED:
        return "overloaded";
    case OUTCOME_TOO_LARGE:
        return "body_too_large";
    default:
        return "internal";
    }
}

static void add_count_header(struct MHD_Response *resp, const char *name, uint64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
    MHD_add_response_header(resp, name, text);
}

/* Sends the invocation's result, counts it and logs it. */
static enum MHD_Result respond(struct request *req, const char *method, const char *url)
{
    struct tidal_invocation *inv = &req->job.result;
    unsigned status = outcome_status(inv->outcome);
    enum MHD_Result r;
    if (inv->outcome == OUTCOME_OK) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(inv->out_len, inv->out, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            return MHD_NO;
        inv->out = NULL; /* the response owns it now */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
        add_count_header(resp, "X-Tidal-Exits", inv->exits);
        if (req->fn->backend == TIDAL_BACKEND_VM) {
            add_count_header(resp, "X-Tidal-Pf-Taken", inv->pf_taken);
            add_count_header(resp, "X-Tidal-Vm-Requests", inv->vm_requests);
        }
        r = MHD_queue_response(req->conn, status, resp);
        MHD_destroy_response(resp);
    } else if (inv->outcome == OUTCOME_REJECTED) {
        r = tidal_http_send_error_header(req->conn, status, "overloaded",
                                         inv->detail[0] ? inv->detail
                                                        : "the function's concurrency and queue "
                                                          "are full; retry later",
                                         MHD_HTTP_HEADER_RETRY_AFTER, "1");
    } else {
        r = tidal_http_send_error(req->conn, status, outcome_message(inv->outcome), inv->detail);
    }
    uint64_t ns = tidal_serve_now_ns() - req->start_ns;
    tidal_serve_record(req->fn, inv->outcome, ns);
    tidal_serve_log(req->srv, method, url, req->fn->spec->name, status, ns, inv);
    return r;
}

static void job_done(struct tidal_job *job)
{
    struct request *req = (struct request *)((char *)job - offsetof(struct request, job));
    atomic_store(&req->phase, DONE);
    MHD_resume_connection(req->conn);
}

static void too_large_detail(const struct tidal_function *fn, char *buf, size_t size)
{
    snprintf(buf, size, "the request body exceeds %llu bytes, the limit of function '%s'",
             (unsigned long long)fn->spec->limits.max_body, fn->spec->name);
}

/* The first call for an invocation: route, check the declared size, set up state. */
static enum MHD_Result start_invoke(struct tidal_server *srv, struct MHD_Connection *conn,
                                    const char *url, const char *method, const char *name,
                                    size_t len, void **con_cls)
{
    struct tidal_function *fn = find_function(srv, name, len);
    if (!fn || strcmp(method, "POST")) {
        unsigned status = fn ? 405 : 404;
        char detail[200];
        snprintf(detail, sizeof(detail), "no function named '%.*s'", (int)(len > 64 ? 64 : len),
                 name);
        enum MHD_Result r =
            fn ? tidal_http_send_error_header(conn, status, "method_not_allowed", "use POST",
                                              MHD_HTTP_HEADER_ALLOW, "POST")
               : tidal_http_send_error(conn, status, "unknown_function", detail);
        tidal_serve_log(srv, method, url, "-", status, 0, NULL);
        return r;
    }
    const char *declared =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (declared && strtoull(declared, NULL, 10) > fn->spec->limits.max_body) {
        /* Refused before the body is read: the connection closes after this answer. */
        char detail[200];
        too_large_detail(fn, detail, sizeof(detail));
        tidal_serve_record(fn, OUTCOME_TOO_LARGE, 0);
        tidal_serve_log(srv, method, url, fn->spec->name, 413, 0, NULL);
        return tidal_http_send_error(conn, 413, "body_too_large", detail);
    }
    struct request *req = calloc(1, sizeof(*req));
    if (!req)
        return MHD_NO;
    req->srv = srv;
    req->conn = conn;
    req->fn = fn;
    req->start_ns = tidal_serve_now_ns();
    req->body.limit = fn->spec->limits.max_body;
    req->body.shared = &srv->upload_bytes;
    req->body.shared_cap = srv->cfg->max_uploads;
    req->job.fn = fn;
    req->job.done = job_done;
    atomic_fetch_add(&srv->requests_in_flight, 1);
    *con_cls = req;
    return MHD_YES;
}

enum MHD_Result tidal_serve_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct tidal_server *srv = cls;
    struct request *req = *con_cls;
    if (!req) {
        const char *name;
        size_t len;
        if (tidal_http_length_ambiguous(conn)) {
            tidal_serve_log(srv, method, url, "-", 400, 0, NULL);
            return tidal_http_send_error(conn, 400, "bad_request",
                                         "Content-Length is given more than once");
        }
        enum tidal_serve_route route = tidal_serve_route(url, &name, &len);
        if (route == TIDAL_ROUTE_BAD_PATH) {
            tidal_serve_log(srv, method, url, "-", 400, 0, NULL);
            return tidal_http_send_error(conn, 400, "bad_path",
                                         "the path holds an encoded '/' (%2F) or NUL (%00)");
        }
        if (route == TIDAL_ROUTE_OTHER)
            return handle_get(srv, conn, url, method);
        return start_invoke(srv, conn, url, method, name, len, con_cls);
    }
    if (*upload_data_size) {
        /* A body trickling in holds a connection and its memory: it has a deadline. */
        if (tidal_serve_now_ns() - req->start_ns > BODY_DEADLINE_NS)
            return MHD_NO; /* closes the connection */
        if (atomic_load(&req->phase) == RECEIVING &&
            tidal_http_body_append(&req->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&req->phase) == RECEIVING) {
        if (req->body.too_large) {
            req->job.result.outcome = OUTCOME_TOO_LARGE;
        } else if (req->body.over_shared) {
            req->job.result.outcome = OUTCOME_REJECTED;
            snprintf(req->job.result.detail, sizeof(req->job.result.detail),
                     "the request bodies being received hold the server's upload memory, "
                     "%llu bytes (--max-uploads); retry later",
                     (unsigned long long)srv->cfg->max_uploads);
        } else {
            req->job.body = req->body.data ? req->body.data : "";
            req->job.len = req->body.len;
            req->phase = RUNNING;
            /* Suspend first: the worker may finish and resume before we return. */
            MHD_suspend_connection(conn);
            if (!tidal_dispatcher_submit(srv->dispatcher, &req->job))
                return MHD_YES;
            req->job.result.outcome = OUTCOME_REJECTED;
            req->phase = DONE;
            MHD_resume_connection(conn);
            return MHD_YES;
        }
    }
    if (req->job.result.outcome == OUTCOME_TOO_LARGE)
        too_large_detail(req->fn, req->job.result.detail, sizeof(req->job.result.detail));
    return respond(req, method, url);
}

void tidal_serve_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode code)
{
    (void)conn;
    (void)code;
    struct tidal_server *srv = cls;
    struct request *req = *con_cls;
    if (!req)
        return;
    free(req->job.result.out);
    tidal_http_body_free(&req->body);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->requests_in_flight, 1);
}

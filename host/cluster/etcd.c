/* The etcd handle and its one way of talking: a POST of a JSON body to an endpoint's
 * gateway, through libcurl's multi interface so that a long request (a watch, a
 * campaign) notices *stop between waits of at most 100 ms. */
#include "etcd_internal.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOP_POLL_MS 100
#define RETRY_PAUSE_MS 100
/* A connection that carries nothing (an idle watch or campaign) is probed after 5 s and
 * given up after 9 unanswered probes 2 s apart: a host that vanished without closing
 * its connections is noticed in about 25 s. */
#define KEEPALIVE_IDLE_S 5L
#define KEEPALIVE_INTERVAL_S 2L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int add_endpoint(struct etcd *e, const char *text, size_t len, struct tidal_err *err)
{
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && (isspace((unsigned char)text[len - 1]) || text[len - 1] == '/'))
        len--;
    static const char scheme[] = "http://";
    if (len <= strlen(scheme) || strncmp(text, scheme, strlen(scheme)))
        return tidal_err_set(err,
                             "etcd endpoint \"%.*s\": expected http://HOST:PORT (only plain "
                             "HTTP is supported)",
                             (int)(len > 200 ? 200 : len), text);
    if (len > 200)
        return tidal_err_set(err, "etcd endpoint \"%.40s...\": longer than 200 characters", text);
    char **grown = realloc(e->endpoints, (e->n_endpoints + 1) * sizeof(*grown));
    if (!grown)
        return tidal_err_set(err, "etcd: out of memory");
    e->endpoints = grown;
    if (!(e->endpoints[e->n_endpoints] = strndup(text, len)))
        return tidal_err_set(err, "etcd: out of memory");
    e->n_endpoints++;
    return 0;
}

/* A body is sent at once, without waiting for "100 Continue" first. */
static struct curl_slist *json_headers(const char *extra)
{
    const char *lines[] = {"Content-Type: application/json", "Expect:", extra};
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < 3 && lines[i]; i++) {
        struct curl_slist *longer = curl_slist_append(list, lines[i]);
        if (!longer) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = longer;
    }
    return list;
}

struct etcd *etcd_open(const char *endpoints, double timeout_s, struct tidal_err *err)
{
    if (!(timeout_s >= 0.001 && timeout_s <= 3600)) {
        tidal_err_set(err, "etcd timeout %g s: expected 0.001 to 3600", timeout_s);
        return NULL;
    }
    pthread_once(&curl_once, init_curl);
    if (curl_init_result != CURLE_OK) {
        tidal_err_set(err, "etcd: libcurl: %s", curl_easy_strerror(curl_init_result));
        return NULL;
    }
    struct etcd *e = calloc(1, sizeof(*e));
    if (!e) {
        tidal_err_set(err, "etcd: out of memory");
        return NULL;
    }
    e->timeout_ms = lround(timeout_s * 1000);
    for (const char *p = endpoints ? endpoints : "";;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (add_endpoint(e, p, len, err))
            goto fail;
        if (!comma)
            break;
        p = comma + 1;
    }
    e->curl = curl_easy_init();
    e->multi = curl_multi_init();
    e->headers = json_headers(NULL);
    /* gRPC metadata through the gateway: a member that loses its raft leader ends its
     * watches, so that they move to a member that is still part of the cluster. */
    e->stream_headers = json_headers("Grpc-Metadata-hasleader: true");
    if (!e->curl || !e->multi || !e->headers || !e->stream_headers) {
        tidal_err_set(err, "etcd: cannot set up libcurl (out of memory)");
        goto fail;
    }
    CURL *c = e->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    return e;
fail:
    etcd_close(e);
    return NULL;
}

void etcd_close(struct etcd *e)
{
    if (!e)
        return;
    if (e->curl)
        curl_easy_cleanup(e->curl);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    curl_slist_free_all(e->headers);
    curl_slist_free_all(e->stream_headers);
    for (size_t i = 0; i < e->n_endpoints; i++)
        free(e->endpoints[i]);
    free(e->endpoints);
    free(e);
}

uint64_t etcd_requests(const struct etcd *e)
{
    return e->requests;
}

const char *etcd_endpoint(const struct etcd *e)
{
    return e->endpoints[e->current];
}

int etcd_bad_answer(const struct etcd *e, struct tidal_err *err, const char *fmt, ...)
{
    char what[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tidal_err_set(err, "etcd %s: bad answer: %s", e->url, what);
}

/* An answer's body as it arrives; a streamed one is cut into messages at each newline. */
struct receipt {
    struct etcd *e;
    const struct etcd_request *r;
    char *data;
    size_t len, cap;
    int failed; /* why the transfer was cut short: -1 (err set), ETCD_UNREACHABLE (err
                 * set) or what on_message returned */
    struct tidal_err err;
};

/* gRPC status and message of an error answer: {"error": "...", "code": N} as the
 * gateway writes a refused request, {"error": {"grpc_code": N, "message": "..."}} in a
 * stream. Returns false when o is no error answer. */
static bool error_of(const cJSON *o, int *code, const char **message)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!error)
        return false;
    const cJSON *where = cJSON_IsObject(error) ? error : o;
    const cJSON *c =
        cJSON_GetObjectItemCaseSensitive(where, cJSON_IsObject(error) ? "grpc_code" : "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(where, "message");
    *code = cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble <= 1000 ? (int)c->valuedouble
                                                                               : 0;
    *message = cJSON_IsString(m)       ? m->valuestring
               : cJSON_IsString(error) ? error->valuestring
                                       : "(no message)";
    return true;
}

/* An error answer: ETCD_UNREACHABLE when etcd says "unavailable" (this member has no
 * leader, or timed out), which another member may not be; else -1. */
static int error_answer(struct etcd *e, int code, const char *message, long http,
                        struct tidal_err *err)
{
    e->status = code;
    tidal_err_set(err, "etcd %s: %.300s (HTTP %ld, gRPC status %d)", e->url, message, http, code);
    return code == GRPC_UNAVAILABLE ? ETCD_UNREACHABLE : -1;
}

static int deliver(struct receipt *rc, const char *line, size_t len)
{
    while (len && isspace((unsigned char)line[len - 1]))
        len--;
    if (!len)
        return 0;
    cJSON *msg = cJSON_ParseWithLength(line, len);
    int code;
    const char *message;
    int result = 0;
    if (!cJSON_IsObject(msg))
        result = etcd_bad_answer(rc->e, &rc->err, "a streamed message is not a JSON object");
    else if (error_of(msg, &code, &message))
        result = error_answer(rc->e, code, message, 200, &rc->err);
    else {
        const cJSON *inner = etcd_json_member(rc->e, msg, "result", &rc->err);
        result = inner ? rc->r->on_message(inner, rc->r->arg, &rc->err) : -1;
    }
    cJSON_Delete(msg);
    return result;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct receipt *rc = arg;
    size_t add = size * n;
    if (add > ETCD_MAX_BODY - rc->len) {
        rc->failed = etcd_bad_answer(rc->e, &rc->err, "longer than %u bytes", ETCD_MAX_BODY);
        return 0;
    }
    if (rc->len + add + 1 > rc->cap) {
        size_t cap = rc->cap ? rc->cap : 4096;
        while (cap < rc->len + add + 1)
            cap *= 2;
        char *grown = realloc(rc->data, cap);
        if (!grown) {
            rc->failed = tidal_err_set(&rc->err, "etcd %s: out of memory", rc->e->url);
            return 0;
        }
        rc->data = grown;
        rc->cap = cap;
    }
    memcpy(rc->data + rc->len, data, add);
    rc->len += add;
    long http = 0;
    curl_easy_getinfo(rc->e->curl, CURLINFO_RESPONSE_CODE, &http);
    if (!rc->r->on_message || http != 200)
        return add;
    char *nl;
    while ((nl = memchr(rc->data, '\n', rc->len))) {
        size_t line = (size_t)(nl - rc->data) + 1;
        int result = deliver(rc, rc->data, line);
        memmove(rc->data, rc->data + line, rc->len - line);
        rc->len -= line;
        if (result) {
            rc->failed = result;
            return 0;
        }
    }
    return add;
}

/* Failures that say nothing about the request, only about this endpoint or the way to
 * it: another endpoint may do. */
static bool transport_failure(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

/* Runs the transfer set up on e->curl: its CURLcode, or -1 when *stop was set first. */
static int transfer(struct etcd *e, volatile int *stop, const char **why)
{
    int result = -1;
    *why = NULL;
    if (curl_multi_add_handle(e->multi, e->curl) != CURLM_OK) {
        *why = "libcurl refused the transfer";
        return CURLE_FAILED_INIT;
    }
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(e->multi, &running);
        if (mc == CURLM_OK && !running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(e->multi, &left);
            result = msg && msg->msg == CURLMSG_DONE ? (int)msg->data.result : CURLE_FAILED_INIT;
            break;
        }
        if (mc == CURLM_OK && stop && *stop)
            break;
        if (mc == CURLM_OK)
            mc = curl_multi_poll(e->multi, NULL, 0, STOP_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            *why = curl_multi_strerror(mc);
            result = CURLE_FAILED_INIT;
            break;
        }
    }
    curl_multi_remove_handle(e->multi, e->curl);
    return result;
}

/* The answer after the transfer: an error answer, or the parsed body. */
static int read_answer(struct etcd *e, struct receipt *rc, cJSON **answer, struct tidal_err *err)
{
    long http = 0;
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &http);
    if (http == 200 && rc->r->on_message)
        return rc->len ? deliver(rc, rc->data, rc->len) : 0;
    cJSON *body = cJSON_ParseWithLength(rc->data ? rc->data : "", rc->len);
    int code;
    const char *message;
    int result = 0;
    if (cJSON_IsObject(body) && error_of(body, &code, &message))
        result = error_answer(e, code, message, http, err);
    else if (http != 200) {
        size_t shown = 0;
        while (shown < rc->len && shown < 120 && isprint((unsigned char)rc->data[shown]))
            shown++;
        result = tidal_err_set(err, "etcd %s: HTTP %ld: %.*s", e->url, http, (int)shown,
                               shown ? rc->data : "(no readable message)");
    } else if (!cJSON_IsObject(body))
        result = etcd_bad_answer(e, err, "not a JSON object");
    else if (answer) {
        *answer = body;
        body = NULL;
    }
    cJSON_Delete(body);
    return result;
}

int etcd_exchange(struct etcd *e, const struct etcd_request *r, cJSON **answer,
                  struct tidal_err *err)
{
    if (answer)
        *answer = NULL;
    e->status = 0;
    snprintf(e->url, sizeof(e->url), "%s%s", e->endpoints[e->current], r->path);
    char *body = r->body ? cJSON_PrintUnformatted(r->body) : NULL;
    if (!body)
        return tidal_err_set(err, "etcd %s: out of memory for the request", e->url);
    struct receipt rc = {.e = e, .r = r};
    CURL *c = e->curl;
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->on_message ? e->stream_headers : e->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->unbounded ? 0L : e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rc);
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
    e->requests++;
    const char *why;
    int code = transfer(e, r->stop, &why);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    free(body);
    int result;
    if (code < 0)
        result = ETCD_STOPPED;
    else if (rc.failed) {
        *err = rc.err;
        result = rc.failed;
    } else if (code != CURLE_OK) {
        tidal_err_set(err, "etcd %s: %s", e->url,
                      why           ? why
                      : curl_msg[0] ? curl_msg
                                    : curl_easy_strerror(code));
        result = transport_failure(code) ? ETCD_UNREACHABLE : -1;
    } else
        result = read_answer(e, &rc, answer, err);
    free(rc.data);
    if (result == ETCD_UNREACHABLE)
        e->current = (e->current + 1) % e->n_endpoints;
    return result;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

bool etcd_retry(struct etcd *e, struct etcd_retry *r)
{
    if (!r->failures++)
        r->first_failure = now_s();
    if (r->failures % e->n_endpoints)
        return true;
    if (now_s() - r->first_failure >= e->timeout_ms / 1000.0)
        return false;
    nanosleep(&(struct timespec){.tv_nsec = RETRY_PAUSE_MS * 1000000L}, NULL);
    return true;
}

int etcd_call(struct etcd *e, const struct etcd_request *r, cJSON **answer, struct tidal_err *err)
{
    struct etcd_retry retry = {0};
    int result;
    while ((result = etcd_exchange(e, r, answer, err)) == ETCD_UNREACHABLE)
        if ((r->stop && *r->stop) || !etcd_retry(e, &retry))
            break;
    if (result == ETCD_UNREACHABLE && r->stop && *r->stop)
        return ETCD_STOPPED;
    return result == ETCD_UNREACHABLE ? -1 : result;
}

int etcd_unary(struct etcd *e, const char *path, cJSON *body, cJSON **answer, struct tidal_err *err)
{
    int result = etcd_call(e, &(struct etcd_request){.path = path, .body = body}, answer, err);
    cJSON_Delete(body);
    return result;
}

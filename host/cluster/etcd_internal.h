/* What the etcd client's files share: the handle, one HTTP exchange with failover, and
 * the JSON forms of etcd's messages. */
#ifndef TIDAL_HOST_CLUSTER_ETCD_INTERNAL_H
#define TIDAL_HOST_CLUSTER_ETCD_INTERNAL_H

#include "etcd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* The largest answer, or streamed message, read: far above etcd's own request limit
 * (1.5 MiB by default), so only a broken or hostile peer reaches it. */
#define ETCD_MAX_BODY (64u << 20)

/* An exchange's outcome besides 0, -1 and ETCD_STOPPED: the endpoint could not be
 * reached, dropped the connection, timed out or answered "unavailable"; the handle has
 * moved on to the next one. */
#define ETCD_UNREACHABLE 10

/* gRPC status codes of etcd's error answers that the client acts on. */
#define GRPC_NOT_FOUND 5
#define GRPC_UNAVAILABLE 14

struct etcd {
    char **endpoints;
    size_t n_endpoints, current;
    long timeout_ms;
    CURL *curl;
    CURLM *multi;
    struct curl_slist *headers, *stream_headers;
    uint64_t requests;
    int status;     /* gRPC status of the last error answer; 0 when a failure was another */
    char url[1024]; /* of the last exchange, for messages */
};

/* One request. A streamed answer (a watch) is handed to on_message one JSON object at a
 * time, as they arrive; any other is parsed whole into *answer. */
struct etcd_request {
    const char *path; /* "/v3/kv/put" */
    const cJSON *body;
    bool unbounded;     /* no time limit once connected (campaign, watch) */
    volatile int *stop; /* may be NULL */
    /* 0 to go on; anything else ends the exchange, which returns it. */
    int (*on_message)(const cJSON *msg, void *arg, struct tidal_err *err);
    void *arg;
};

/* One try on the current endpoint: 0 (and, unless streamed, *answer: a JSON object to
 * cJSON_Delete), ETCD_STOPPED, ETCD_UNREACHABLE or -1 (an error answer, whose gRPC
 * status is then in e->status, a malformed answer, or on_message failed). */
int etcd_exchange(struct etcd *e, const struct etcd_request *r, cJSON **answer,
                  struct tidal_err *err);
/* Whether to try again after an exchange found its endpoint unreachable. A cluster
 * that is electing a leader is unavailable for about an election timeout, on every
 * member: so the endpoints are tried in turn, with a pause after each round, until one
 * is reached or every one has failed and the handle's timeout has passed since the
 * first failure. */
struct etcd_retry {
    size_t failures;
    double first_failure;
};
bool etcd_retry(struct etcd *e, struct etcd_retry *r);
/* etcd_exchange on each endpoint in turn, from the current one, while etcd_retry says
 * so. */
int etcd_call(struct etcd *e, const struct etcd_request *r, cJSON **answer, struct tidal_err *err);
/* etcd_call of a plain request; body is deleted (NULL: building it ran out of memory). */
int etcd_unary(struct etcd *e, const char *path, cJSON *body, cJSON **answer,
               struct tidal_err *err);
/* Refuses a value longer than ETCD_MAX_BODY, which could not be encoded anyway (etcd's
 * own limit, --max-request-bytes, is 1.5 MiB by default: it says so itself). */
int etcd_check_value(const char *key, size_t len, struct tidal_err *err);
/* "etcd <url>: bad answer: <what>"; returns -1. */
int etcd_bad_answer(const struct etcd *e, struct tidal_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- JSON forms (etcd_json.c). etcd leaves out fields that are zero or empty, and
 * writes int64 fields as strings. Adders return false when out of memory; readers
 * return 0, or -1 with err naming the field. ---- */
bool etcd_json_add_bytes(cJSON *o, const char *name, const void *data, size_t len);
bool etcd_json_add_int64(cJSON *o, const char *name, int64_t v);
/* "key" and, for a prefix, "range_end": the key alone or every key starting with it. */
bool etcd_json_add_range(cJSON *o, const char *key, bool prefix);
/* o when ok, else NULL (o deleted): the body to send, NULL meaning out of memory. */
cJSON *etcd_json_built(cJSON *o, bool ok);
/* Absent: 0. */
int etcd_json_int64(const struct etcd *e, const cJSON *o, const char *name, int64_t *out,
                    struct tidal_err *err);
/* Absent: empty. *out is malloc'ed, with a NUL after *len bytes (len may be NULL);
 * text refuses a NUL inside. */
int etcd_json_bytes(const struct etcd *e, const cJSON *o, const char *name, bool text, char **out,
                    size_t *len, struct tidal_err *err);
/* A key-value object; kv's strings are malloc'ed: etcd_json_kv_free. */
int etcd_json_kv(const struct etcd *e, const cJSON *o, struct etcd_kv *kv, struct tidal_err *err);
void etcd_json_kv_free(struct etcd_kv *kv);
/* The answer's header.revision, which every answer has. */
int etcd_json_revision(const struct etcd *e, const cJSON *answer, int64_t *revision,
                       struct tidal_err *err);
/* The member `name` of o, an object; NULL (and err) when missing or not an object. */
const cJSON *etcd_json_member(const struct etcd *e, const cJSON *o, const char *name,
                              struct tidal_err *err);

#endif

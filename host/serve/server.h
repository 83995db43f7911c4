/* Inside `tidal serve`: the server state the HTTP handlers share. */
#ifndef TIDAL_HOST_SERVE_SERVER_H
#define TIDAL_HOST_SERVE_SERVER_H

#include "fn.h"
#include "tidal/http.h"
#include "tidal/telemetry.h"

#include <stdio.h>

struct tidal_server {
    const struct tidal_serve_config *cfg;
    struct tidal_function *fns;
    unsigned nfns;
    struct tidal_dispatcher *dispatcher;
    atomic_uint requests_in_flight; /* invocations between headers and completion */
    atomic_size_t upload_bytes;     /* held by the bodies being received */
    pthread_mutex_t log_lock;
    struct tidal_telemetry *kvm; /* --kernel-metrics on, when BPF could be loaded */
    /* Which function each VM the kernel counts belongs to (by its kvm id), learnt by
     * /metrics from workers between jobs; guarded by owners_lock. */
    struct kvm_owner *owners;
    unsigned nowners;
    pthread_mutex_t owners_lock;
};

#define KVM_OWNERS_MAX 4096
struct kvm_owner {
    uint64_t kvm;
    unsigned fn;
};

/* libmicrohttpd's access handler and completion callback (http.c). */
enum MHD_Result tidal_serve_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);
/* Where a request goes, from its path as the client sent it (no socket needed, so the
 * fuzzer calls it): refused for an encoded '/' or NUL, the invocation of function
 * *name (*len bytes, inside url), or one of the other routes (or none: 404). */
enum tidal_serve_route { TIDAL_ROUTE_BAD_PATH, TIDAL_ROUTE_INVOKE, TIDAL_ROUTE_OTHER };
enum tidal_serve_route tidal_serve_route(const char *url, const char **name, size_t *len);
/* MHD's unescape callback: leaves the path as the client sent it, so that routing
 * runs on raw segments (an encoded '/' or NUL never joins or ends one). */
size_t tidal_serve_keep_raw(void *cls, struct MHD_Connection *conn, char *text);
void tidal_serve_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode code);

/* GET /metrics in Prometheus text format, GET /v1/functions as JSON (metrics.c).
 * Both return malloc'd NUL-terminated text, NULL when memory runs out. */
char *tidal_serve_metrics(struct tidal_server *srv);
char *tidal_serve_functions_json(struct tidal_server *srv);
/* The kernel's figures for this process's VMs, Prometheus text (serve_kvm_metrics.c). */
void tidal_serve_record(struct tidal_function *fn, enum tidal_outcome outcome, uint64_t ns);

/* One line per request on stderr, text or JSON (log.c). */
void tidal_serve_log(struct tidal_server *srv, const char *method, const char *url,
                     const char *function, unsigned status, uint64_t ns,
                     const struct tidal_invocation *inv);

uint64_t tidal_serve_now_ns(void);

#endif

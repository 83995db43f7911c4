/* Runs `tidal serve` as a child process on an ephemeral loopback port and talks to
 * it over HTTP with libcurl. */
#ifndef TIDAL_TEST_SERVER_H
#define TIDAL_TEST_SERVER_H

#include "../common/test_env.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct server {
    pid_t pid;
    unsigned port;
    char log_path[64]; /* the server's stderr */
};

/* The VM or process build of a test function: "build/tests/guests/fn_crash.elf" or
 * ".linux"; examples ("echo") come from build/examples. */
const char *function_image(const char *name, bool vm);

/* Starts build/tidal serve --listen 127.0.0.1:0 with args (NULL-terminated) and waits
 * for its "listening" line. Fails the test if it does not come. */
void server_start(struct server *s, const char *const *args);
/* SIGTERM, then waits; returns the exit status (128 + signal if killed). */
int server_stop(struct server *s);
/* The server's stderr so far, NUL-terminated (static buffer). */
const char *server_log(const struct server *s);

struct reply {
    long status;
    char body[1 << 16];
    size_t len;
    char retry_after[32];
    long exits, vm_requests; /* X-Tidal-Exits, X-Tidal-Vm-Requests; -1 when absent */
    bool transport_error; /* connection refused, reset...: no HTTP status */
};

/* One request; body may be NULL (no body). */
void http(const struct server *s, const char *method, const char *path, const char *body,
          size_t len, struct reply *r);
/* A POST whose body is sent chunked, without Content-Length. */
void http_post_chunked(const struct server *s, const char *path, const char *body, struct reply *r);

#endif

/* `tidal serve`: a function-as-a-service front end. Each function is booted once to
 * tidal_ready() and kept as a template; every request runs on a VM at the template
 * point, which is reset in place afterwards. */
#ifndef TIDAL_SERVE_H
#define TIDAL_SERVE_H

#include "tidal/fsimage.h"
#include "tidal/err.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-function limits; a zero field takes the server's default when the function is
 * registered (see tidal_serve_config_finish). */
struct tidal_fn_limits {
    uint64_t mem_size;        /* guest memory; TIDAL_MEM_DEFAULT */
    double timeout_sec;       /* per invocation; 10 s */
    unsigned max_concurrency; /* invocations running at once; the worker count */
    unsigned max_queue;       /* invocations waiting beyond those; 1024. -1u: none */
    uint64_t max_body;        /* request body bytes; 1 MiB */
    uint64_t max_output;      /* response body bytes; 8 MiB */
};

#define TIDAL_FN_NAME_MAX 63
#define TIDAL_FN_QUEUE_NONE ((unsigned)-1)

struct tidal_fn_spec {
    char name[TIDAL_FN_NAME_MAX + 1];
    char *image; /* path of the guest ELF (or, with the process backend, the program) */
    struct tidal_fn_limits limits;
    /* Files (docs/serve.md): read-only trees placed in the template at boot, so every
     * request shares them; the template's scratch files are each request's start. */
    struct tidal_fs_trees trees;
    uint64_t scratch_max;
};

enum tidal_serve_backend {
    TIDAL_BACKEND_VM,      /* microVMs reused in place, reset to the template per request */
    TIDAL_BACKEND_PROCESS, /* fork+exec a Linux program per request: the baseline */
};

enum tidal_log_format { TIDAL_LOG_TEXT, TIDAL_LOG_JSON };

struct tidal_serve_config {
    struct sockaddr_in listen;
    const char *user;      /* --user: become this user once set up (NULL: stay) */
    unsigned workers;      /* threads that run invocations; one per core when 0 */
    unsigned http_threads; /* libmicrohttpd's epoll threads; 1 when 0 */
    uint64_t max_uploads;  /* bytes all bodies being received may hold; 256 MiB when 0 */
    enum tidal_serve_backend backend;
    enum tidal_log_format log_format;
    const char *template_dir; /* where templates are written; a private tmpfs dir when NULL */
    bool kernel_metrics;      /* /metrics adds the BPF counters of this process's VMs */
    struct tidal_fn_spec *fns;
    unsigned nfns;
};

/* Adds "NAME=PATH" from the command line. Messages name the argument. */
int tidal_serve_config_add_arg(struct tidal_serve_config *cfg, const char *arg,
                               struct tidal_err *err);
/* Adds every function of a JSON file (format in docs/serve.md); unknown fields, wrong
 * types and bad values are refused with the file and the field named. */
int tidal_serve_config_load(struct tidal_serve_config *cfg, const char *path,
                            struct tidal_err *err);
/* Fills defaults; refuses a configuration without functions. */
int tidal_serve_config_finish(struct tidal_serve_config *cfg, struct tidal_err *err);
void tidal_serve_config_free(struct tidal_serve_config *cfg);

/* Registers every function, listens, serves until SIGTERM or SIGINT, then finishes
 * the requests in flight. Prints "tidal serve: listening on http://ADDR:PORT" to
 * stderr once ready. Returns 0, or a TIDAL_SERVE_* code with err set. */
#define TIDAL_SERVE_BAD_INPUT 1 /* an image or a limit is wrong */
#define TIDAL_SERVE_NO_KVM 2
#define TIDAL_SERVE_SYSTEM 3 /* listening, threads, KVM failed */
int tidal_serve_run(const struct tidal_serve_config *cfg, struct tidal_err *err);

#endif

/* The REST API's handlers (docs/api.md), private to host/daemon_api*.c. A handler
 * gets the parsed request and fills a reply; api.c does the HTTP. */
#ifndef TIDAL_DAEMON_API_H
#define TIDAL_DAEMON_API_H

#include "internal.h"

#include <cjson/cJSON.h>

struct api_reply {
    unsigned status;
    cJSON *json; /* the body, or NULL with text */
    char *text;  /* malloc'ed plain text body (console, metrics) */
    char *bytes; /* malloc'ed body of bytes_len bytes, any content (output files) */
    size_t bytes_len;
    const char *error; /* set for errors: a short code ("not_found", "conflict"...) */
    char detail[1024]; /* the precise message */
};

struct api_request {
    const char *method;
    const char *parts[6]; /* the path split at '/', after the leading one */
    const char *from[6];  /* the path from parts[i] on, unsplit (an output file's path) */
    int nparts;           /* may exceed 6: the parts past the sixth are only in from[5] */
    const cJSON *body;    /* NULL when there was no body */
};

/* Splits url into q's parts (into path, path_size bytes) and parses the body (len
 * bytes; none when 0) into q->body, which the caller deletes. No socket and no daemon:
 * the fuzzer calls it. 0, or -1 with the error reply (bad path or JSON) in r. */
int api_parse_request(const char *method, const char *url, const char *body, size_t len, char *path,
                      size_t path_size, struct api_request *q, struct api_reply *r);

/* The body of POST /v1/vms, checked field by field. */
struct api_vm_spec {
    const char *name; /* inside the body */
    char image[4096];
    char *args[DVM_MAX_ARGS];
    int argc;
    uint64_t mem;
    double cpus;
    bool start;
    struct tidal_fs_trees trees; /* "dirs", "files": parsed, not yet walked */
    uint64_t scratch;
};
/* 0, or -1 with the first wrong field in err; free the spec either way. */
int api_vm_spec_parse(const cJSON *body, struct api_vm_spec *spec, struct tidal_err *err);
void api_vm_spec_free(struct api_vm_spec *spec);
/* A service VM from its spec (its trees move into the VM); NULL with why. Lock held. */
struct dvm *api_vm_define(struct daemon *d, struct api_vm_spec *spec, struct tidal_err *err);
/* A queued batch job from its spec (which the job takes, or frees on failure). Lock
 * held. */
struct dvm *api_job_define(struct daemon *d, struct tidal_job_spec *spec, struct tidal_err *err);

/* Sets an error reply; returns 0 so handlers can `return api_fail(...)`. */
int api_fail(struct api_reply *r, unsigned status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void api_vms(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_batch(struct daemon *d, const struct api_request *q, struct api_reply *r);
/* GET /v1/batch/NAME/outputs[/PATH] for the job whose directory is vm_dir. */
void api_job_outputs(const char *vm_dir, const char *name, const struct api_request *q,
                     struct api_reply *r);
void api_host(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_cluster(struct daemon *d, const struct api_request *q, struct api_reply *r);
/* POST /v1/vms/NAME/migrate (lock not held). */
void api_migrate(struct daemon *d, const char *name, const cJSON *body, struct api_reply *r);
void api_metrics(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_clock(struct daemon *d, const struct api_request *q, struct api_reply *r);

/* The last `max` bytes of a VM's console log, malloc'ed. */
char *console_tail(const struct dvm *v, size_t max);

#endif

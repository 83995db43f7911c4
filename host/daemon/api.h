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

/* Sets an error reply; returns 0 so handlers can `return api_fail(...)`. */
int api_fail(struct api_reply *r, unsigned status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void api_vms(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_batch(struct daemon *d, const struct api_request *q, struct api_reply *r);
/* GET /v1/batch/NAME/outputs[/PATH] for the job whose directory is vm_dir. */
void api_job_outputs(const char *vm_dir, const char *name, const struct api_request *q,
                     struct api_reply *r);
void api_host(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_metrics(struct daemon *d, const struct api_request *q, struct api_reply *r);
void api_clock(struct daemon *d, const struct api_request *q, struct api_reply *r);

/* The last `max` bytes of a VM's console log, malloc'ed. */
char *console_tail(const struct dvm *v, size_t max);

#endif

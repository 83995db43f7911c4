/* A thin layer over cJSON that turns every malformed field into a precise message:
 * file, JSON path, value and what was expected. */
#ifndef TSCHED_JSON_UTIL_H
#define TSCHED_JSON_UTIL_H

#include <cjson/cJSON.h>

#include "sched_internal.h"

struct jctx {
    const char *file;
    char path[160]; /* e.g. workloads[3] ("etl") */
    struct tsched_err *err;
};

/* Reads and parses a whole file; the message names the line of a syntax error. */
cJSON *tsched_json_load(const char *file, struct tsched_err *err);
/* Rejects members not in the NULL-terminated list: typos must not be ignored. */
int jk_only(const struct jctx *c, const cJSON *obj, const char *const *allowed);
/* Each getter returns 1 if present and valid, 0 if absent (and !required), -1 on error. */
int jk_num(const struct jctx *c, const cJSON *obj, const char *key, bool required, double lo,
           double hi, double *out);
int jk_str(const struct jctx *c, const cJSON *obj, const char *key, bool required,
           const char **out);
int jk_bool(const struct jctx *c, const cJSON *obj, const char *key, bool *out);
/* A number or an array of numbers >= 0, resampled to n equal parts of the day. */
int jk_curve(const struct jctx *c, const cJSON *obj, const char *key, bool required, double hi,
             float *out, int n);
int jerr(const struct jctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

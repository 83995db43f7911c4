/* Reading request bodies: every helper names the field and what was expected, so an
 * API error points at the exact mistake. Private to host/daemon_*.c. */
#ifndef TIDAL_DAEMON_JSON_H
#define TIDAL_DAEMON_JSON_H

#include "tidal/err.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Refuses any member of `obj` not in the NULL-terminated `known` list. `where` prefixes
 * the field name in messages ("" at the top level, "window." inside). */
int dj_only_fields(const cJSON *obj, const char *where, const char *const *known,
                   struct tidal_err *err);
/* A string member; absent: *out = NULL and 0 unless required. */
int dj_string(const cJSON *obj, const char *where, const char *name, bool required,
              const char **out, struct tidal_err *err);
/* A number member >= min; absent: *out untouched. */
int dj_number(const cJSON *obj, const char *where, const char *name, double min, double max,
              double *out, struct tidal_err *err);
/* A memory size given as "64M" or a byte count, checked against the monitor's limits. */
int dj_mem(const cJSON *obj, const char *name, uint64_t *out, struct tidal_err *err);
/* An array of strings: copies (strdup) into argv[*argc...], at most max. */
int dj_args(const cJSON *obj, const char *name, int max, char **argv, int *argc,
            struct tidal_err *err);
/* An image path: absolute, and a readable file now. */
int dj_image(const cJSON *obj, char *out, size_t size, struct tidal_err *err);

#endif

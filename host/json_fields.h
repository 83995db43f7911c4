/* The host side's one layer over cJSON for reading request bodies and configuration
 * files: every helper names the field and what was expected, so an error points at the
 * exact mistake. (scheduler/ keeps its own, json_util.h: it depends on nothing else in
 * the tree.) */
#ifndef TIDAL_HOST_JSON_FIELDS_H
#define TIDAL_HOST_JSON_FIELDS_H

#include "tidal/err.h"
#include "tidal/fsimage.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Refuses any member of `obj` not in the NULL-terminated `known` list. `where` prefixes
 * the field name in messages ("" at the top level, "window." inside). */
int tidal_json_only_fields(const cJSON *obj, const char *where, const char *const *known,
                           struct tidal_err *err);
/* A string member; absent: *out = NULL and 0 unless required. */
int tidal_json_string(const cJSON *obj, const char *where, const char *name, bool required,
                      const char **out, struct tidal_err *err);
/* A number member >= min; absent: *out untouched. */
int tidal_json_number(const cJSON *obj, const char *where, const char *name, double min, double max,
                      double *out, struct tidal_err *err);
/* A whole number in min..max; absent: *out untouched. */
int tidal_json_whole(const cJSON *obj, const char *where, const char *name, uint64_t min,
                     uint64_t max, uint64_t *out, struct tidal_err *err);
/* A size given as "64M" or a byte count (at least 1); absent: *out untouched. */
int tidal_json_size(const cJSON *obj, const char *where, const char *name, uint64_t *out,
                    struct tidal_err *err);
/* A guest memory size, as tidal_json_size and checked against the monitor's limits. */
int tidal_json_mem(const cJSON *obj, const char *where, const char *name, uint64_t *out,
                   struct tidal_err *err);
/* An array of strings: copies (strdup) into argv[*argc...], at most max. */
int tidal_json_args(const cJSON *obj, const char *name, int max, char **argv, int *argc,
                    struct tidal_err *err);
/* The guest's argv (image, then argc arguments) fits in its boot area: checked when a
 * VM or job is created, not first at boot, so an oversized one is never stored. */
int tidal_json_check_args_fit(const char *image, char *const *args, int argc,
                              struct tidal_err *err);
/* "dirs" and "files": arrays of "HOST:GUEST", as tidal run's --dir and --file, added
 * to *t (freed with it, parsed or not). */
int tidal_json_trees(const cJSON *obj, const char *where, struct tidal_fs_trees *t,
                     struct tidal_err *err);
/* Adds "dirs" and "files" (arrays of "HOST:GUEST") to o, when there are any. */
void tidal_json_add_trees(cJSON *o, const struct tidal_fs_trees *t);
/* The trees a daemon VM or job is given: every host path absolute (the daemon's
 * working directory is nobody's), every tree one that can be built now. */
int tidal_json_check_trees(const struct tidal_fs_trees *t, struct tidal_err *err);
/* An image path: absolute, and a readable file now. */
int tidal_json_image(const cJSON *obj, char *out, size_t size, struct tidal_err *err);

#endif

/* Small whole-file helpers for the host side (state files, configuration). */
#ifndef TIDAL_HOST_FILE_H
#define TIDAL_HOST_FILE_H

#include "tidal/err.h"

#include <stddef.h>

/* Writes data to path atomically: temporary file, fsync, rename, fsync of the dir. */
int tidal_write_atomic(const char *path, const void *data, size_t len, struct tidal_err *err);
/* Reads a whole (small) file; NUL-terminated. *data is malloc'ed. Messages name the
 * path; a file larger than limit is refused. */
int tidal_read_file(const char *path, size_t limit, char **data, size_t *len,
                    struct tidal_err *err);

#endif

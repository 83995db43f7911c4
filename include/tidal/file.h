#ifndef TIDAL_FILE_H
#define TIDAL_FILE_H

#include "tidal/err.h"

#include <stddef.h>
#include <stdint.h>

/* Maps a whole regular file read-only; messages name the path. A file larger than
 * max_size is refused as absurd rather than mapped. */
int tidal_file_map(const char *path, uint64_t max_size, const uint8_t **data, size_t *size,
                   struct tidal_err *err);
void tidal_file_unmap(const uint8_t *data, size_t size);

#endif

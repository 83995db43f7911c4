#ifndef TIDAL_FILE_H
#define TIDAL_FILE_H

#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens a file given by the user for reading without ever blocking in open(): a FIFO
 * with no writer would otherwise hang the caller forever. regular_only: images,
 * snapshots and configuration must be regular files, anything else is refused with a
 * message naming the path and its type; otherwise (a guest's input) pipes and devices
 * are accepted too, and only directories refused. Returns a blocking descriptor
 * (O_CLOEXEC), or -1 with err set; errno is kept from a failed open(). */
int tidal_file_open(const char *path, bool regular_only, struct tidal_err *err);

/* Creates `<path>.tmp.<pid>` (its name in tmp) for writing, 0600, to be renamed over
 * path. O_EXCL|O_NOFOLLOW: whatever another user planted under that name (a symlink to
 * a file of ours) is never followed or written through; a leftover of a killed writer
 * that had our pid is removed first. Returns the descriptor, or -1 with err set. */
int tidal_file_create_temp(const char *path, char *tmp, size_t size, struct tidal_err *err);

/* Maps a whole regular file read-only; messages name the path. A file larger than
 * max_size is refused as absurd rather than mapped. */
int tidal_file_map(const char *path, uint64_t max_size, const uint8_t **data, size_t *size,
                   struct tidal_err *err);
void tidal_file_unmap(const uint8_t *data, size_t size);

#endif

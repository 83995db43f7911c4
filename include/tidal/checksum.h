/* CRC32C (Castagnoli): the checksum of every snapshot section and of the files a
 * guest is given. */
#ifndef TIDAL_CHECKSUM_H
#define TIDAL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Feed pieces in order, starting from 0: crc(crc(0, a), b) == crc(0, a || b). */
uint32_t tidal_crc32c(uint32_t crc, const void *data, size_t len);

#endif

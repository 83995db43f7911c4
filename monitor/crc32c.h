/* Private: the two CRC32C implementations behind tidal_crc32c(), exposed so that the
 * tests can check one against the other on the same data. */
#ifndef TIDAL_MONITOR_CRC32C_H
#define TIDAL_MONITOR_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Portable slicing-by-8 table implementation. */
uint32_t tidal_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* True when the CPU has SSE4.2's crc32 instruction (checked once with cpuid). */
bool tidal_crc32c_hw_available(void);
/* The SSE4.2 implementation; call only when tidal_crc32c_hw_available(). */
uint32_t tidal_crc32c_hw(uint32_t crc, const void *data, size_t len);

#endif

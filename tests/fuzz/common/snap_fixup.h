/* Snapshot files carry a CRC32C over every byte, so a mutated file almost always stops
 * at the first checksum. The snapshot harnesses can rewrite the checksums (and the
 * declared file size, and a diff's base identity) after mutating, so that the fuzzer
 * reaches the checks behind them; the unfixed file is fuzzed too. */
#ifndef TIDAL_FUZZ_SNAP_FIXUP_H
#define TIDAL_FUZZ_SNAP_FIXUP_H

#include <stddef.h>
#include <stdint.h>

/* Makes the file's declared size, memory index, section and table checksums and
 * header checksum consistent with its bytes, as far as the layout can be followed. */
void snap_fixup(uint8_t *file, size_t size);
/* Marks `file` a diff of `base` (flag and base identity), then fixes it up. */
void snap_link(uint8_t *file, size_t size, const uint8_t *base, size_t base_size);

#endif

#include "snap_fixup.h"

#include "../../../snapshot/format.h"
#include "tidal/checksum.h"
#include "tidal/snapshot.h"

static void fix_memory_index(uint8_t *file, size_t size, uint64_t off, uint64_t len)
{
    if (len < SNAP_MEM_HDR_SIZE)
        return;
    uint8_t *h = file + off;
    uint64_t nruns = get64(h + SNAP_MEM_NRUNS);
    if (nruns > (len - SNAP_MEM_HDR_SIZE) / SNAP_RUN_SIZE || off + len > size)
        return;
    uint32_t crc = tidal_crc32c(0, h, SNAP_MEM_INDEX_CRC);
    crc = tidal_crc32c(crc, h + SNAP_MEM_HDR_SIZE, nruns * SNAP_RUN_SIZE);
    put32(h + SNAP_MEM_INDEX_CRC, crc);
}

void snap_fixup(uint8_t *file, size_t size)
{
    if (size < SNAP_HDR_SIZE)
        return;
    put64(file + SNAP_HDR_FILE_SIZE, size);
    uint32_t n = get32(file + SNAP_HDR_NSECTIONS);
    if (n > SNAP_MAX_SECTIONS)
        n = SNAP_MAX_SECTIONS;
    if (SNAP_TABLE_OFF + (uint64_t)n * SNAP_ENTRY_SIZE > size)
        n = (uint32_t)((size - SNAP_TABLE_OFF) / SNAP_ENTRY_SIZE);
    uint8_t *table = file + SNAP_TABLE_OFF;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = table + i * SNAP_ENTRY_SIZE;
        uint64_t off = get64(e + SNAP_ENTRY_OFFSET), len = get64(e + SNAP_ENTRY_SIZE_OFF);
        if (off > size || len > size - off)
            continue;
        if (get32(e + SNAP_ENTRY_TYPE) == TIDAL_SNAP_MEMORY)
            fix_memory_index(file, size, off, len);
        put32(e + SNAP_ENTRY_CRC, tidal_crc32c(0, file + off, len));
    }
    put32(file + SNAP_HDR_TABLE_CRC, tidal_crc32c(0, table, (size_t)n * SNAP_ENTRY_SIZE));
    put32(file + SNAP_HDR_CRC, tidal_crc32c(0, file, SNAP_HDR_CRC));
}

void snap_link(uint8_t *file, size_t size, const uint8_t *base, size_t base_size)
{
    if (size < SNAP_HDR_SIZE || base_size < SNAP_HDR_SIZE)
        return;
    put32(file + SNAP_HDR_FLAGS, get32(file + SNAP_HDR_FLAGS) | SNAP_FLAG_DIFF);
    put32(file + SNAP_HDR_BASE_CRC, get32(base + SNAP_HDR_CRC));
    put64(file + SNAP_HDR_BASE_SIZE, base_size);
    snap_fixup(file, size);
}

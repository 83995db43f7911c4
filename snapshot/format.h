/* Private: the byte layout of a snapshot file (docs/snapshot-format.md), shared by
 * format.c and the tests that craft damaged files. All integers are little-endian. */
#ifndef TIDAL_SNAPSHOT_FORMAT_H
#define TIDAL_SNAPSHOT_FORMAT_H

#include <stdint.h>

/* Little-endian fields, whatever the host's order. */
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

#define SNAP_MAGIC "TIDALSNP"
#define SNAP_MAGIC_LEN 8
#define SNAP_PAGE 4096u
/* Larger values are refused as absurd, by writers and readers alike. */
#define SNAP_MAX_MEM_SIZE (64ull << 30)
#define SNAP_MAX_BLOB_SIZE (64u << 20)

/* Header: 128 bytes at offset 0. */
#define SNAP_HDR_SIZE 128u
#define SNAP_HDR_MAGIC 0         /* 8 bytes "TIDALSNP" */
#define SNAP_HDR_VERSION 8       /* u32 TIDAL_SNAP_VERSION */
#define SNAP_HDR_NSECTIONS 12    /* u32 entries in the section table */
#define SNAP_HDR_ABI 16          /* u32 abi_version */
#define SNAP_HDR_FLAGS 20        /* u32 SNAP_FLAG_*; other bits zero */
#define SNAP_HDR_MEM_SIZE 24     /* u64 mem_size */
#define SNAP_HDR_CPU_FEATURES 32 /* 4 x u64 */
#define SNAP_HDR_FILE_SIZE 64    /* u64 size of the whole file */
#define SNAP_HDR_TABLE_CRC 72    /* u32 CRC32C of the section table */
#define SNAP_HDR_BASE_CRC 76     /* u32 diff: the base's header_crc; full: zero */
#define SNAP_HDR_BASE_SIZE 80    /* u64 diff: the base's file_size; full: zero */
#define SNAP_HDR_RESERVED 88     /* 36 bytes, zero */
#define SNAP_HDR_CRC 124         /* u32 CRC32C of header bytes 0..123 */

/* Header flags. */
#define SNAP_FLAG_DIFF 1u /* a diff: the memory section holds the dirty pages over a base */

/* Section table: right after the header, SNAP_ENTRY_SIZE bytes per section. */
#define SNAP_TABLE_OFF SNAP_HDR_SIZE
#define SNAP_ENTRY_SIZE 32u
#define SNAP_ENTRY_TYPE 0      /* u32 enum tidal_snap_section_type */
#define SNAP_ENTRY_CRC 4       /* u32 CRC32C of the section's bytes */
#define SNAP_ENTRY_OFFSET 8    /* u64 file offset */
#define SNAP_ENTRY_SIZE_OFF 16 /* u64 bytes */
#define SNAP_ENTRY_RESERVED 24 /* u64, zero */
#define SNAP_MAX_SECTIONS 16u

/* Memory section: index header, runs, zero padding to a page boundary, page data. */
#define SNAP_MEM_HDR_SIZE 32u
#define SNAP_MEM_NRUNS 0        /* u64 runs in the index */
#define SNAP_MEM_STORED 8       /* u64 pages stored */
#define SNAP_MEM_DATA_OFFSET 16 /* u64 file offset of the first stored page */
#define SNAP_MEM_PAGE_SIZE 24   /* u32 4096 */
#define SNAP_MEM_INDEX_CRC 28   /* u32 CRC32C of bytes 0..27 then the runs */
#define SNAP_RUN_SIZE 24u
#define SNAP_RUN_FIRST 0   /* u64 first guest page number */
#define SNAP_RUN_COUNT 8   /* u64 pages in the run */
#define SNAP_RUN_OFFSET 16 /* u64 file offset of the run's first page */

#endif

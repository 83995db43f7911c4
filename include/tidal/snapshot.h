/* Snapshot files: a saved microVM (vCPU state, monitor state, guest memory).
 * The format is described in docs/snapshot-format.md. This layer only reads and
 * writes files; snapshot/save.c and snapshot/restore.c move state to and from a VM
 * through the monitor's state API. */
#ifndef TIDAL_SNAPSHOT_H
#define TIDAL_SNAPSHOT_H

#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIDAL_SNAP_VERSION 1
/* Guest memory is saved and mapped in pages of this size; mem_size is a multiple of it. */
#define TIDAL_SNAP_PAGE_SIZE 4096u
/* Limits that writers and readers both enforce: larger values are refused as absurd. */
#define TIDAL_SNAP_MAX_MEM_SIZE (64ull << 30)
#define TIDAL_SNAP_MAX_BLOB_SIZE (64u << 20)

/* Section types. Unknown types are refused by readers of this version. */
enum tidal_snap_section_type {
    TIDAL_SNAP_VCPU = 1,    /* opaque blob from the monitor (struct tidal_vcpu_state) */
    TIDAL_SNAP_MONITOR = 2, /* opaque blob from the monitor (struct tidal_vm_state) */
    TIDAL_SNAP_MEMORY = 3,  /* guest memory: page index + page-aligned page data */
};

struct tidal_snap_blob {
    uint32_t type; /* TIDAL_SNAP_VCPU or TIDAL_SNAP_MONITOR */
    const void *data;
    uint64_t size;
};

struct tidal_snap_header_info {
    uint32_t abi_version;     /* guest ABI of the image the guest was booted from */
    uint64_t mem_size;        /* bytes of guest memory */
    uint64_t cpu_features[4]; /* CPUID feature words the guest may have used (see doc) */
};

/* Writes a snapshot atomically: a temporary file `<path>.tmp.<pid>` next to `path`,
 * fsync, rename, fsync of the directory. A crash at any point leaves the previous file
 * at `path` intact (a killed writer may leave its temporary file behind); a failure
 * removes the temporary file. `mem` holds info->mem_size bytes; pages that are all zero
 * are not stored. At most one blob of each type; blobs may be absent. Files are created
 * 0600 (they hold guest memory). Snapshot files are never modified in place, which is
 * what makes mapping them MAP_PRIVATE safe. */
int tidal_snap_write(const char *path, const struct tidal_snap_header_info *info,
                     const struct tidal_snap_blob *blobs, unsigned nblobs, const uint8_t *mem,
                     struct tidal_err *err);

struct tidal_snap; /* an opened, validated snapshot file */

/* Diff snapshots: a file that stores only the pages given in a bitmap (zero pages
 * included: a page that became zero must still be recorded) on top of a base
 * snapshot, which it names by identity (the base's header checksum and size).
 * dirty: bit p % 64 of word p / 64; bits beyond the last page are ignored. */
struct tidal_snap_diff {
    const struct tidal_snap *base; /* the snapshot (full or diff) this one applies to */
    const uint64_t *dirty;         /* bit p set: guest page p is stored (mem_size/4096 bits) */
};

/* As tidal_snap_write, but a diff: only the dirty pages, plus the base's identity.
 * info->mem_size must equal the base's; the blobs are stored whole. Refused if path is
 * the base's own file. */
int tidal_snap_write_diff(const char *path, const struct tidal_snap_header_info *info,
                          const struct tidal_snap_blob *blobs, unsigned nblobs, const uint8_t *mem,
                          const struct tidal_snap_diff *diff, struct tidal_err *err);

/* A diff cannot be mapped alone: tidal_snap_map_memory refuses it (use the chain). */
bool tidal_snap_is_diff(const struct tidal_snap *s);

/* Maps memory from a chain: chain[0] a full snapshot, then diffs in order, each of
 * whose base must be the one before it (refused with a message naming both files
 * otherwise); later pages win. Copy-on-write from the files like
 * tidal_snap_map_memory, valid after the snapshots are closed; unmap with
 * munmap(mem, mem_size). */
/* Checks that a chain is well formed (see tidal_snap_map_chain) without mapping it. */
int tidal_snap_check_chain(const struct tidal_snap *const *chain, unsigned n,
                           struct tidal_err *err);

uint8_t *tidal_snap_map_chain(const struct tidal_snap *const *chain, unsigned n,
                              struct tidal_err *err);

/* Opens and validates everything but the memory pages' checksum (see verify). Every
 * problem is refused with a message naming the file, the section and what was wrong:
 * truncation, bad magic, version, checksums, sizes, overlapping or out-of-range data. */
int tidal_snap_open(const char *path, struct tidal_snap **out, struct tidal_err *err);
/* Checks the memory section's CRC32C: reads every stored page on the first call for
 * this opened file; later calls return the remembered success. Safe to call from
 * several threads at once. */
int tidal_snap_verify_memory(const struct tidal_snap *s, struct tidal_err *err);
void tidal_snap_close(struct tidal_snap *s);

const struct tidal_snap_header_info *tidal_snap_info(const struct tidal_snap *s);
/* The blob of a section type, or NULL if absent; valid until tidal_snap_close. */
const void *tidal_snap_blob(const struct tidal_snap *s, uint32_t type, uint64_t *size);

/* Maps guest memory copy-on-write (MAP_PRIVATE) from the snapshot's memory image, which
 * the first call lays out (stored pages at their guest-physical offsets, in memory)
 * and every call of this opened snapshot shares; zero pages read as zeros. A few
 * mappings (VMAs) per call, whatever the number of runs (docs/snapshot-format.md).
 * Returns the address of mem_size bytes, or NULL with err set (naming the host limit,
 * when one was reached). Each call is an independent mapping; it stays valid after
 * tidal_snap_close (unmap it with munmap(mem, mem_size) then, or with
 * tidal_snap_unmap_memory before closing). Safe to call from several threads at once.
 * A diff is refused: it needs its base (tidal_snap_map_chain). */
uint8_t *tidal_snap_map_memory(const struct tidal_snap *s, struct tidal_err *err);
void tidal_snap_unmap_memory(const struct tidal_snap *s, uint8_t *mem);

/* Pages stored in the file, for stats and tests. */
uint64_t tidal_snap_stored_pages(const struct tidal_snap *s);

#endif

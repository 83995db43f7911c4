/* Shared by the snapshot tests: scratch directories, guest-memory patterns, whole-file
 * reads and writes, and re-sealing a deliberately edited file (recomputing its
 * checksums) so that a test reaches the validation rule it means to exercise. */
#ifndef TIDAL_TEST_SNAP_HELPERS_H
#define TIDAL_TEST_SNAP_HELPERS_H

#include "tidal/checksum.h"
#include "tidal/snapshot.h"

#include "../../snapshot/format.h"

#include <stddef.h>
#include <stdint.h>

#define MIB (1ull << 20)

/* A fresh directory under $TMPDIR or /tmp; th_rmrf removes it and everything in it. */
char *th_tmpdir(void);
void th_rmrf(const char *dir);
char *th_path(const char *dir, const char *name);

/* mem_size bytes of anonymous memory: page p holds a pattern derived from seed when
 * pick(p) is true, zeros otherwise. Free with th_free_mem. */
uint8_t *th_mem(uint64_t mem_size, uint32_t seed, int (*pick)(uint64_t page));
void th_free_mem(uint8_t *mem, uint64_t mem_size);
uint64_t th_nonzero_pages(const uint8_t *mem, uint64_t mem_size);

/* A snapshot of mem with a vcpu and a monitor blob made from seed. */
void th_write(const char *path, const uint8_t *mem, uint64_t mem_size, uint32_t seed);
/* The blobs th_write stores. */
void th_blob(uint32_t type, uint32_t seed, uint8_t *out, size_t *size);

uint8_t *th_read_file(const char *path, size_t *size);
void th_write_file(const char *path, const void *data, size_t size);

/* Recomputes the index, section, table and header checksums of a snapshot image
 * in memory, trusting its (possibly edited) layout fields where they are sane. */
void th_reseal(uint8_t *file, size_t size);

uint32_t th_get32(const uint8_t *p);
uint64_t th_get64(const uint8_t *p);
void th_put32(uint8_t *p, uint32_t v);
void th_put64(uint8_t *p, uint64_t v);

/* Offset of the table entry for a section type, or 0. */
size_t th_entry(const uint8_t *file, uint32_t type);

#endif

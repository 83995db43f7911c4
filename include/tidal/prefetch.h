/* Working-set prefetch for restores. Page by page, first touches of restored memory
 * cost a fault each (about 20 us per page on a software-assisted KVM); recording
 * which pages a restored guest touched and populating them writable in bulk on the
 * next restore replaces those faults with one madvise per run of pages. The price is
 * memory: each restored guest holds a private copy of its working set, also of the
 * pages it only reads, instead of sharing them with the page cache. */
#ifndef TIDAL_PREFETCH_H
#define TIDAL_PREFETCH_H

#include "tidal/err.h"
#include "tidal/monitor.h"

#include <stdint.h>

struct tidal_ws; /* a working set: runs of guest pages */

/* Writes (atomically) the pages of the VM's memory that are resident in this
 * process, i.e. that the guest or the monitor touched since restore, to `path`. */
int tidal_ws_record(struct tidal_vm *vm, const char *path, struct tidal_err *err);

/* Loads a working set for a guest of mem_size bytes. A missing file is not an error:
 * *out is NULL (nothing to prefetch yet). A damaged one is refused with a message. */
int tidal_ws_load(const char *path, uint64_t mem_size, struct tidal_ws **out,
                  struct tidal_err *err);

/* Populates the working set's pages of a restored VM's memory writable, i.e. makes
 * its private copies of them up front. Returns the number of pages requested. */
uint64_t tidal_ws_prefetch(const struct tidal_ws *ws, struct tidal_vm *vm);

void tidal_ws_free(struct tidal_ws *ws);

#endif

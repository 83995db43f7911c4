/* The working-set file beside a snapshot (SNAP.ws, snapshot/prefetch.c), read by every
 * `restore --prefetch` before it populates the pages it lists. Input: the file, checked
 * against a snapshot of 64 MiB. */
#include "fuzz_util.h"

#include "tidal/prefetch.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_file f;
    fuzz_file_open(&f, data, size);
    struct tidal_ws *ws;
    struct tidal_err err;
    if (tidal_ws_load(f.path, 64ull << 20, &ws, &err) == 0)
        tidal_ws_free(ws);
    fuzz_file_close(&f);
    return 0;
}

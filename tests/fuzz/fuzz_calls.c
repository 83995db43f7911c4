/* The guest call decoder (monitor/calls.c, monitor/console_ring.c): everything a guest
 * hands the monitor at an exit. Guest memory is the guest's, so the input is guest
 * memory: it is placed at the start of the image area (TIDAL_IMAGE_MIN_GPA), where the
 * call block is; its first 16 bytes are also the console ring's place (GPA, size), as
 * the image note gives it. As the run loop does, the ring is drained, the call handled,
 * the ring drained again; an EXIT's /out archive is then written out as `tidal run
 * --output-dir` does (fs/outputs.c). */
#include "fuzz_util.h"

#include "tidal/abi.h"
#include "tidal/calls.h"
#include "tidal/fsimage.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define DATA_GPA ((uint64_t)TIDAL_IMAGE_MIN_GPA)
#define DATA_MAX (64u << 10)
#define MEM_SIZE (DATA_GPA + DATA_MAX)
#define CAPTURE (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    static uint64_t dirty[(MEM_SIZE / TIDAL_PAGE_SIZE + 63) / 64];
    static uint8_t out_data[CAPTURE], err_data[CAPTURE];
    static int zero_fd = -1;
    if (!mem) {
        /* Below the image area guest memory stays zero, as the monitor's pages read. */
        mem = calloc(1, MEM_SIZE);
        zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        if (!mem || zero_fd < 0)
            abort();
    }
    if (size > DATA_MAX)
        size = DATA_MAX;
    memset(mem + DATA_GPA, 0, DATA_MAX);
    memcpy(mem + DATA_GPA, data, size);
    memset(dirty, 0, sizeof(dirty));

    struct tidal_guest_mem gm = {.base = mem, .size = MEM_SIZE, .host_dirty = dirty};
    struct tidal_out_buf out = {.data = out_data, .cap = CAPTURE};
    struct tidal_out_buf errb = {.data = err_data, .cap = CAPTURE};
    /* Interrupted: a SLEEP returns at once instead of sleeping what the guest asked. */
    volatile int interrupted = 1;
    struct tidal_call_io io = {.in_fd = zero_fd,
                               .out_fd = -1,
                               .err_fd = -1,
                               .capture = {&out, &errb},
                               .interrupted = &interrupted};
    struct tidal_console_ring_place ring = {0};
    if (size >= 16) {
        memcpy(&ring.gpa, data, 8);
        memcpy(&ring.size, data + 8, 8);
    }
    char msg[256];
    if (tidal_console_ring_check(&ring, msg, sizeof(msg)))
        ring = (struct tidal_console_ring_place){0}; /* the image would have been refused */
    if (tidal_console_ring_drain(&gm, &io, &ring, msg, sizeof(msg)))
        return 0; /* a malformed ring ends the guest */

    struct tidal_call_result res;
    enum tidal_call_outcome o = tidal_call_handle(&gm, &io, DATA_GPA + 16, &res);
    tidal_call_name(res.nr);
    tidal_console_ring_drain(&gm, &io, &ring, msg, sizeof(msg));
    if (o == TIDAL_CALL_EXITED && res.out_len) {
        struct tidal_err err;
        const char *dir = fuzz_scratch_dir();
        tidal_fs_write_outputs(mem + res.out_gpa, res.out_len, dir, &err);
        fuzz_empty_dir(dir);
    }
    return 0;
}

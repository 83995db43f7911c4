/* The target's reading of a migration stream (snapshot/migrate_parse.c): what a peer
 * on the network, or anything that connects to a daemon's migration port, sends. The
 * whole stream is parsed into guest memory as tidal_migrate_receive does, without its
 * KVM steps (the CPU check and the VM made after round 0). Input: a flags byte (bit 0:
 * rewrite the header's and the end record's checksums after mutation, so that the
 * fuzzer gets past them; clear: the checksums themselves are fuzzed), then the stream. */
#include "fuzz_util.h"

#include "../../snapshot/format.h"
#include "../../snapshot/migrate_wire.h"
#include "tidal/checksum.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Follows the records as far as they can be followed and makes the end record's
 * checksum that of the bytes before it. */
static void fixup(uint8_t *s, size_t len)
{
    if (len < MIG_HDR_SIZE)
        return;
    put32(s + MIG_HDR_CRC, tidal_crc32c(0, s, MIG_HDR_CRC));
    for (size_t at = MIG_HDR_SIZE; len - at >= MIG_REC_SIZE;) {
        uint32_t type = get32(s + at + MIG_REC_TYPE), count = get32(s + at + MIG_REC_COUNT);
        uint64_t arg = get64(s + at + MIG_REC_ARG), payload = 0;
        if (type == MIG_END) {
            put64(s + at + MIG_REC_ARG, tidal_crc32c(0, s, at));
            return;
        }
        if (type == MIG_PAGES)
            payload = (uint64_t)count * MIG_PAGE;
        else if (type == MIG_VCPU || type == MIG_VM_STATE)
            payload = arg;
        if (payload > len - at - MIG_REC_SIZE)
            return;
        at += MIG_REC_SIZE + payload;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *stream = malloc(len ? len : 1);
    if (!stream)
        abort();
    memcpy(stream, data + 1, len);
    if (data[0] & 1)
        fixup(stream, len);
    struct fuzz_file f;
    fuzz_file_open(&f, stream, len);
    free(stream);
    int fd = open(f.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        abort();
    struct mig_reader r;
    struct mig_incoming *in = calloc(1, sizeof(*in));
    struct tidal_migrate_stats st = {0};
    struct tidal_err err;
    if (!in)
        abort();
    if (mig_reader_open(&r, fd, &err) == 0) {
        mig_parse(&r, in, NULL, &st, &err);
        mig_reader_close(&r);
    }
    mig_incoming_free(in);
    free(in);
    close(fd);
    fuzz_file_close(&f);
    return 0;
}

/* Random bytes without an exit: a ChaCha20 keystream keyed by the 32-byte seed the
 * monitor puts in the boot-info page (fast key erasure: after each request the
 * first block of fresh output becomes the new key, so earlier output cannot be
 * recomputed from the state). */
#include "guest.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

static uint32_t key[8];
static uint64_t counter;

static inline uint32_t rotl(uint32_t v, int n)
{
    return (v << n) | (v >> (32 - n));
}

#define QR(a, b, c, d)                                                                             \
    do {                                                                                           \
        a += b;                                                                                    \
        d = rotl(d ^ a, 16);                                                                       \
        c += d;                                                                                    \
        b = rotl(b ^ c, 12);                                                                       \
        a += b;                                                                                    \
        d = rotl(d ^ a, 8);                                                                        \
        c += d;                                                                                    \
        b = rotl(b ^ c, 7);                                                                        \
    } while (0)

static void chacha_block(uint32_t out[16])
{
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    memcpy(&in[4], key, sizeof(key));
    in[12] = (uint32_t)counter;
    in[13] = (uint32_t)(counter >> 32);
    in[14] = in[15] = 0;
    counter++;
    uint32_t x[16];
    memcpy(x, in, sizeof(x));
    for (int i = 0; i < 10; i++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        out[i] = x[i] + in[i];
}

void tidal_random_init(const uint8_t seed[32])
{
    memcpy(key, seed, sizeof(key));
    counter = 0;
}

void tidal_random_fill(void *buf, size_t len)
{
    uint32_t block[16];
    unsigned char *p = buf;
    chacha_block(block);
    memcpy(key, block, sizeof(key)); /* rekey first: fast key erasure */
    while (len) {
        chacha_block(block);
        size_t n = len < sizeof(block) ? len : sizeof(block);
        memcpy(p, block, n);
        p += n;
        len -= n;
    }
    memset(block, 0, sizeof(block));
}

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
    (void)flags;
    tidal_random_fill(buf, len);
    return (ssize_t)len;
}

int getentropy(void *buf, size_t len)
{
    if (len > 256) {
        errno = EIO;
        return -1;
    }
    tidal_random_fill(buf, len);
    return 0;
}

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every snapshot
 * section and of the files given to a guest. The same convention as zlib's crc32(): start with 0,
 * feed pieces in order, crc(crc(0, a), b) == crc(0, a || b). SSE4.2 has an instruction for exactly
 * this CRC, used when cpuid says it is there; otherwise a slicing-by-8 table (8 bytes per step). */
#include "crc32c.h"

#include "tidal/checksum.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static bool have_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    /* table[k][i]: the CRC of byte i followed by k zero bytes, so 8 lookups fold 8 bytes. */
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t sw_byte(uint32_t c, uint8_t b)
{
    return table[0][(c ^ b) & 0xff] ^ (c >> 8);
}

uint32_t tidal_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (; len && ((uintptr_t)p & 7); len--)
        c = sw_byte(c, *p++);
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian: byte 0 is the low byte */
        w ^= c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    }
    for (; len; len--)
        c = sw_byte(c, *p++);
    return ~c;
}

bool tidal_crc32c_hw_available(void)
{
    pthread_once(&init_once, init);
    return have_hw;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t tidal_crc32c_hw(uint32_t crc, const void *data,
                                                           size_t len)
{
    const uint8_t *p = data;
    uint64_t c = (uint32_t)~crc;
    for (; len && ((uintptr_t)p & 7); len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    for (; len; len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#else
uint32_t tidal_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    return tidal_crc32c_sw(crc, data, len);
}
#endif

uint32_t tidal_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (tidal_crc32c_hw_available())
        return tidal_crc32c_hw(crc, data, len);
    return tidal_crc32c_sw(crc, data, len);
}

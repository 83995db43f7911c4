#include "tidal/checksum.h"

#include "../../monitor/crc32c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 B.4. */
static void check_vectors(uint32_t (*crc)(uint32_t, const void *, size_t), const char *name)
{
    uint8_t buf[32];
    cr_assert_eq(crc(0, "123456789", 9), 0xE3069283u, "%s: check value", name);
    cr_assert_eq(crc(0, "", 0), 0u, "%s: empty", name);
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(crc(0, buf, 32), 0x8A9136AAu, "%s: 32 zeros", name);
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(crc(0, buf, 32), 0x62A8AB43u, "%s: 32 0xff", name);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    cr_assert_eq(crc(0, buf, 32), 0x46DD794Eu, "%s: incrementing", name);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    cr_assert_eq(crc(0, buf, 32), 0x113FDB5Cu, "%s: decrementing", name);
}

Test(crc32c, known_vectors)
{
    check_vectors(tidal_crc32c, "dispatch");
    check_vectors(tidal_crc32c_sw, "software");
    if (tidal_crc32c_hw_available())
        check_vectors(tidal_crc32c_hw, "sse4.2");
}

/* Every length and alignment around the 8-byte fast path, chained in two pieces. */
Test(crc32c, implementations_agree_and_chain)
{
    enum { N = 4096 + 64 };
    uint8_t *buf = malloc(N);
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len < 80; len++) {
            uint32_t sw = tidal_crc32c_sw(0, buf + align, len);
            cr_assert_eq(tidal_crc32c(0, buf + align, len), sw, "align %zu len %zu", align, len);
            if (tidal_crc32c_hw_available())
                cr_assert_eq(tidal_crc32c_hw(0, buf + align, len), sw);
            for (size_t cut = 0; cut <= len; cut += 7) {
                uint32_t c =
                    tidal_crc32c(tidal_crc32c(0, buf + align, cut), buf + align + cut, len - cut);
                cr_assert_eq(c, sw, "align %zu len %zu cut %zu", align, len, cut);
            }
        }
    }
    cr_assert_eq(tidal_crc32c(0, buf + 3, N - 3), tidal_crc32c_sw(0, buf + 3, N - 3));
    free(buf);
}

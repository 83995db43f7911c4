/* The base64 that carries etcd's keys and values: RFC 4648's vectors, every length
 * round trip, and only canonical text accepted. */
#include "../../host/cluster/base64.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *encode(const char *text)
{
    static char out[64];
    base64_encode(text, strlen(text), out);
    cr_assert_eq(strlen(out), base64_encoded_len(strlen(text)));
    return out;
}

Test(base64, rfc_4648_vectors)
{
    cr_assert_str_eq(encode(""), "");
    cr_assert_str_eq(encode("f"), "Zg==");
    cr_assert_str_eq(encode("fo"), "Zm8=");
    cr_assert_str_eq(encode("foo"), "Zm9v");
    cr_assert_str_eq(encode("foob"), "Zm9vYg==");
    cr_assert_str_eq(encode("fooba"), "Zm9vYmE=");
    cr_assert_str_eq(encode("foobar"), "Zm9vYmFy");
}

Test(base64, every_length_and_byte_round_trips)
{
    unsigned char in[300], back[300];
    char text[401];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(in); len++) {
        base64_encode(in, len, text);
        size_t n;
        cr_assert(base64_decode(text, strlen(text), back, &n), "length %zu", len);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(in, back, len), 0, "length %zu", len);
    }
}

Test(base64, refuses_what_is_not_canonical)
{
    static const char *const bad[] = {
        "Zg",       /* no padding */
        "Zg=",      /* length */
        "Z===",     /* three pads */
        "Zg=a",     /* a pad inside */
        "Zh==",     /* bits past the last byte */
        "Zm9=",     /* likewise, one pad */
        "Zm9v====", /* a group of pads */
        "Zm9-",     /* the URL alphabet */
        "Zm9_",     /* likewise */
        "Zm 9",     /* a space */
        "Zg==Zg==", /* padding before the end */
    };
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(base64_decode(bad[i], strlen(bad[i]), out, &n), "%s", bad[i]);
}

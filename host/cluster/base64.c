#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void base64_encode(const void *data, size_t len, char *out)
{
    const unsigned char *in = data;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = 0;
}

/* 0..63, or -1 for a character outside the alphabet (padding included). */
static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len)
{
    if (len % 4)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
        int s[4];
        for (int j = 0; j < 4 - pad; j++)
            if ((s[j] = sextet(text[i + j])) < 0)
                return false;
        uint32_t v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12;
        out[n++] = (unsigned char)(v >> 16);
        if (pad == 2) {
            if (s[1] & 15) /* bits beyond the last byte must be zero: one encoding only */
                return false;
            break;
        }
        v |= (uint32_t)s[2] << 6;
        out[n++] = (unsigned char)(v >> 8 & 255);
        if (pad == 1) {
            if (s[2] & 3)
                return false;
            break;
        }
        v |= (uint32_t)s[3];
        out[n++] = (unsigned char)(v & 255);
    }
    *out_len = n;
    return true;
}

#include "tidal/escape.h"

#include <stdio.h>
#include <string.h>

size_t tidal_escape(const char *in, size_t len, char *out, size_t size)
{
    size_t n = 0, written = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char piece[5];
        if (c == '\\')
            strcpy(piece, "\\\\");
        else if (c >= 0x20 && c < 0x7f)
            snprintf(piece, sizeof(piece), "%c", c);
        else
            snprintf(piece, sizeof(piece), "\\x%02x", c);
        size_t k = strlen(piece);
        /* once a piece does not fit, nothing after it is written either */
        if (written == n && n + k < size) {
            memcpy(out + n, piece, k);
            written += k;
        }
        n += k;
    }
    if (size)
        out[written] = 0;
    return n;
}

/* Standard base64 (RFC 4648, padded), as etcd's JSON gateway writes keys and values. */
#ifndef TIDAL_HOST_CLUSTER_BASE64_H
#define TIDAL_HOST_CLUSTER_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters needed to encode len bytes, without the terminating NUL. */
size_t base64_encoded_len(size_t len);
/* Writes the encoding of data[0..len) and a NUL into out, which holds
 * base64_encoded_len(len) + 1 characters. */
void base64_encode(const void *data, size_t len, char *out);
/* Decodes text[0..len) into out (room for len / 4 * 3 bytes); false when the text is
 * not canonical padded base64 (bad character, length or padding). *out_len gets the
 * byte count. */
bool base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len);

#endif

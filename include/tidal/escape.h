/* Untrusted text (symbol names from guest images, request paths) made safe to print
 * in logs and reports: it can neither start a line nor move a terminal's cursor. */
#ifndef TIDAL_ESCAPE_H
#define TIDAL_ESCAPE_H

#include <stddef.h>

/* Copies len bytes of in to out: printable ASCII as is, '\' as "\\", every other byte
 * (control characters, DEL, bytes >= 0x80) as "\xHH". Writes at most size - 1 bytes
 * and a NUL (size > 0), never half an escape. Returns the length of the whole escaped
 * text, so tidal_escape(in, len, NULL, 0) measures it. */
size_t tidal_escape(const char *in, size_t len, char *out, size_t size);

#endif

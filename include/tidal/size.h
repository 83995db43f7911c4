#ifndef TIDAL_SIZE_H
#define TIDAL_SIZE_H

#include "tidal/err.h"

#include <stdint.h>

/* Parses "8M", "512K", "1G", "4096" (bytes; suffixes are powers of 1024, an optional
 * trailing "iB" or "B" is accepted). `what` names the option in messages. */
int tidal_parse_size(const char *text, const char *what, uint64_t *out, struct tidal_err *err);

#endif

#include "tidal/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tidal_parse_size(const char *text, const char *what, uint64_t *out, struct tidal_err *err)
{
    if (!text || !*text || !isdigit((unsigned char)*text))
        return tidal_err_set(err, "%s: '%s' is not a size (expected e.g. 8M, 512K, 1G)", what,
                             text ? text : "");
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return tidal_err_set(err, "%s: '%s' is too large", what, text);
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        shift = 10;
        end++;
        break;
    case 'M':
        shift = 20;
        end++;
        break;
    case 'G':
        shift = 30;
        end++;
        break;
    case 'T':
        shift = 40;
        end++;
        break;
    default:
        break;
    }
    if (shift && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
        end += strlen(end);
    else if (!shift && !strcasecmp(end, "B"))
        end++;
    if (*end)
        return tidal_err_set(err, "%s: '%s' has an unknown unit '%s' (expected K, M, G or T)", what,
                             text, end);
    if (shift && v > (UINT64_MAX >> shift))
        return tidal_err_set(err, "%s: '%s' is too large", what, text);
    *out = (uint64_t)v << shift;
    return 0;
}

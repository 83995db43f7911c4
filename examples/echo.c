/* The smallest function: initialises, waits at tidal_ready(), then answers its
 * input with a header line and the input itself. Boot it once to a snapshot and
 * every request is a restore:
 *   build/tidal run --snapshot-on-ready echo.snap build/examples/echo.elf
 *   build/tidal restore echo.snap --input req.json */
#include "tidal/guest.h"

#include <stdio.h>

int main(void)
{
    static char greeting[64];
    snprintf(greeting, sizeof(greeting), "echo ready");
    tidal_ready();
    size_t len;
    const char *in = tidal_input(&len);
    if (!in)
        return 1;
    printf("%s: %zu bytes\n", greeting, len);
    fwrite(in, 1, len, stdout);
    return 0;
}

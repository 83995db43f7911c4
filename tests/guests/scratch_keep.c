/* Scratch files across snapshots: at init it writes /tmp/state, then waits in
 * tidal_ready(); a restored guest (or a reused VM's request) prints what /tmp/state
 * holds, then appends to it, so a request that saw another's change would show it. */
#include "tidal/guest.h"

#include <stdio.h>

int main(void)
{
    FILE *f = fopen("/tmp/state", "w");
    if (!f || fputs("written at init\n", f) < 0 || fclose(f))
        return 1;
    if (!tidal_ready())
        return 0;
    char line[128];
    f = fopen("/tmp/state", "r");
    if (!f)
        return puts("no /tmp/state after restore"), 3;
    while (fgets(line, sizeof(line), f))
        fputs(line, stdout);
    fclose(f);
    f = fopen("/tmp/state", "a");
    if (!f || fputs("written by a request\n", f) < 0 || fclose(f))
        return 4;
    return 0;
}

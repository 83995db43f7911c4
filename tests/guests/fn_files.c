/* A function with files: at start-up it writes /tmp/state; each request answers with
 * the first line of /data/greeting (a read-only tree from the config) and everything
 * /tmp/state holds, then appends the request to it. On a VM reset to the template per
 * request, the answer never shows an earlier request. */
#include "tidal/guest.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    FILE *f = fopen("/tmp/state", "w");
    if (!f || fputs("state: template\n", f) < 0 || fclose(f))
        return 1;
    tidal_ready();
    char line[256], body[256] = {0};
    if (!fgets(body, sizeof(body), stdin))
        body[0] = 0;
    f = fopen("/data/greeting", "r");
    if (!f || !fgets(line, sizeof(line), f))
        return puts("no /data/greeting"), 2;
    fclose(f);
    fputs(line, stdout);
    f = fopen("/tmp/state", "r");
    while (f && fgets(line, sizeof(line), f))
        fputs(line, stdout);
    if (f)
        fclose(f);
    f = fopen("/tmp/state", "a");
    if (!f || fprintf(f, "state: after %s\n", body) < 0 || fclose(f))
        return 3;
    return 0;
}

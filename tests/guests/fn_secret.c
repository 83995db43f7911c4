/* A function that keeps each request in memory (a static buffer and a heap buffer)
 * and prints what the previous request left there: served from fresh clones, it
 * must always find both empty. */
#include "tidal/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char previous_static[256];

int main(void)
{
    char *previous_heap = calloc(1, 256);
    if (!previous_heap)
        return 1;
    tidal_ready();
    size_t len;
    const char *in = tidal_input(&len);
    printf("static=[%s] heap=[%s]\n", previous_static, previous_heap);
    snprintf(previous_static, sizeof(previous_static), "%s", in);
    snprintf(previous_heap, 256, "%s", in);
    return 0;
}

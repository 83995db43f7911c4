/* A function that reports an error on stderr and exits with status 3. */
#include "tidal/guest.h"

#include <stdio.h>

int main(void)
{
    tidal_ready();
    fprintf(stderr, "fn_fail: no luck today\n");
    return 3;
}

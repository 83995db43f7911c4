/* Calls the monitor as fast as it can, forever: an exit storm. Only the timeout
 * stops it; the monitor must stay responsive and report cleanly. */
#include "raw_call.h"

int main(void)
{
    static struct tidal_call c = {.nr = TIDAL_CALL_WRITE};
    for (;;)
        raw_call(&c);
}

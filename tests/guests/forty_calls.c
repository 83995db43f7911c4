/* Makes exactly 40 calls into the monitor, then returns (the exit call): 41 I/O
 * exits, counted by the telemetry tests. */
#include "raw_call.h"

int main(void)
{
    static struct tidal_call c = {.nr = TIDAL_CALL_WRITE};
    for (int i = 0; i < 40; i++)
        raw_call(&c);
    return 0;
}

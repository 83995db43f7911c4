/* READ into the monitor's page tables: must be refused, not performed. */
#include "raw_call.h"

int main(void)
{
    static struct tidal_call c = {.nr = TIDAL_CALL_READ, .arg = {0, 0x10000, 4096}};
    raw_call(&c);
    return 0;
}

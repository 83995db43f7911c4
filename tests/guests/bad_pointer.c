/* WRITE with an output vector far outside guest memory. */
#include "raw_call.h"

int main(void)
{
    static struct tidal_call c = {.nr = TIDAL_CALL_WRITE, .arg = {0x7fff00000000ull, 1}};
    raw_call(&c);
    return 0;
}

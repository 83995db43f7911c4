/* A call whose block address lies beyond guest memory. */
#include "raw_call.h"

int main(void)
{
    raw_out(0xfffffff0u);
    return 0;
}

/* A guest that corrupts its console ring: after a good line has gone out (the SLEEP
 * call drains the ring), it moves the ring's head far past anything it wrote. The
 * monitor must kill it with a message, never crash. */
#include "tidal/abi.h"

#include <stdio.h>
#include <time.h>

extern struct tidal_console_ring tidal_console_ring; /* guestlib's, named in the image note */

int main(void)
{
    printf("a good line\n");
    fflush(stdout);
    nanosleep(&(struct timespec){.tv_nsec = 1000}, NULL);
    __atomic_store_n(&tidal_console_ring.head, tidal_console_ring.head + (1ull << 40),
                     __ATOMIC_RELEASE);
    return 0;
}

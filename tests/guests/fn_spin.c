/* A function that initialises, then spins on every request until its timeout. */
#include "tidal/guest.h"

int main(void)
{
    tidal_ready();
    for (volatile unsigned long i = 0;; i++)
        ;
}

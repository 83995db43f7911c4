/* A function that initialises, then dereferences NULL on every request. */
#include "tidal/guest.h"

#include <stdio.h>

__attribute__((noinline)) static int read_through(volatile int *p)
{
    return *p;
}

int main(void)
{
    tidal_ready();
    printf("about to crash\n");
    return read_through(NULL);
}

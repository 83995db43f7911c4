/* A service that says one line and then computes forever without a single call:
 * its line reaches the console log only through the daemon's timed drain. */
#include <stdio.h>

int main(void)
{
    printf("computing quietly\n");
    fflush(stdout);
    for (volatile unsigned long n = 0;; n++)
        ;
}

/* Never exits: `tidal run --timeout` must kill it (exit code 124). */
#include <stdio.h>

int main(void)
{
    printf("spinning forever\n");
    fflush(stdout);
    for (volatile unsigned long i = 0;; i++)
        ;
}

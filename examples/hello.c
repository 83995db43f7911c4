/* The smallest guest: prints a line with printf and exits 0. */
#include <stdio.h>

int main(void)
{
    printf("Hello from a Tidal microVM!\n");
    return 0;
}

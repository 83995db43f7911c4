/* Prints 10,000 lines with an fflush after each, as many interpreters' print does:
 * with the console ring, the flushes cost no exits, and the output must be byte for
 * byte the Linux build's. */
#include <stdio.h>

int main(void)
{
    for (int i = 0; i < 10000; i++) {
        printf("%d\n", i);
        fflush(stdout);
    }
    return 0;
}

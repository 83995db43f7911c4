/* A stand-in day service: it never exits and prints "beat N" every 20 ms of its own
 * clock, so a test can see that it keeps running through batch transitions. */
#include <stdio.h>
#include <time.h>

int main(void)
{
    struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
    for (unsigned long n = 0;; n++) {
        printf("beat %lu\n", n);
        fflush(stdout);
        nanosleep(&pause, NULL);
    }
}

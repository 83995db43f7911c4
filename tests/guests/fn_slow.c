/* A function that takes a while (sleeps 1 s) before answering "slow: <input>": a
 * request in flight while the server is told to stop. */
#include "tidal/guest.h"

#include <stdio.h>
#include <time.h>

int main(void)
{
    tidal_ready();
    struct timespec one_second = {.tv_sec = 1};
    nanosleep(&one_second, NULL);
    size_t len;
    const char *in = tidal_input(&len);
    printf("slow: %s", in ? in : "");
    return 0;
}

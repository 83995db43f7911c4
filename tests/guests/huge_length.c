/* WRITE of one piece claiming 4 GiB - 1 bytes. */
#include "raw_call.h"

int main(void)
{
    static char text[] = "x";
    static struct tidal_iov iov = {.fd = 1, .len = 0xffffffffu};
    static struct tidal_call c = {.nr = TIDAL_CALL_WRITE, .arg = {0, 1}};
    iov.gpa = (uintptr_t)text;
    c.arg[0] = (uintptr_t)&iov;
    raw_call(&c);
    return 0;
}

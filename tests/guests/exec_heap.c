/* Jumps into malloc'd memory: heap pages are not executable. */
#include <stdlib.h>
#include <string.h>

int main(void)
{
    unsigned char *buf = malloc(64);
    memset(buf, 0xc3, 64); /* ret */
    void (*fn)(void) = (void (*)(void))(void *)buf;
    fn();
    return 0;
}

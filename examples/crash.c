/* Dereferences NULL: the monitor must report a page fault at CR2 0 in
 * read_through(), with exit code 70. */
#include <stdio.h>

__attribute__((noinline)) static int read_through(volatile int *p)
{
    return *p;
}

int main(void)
{
    printf("about to dereference NULL\n");
    volatile int *nowhere = NULL;
    return read_through(nowhere);
}

/* Unbounded recursion runs into the guard page below the stack; the fault handler
 * runs on its own stack, so the report still arrives. */
#include <stdio.h>

__attribute__((noinline)) static int deeper(volatile char *prev, int n)
{
    volatile char frame[256];
    frame[0] = (char)n;
    frame[255] = prev ? prev[0] : 0;
    return deeper(frame, n + 1) + frame[255];
}

int main(void)
{
    printf("recursing\n");
    return deeper(NULL, 0);
}

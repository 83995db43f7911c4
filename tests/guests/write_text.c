/* Writes over its own code: W^X makes this a page fault, not self-modification. */
#include <stdio.h>

int main(void)
{
    volatile unsigned char *code = (volatile unsigned char *)(void *)main;
    printf("patching main\n");
    code[0] = 0xc3;
    return 0;
}

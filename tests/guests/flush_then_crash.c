/* Prints 1,000 lines with an fflush after each, then crashes: by a NULL write (the
 * exception handler's FAULT call) or, with the argument "hlt", by a halt that no
 * call announces (in a loop: a KVM may let the first halt pass, as PVM does after the
 * VIF MSR write). Every flushed line must reach the host before the crash report. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 0; i < 1000; i++) {
        printf("line %d\n", i);
        fflush(stdout);
    }
    if (argc > 1 && !strcmp(argv[1], "hlt"))
        for (;;)
            __asm__ volatile("hlt");
    *(volatile int *)0 = 1;
    return 0;
}

/* First touches of fresh memory, and nothing else: allocates MIB mebibytes (argument,
 * default 16) and writes one byte in each 4 KiB page of it, so each page is touched
 * exactly once. Prints the number of pages. `bench/bench-hugepages.sh` times it with
 * and without huge pages, and as a Linux process; run it with --mem twice MIB. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 16;
    if (mib <= 0) {
        printf("touch: MIB must be a positive number\n");
        return 2;
    }
    size_t pages = (size_t)mib << 8;
    volatile unsigned char *p = malloc(pages << 12);
    if (!p) {
        printf("touch: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < pages; i++)
        p[i << 12] = 1;
    printf("touch: %zu pages\n", pages);
    return 0;
}

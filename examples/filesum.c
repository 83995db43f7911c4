/* Reads a file through and prints its size, an FNV-1a 64 checksum and how long the
 * reading took inside the program: `make bench` runs it on a 10 MB file as a guest
 * (tidal run --file) and as a Linux process, the same source for both.
 *   filesum PATH [ROUNDS] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned char buf[1 << 16];

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: filesum PATH [ROUNDS]\n", stderr);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long h = 0, total = 0;
    for (int r = 0; r < rounds; r++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) {
            perror(argv[1]);
            return 1;
        }
        h = 0xcbf29ce484222325ull;
        total = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            for (ssize_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 0x100000001b3ull;
            total += (unsigned long long)n;
        }
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    printf("%llu bytes fnv %016llx read_us %.1f\n", total, h, us / rounds);
    return 0;
}

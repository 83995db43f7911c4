/* A tour of the C library inside a guest: formatting, strings, qsort, math,
 * getrandom, unsupported syscalls answering ENOSYS/ENOENT, errno, atexit. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void goodbye(void)
{
    printf("atexit ran\n");
}

static int cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int main(void)
{
    atexit(goodbye);
    int v[] = {5, 3, 9, 1, 7};
    qsort(v, 5, sizeof(int), cmp);
    printf("sorted %d %d %d %d %d\n", v[0], v[1], v[2], v[3], v[4]);
    printf("sqrt2 %.6f\n", sqrt(2.0));
    char text[64];
    snprintf(text, sizeof(text), "%s-%05d-%x", "fmt", 42, 255);
    printf("%s\n", text);
    unsigned char r1[16], r2[16];
    getrandom(r1, sizeof(r1), 0);
    getrandom(r2, sizeof(r2), 0);
    printf("random differs %d\n", memcmp(r1, r2, sizeof(r1)) != 0);
    int fd = open("/etc/passwd", O_RDONLY);
    printf("open %d errno %s\n", fd, strerror(errno));
    errno = 0;
    long r = syscall(999);
    printf("syscall999 %ld errno %d\n", r, errno);
    printf("pid %d\n", (int)getpid());
    return 0;
}

/* Alternates stdout and stderr, with writes of every size up to past the console
 * ring's 64 KiB: with both streams on one descriptor, the order must be the Linux
 * build's. */
#include <stdio.h>
#include <string.h>

int main(void)
{
    static char big[100000];
    for (int i = 0; i < 300; i++) {
        fprintf(i % 3 ? stdout : stderr, "%s %d\n", i % 3 ? "out" : "err", i);
        fflush(i % 3 ? stdout : stderr);
    }
    for (size_t len = 1; len < sizeof(big); len = len * 3 + 1) {
        memset(big, 'a' + (int)(len % 26), len);
        fwrite(big, 1, len, stdout);
        fputs("\n", stdout);
        fflush(stdout);
        fprintf(stderr, "wrote %zu\n", len);
    }
    return 0;
}

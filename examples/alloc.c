/* malloc/free/realloc/calloc stress with a checksum: a deterministic random walk
 * over a table of live blocks, each filled with a pattern that is verified before
 * it is freed or grown. Prints the checksum; exits 1 on any corruption.
 * Its live set peaks near 4 MiB, so run it with --mem 16M. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512
#define STEPS 200000

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static unsigned char pattern(size_t slot, size_t i)
{
    return (unsigned char)(slot * 31 + i * 7);
}

static int verify(unsigned char *p, size_t len, size_t slot)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(slot, i))
            return 0;
    return 1;
}

int main(void)
{
    static unsigned char *block[SLOTS];
    static size_t length[SLOTS];
    uint64_t checksum = 0;
    for (long step = 0; step < STEPS; step++) {
        size_t s = next_random() % SLOTS;
        uint64_t r = next_random();
        /* Mostly small blocks, sometimes large ones that take whole pages. */
        size_t len = (r % 16 == 0) ? (size_t)(r >> 8) % (128 * 1024) : (size_t)(r >> 8) % 512;
        if (block[s] && !verify(block[s], length[s], s)) {
            printf("corruption in slot %zu at step %ld\n", s, step);
            return 1;
        }
        switch (r % 3) {
        case 0:
            free(block[s]);
            block[s] = calloc(1, len);
            if (len && (!block[s] || block[s][len - 1] != 0)) {
                printf("calloc(%zu) failed or was not zeroed\n", len);
                return 1;
            }
            break;
        case 1:
            block[s] = realloc(block[s], len ? len : 1);
            break;
        default:
            free(block[s]);
            block[s] = malloc(len ? len : 1);
            break;
        }
        if (!block[s]) {
            printf("out of memory at step %ld (%zu bytes)\n", step, len);
            return 1;
        }
        length[s] = len;
        for (size_t i = 0; i < len; i++)
            block[s][i] = pattern(s, i);
        checksum = checksum * 1099511628211ull + len + s;
    }
    for (size_t s = 0; s < SLOTS; s++) {
        if (block[s] && !verify(block[s], length[s], s)) {
            printf("corruption in slot %zu at the end\n", s);
            return 1;
        }
        free(block[s]);
    }
    printf("alloc: %d steps, checksum %016llx\n", STEPS, (unsigned long long)checksum);
    return 0;
}

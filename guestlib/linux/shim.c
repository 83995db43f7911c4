/* The guest API of include/tidal/guest.h for ordinary Linux processes: the same
 * example source then also builds as a static musl program, the baseline that
 * tests and benchmarks compare Tidal against. There is no snapshot: tidal_ready()
 * simply returns 0. */
#include "tidal/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

int tidal_ready(void)
{
    return 0;
}

/* No host to tell: only the arguments are checked, as the monitor would. */
int tidal_progress(uint64_t done, uint64_t total)
{
    return total == 0 || done > total ? -22 : 0;
}

uint64_t tidal_clone_id(void)
{
    return 0;
}

const char *tidal_input(size_t *len)
{
    static char *input;
    static size_t input_len;
    if (!input) {
        size_t cap = 4096, n;
        input = malloc(cap);
        while (input && (n = fread(input + input_len, 1, cap - 1 - input_len, stdin)) > 0) {
            input_len += n;
            if (input_len == cap - 1)
                input = realloc(input, cap *= 2);
        }
        if (!input)
            return NULL;
        input[input_len] = 0;
    }
    if (len)
        *len = input_len;
    return input;
}

void tidal_random(void *buf, size_t len)
{
    getrandom(buf, len, 0);
}

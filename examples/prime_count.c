/* A compute function: counts the primes below the number in the request (default
 * 200000, at most 50,000,000) with a sieve of Eratosthenes over odd numbers. The
 * benchmark's compute case: a few milliseconds of work and memory per request. */
#include "tidal/guest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LIMIT_MAX 50000000ul

static unsigned long count_primes_below(unsigned long n, uint8_t *composite)
{
    if (n <= 2)
        return 0;
    unsigned long count = 1; /* 2 */
    /* composite[i] stands for the odd number 2i + 1. */
    for (unsigned long i = 1; 2 * i + 1 < n; i++) {
        if (composite[i])
            continue;
        count++;
        unsigned long p = 2 * i + 1;
        for (unsigned long m = p * p; m < n; m += 2 * p)
            composite[m / 2] = 1;
    }
    return count;
}

int main(void)
{
    tidal_ready();
    size_t len;
    const char *in = tidal_input(&len);
    unsigned long limit = in && len ? strtoul(in, NULL, 10) : 200000;
    if (limit > LIMIT_MAX) {
        fprintf(stderr, "prime_count: %lu is above the limit %lu\n", limit, LIMIT_MAX);
        return 2;
    }
    uint8_t *composite = calloc(limit / 2 + 1, 1);
    if (!composite) {
        fprintf(stderr, "prime_count: out of memory for %lu\n", limit);
        return 1;
    }
    printf("primes below %lu: %lu\n", limit, count_primes_below(limit, composite));
    return 0;
}

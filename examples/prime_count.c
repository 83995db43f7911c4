/* A compute function: counts the primes below the number in the request (default
 * 20000, at most 10,000,000) by trial division. The benchmark's compute case. */
#include "tidal/guest.h"

#include <stdio.h>
#include <stdlib.h>

static int is_prime(unsigned n)
{
    if (n < 2)
        return 0;
    if (n % 2 == 0)
        return n == 2;
    for (unsigned d = 3; d * d <= n; d += 2)
        if (n % d == 0)
            return 0;
    return 1;
}

int main(void)
{
    tidal_ready();
    size_t len;
    const char *in = tidal_input(&len);
    unsigned long limit = in && len ? strtoul(in, NULL, 10) : 20000;
    if (limit > 10000000) {
        fprintf(stderr, "prime_count: %lu is above the limit 10000000\n", limit);
        return 2;
    }
    unsigned count = 0;
    for (unsigned n = 0; n < limit; n++)
        count += (unsigned)is_prime(n);
    printf("primes below %lu: %u\n", limit, count);
    return 0;
}

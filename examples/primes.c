/* Pure compute: counts primes below N (default 4,000,000) by trial division.
 * A few hundred milliseconds natively; the same code runs as a Linux process for
 * the native-speed comparison in the benchmark. */
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

int main(int argc, char **argv)
{
    unsigned limit = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4000000u;
    unsigned count = 0;
    for (unsigned n = 0; n < limit; n++)
        count += (unsigned)is_prime(n);
    printf("primes below %u: %u\n", limit, count);
    return 0;
}

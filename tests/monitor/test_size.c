#include "tidal/size.h"

#include <criterion/criterion.h>
#include <string.h>

Test(size, parses_suffixes)
{
    uint64_t v;
    struct tidal_err err;
    cr_assert_eq(tidal_parse_size("8M", "--mem", &v, &err), 0);
    cr_assert_eq(v, 8ull << 20);
    cr_assert_eq(tidal_parse_size("512k", "--mem", &v, &err), 0);
    cr_assert_eq(v, 512ull << 10);
    cr_assert_eq(tidal_parse_size("1GiB", "--mem", &v, &err), 0);
    cr_assert_eq(v, 1ull << 30);
    cr_assert_eq(tidal_parse_size("4096", "--mem", &v, &err), 0);
    cr_assert_eq(v, 4096);
}

Test(size, rejects_garbage_with_the_option_name)
{
    uint64_t v;
    struct tidal_err err;
    const char *bad[] = {"", "M", "-5M", "8X", "8MM", "99999999999999999999", "20000000T"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(tidal_parse_size(bad[i], "--mem", &v, &err), -1, "accepted '%s'", bad[i]);
        cr_assert(strstr(err.msg, "--mem"), "%s", err.msg);
    }
}

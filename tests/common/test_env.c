#include "test_env.h"
#include "tidal/monitor.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

const char *path_to(const char *relative)
{
    static char buf[8][4096];
    static int next;
    const char *root = getenv("TIDAL_ROOT");
    char *out = buf[next++ % 8];
    snprintf(out, sizeof(buf[0]), "%s/%s", root ? root : ".", relative);
    return out;
}

const char *tidal_bin(void)
{
    const char *bin = getenv("TIDAL_BIN");
    return bin ? bin : path_to("build/tidal");
}

void require_kvm(void)
{
    struct tidal_err err;
    if (tidal_kvm_available(&err))
        cr_skip_test("needs KVM, skipped: %s (run `make test-nested` to run this suite "
                     "inside QEMU with nested KVM)",
                     err.msg);
}

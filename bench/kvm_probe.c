#include "kvm_probe.h"
#include "tidal/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_handle_probe(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--probe"))
        return;
    struct tidal_err err;
    if (tidal_kvm_available(&err)) {
        puts(err.msg);
        exit(1);
    }
    exit(0);
}

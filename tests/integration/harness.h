/* Runs `build/tidal` as a child process and captures what a user would see. */
#ifndef TIDAL_TEST_HARNESS_H
#define TIDAL_TEST_HARNESS_H

#include "../common/test_env.h"

#include <stddef.h>
#include <stdint.h>

struct tidal_proc {
    int status; /* exit code, or 128 + signal */
    char out[1 << 18];
    char err[1 << 18];
    size_t out_len, err_len;
};

/* Runs build/tidal (or the SAN build) with args (NULL-terminated), feeding stdin. */
void run_tidal(const char *const *args, const char *stdin_data, struct tidal_proc *p);
/* Runs any program with args (argv[0] first). */
void run_program(const char *const *argv, const char *stdin_data, struct tidal_proc *p);

/* A number from the --stats JSON line on stderr: "exits.io", "vcpu.insn_emulation",
 * "status"... Dotted names go into objects. Missing keys read as -1. */
double stats_value(const struct tidal_proc *p, const char *dotted);
/* Sum of every member of an object in the stats line ("exits"). */
double stats_sum(const struct tidal_proc *p, const char *object);

#endif

/* What every test suite needs to find the build and to skip without KVM. */
#ifndef TIDAL_TEST_ENV_H
#define TIDAL_TEST_ENV_H

#include <stddef.h>

/* Repository path of a build product, e.g. path_to("build/examples/hello.elf"):
 * relative to $TIDAL_ROOT (set by `make test`), else to the current directory. */
const char *path_to(const char *relative);

/* The tidal binary under test: $TIDAL_BIN (the SAN build under `make SAN=1 test`),
 * else build/tidal. */
const char *tidal_bin(void);

/* path_to, made absolute (for programs that do not share our working directory);
 * fails the test when the file does not exist. */
const char *abs_path_to(const char *relative);

/* Runs tidal with args (NULL-terminated, without argv[0]) to completion, its stdout and
 * stderr together in out (NUL-terminated). envp NULL: our environment. Returns the
 * exit status, or 128 + the signal that killed it. */
int run_tidal_captured(const char *const *args, char *const *envp, char *out, size_t size);

/* A number from /proc/PID/status ("Uid" gives the real uid, "Seccomp" the mode), or
 * -1 when the field is missing. */
long proc_status_field(int pid, const char *field);

/* Skips the calling test, saying why, when /dev/kvm cannot be used. */
void require_kvm(void);

#endif

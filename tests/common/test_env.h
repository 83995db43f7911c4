/* What every test suite needs to find the build and to skip without KVM. */
#ifndef TIDAL_TEST_ENV_H
#define TIDAL_TEST_ENV_H

/* Repository path of a build product, e.g. path_to("build/examples/hello.elf"):
 * relative to $TIDAL_ROOT (set by `make test`), else to the current directory. */
const char *path_to(const char *relative);

/* The tidal binary under test: $TIDAL_BIN (the SAN build under `make SAN=1 test`),
 * else build/tidal. */
const char *tidal_bin(void);

/* Skips the calling test, saying why, when /dev/kvm cannot be used. */
void require_kvm(void);

#endif

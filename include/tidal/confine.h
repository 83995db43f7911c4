/* seccomp confinement of the monitor's threads (monitor/confine.c). Once set up, a
 * thread runs under an allowlist for its kind; a call outside it kills the process
 * with SIGSYS after one line on stderr naming the call and the thread's kind. */
#ifndef TIDAL_CONFINE_H
#define TIDAL_CONFINE_H

#include "tidal/err.h"

#include <stdbool.h>

enum tidal_confine_kind {
    /* `run`, `restore`, `clone`: the whole process (every thread), once its VMs are
     * built: KVM ioctls, I/O on open descriptors, memory, files for snapshots and
     * outputs, worker threads; no sockets, no new processes, no exec. */
    TIDAL_CONFINE_MONITOR,
    /* `serve` and `daemon`: the whole process once its templates or state are
     * loaded, before any thread that runs guests starts: the monitor's set, plus
     * listening sockets (Unix, IPv4, IPv6) and the connections they accept. */
    TIDAL_CONFINE_SERVICE,
    /* A thread that runs guests inside serve or daemon, added on top of the
     * service's: the monitor's set without thread creation or sockets. Nothing
     * when the process itself is not confined (serve's process backend). */
    TIDAL_CONFINE_VCPU,
};

/* Off for the process: `--no-seccomp` (debugging), or a sanitizer build, whose
 * runtime makes calls of its own at unpredictable points. */
void tidal_confine_disable(void);
/* SERVICE also connects out (a cluster's daemon: etcd, other hosts). Before
 * tidal_confine. */
void tidal_confine_allow_outbound(void);
bool tidal_confine_enabled(void);

/* Confines the calling thread (VCPU) or every thread of the process (the others).
 * Also turns core dumps off: guest memory must not land on disk. 0, or -1 with why
 * (the caller stops: running unconfined by surprise is not an option). */
int tidal_confine(enum tidal_confine_kind kind, struct tidal_err *err);

/* Test-only: when $TIDAL_CONFINE_TEST_CALL names a system call, a confined thread
 * makes it right after confinement, so a test can watch the process die. */
void tidal_confine_test_hook(void);

#endif

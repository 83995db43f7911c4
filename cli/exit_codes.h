/* The exit codes of `tidal`, documented in README.md. A guest's own exit status
 * (0-255) passes through `tidal run` unchanged. */
#ifndef TIDAL_EXIT_CODES_H
#define TIDAL_EXIT_CODES_H

enum {
    TIDAL_RC_USAGE = 64,       /* bad command line */
    TIDAL_RC_BAD_INPUT = 65,   /* bad guest image, bad input file contents */
    TIDAL_RC_NO_INPUT = 66,    /* an input file is missing or unreadable */
    TIDAL_RC_NO_KVM = 69,      /* /dev/kvm missing or unusable */
    TIDAL_RC_GUEST_CRASH = 70, /* the guest crashed or was killed for an invalid call */
    TIDAL_RC_SYSTEM = 71,      /* the monitor failed (a KVM or system call) */
    TIDAL_RC_TIMEOUT = 124,    /* the guest ran past --timeout (as timeout(1)) */
};

#endif

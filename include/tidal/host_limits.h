/* The host limits that a process holding many guests runs into. A failure that one of
 * them explains says which, where this process stands, and what to change. */
#ifndef TIDAL_HOST_LIMITS_H
#define TIDAL_HOST_LIMITS_H

#include <stddef.h>

/* For errno errnum from a call that creates a mapping or a file descriptor: its
 * strerror text, followed, when a host limit explains the failure, by the limit
 * (RLIMIT_NOFILE for EMFILE, fs.file-max for ENFILE, vm.max_map_count for an ENOMEM
 * when this process is at its map count), where this process stands and how to raise
 * it. Returns buf. */
const char *tidal_describe_errno(int errnum, char *buf, size_t size);

/* Raises this process's soft RLIMIT_NOFILE to its hard limit: every guest holds
 * descriptors (VM, vCPU, console, input...), and the usual soft limit of 1024 would
 * stop a host at a few hundred. */
void tidal_raise_fd_limit(void);

/* MemAvailable of /proc/meminfo in KiB (what the whole system has left), or -1. */
long tidal_mem_available_kib(void);

#endif

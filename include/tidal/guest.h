/* What guestlib offers a guest program beyond the C library. Guest-side only. */
#ifndef TIDAL_GUEST_H
#define TIDAL_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* Marks the guest as initialised and waiting for work; the host may snapshot it
 * here. Returns 0 when the guest simply goes on (no snapshot was taken, or this is
 * the original run continuing), 1 when it resumes from a snapshot: then stdin holds
 * the new input, tidal_clone_id() the clone's id, guestlib's random generator has
 * been re-seeded with fresh host entropy, and the clocks read the host's time. A
 * guest that keeps its own random state must re-seed it when this returns 1. */
int tidal_ready(void);

/* The clone id given by the host at restore (0 if none). */
uint64_t tidal_clone_id(void);

/* All of stdin, read once and kept: the request of a function guest. The buffer is
 * NUL-terminated; *len excludes the NUL. NULL if memory runs out. */
const char *tidal_input(size_t *len);

/* Fills buf with random bytes (ChaCha20 keyed by host entropy); never traps. */
void tidal_random(void *buf, size_t len);

/* Tells the host how much of its work a batch guest has done (done <= total,
 * total > 0), e.g. for `tidal batch ls`. Each call is one VM exit: report every few
 * percent, not every step. Returns 0, or -EINVAL (-22) for done > total or total 0. */
int tidal_progress(uint64_t done, uint64_t total);

#endif

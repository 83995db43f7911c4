/* Raw calls into the monitor, bypassing guestlib: what a buggy or malicious guest
 * can send. The monitor must answer each with a message, never with a crash. */
#ifndef RAW_CALL_H
#define RAW_CALL_H

#include "tidal/abi.h"

static inline void raw_out(uint32_t value)
{
    __asm__ volatile("outl %0, %w1" : : "a"(value), "Nd"((uint16_t)TIDAL_PORT_CALL) : "memory");
}

static inline void raw_call(struct tidal_call *c)
{
    raw_out((uint32_t)(uintptr_t)c);
}

#endif

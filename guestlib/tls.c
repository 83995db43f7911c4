#include "guest.h"

/* musl sets the thread pointer through arch_prctl, a trapping syscall. With
 * CR4.FSGSBASE (the monitor turns it on when the CPU has it) wrfsbase is a plain
 * instruction; otherwise the MSR write traps once, at start-up. */
int __set_thread_area(void *p);

int __set_thread_area(void *p)
{
    if (tidal_boot->flags & TIDAL_BOOT_FSGSBASE) {
        __asm__ volatile("wrfsbase %0" : : "r"(p) : "memory");
    } else {
        uint64_t v = (uintptr_t)p;
        __asm__ volatile("wrmsr"
                         :
                         : "c"(0xc0000100u), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                         : "memory");
    }
    return 0;
}

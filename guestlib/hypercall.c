#include "guest.h"

static struct tidal_call call_block;

int64_t tidal_hypercall(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    call_block.nr = nr;
    call_block.reserved = 0;
    call_block.arg[0] = a0;
    call_block.arg[1] = a1;
    call_block.arg[2] = a2;
    call_block.ret = 0;
    __asm__ volatile("outl %0, %w1"
                     :
                     : "a"((uint32_t)(uintptr_t)&call_block), "Nd"((uint16_t)TIDAL_PORT_CALL)
                     : "memory");
    return call_block.ret;
}

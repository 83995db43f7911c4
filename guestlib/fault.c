#include "guest.h"

/* The stack as entry.S leaves it: pushed registers below the hardware frame. */
struct raw_frame {
    uint64_t cr2;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

_Noreturn void tidal_exception(const struct raw_frame *f);

_Noreturn void tidal_exception(const struct raw_frame *f)
{
    static struct tidal_fault report;
    report = (struct tidal_fault){
        .vector = f->vector,
        .error_code = f->error_code,
        .rip = f->rip,
        .cs = f->cs,
        .rflags = f->rflags,
        .rsp = f->rsp,
        .ss = f->ss,
        .cr2 = f->cr2,
        .rax = f->rax,
        .rbx = f->rbx,
        .rcx = f->rcx,
        .rdx = f->rdx,
        .rsi = f->rsi,
        .rdi = f->rdi,
        .rbp = f->rbp,
        .r8 = f->r8,
        .r9 = f->r9,
        .r10 = f->r10,
        .r11 = f->r11,
        .r12 = f->r12,
        .r13 = f->r13,
        .r14 = f->r14,
        .r15 = f->r15,
    };
    for (;;)
        tidal_hypercall(TIDAL_CALL_FAULT, (uint64_t)(uintptr_t)&report, 0, 0);
}

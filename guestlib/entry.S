/* Entry points the monitor jumps to: the first instruction, the syscall entry
 * (MSR_LSTAR) and the exception stubs (the IDT). Their addresses, and the console
 * ring's, reach the monitor through the "Tidal" ELF note at the end of this file. */
#include "console_ring.h"
#include "tidal/abi.h"

#define STUB_STRIDE 16

        .section .text.tidal_entry, "ax"
        .globl _start
_start:
        /* rdi = boot info, rsp = top of the stack (16-byte aligned) from the monitor */
        xor %ebp, %ebp
        call tidal_start
        ud2

/* syscall at CPL0 leaves rcx = return RIP, r11 = RFLAGS, and does not switch stacks.
 * musl's leaf functions may keep data in the red zone below rsp, so step over it
 * before pushing. Linux preserves every register but rax, rcx and r11 across a
 * syscall, including the SSE state, hence the fxsave. Returning with jmp instead
 * of sysretq keeps CPL0 and costs no exit. */
        .globl tidal_syscall_entry
        .align 16
tidal_syscall_entry:
        lea -128(%rsp), %rsp
        push %rcx
        push %rbx
        push %rbp
        mov %rsp, %rbp
        push %r9
        push %r8
        push %r10
        push %rdx
        push %rsi
        push %rdi
        push %rax
        mov %rsp, %rbx
        sub $512, %rsp
        and $-64, %rsp
        fxsave64 (%rsp)
        mov %rbx, %rdi
        call tidal_syscall
        fxrstor64 (%rsp)
        mov %rbx, %rsp
        add $8, %rsp            /* rax: replaced by the result */
        pop %rdi
        pop %rsi
        pop %rdx
        pop %r10
        pop %r8
        pop %r9
        pop %rbp
        pop %rbx
        pop %rcx
        lea 128(%rsp), %rsp
        jmp *%rcx

/* One stub per exception vector, STUB_STRIDE bytes apart. Vectors that push no
 * error code get a zero so that every frame looks the same. */
        .align STUB_STRIDE
        .globl tidal_exception_stubs
tidal_exception_stubs:
        .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .align STUB_STRIDE
        .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
        .else
        pushq $0
        .endif
        pushq $\vec
        jmp tidal_exception_common
        .endr

/* Builds a struct tidal_fault on the stack (the exception stack, via IST) and hands
 * it to C. Never returns: a fault in a Tidal guest ends the guest. */
tidal_exception_common:
        push %r15
        push %r14
        push %r13
        push %r12
        push %r11
        push %r10
        push %r9
        push %r8
        push %rbp
        push %rdi
        push %rsi
        push %rdx
        push %rcx
        push %rbx
        push %rax
        mov %cr2, %rax
        push %rax               /* cr2 */
        /* Reorder into struct tidal_fault: vector, error, rip, cs, rflags, rsp, ss, cr2, regs */
        mov %rsp, %rdi
        and $-16, %rsp
        call tidal_exception
        ud2

        .section .note.tidal, "a", @note
        .balign 4
        .long 2f - 1f           /* namesz */
        .long 4f - 3f           /* descsz */
        .long TIDAL_NOTE_TYPE_IMAGE
1:      .asciz "Tidal"
2:      .balign 4
3:      .long TIDAL_ABI_VERSION
        .long STUB_STRIDE
        .quad tidal_exception_stubs
        .quad tidal_syscall_entry
        .quad tidal_console_ring
        .quad TIDAL_GUEST_CONSOLE_RING_BYTES
4:      .balign 4

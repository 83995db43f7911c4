/* A hostile function for reused VMs: it first looks for anything an earlier request
 * left in the memory it can reach (its static data, the heap, the stack below its
 * frame, its FPU registers, a debug register, an MSR), then scribbles over all of it.
 * On a VM reset in place, every request must report "clean". */
#include "tidal/guest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Eight bytes no template holds by chance. */
#define MARK 0x454c424249524353ull /* "SCRIBBLE" */
#define CHUNK (64 * 1024)
#define KERNEL_GS_BASE 0xc0000102u
#define MSR_MARK (MARK >> 16)       /* an MSR that holds an address takes canonical ones only */
#define KVM_SYSTEM_TIME 0x4b564d01u /* an MSR KVM keeps that no VMX/SVM guest writes freely */
#define MAX_CHUNKS 512

static uint64_t area[32 * 1024];
static uint8_t clock_page[4096] __attribute__((aligned(4096)));
static uint64_t *chunks[MAX_CHUNKS];

static size_t marked(const volatile uint64_t *p, size_t words)
{
    size_t n = 0;
    for (size_t i = 0; i < words; i++)
        n += p[i] == MARK;
    return n;
}

static void mark(volatile uint64_t *p, size_t words)
{
    for (size_t i = 0; i < words; i++)
        p[i] = MARK;
}

/* The stack below this frame: what a deeper call of an earlier request left. */
__attribute__((noinline)) static size_t stack_left(void)
{
    volatile uint64_t below[4 * 1024];
    return marked(below, sizeof(below) / 8);
}

__attribute__((noinline)) static void stack_scribble(void)
{
    volatile uint64_t below[4 * 1024];
    mark(below, sizeof(below) / 8);
}

int main(void)
{
    tidal_ready();
    size_t found = marked(area, sizeof(area) / 8) + stack_left();
    unsigned n = 0;
    /* The heap as the template left it: every chunk the allocator hands out. */
    while (n < MAX_CHUNKS && (chunks[n] = malloc(CHUNK)) != NULL)
        found += marked(chunks[n++], CHUNK / 8);
    uint64_t xmm7;
    __asm__ volatile("movq %%xmm7, %0" : "=r"(xmm7));
    if (xmm7 == MARK)
        found++;
    /* State that only changes through an exit KVM handles by itself: a request that
     * touched it gets the whole vCPU reset. */
    uint64_t dr0, lo, hi, clo, chi;
    __asm__ volatile("mov %%dr0, %0" : "=r"(dr0));
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(KERNEL_GS_BASE));
    __asm__ volatile("rdmsr" : "=a"(clo), "=d"(chi) : "c"(KVM_SYSTEM_TIME));
    found += (dr0 == MARK) + ((hi << 32 | lo) == MSR_MARK) + (clo != 0 || chi != 0);
    if (found)
        printf("dirty: %zu marked words\n", found);
    else
        printf("clean (%u heap chunks)\n", n);
    fflush(stdout);
    mark(area, sizeof(area) / 8);
    for (unsigned i = 0; i < n; i++)
        mark(chunks[i], CHUNK / 8);
    stack_scribble();
    __asm__ volatile("movq %0, %%xmm7" : : "r"(MARK));
    __asm__ volatile("mov %0, %%dr0" : : "r"(MARK));
    __asm__ volatile("wrmsr"
                     :
                     : "c"(KERNEL_GS_BASE), "a"((uint32_t)MSR_MARK),
                       "d"((uint32_t)(MSR_MARK >> 32)));
    /* kvmclock on: KVM writes the time into clock_page from now on, until it is off */
    __asm__ volatile("wrmsr"
                     :
                     : "c"(KVM_SYSTEM_TIME), "a"((uint32_t)(uintptr_t)clock_page | 1), "d"(0));
    return 0;
}

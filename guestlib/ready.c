/* tidal_ready(): the point where the host may save the guest (see guest.h). */
#include "guest.h"
#include "tidal/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the host may place a request's input (ABI v3): .bss, so its pages cost
 * nothing until a request lands there. Larger inputs continue through READ. */
#define INPUT_WINDOW (256u * 1024)

static struct tidal_ready_info ready_info;
static unsigned char input_window[INPUT_WINDOW] __attribute__((aligned(4096)));
static uint64_t seen_generation;

int tidal_ready(void)
{
    /* musl's buffers into the console ring, which the host drains at the READY call */
    fflush(NULL);
    ready_info.input_gpa = (uint64_t)(uintptr_t)input_window;
    ready_info.input_cap = sizeof(input_window);
    ready_info.input_len = ready_info.input_flags = 0;
    tidal_hypercall_ready((uint64_t)(uintptr_t)&ready_info);
    if (ready_info.generation == seen_generation)
        return 0;
    seen_generation = ready_info.generation;
    tidal_random_init(ready_info.entropy);
    memset(ready_info.entropy, 0, sizeof(ready_info.entropy));
    clearerr(stdin); /* an EOF seen at init was the old input's */
    if (ready_info.input_flags & TIDAL_INPUT_PLACED)
        tidal_stdin_placed(input_window,
                           ready_info.input_len < sizeof(input_window) ? ready_info.input_len
                                                                       : sizeof(input_window),
                           (ready_info.input_flags & TIDAL_INPUT_COMPLETE) != 0);
    return 1;
}

uint64_t tidal_clone_id(void)
{
    return ready_info.clone_id;
}

const char *tidal_input(size_t *len)
{
    static char *input;
    static size_t input_len;
    if (!input) {
        size_t cap = 4096;
        char *buf = malloc(cap);
        size_t n;
        while (buf && (n = fread(buf + input_len, 1, cap - 1 - input_len, stdin)) > 0) {
            input_len += n;
            if (cap - 1 - input_len == 0) {
                char *grown = realloc(buf, cap * 2);
                if (!grown)
                    free(buf);
                buf = grown;
                cap *= 2;
            }
        }
        if (!buf)
            return NULL;
        buf[input_len] = 0;
        input = buf;
    }
    if (len)
        *len = input_len;
    return input;
}

void tidal_random(void *buf, size_t len)
{
    tidal_random_fill(buf, len);
}

/* Guest images as built by tidal-cc, checked without booting them. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Functions that run on every output, allocation, clock read or exit: guestlib
 * replaces them, so none may keep a trapping syscall instruction. */
static const char *const hot_paths[] = {
    "__stdio_write",
    "__stdout_write",
    "__stdio_read",
    "fwrite",
    "printf",
    "vfprintf",
    "malloc",
    "free",
    "calloc",
    "realloc",
    "__libc_malloc_impl",
    "alloc_meta",
    "__clock_gettime",
    "clock_gettime",
    "gettimeofday",
    "time",
    "getrandom",
    "_Exit",
    "exit",
    "__set_thread_area",
    "fflush",
};

Test(image, no_syscall_instruction_on_hot_paths)
{
    const char *argv[] = {path_to("guestlib/list-syscalls.sh"), path_to("build/examples/hello.elf"),
                          NULL};
    struct tidal_proc p;
    run_program(argv, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    char *save, *line = strtok_r(p.out, "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        char fn[256];
        cr_assert_eq(sscanf(line, "%255s", fn), 1);
        for (size_t i = 0; i < sizeof(hot_paths) / sizeof(hot_paths[0]); i++)
            cr_assert_str_neq(fn, hot_paths[i], "hot path %s still traps", fn);
    }
}

Test(image, mallocng_is_not_linked)
{
    const char *argv[] = {"/usr/bin/nm", path_to("build/examples/alloc.elf"), NULL};
    struct tidal_proc p;
    run_program(argv, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_null(strstr(p.out, " __malloc_context"), "musl's mallocng was linked in");
    cr_assert(strstr(p.out, " T tidal_syscall_entry"), "guestlib is missing");
}

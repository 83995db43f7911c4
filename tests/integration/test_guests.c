/* Hostile and unusual guests: every one must end with a clear message and the
 * documented exit code, and the monitor must survive. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct tidal_proc p;

TestSuite(guests, .init = require_kvm, .timeout = 120);

static void run_guest(const char *name, const char *stdin_data, const char *extra)
{
    char image[256];
    snprintf(image, sizeof(image), "build/tests/guests/%s.elf", name);
    const char *args[] = {"run", "--stats", "--timeout", "20", path_to(image), extra, NULL};
    run_tidal(args, stdin_data, &p);
}

static void expect_crash(const char *name, const char *fragment)
{
    run_guest(name, NULL, NULL);
    cr_assert_eq(p.status, 70, "%s: exit %d, stderr: %s", name, p.status, p.err);
    cr_assert(strstr(p.err, fragment), "%s: expected '%s' in: %s", name, fragment, p.err);
}

Test(guests, bad_pointer)
{
    expect_crash("bad_pointer", "output vector at 0x7fff00000000");
}

Test(guests, huge_length)
{
    expect_crash("huge_length", ": 4294967295 bytes of output in one call");
}

Test(guests, wild_call_block)
{
    expect_crash("wild_block", "call block at 0xfffffff0 lies outside guest memory");
}

Test(guests, read_into_monitor_pages)
{
    expect_crash("read_monitor", "READ: buffer [0x10000");
}

Test(guests, unknown_port)
{
    expect_crash("unknown_port", "guest wrote 1 byte(s) x1 on I/O port 0x7e0");
    cr_assert(strstr(p.err, "in main"), "%s", p.err);
}

Test(guests, halt)
{
    expect_crash("halt", "hlt");
}

Test(guests, write_to_text_is_a_fault)
{
    expect_crash("write_text", "write at 0x");
    cr_assert(strstr(p.err, "protection") || strstr(p.err, "read-only"), "%s", p.err);
    cr_assert_str_eq(p.out, "patching main\n");
}

Test(guests, heap_is_not_executable)
{
    expect_crash("exec_heap", "instruction fetch at 0x");
}

Test(guests, stack_overflow_is_reported)
{
    expect_crash("stack_overflow", "page fault (#PF)");
    cr_assert(strstr(p.err, "in deeper"), "%s", p.err);
    cr_assert(
        strstr(p.err, "(not mapped): stack overflow (the guard page below the 512 KiB stack)"),
        "%s", p.err);
}

Test(guests, exit_storm_ends_at_the_timeout)
{
    const char *args[] = {
        "run", "--stats", "--timeout", "2", path_to("build/tests/guests/exit_storm.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 124, "stderr: %s", p.err);
    cr_assert(strstr(p.err, "timeout"), "%s", p.err);
    cr_assert_gt(stats_value(&p, "exits.io"), 100, "%s", p.err);
}

Test(guests, stdin_round_trip)
{
    run_guest("cat", "line one\nline two\n", NULL);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "line one\nline two\n");
    cr_assert(strstr(p.err, "cat: 18 bytes\n"), "%s", p.err);
}

Test(guests, libc_tour)
{
    run_guest("libc_tour", NULL, NULL);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "sorted 1 3 5 7 9\n"
                            "sqrt2 1.414214\n"
                            "fmt-00042-ff\n"
                            "random differs 1\n"
                            "open -1 errno No such file or directory\n"
                            "syscall999 -1 errno 38\n"
                            "pid 1\n"
                            "atexit ran\n");
}

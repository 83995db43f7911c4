/* Console output through the guest's ring: what flushes cost in exits, output byte
 * for byte the Linux build's, stdout and stderr in order, everything flushed before
 * a crash kept, and a guest that corrupts its ring killed with a message. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static struct tidal_proc p;
static char expected[sizeof(p.out)];

TestSuite(console, .init = require_kvm, .timeout = 300);

/* The Linux build's stdout, or with both_streams its stdout and stderr on one pipe. */
static size_t linux_output(const char *name, bool both_streams)
{
    char image[256];
    snprintf(image, sizeof(image), "build/tests/guests/%s.linux", name);
    const char *direct[] = {path_to(image), NULL};
    const char *merged[] = {"/bin/sh", "-c", "exec \"$0\" 2>&1", path_to(image), NULL};
    run_program(both_streams ? merged : direct, NULL, &p);
    cr_assert_eq(p.status, 0, "%s: %s", image, p.err);
    memcpy(expected, p.out, p.out_len + 1);
    return p.out_len;
}

Test(console, ten_thousand_flushes_cost_at_most_ten_exits)
{
    size_t len = linux_output("flush_lines", false);
    const char *args[] = {"run", "--stats", path_to("build/tests/guests/flush_lines.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert_eq(p.out_len, len, "%zu bytes, the Linux build %zu", p.out_len, len);
    cr_assert_eq(memcmp(p.out, expected, len), 0, "output differs from the Linux build's");
    double exits = stats_sum(&p, "exits");
    cr_assert_leq(exits, 10, "10,000 flushes took %.0f exits: %s", exits, p.err);
}

Test(console, stdout_and_stderr_keep_their_order)
{
    size_t len = linux_output("interleave", true);
    static char out[sizeof(p.out)];
    const char *args[] = {"run", path_to("build/tests/guests/interleave.elf"), NULL};
    int status = run_tidal_captured(args, NULL, out, sizeof(out));
    cr_assert_eq(status, 0, "%.2000s", out);
    cr_assert_eq(strlen(out), len, "%zu bytes, the Linux build %zu", strlen(out), len);
    cr_assert_eq(memcmp(out, expected, len), 0, "order or content differs from the Linux build's");
}

static void expect_all_lines_then_crash(const char *arg, const char *fragment)
{
    const char *args[] = {"run", path_to("build/tests/guests/flush_then_crash.elf"), arg, NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 70, "stderr: %s", p.err);
    cr_assert(strstr(p.err, fragment), "expected '%s' in: %s", fragment, p.err);
    char line[32];
    size_t at = 0;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        cr_assert(at + (size_t)n <= p.out_len && !memcmp(p.out + at, line, (size_t)n),
                  "line %d missing after %zu bytes", i, at);
        at += (size_t)n;
    }
    cr_assert_eq(at, p.out_len);
}

Test(console, output_flushed_before_a_fault_is_complete)
{
    expect_all_lines_then_crash(NULL, "page fault (#PF)");
}

Test(console, output_flushed_before_a_crash_without_a_call_is_complete)
{
    expect_all_lines_then_crash("hlt", "hlt");
}

Test(console, a_corrupted_ring_kills_the_guest_with_a_message)
{
    const char *args[] = {"run", path_to("build/tests/guests/ring_scribble.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 70, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "a good line\n");
    cr_assert(strstr(p.err, "invalid call: console ring: head "), "%s", p.err);
    cr_assert(strstr(p.err, "do not describe records in 65536 bytes"), "%s", p.err);
}

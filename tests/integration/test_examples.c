/* Boots every example as a real microVM and checks what a user sees: output, exit
 * status, crash reports, timeouts; plus exit counts and native execution. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct tidal_proc p;

TestSuite(examples, .init = require_kvm, .timeout = 120);

Test(examples, hello_prints_and_exits_with_one_exit)
{
    const char *args[] = {"run", "--stats", path_to("build/examples/hello.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "Hello from a Tidal microVM!\n");
    /* Exits to the monitor: the exit call carries the only output flush. */
    double exits = stats_sum(&p, "exits");
    cr_assert(exits >= 1 && exits <= 3, "hello took %.0f exits to the monitor: %s", exits, p.err);
    cr_assert_eq(stats_value(&p, "calls.EXIT"), 1);
    cr_assert_eq(stats_value(&p, "exit_reason"), -1, "exit_reason is a string");
}

Test(examples, args_and_environment)
{
    const char *args[] = {"run",   "--env",  "GREETING=hello there",
                          "--env", "EMPTY=", path_to("build/examples/args.elf"),
                          "--",    "one",    "two words",
                          NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert(strstr(p.out, "argc=3\n"), "%s", p.out);
    cr_assert(strstr(p.out, "argv[1]=one\nargv[2]=two words\n"), "%s", p.out);
    cr_assert(strstr(p.out, "env GREETING=hello there\nenv EMPTY=\n"), "%s", p.out);
    cr_assert(strstr(p.out, "GREETING=hello there\n"), "%s", p.out);
}

Test(examples, guest_exit_status_passes_through)
{
    const char *args[] = {"run", path_to("build/examples/args.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 3, "args with no arguments exits 3; got %d: %s", p.status, p.err);
}

Test(examples, primes_runs_natively)
{
    const char *args[] = {"run", "--stats", path_to("build/examples/primes.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "primes below 4000000: 283146\n");
    /* Emulated execution would count one per instruction: billions. */
    double emulated = stats_value(&p, "vcpu.insn_emulation");
    cr_assert_lt(emulated, 100, "insn_emulation %.0f: the guest is not running natively", emulated);
    cr_assert_neq(stats_value(&p, "vcpu.exits"), -1, "vCPU binary stats missing: %s", p.err);
    cr_assert_leq(stats_sum(&p, "exits"), 3, "%s", p.err);
}

Test(examples, alloc_matches_linux_build)
{
    const char *args[] = {"run", "--mem", "16M", path_to("build/examples/alloc.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stdout: %s stderr: %s", p.out, p.err);
    static char guest[sizeof(p.out)];
    memcpy(guest, p.out, sizeof(guest));
    const char *linux_argv[] = {path_to("build/examples/alloc.linux"), NULL};
    run_program(linux_argv, NULL, &p);
    cr_assert_str_eq(guest, p.out, "checksums differ");
}

/* Each first touch of guest memory is a page fault that KVM handles (pf_taken); with
 * host huge pages under the heap and stack one fault covers 2 MiB. 32M gives alloc a
 * stack of whole 2 MiB pages, so all it touches beyond the boot area is bulk memory. */
Test(examples, huge_pages_cut_alloc_faults_tenfold)
{
    char thp[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(thp, sizeof(thp), f))
            thp[0] = 0;
        fclose(f);
    }
    if (!f || strstr(thp, "[never]"))
        cr_skip_test("this host gives no transparent huge pages (%s)",
                     f ? "THP set to never" : "no THP in the kernel");
    double faults[2];
    static char out[2][sizeof(p.out)];
    const char *modes[] = {"on", "off"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"run",
                              "--stats",
                              "--huge-pages",
                              modes[i],
                              "--mem",
                              "32M",
                              path_to("build/examples/alloc.elf"),
                              NULL};
        run_tidal(args, NULL, &p);
        cr_assert_eq(p.status, 0, "--huge-pages %s: %s", modes[i], p.err);
        memcpy(out[i], p.out, sizeof(out[i]));
        faults[i] = stats_value(&p, "vcpu.pf_taken");
        if (faults[i] < 0)
            cr_skip_test("this kernel's KVM has no pf_taken statistic: %s", p.err);
    }
    cr_assert_str_eq(out[0], out[1], "huge pages changed the guest's output");
    cr_assert_geq(faults[1], 10 * faults[0], "pf_taken %.0f with huge pages, %.0f without",
                  faults[0], faults[1]);
}

Test(examples, crash_reports_null_dereference)
{
    const char *args[] = {"run", path_to("build/examples/crash.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 70, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "about to dereference NULL\n", "output before the crash is kept");
    cr_assert(strstr(p.err, "page fault (#PF)"), "%s", p.err);
    cr_assert(strstr(p.err, "CR2 0x0"), "%s", p.err);
    cr_assert(strstr(p.err, "in read_through"), "symbol missing: %s", p.err);
    cr_assert(strstr(p.err, "NULL pointer dereference"), "%s", p.err);
}

Test(examples, spin_is_killed_by_timeout)
{
    const char *args[] = {"run", "--timeout", "1", path_to("build/examples/spin.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 124, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "spinning forever\n");
    cr_assert(strstr(p.err, "timeout"), "%s", p.err);
}

Test(examples, clocks_and_sleep)
{
    const char *args[] = {"run", path_to("build/examples/time.elf"), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "stdout: %s stderr: %s", p.out, p.err);
    double wall = 0;
    cr_assert_eq(sscanf(p.out, "wall %lf", &wall), 1, "%s", p.out);
    double now = (double)time(NULL);
    cr_assert(wall > now - 60 && wall <= now + 1, "guest wall clock %.0f, host %.0f", wall, now);
    cr_assert(strstr(p.out, "monotonic backwards steps: 0\n"), "%s", p.out);
}

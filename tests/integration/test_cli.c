/* The command line without a running guest: usage errors, missing files and the
 * malformed-ELF corpus are reported with exit codes and never need /dev/kvm. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tidal_proc p;

Test(cli, usage_errors)
{
    const char *none[] = {NULL};
    run_tidal(none, NULL, &p);
    cr_assert_eq(p.status, 64);
    const char *bad_mem[] = {"run", "--mem", "lots", "x.elf", NULL};
    run_tidal(bad_mem, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "--mem: 'lots' is not a size"), "%s", p.err);
    const char *small_mem[] = {"run", "--mem", "1M", "x.elf", NULL};
    run_tidal(small_mem, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "outside the supported range"), "%s", p.err);
    const char *bad_timeout[] = {"run", "--timeout", "-1", "x.elf", NULL};
    run_tidal(bad_timeout, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "--timeout '-1'"), "%s", p.err);
    const char *bad_huge[] = {"run", "--huge-pages", "yes", "x.elf", NULL};
    run_tidal(bad_huge, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "--huge-pages 'yes': expected on or off"), "%s", p.err);
    const char *unknown[] = {"run", "--frobnicate", "x.elf", NULL};
    run_tidal(unknown, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "unknown option '--frobnicate'"), "%s", p.err);
}

Test(cli, missing_image)
{
    const char *args[] = {"run", "/nonexistent/fn.elf", NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 66);
    cr_assert(strstr(p.err, "/nonexistent/fn.elf: No such file or directory"), "%s", p.err);
}

/* A FIFO with no writer would block open() forever; as an image or a snapshot it is
 * refused by type, as an input it reads as empty. The timeout catches a hang. */
Test(cli, a_fifo_is_refused_or_read_never_waited_on, .timeout = 60)
{
    char dir[] = "/tmp/tidal-fifo-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "%s/f.elf", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *image[] = {"run", "--timeout", "1", fifo, NULL};
    run_tidal(image, NULL, &p);
    cr_expect_eq(p.status, 66, "%s", p.err);
    cr_expect(strstr(p.err, fifo) && strstr(p.err, "a FIFO, not a regular file"), "%s", p.err);
    const char *snap[] = {"restore", fifo, NULL};
    run_tidal(snap, NULL, &p);
    cr_expect_eq(p.status, 65, "%s", p.err);
    cr_expect(strstr(p.err, "a FIFO, not a regular file"), "%s", p.err);
    /* the input is opened first: reaching the missing snapshot means it did not block */
    const char *input[] = {"restore", "--input", fifo, "/nonexistent/x.snap", NULL};
    run_tidal(input, NULL, &p);
    cr_expect_eq(p.status, 66, "%s", p.err);
    cr_expect(strstr(p.err, "/nonexistent/x.snap"), "%s", p.err);
    unlink(fifo);
    rmdir(dir);
}

Test(cli, malformed_elf_corpus)
{
    FILE *f = fopen(path_to("tests/corpus/elf/EXPECTED"), "r");
    cr_assert_not_null(f);
    char line[1024];
    int checked = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *space = strchr(line, ' ');
        cr_assert_not_null(space, "bad EXPECTED line: %s", line);
        *space = 0;
        const char *fragment = space + 1;
        char rel[1200];
        snprintf(rel, sizeof(rel), "tests/corpus/elf/%s", line);
        const char *args[] = {"run", path_to(rel), NULL};
        run_tidal(args, NULL, &p);
        cr_assert_eq(p.status, 65, "%s: exit %d, stderr: %s", line, p.status, p.err);
        cr_assert(strstr(p.err, line), "%s: message does not name the file: %s", line, p.err);
        /* The corpus file spells bytes as \xNN; compare the plain-text part only. */
        char plain[1024];
        snprintf(plain, sizeof(plain), "%s", fragment);
        plain[strcspn(plain, "\\")] = 0;
        cr_assert(strstr(p.err, plain), "%s: expected '%s' in: %s", line, plain, p.err);
        checked++;
    }
    fclose(f);
    cr_assert_gt(checked, 30);
}

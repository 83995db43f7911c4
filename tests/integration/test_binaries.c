/* How the binaries are linked (README.md): `tidal`, which starts guests, names no
 * HTTP, TLS or JSON library, and hands the other commands to tidal-host. */
#include "harness.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tidal_proc p;

/* The shared libraries an ELF executable needs (its DT_NEEDED entries), each followed
 * by a space; "" for a static one. */
static void needed_libraries(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: build it first", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *file = malloc((size_t)len);
    cr_assert(file && fread(file, 1, (size_t)len, f) == (size_t)len, "cannot read %s", path);
    fclose(f);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
    cr_assert(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64);
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(file + eh->e_shoff);
    out[0] = 0;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNAMIC)
            continue;
        const char *strings = (const char *)file + sh[sh[i].sh_link].sh_offset;
        for (const Elf64_Dyn *d = (const Elf64_Dyn *)(file + sh[i].sh_offset); d->d_tag != DT_NULL;
             d++)
            if (d->d_tag == DT_NEEDED)
                snprintf(out + strlen(out), size - strlen(out), "%s ", strings + d->d_un.d_val);
    }
    free(file);
}

static const char *tidal_host_bin(void)
{
    static char path[PATH_MAX];
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", tidal_bin());
    snprintf(path, sizeof(path), "%s/tidal-host", dirname(dir));
    return path;
}

Test(binaries, tidal_names_no_http_tls_or_json_library)
{
    char needed[4096];
    needed_libraries(tidal_bin(), needed, sizeof(needed));
    const char *unwanted[] = {"microhttpd", "gnutls", "ssl", "curl", "cjson"};
    for (size_t i = 0; i < sizeof(unwanted) / sizeof(unwanted[0]); i++)
        cr_assert(!strstr(needed, unwanted[i]), "%s needs %s", tidal_bin(), needed);
    /* The same reading finds them where they belong. */
    needed_libraries(tidal_host_bin(), needed, sizeof(needed));
    cr_assert(strstr(needed, "libmicrohttpd") && strstr(needed, "libcjson"), "%s needs %s",
              tidal_host_bin(), needed);
}

Test(binaries, tidal_hands_host_commands_to_tidal_host)
{
    const char *args[] = {"ps", "--socket", "/nonexistent/tidal.sock", NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 66, "stderr: %s", p.err);
    cr_assert(strstr(p.err, "tidal ps: cannot reach the daemon at /nonexistent/tidal.sock"), "%s",
              p.err);
    const char *version[] = {"--version", NULL};
    run_tidal(version, NULL, &p);
    cr_assert_eq(p.status, 0, "stderr: %s", p.err);
    cr_assert(strstr(p.out, "tidal 0."), "%s", p.out);
}

Test(binaries, tidal_host_refuses_the_commands_of_tidal)
{
    const char *argv[] = {tidal_host_bin(), "run", "x.elf", NULL};
    run_program(argv, NULL, &p);
    cr_assert_eq(p.status, 64);
    cr_assert(strstr(p.err, "tidal-host: unknown command 'run'"), "%s", p.err);
}

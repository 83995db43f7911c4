/* From the monitor's boot state to main(): musl's __libc_start_main expects the
 * Linux process stack (argc, argv, envp, auxv); build it from the boot-info page. */
#include "guest.h"

#include <elf.h>
#include <string.h>

const struct tidal_boot_info *tidal_boot;

extern const Elf64_Ehdr __ehdr_start; /* the ELF header, loaded with the first segment */
int main(int, char **, char **);
int __libc_start_main(int (*)(int, char **, char **), int, char **, void (*)(void), void (*)(void),
                      void (*)(void));
_Noreturn void tidal_start(const struct tidal_boot_info *boot);

static void nothing(void) {}

_Noreturn void tidal_start(const struct tidal_boot_info *boot)
{
    tidal_boot = boot;
    if (boot->magic != TIDAL_BOOT_MAGIC || boot->abi_version != TIDAL_ABI_VERSION)
        tidal_exit_now(127); /* not booted by a matching monitor: nothing is safe */
    tidal_pages_init(boot->heap_start, boot->heap_end);
    tidal_random_init(boot->entropy);

    size_t nvec = (size_t)boot->argc + 1 + boot->envc + 1 + 16;
    uint64_t *vec = tidal_pages_alloc(nvec * sizeof(uint64_t));
    static uint8_t at_random[16];
    if (!vec)
        tidal_exit_now(127);
    tidal_random_fill(at_random, sizeof(at_random)); /* musl's stack-protector canary */

    const uint64_t *argv = (const uint64_t *)(uintptr_t)boot->argv_gpa;
    const uint64_t *envp = (const uint64_t *)(uintptr_t)boot->envp_gpa;
    size_t n = 0;
    for (uint32_t i = 0; i < boot->argc; i++)
        vec[n++] = argv[i];
    vec[n++] = 0;
    for (uint32_t i = 0; i < boot->envc; i++)
        vec[n++] = envp[i];
    vec[n++] = 0;
    const uint64_t auxv[] = {
        AT_PHDR,   (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff,
        AT_PHENT,  sizeof(Elf64_Phdr),
        AT_PHNUM,  __ehdr_start.e_phnum,
        AT_PAGESZ, TIDAL_PAGE_SIZE,
        AT_RANDOM, (uintptr_t)at_random,
        AT_NULL,   0,
    };
    memcpy(&vec[n], auxv, sizeof(auxv));

    __libc_start_main(main, (int)boot->argc, (char **)vec, nothing, nothing, 0);
    tidal_exit_now(127);
}

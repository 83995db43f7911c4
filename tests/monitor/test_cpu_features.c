#include "tidal/vmstate.h"

#include <criterion/criterion.h>
#include <string.h>

Test(cpu_features, same_or_more_is_fine)
{
    struct tidal_cpu_features saved = {.leaf1_ecx = 1u << 28, .leaf7_ebx = 1u << 5};
    struct tidal_cpu_features here = {.leaf1_ecx = (1u << 28) | (1u << 20),
                                      .leaf7_ebx = (1u << 5) | (1u << 16)};
    struct tidal_err err;
    cr_assert_eq(tidal_cpu_features_check(&saved, &saved, &err), 0);
    cr_assert_eq(tidal_cpu_features_check(&saved, &here, &err), 0);
}

Test(cpu_features, a_missing_extension_is_named)
{
    struct tidal_cpu_features saved = {.leaf1_ecx = 1u << 28, .leaf7_ebx = 1u << 5};
    struct tidal_cpu_features here = {.leaf1_ecx = 1u << 28};
    struct tidal_err err;
    cr_assert_eq(tidal_cpu_features_check(&saved, &here, &err), -1);
    cr_assert(strstr(err.msg, "AVX2 (CPUID.7:EBX bit 5)"), "%s", err.msg);
}

Test(cpu_features, host_only_bits_do_not_matter)
{
    /* bit 31 of CPUID.1:ECX is "running under a hypervisor", not an instruction set */
    struct tidal_cpu_features saved = {.leaf1_ecx = 1u << 31};
    struct tidal_cpu_features here = {0};
    struct tidal_err err;
    cr_assert_eq(tidal_cpu_features_check(&saved, &here, &err), 0);
}

/* Whether a saved or migrated guest may run on this host: every instruction-set
 * extension its previous host offered it (and so its code may use) must be here too.
 * Other CPUID bits (APIC modes, hypervisor flags) differ between hosts harmlessly. */
#include "tidal/vmstate.h"

#include <stddef.h>

int tidal_cpu_features_check(const struct tidal_cpu_features *saved,
                             const struct tidal_cpu_features *here, struct tidal_err *err)
{
    static const struct {
        int word; /* 0: leaf1 ecx, 1: leaf1 edx, 2: leaf7 ebx, 3: leaf7 ecx */
        int bit;
        const char *name;
    } known[] = {{0, 0, "SSE3"},      {0, 9, "SSSE3"},     {0, 12, "FMA"},       {0, 19, "SSE4.1"},
                 {0, 20, "SSE4.2"},   {0, 22, "MOVBE"},    {0, 23, "POPCNT"},    {0, 25, "AES"},
                 {0, 26, "XSAVE"},    {0, 28, "AVX"},      {0, 29, "F16C"},      {0, 30, "RDRAND"},
                 {1, 25, "SSE"},      {1, 26, "SSE2"},     {2, 0, "FSGSBASE"},   {2, 3, "BMI1"},
                 {2, 5, "AVX2"},      {2, 8, "BMI2"},      {2, 9, "ERMS"},       {2, 16, "AVX512F"},
                 {2, 17, "AVX512DQ"}, {2, 18, "RDSEED"},   {2, 19, "ADX"},       {2, 29, "SHA"},
                 {2, 30, "AVX512BW"}, {2, 31, "AVX512VL"}, {3, 1, "AVX512VBMI"}, {3, 9, "VAES"}};
    const uint32_t s[4] = {saved->leaf1_ecx, saved->leaf1_edx, saved->leaf7_ebx, saved->leaf7_ecx};
    const uint32_t h[4] = {here->leaf1_ecx, here->leaf1_edx, here->leaf7_ebx, here->leaf7_ecx};
    static const char *const words[4] = {"CPUID.1:ECX", "CPUID.1:EDX", "CPUID.7:EBX",
                                         "CPUID.7:ECX"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        uint32_t bit = 1u << known[i].bit;
        if ((s[known[i].word] & bit) && !(h[known[i].word] & bit))
            return tidal_err_set(err,
                                 "this host's CPU lacks %s (%s bit %d), which the guest's "
                                 "previous host offered it: restore or migrate it to a host "
                                 "that has it",
                                 known[i].name, words[known[i].word], known[i].bit);
    }
    return 0;
}

/* Model-specific registers the monitor sets, saves or resets (monitor files only). */
#ifndef TIDAL_MONITOR_MSR_H
#define TIDAL_MONITOR_MSR_H

#define MSR_IA32_TSC 0x10u
#define MSR_SMI_COUNT 0x34u
#define MSR_TSC_ADJUST 0x3bu
#define MSR_IA32_MPERF 0xe7u
#define MSR_IA32_APERF 0xe8u
#define MSR_HV_VP_RUNTIME 0x40000010u     /* Hyper-V's vCPU run time */
#define MSR_HV_TIME_REF_COUNT 0x40000020u /* Hyper-V's partition reference counter */
#define MSR_SPEC_CTRL 0x48u
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_PAT 0x277u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u
#define MSR_PVM_VIF 0x4b564d10u
#define MSR_PVM_SIGNATURE 0x4b564d11u

#endif

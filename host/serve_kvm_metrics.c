/* `tidal serve --kernel-metrics on`: the kernel's figures for this process's VMs on
 * /metrics, from the kvm tracepoint counters (telemetry/). Summed over the VMs: VMs
 * come and go with requests, and a series per VM would grow without bound. */
#include "serve_server.h"
#include "tidal/monitor.h"

#include <linux/kvm.h>
#include <stdlib.h>

#define KVM_METRICS_MAX_VMS 4096

void tidal_serve_kvm_metrics(FILE *out, struct tidal_telemetry *kvm)
{
    struct tidal_top_vm *vms = malloc(KVM_METRICS_MAX_VMS * sizeof(*vms));
    struct tidal_err err;
    int n = vms ? tidal_telemetry_read(kvm, vms, KVM_METRICS_MAX_VMS, &err) : -1;
    if (n < 0) {
        fprintf(out, "# tidal serve: kernel metrics unavailable: %s\n",
                vms ? err.msg : "out of memory");
        free(vms);
        return;
    }
    struct tidal_top_vm sum = {0};
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < TIDAL_TOP_EXIT_REASONS; r++)
            sum.user_exits[r] += vms[i].user_exits[r];
        for (int b = 0; b < TIDAL_TOP_LAT_BUCKETS; b++)
            sum.lat_hist[b] += vms[i].lat_hist[b];
        sum.interval_ns += vms[i].interval_ns;
        sum.kernel_exits += vms[i].kernel_exits;
        sum.page_faults += vms[i].page_faults;
        sum.guest_ns += vms[i].guest_ns;
    }
    free(vms);
    fputs("# HELP tidal_kvm_user_exits_total Exits to the monitor seen by the kernel, by "
          "KVM_EXIT reason.\n# TYPE tidal_kvm_user_exits_total counter\n",
          out);
    for (unsigned r = 0; r < TIDAL_TOP_EXIT_REASONS; r++) {
        char other[24];
        const char *name = tidal_kvm_exit_name(r);
        snprintf(other, sizeof(other), "reason%u", r);
        if (sum.user_exits[r] || r == KVM_EXIT_IO)
            fprintf(out, "tidal_kvm_user_exits_total{reason=\"%s\"} %llu\n", name ? name : other,
                    (unsigned long long)sum.user_exits[r]);
    }
    fputs("# HELP tidal_kvm_exit_interval_seconds Time between two exits of a vCPU to the "
          "monitor: one exit round trip, or the wait for the next request.\n# TYPE "
          "tidal_kvm_exit_interval_seconds histogram\n",
          out);
    unsigned long long cumulative = 0;
    for (int b = 0; b < TIDAL_TOP_LAT_BUCKETS; b++) {
        cumulative += sum.lat_hist[b];
        /* bucket b holds [2^b, 2^(b+1)) ns */
        fprintf(out, "tidal_kvm_exit_interval_seconds_bucket{le=\"%g\"} %llu\n",
                (double)(1ull << (b + 1)) / 1e9, cumulative);
    }
    fprintf(out,
            "tidal_kvm_exit_interval_seconds_bucket{le=\"+Inf\"} %llu\n"
            "tidal_kvm_exit_interval_seconds_sum %.9f\n"
            "tidal_kvm_exit_interval_seconds_count %llu\n",
            cumulative, (double)sum.interval_ns / 1e9, cumulative);
    fprintf(out,
            "# HELP tidal_kvm_exits_total Every exit from the guest (VMX and SVM; 0 under "
            "PVM).\n# TYPE tidal_kvm_exits_total counter\ntidal_kvm_exits_total %llu\n"
            "# HELP tidal_kvm_guest_seconds_total Time in the guest (VMX and SVM).\n"
            "# TYPE tidal_kvm_guest_seconds_total counter\ntidal_kvm_guest_seconds_total %.9f\n"
            "# HELP tidal_kvm_page_faults_total KVM page faults (VMX and SVM).\n"
            "# TYPE tidal_kvm_page_faults_total counter\ntidal_kvm_page_faults_total %llu\n",
            (unsigned long long)sum.kernel_exits, (double)sum.guest_ns / 1e9,
            (unsigned long long)sum.page_faults);
}

/* The kernel's figures for this process's VMs on /metrics, from the kvm tracepoint
 * counters (telemetry/): exits to the monitor by reason, the histogram of the time
 * between them, exits, time in the guest and page faults. serve sums them (its VMs
 * come and go with requests: a series per VM would grow without bound); the daemon
 * gives each VM its series (label vm), its VMs being few and named. */
#include "kvm_metrics.h"
#include "tidal/monitor.h"

#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#define KVM_METRICS_MAX_VMS 4096

struct series {
    const char *name; /* the label's value; NULL: no label */
    struct tidal_top_vm sum;
};

static void add(struct tidal_top_vm *sum, const struct tidal_top_vm *v)
{
    for (int r = 0; r < TIDAL_TOP_EXIT_REASONS; r++)
        sum->user_exits[r] += v->user_exits[r];
    for (int b = 0; b < TIDAL_TOP_LAT_BUCKETS; b++)
        sum->lat_hist[b] += v->lat_hist[b];
    sum->interval_ns += v->interval_ns;
    sum->kernel_exits += v->kernel_exits;
    sum->page_faults += v->page_faults;
    sum->guest_ns += v->guest_ns;
}

/* "{label="value"" plus a comma when more follows; "" or "{" without a label. */
static void open_labels(char *out, size_t size, const char *label, const struct series *s,
                        bool more)
{
    if (label && s->name)
        snprintf(out, size, "{%s=\"%s\"%s", label, s->name, more ? "," : "");
    else
        snprintf(out, size, "%s", more ? "{" : "");
}

static void write_series(FILE *out, const char *label, const struct series *s, unsigned n)
{
    char l[200];
    fputs("# HELP tidal_kvm_user_exits_total Exits to the monitor seen by the kernel, by "
          "KVM_EXIT reason.\n# TYPE tidal_kvm_user_exits_total counter\n",
          out);
    for (unsigned i = 0; i < n; i++)
        for (unsigned r = 0; r < TIDAL_TOP_EXIT_REASONS; r++) {
            char other[24];
            const char *name = tidal_kvm_exit_name(r);
            snprintf(other, sizeof(other), "reason%u", r);
            open_labels(l, sizeof(l), label, &s[i], true);
            if (s[i].sum.user_exits[r] || r == KVM_EXIT_IO)
                fprintf(out, "tidal_kvm_user_exits_total%sreason=\"%s\"} %llu\n", l,
                        name ? name : other, (unsigned long long)s[i].sum.user_exits[r]);
        }
    fputs("# HELP tidal_kvm_exit_interval_seconds Time between two exits of a vCPU to the "
          "monitor: one exit round trip, or the wait for the next request.\n# TYPE "
          "tidal_kvm_exit_interval_seconds histogram\n",
          out);
    for (unsigned i = 0; i < n; i++) {
        unsigned long long cumulative = 0;
        open_labels(l, sizeof(l), label, &s[i], true);
        for (int b = 0; b < TIDAL_TOP_LAT_BUCKETS; b++) {
            cumulative += s[i].sum.lat_hist[b];
            /* bucket b holds [2^b, 2^(b+1)) ns */
            fprintf(out, "tidal_kvm_exit_interval_seconds_bucket%sle=\"%g\"} %llu\n", l,
                    (double)(1ull << (b + 1)) / 1e9, cumulative);
        }
        fprintf(out, "tidal_kvm_exit_interval_seconds_bucket%sle=\"+Inf\"} %llu\n", l, cumulative);
        open_labels(l, sizeof(l), label, &s[i], false);
        const char *close = label && s[i].name ? "}" : "";
        fprintf(out,
                "tidal_kvm_exit_interval_seconds_sum%s%s %.9f\n"
                "tidal_kvm_exit_interval_seconds_count%s%s %llu\n",
                l, close, (double)s[i].sum.interval_ns / 1e9, l, close, cumulative);
    }
    static const struct {
        const char *name, *help;
    } families[] = {
        {"tidal_kvm_exits_total", "Every exit from the guest (VMX and SVM; 0 under PVM)."},
        {"tidal_kvm_guest_seconds_total", "Time in the guest (VMX and SVM)."},
        {"tidal_kvm_page_faults_total", "KVM page faults (VMX and SVM)."},
    };
    for (unsigned f = 0; f < 3; f++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", families[f].name, families[f].help,
                families[f].name);
        for (unsigned i = 0; i < n; i++) {
            open_labels(l, sizeof(l), label, &s[i], false);
            const char *close = label && s[i].name ? "}" : "";
            if (f == 1)
                fprintf(out, "%s%s%s %.9f\n", families[f].name, l, close,
                        (double)s[i].sum.guest_ns / 1e9);
            else
                fprintf(
                    out, "%s%s%s %llu\n", families[f].name, l, close,
                    (unsigned long long)(f == 0 ? s[i].sum.kernel_exits : s[i].sum.page_faults));
        }
    }
}

void tidal_kvm_metrics_write(FILE *out, struct tidal_telemetry *kvm, const char *label,
                             tidal_kvm_label_fn label_of, void *arg)
{
    struct tidal_top_vm *vms = malloc(KVM_METRICS_MAX_VMS * sizeof(*vms));
    struct series *s = calloc(KVM_METRICS_MAX_VMS, sizeof(*s));
    struct tidal_err err;
    int n = vms && s ? tidal_telemetry_read(kvm, vms, KVM_METRICS_MAX_VMS, &err) : -1;
    if (n < 0) {
        fprintf(out, "# kernel metrics unavailable: %s\n", vms && s ? err.msg : "out of memory");
        free(vms);
        free(s);
        return;
    }
    unsigned ns = label_of ? 0 : 1;
    for (int i = 0; i < n; i++) {
        if (!label_of) {
            add(&s[0].sum, &vms[i]);
            continue;
        }
        const char *name = label_of(&vms[i], arg);
        if (!name)
            continue;
        unsigned j = 0;
        while (j < ns && strcmp(s[j].name, name))
            j++;
        if (j == ns)
            s[ns++].name = name;
        add(&s[j].sum, &vms[i]);
    }
    write_series(out, label_of ? label : NULL, s, ns);
    free(vms);
    free(s);
}

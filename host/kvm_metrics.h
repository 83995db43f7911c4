/* The kernel's figures for a process's VMs, in Prometheus text (host/kvm_metrics.c),
 * for the /metrics of serve and daemon. */
#ifndef TIDAL_HOST_KVM_METRICS_H
#define TIDAL_HOST_KVM_METRICS_H

#include "tidal/telemetry.h"

#include <stdio.h>

/* label_of names the series a VM's row adds to (the value of label: a VM's name), or
 * NULL to leave the row out; without label_of every row adds to one series without
 * labels. */
typedef const char *(*tidal_kvm_label_fn)(const struct tidal_top_vm *row, void *arg);
void tidal_kvm_metrics_write(FILE *out, struct tidal_telemetry *kvm, const char *label,
                             tidal_kvm_label_fn label_of, void *arg);

#endif

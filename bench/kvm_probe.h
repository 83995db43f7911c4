/* The bench scripts run a KVM benchmark only after `PROGRAM --probe` succeeds. */
#ifndef TIDAL_BENCH_KVM_PROBE_H
#define TIDAL_BENCH_KVM_PROBE_H

/* With the one argument --probe: exits 0 when /dev/kvm is usable, else prints why and
 * exits 1. Otherwise returns. */
void bench_handle_probe(int argc, char **argv);

#endif

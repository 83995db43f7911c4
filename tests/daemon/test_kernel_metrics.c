/* The daemon's /metrics with --kernel-metrics on (needs KVM and BPF privileges): the
 * kernel's figures come per VM (label vm), and only VMs that ran are there. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct test_daemon t;

static void stop(void)
{
    daemon_stop(&t);
}

static long io_exits_of(const char *text, const char *vm)
{
    char key[128];
    snprintf(key, sizeof(key), "tidal_kvm_user_exits_total{vm=\"%s\",reason=\"io\"} ", vm);
    const char *p = strstr(text, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static bool counted(struct test_daemon *td, void *arg)
{
    (void)arg;
    int status;
    char *text = api_text(td, "/metrics", &status);
    bool ok = status == 200 && io_exits_of(text, "hb") > 10;
    free(text);
    return ok;
}

Test(kernel_metrics, the_daemon_labels_kernel_figures_by_vm, .fini = stop, .timeout = 120)
{
    require_kvm();
    daemon_start(&t, (const char *const[]){"--kernel-metrics", "on", NULL});
    int status;
    char *text = api_text(&t, "/metrics", &status);
    bool loaded = !strstr(text, "kernel metrics unavailable");
    free(text);
    char log[400];
    snprintf(log, sizeof(log), "%s/daemon.log", t.state);
    FILE *f = fopen(log, "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, "--kernel-metrics: left out"))
            loaded = false;
    if (f)
        fclose(f);
    if (!loaded)
        cr_skip_test("the BPF counters cannot be loaded here (see daemon.log)");
    char body[PATH_MAX + 200];
    snprintf(body, sizeof(body), "{\"name\":\"hb\",\"image\":\"%s\",\"mem\":\"4M\"}",
             abs_path_to("build/tests/guests/heartbeat.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, NULL), 201);
    snprintf(body, sizeof(body), "{\"name\":\"idle\",\"image\":\"%s\",\"start\":false}",
             abs_path_to("build/tests/guests/heartbeat.elf"));
    cr_assert_eq(api(&t, "POST", "/v1/vms", body, NULL), 201);
    wait_for(&t, counted, NULL, "the heartbeat VM's exits on /metrics");
    text = api_text(&t, "/metrics", &status);
    cr_assert(strstr(text, "tidal_kvm_exit_interval_seconds_count{vm=\"hb\"}"), "%s", text);
    cr_assert(!strstr(text, "tidal_kvm_user_exits_total{vm=\"idle\""),
              "a VM that never ran has no kernel figures");
    free(text);
}

/* Three hosts in network namespaces of their own and a three-member etcd cluster, all on
 * this machine: a host killed, a host cut off briefly and for longer than its lease, an
 * etcd member killed. Every test starts the whole cluster and tears it down. */
#include "hosts.h"
#include "../common/etcd_fixture.h"
#include "../common/test_env.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOSTS 3
#define WAIT_S 90 /* a bound on a hung cluster, not a timing assertion */

static struct test_net net;
static struct etcd_cluster etcd;
static struct test_cluster cl;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void up(void)
{
    require_kvm();
    char why[200];
    if (!netns_possible(why, sizeof(why)))
        cr_skip_test("cluster tests need network namespaces: %s", why);
    netns_setup(&net, HOSTS);
    etcd_cluster_start(&etcd, 3, net.hub); /* skips the test when etcd is not installed */
    cluster_up(&cl, &net, HOSTS, etcd.endpoints);
}

static void down(void)
{
    cluster_down(&cl);
    etcd_cluster_stop(&etcd);
    netns_teardown(&net);
}

TestSuite(hosts, .init = up, .fini = down, .timeout = 600);

/* Defines a VM through host i and waits until it runs somewhere; returns that host. */
static int define_and_wait(int i, const char *body, const char *name, double *epoch)
{
    cJSON *o;
    int st = host_api(&cl, i, "POST", "/v1/vms", body, &o);
    cr_assert_eq(st, 202, "POST /v1/vms: %d %s", st, o ? cJSON_PrintUnformatted(o) : "");
    cJSON_Delete(o);
    char host[16], state[32];
    for (double t0 = now_s(); now_s() - t0 < WAIT_S; sleep_s(0.1))
        if (cluster_vm(&cl, i, name, host, epoch, state) && host[0] && !strcmp(state, "running"))
            return host_index(&cl, host);
    cr_assert_fail("%s did not start anywhere", name);
    return -1;
}

/* Waits until VM `name` runs on a host other than `not_on`; returns it. */
static int wait_moved(int ask, const char *name, int not_on, double *epoch, double *took)
{
    char host[16], state[32];
    double t0 = now_s();
    for (; now_s() - t0 < WAIT_S; sleep_s(0.1)) {
        if (!cluster_vm(&cl, ask, name, host, epoch, state) || !host[0])
            continue;
        int h = host_index(&cl, host);
        if (h >= 0 && h != not_on && !strcmp(state, "running")) {
            *took = now_s() - t0;
            return h;
        }
    }
    cr_assert_fail("%s did not move off %s", name, cl.hosts[not_on].name);
    return -1;
}

static const char *heartbeat_body(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "{\"name\":\"%s\",\"image\":\"%s\",\"mem\":\"16M\"}", name,
             abs_path_to("build/tests/guests/heartbeat.elf"));
    return buf;
}

/* The beats in a console: each line "beat N", N counting up by one from 0 with no gap
 * and no repeat (one run of the guest at a time). Returns the last N, -1 if none. */
static long check_beats(const char *console)
{
    long expect = 0;
    for (const char *p = console; *p;) {
        long n;
        cr_assert_eq(sscanf(p, "beat %ld", &n), 1, "unexpected console line: %.40s", p);
        cr_assert_eq(n, expect, "beat %ld where %ld was due: two runs wrote the console", n,
                     expect);
        expect++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return expect - 1;
}

/* Waits until the VM's console on host h shows beats beyond `past`. */
static long wait_beats(int h, const char *name, long past)
{
    for (double t0 = now_s(); now_s() - t0 < WAIT_S; sleep_s(0.1)) {
        char *text = host_console(&cl, h, name);
        long last = text ? check_beats(text) : -1;
        free(text);
        if (last > past)
            return last;
    }
    cr_assert_fail("%s made no progress on %s", name, cl.hosts[h].name);
    return -1;
}

Test(hosts, a_killed_hosts_service_comes_back_elsewhere_from_its_snapshot)
{
    char body[512];
    double epoch, epoch2, took;
    int h = define_and_wait(0, heartbeat_body("beater", body, sizeof(body)), "beater", &epoch);
    long before = wait_beats(h, "beater", 60); /* past a checkpoint or two (1 s apart) */
    host_kill9(&cl, h);
    int ask = (h + 1) % HOSTS;
    int h2 = wait_moved(ask, "beater", h, &epoch2, &took);
    cr_assert_gt(epoch2, epoch, "a moved VM runs under a new epoch");
    long after = wait_beats(h2, "beater", before);
    cr_log_info("failover: %s -> %s in %.1f s (lease ttl %s s); beats %ld then %ld",
                cl.hosts[h].name, cl.hosts[h2].name, took, CLUSTER_TTL, before, after);
}

Test(hosts, a_short_cut_moves_nothing)
{
    char body[512];
    double epoch, epoch2;
    char host[16], state[32];
    int h = define_and_wait(0, heartbeat_body("steady", body, sizeof(body)), "steady", &epoch);
    long before = wait_beats(h, "steady", 10);
    netns_link(&net, h, false);
    sleep_s(1.0); /* a third of the lease */
    netns_link(&net, h, true);
    sleep_s(atof(CLUSTER_TTL) * 2);
    cr_assert(cluster_vm(&cl, (h + 1) % HOSTS, "steady", host, &epoch2, state));
    cr_assert_str_eq(host, cl.hosts[h].name, "the VM moved after a cut shorter than the lease");
    cr_assert_eq(epoch2, epoch);
    wait_beats(h, "steady", before + 20);
}

Test(hosts, a_long_cut_fences_the_host_and_its_vm_runs_once_elsewhere)
{
    char body[512];
    double epoch, epoch2, took;
    int h = define_and_wait(0, heartbeat_body("fenced", body, sizeof(body)), "fenced", &epoch);
    long before = wait_beats(h, "fenced", 60);
    netns_link(&net, h, false);
    int ask = (h + 1) % HOSTS;
    int h2 = wait_moved(ask, "fenced", h, &epoch2, &took);
    cr_assert_gt(epoch2, epoch);
    long during = wait_beats(h2, "fenced", before);
    netns_link(&net, h, true);
    /* The cut host learns its lease is gone and drops its paused copy. */
    cJSON *o = NULL;
    bool dropped = false;
    for (double t0 = now_s(); now_s() - t0 < WAIT_S && !dropped; sleep_s(0.2)) {
        dropped = host_api(&cl, h, "GET", "/v1/vms/fenced", NULL, &o) == 404;
        cJSON_Delete(o);
    }
    cr_assert(dropped, "the cut host kept its copy of the VM");
    /* One timeline in the console: no beat written twice, none out of order. */
    long after = wait_beats(h2, "fenced", during + 20);
    cr_log_info("fenced move: %s -> %s in %.1f s; beats %ld, %ld, %ld", cl.hosts[h].name,
                cl.hosts[h2].name, took, before, during, after);
}

Test(hosts, the_cluster_goes_on_without_one_etcd_member)
{
    char body[512];
    double epoch;
    etcd_cluster_kill(&etcd, 0);
    int h = define_and_wait(1, heartbeat_body("survivor", body, sizeof(body)), "survivor", &epoch);
    wait_beats(h, "survivor", 5);
}

Test(hosts, a_killed_hosts_batch_job_finishes_elsewhere_with_the_same_result)
{
    const char *image = abs_path_to("build/tests/guests/long_job.elf");
    const char *steps = "6000000000"; /* seconds of work, checkpointed every second */
    static char expected[4096];
    const char *run_args[] = {"run", image, steps, NULL};
    cr_assert_eq(run_tidal_captured(run_args, NULL, expected, sizeof(expected)), 0, "%s", expected);
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"name\":\"night\",\"image\":\"%s\",\"args\":[\"%s\"],\"mem\":\"16M\","
             "\"window\":{\"cron\":\"0 0 * * *\",\"duration\":\"24h\",\"tz\":\"UTC\"}}",
             image, steps);
    cJSON *o;
    int st = host_api(&cl, 0, "POST", "/v1/batch", body, &o);
    cJSON_Delete(o);
    cr_assert_eq(st, 202);
    char host[16], state[32];
    double epoch, epoch2;
    int h = -1;
    for (double t0 = now_s(); now_s() - t0 < WAIT_S && h < 0; sleep_s(0.1))
        if (cluster_vm(&cl, 0, "night", host, &epoch, state) && !strcmp(state, "running"))
            h = host_index(&cl, host);
    cr_assert_geq(h, 0, "the job did not start");
    sleep_s(2.5); /* two checkpoints */
    host_kill9(&cl, h);
    int ask = (h + 1) % HOSTS;
    bool done = false;
    int h2 = -1;
    for (double t0 = now_s(); now_s() - t0 < WAIT_S && !done; sleep_s(0.2)) {
        done = cluster_vm(&cl, ask, "night", host, &epoch2, state) && !strcmp(state, "exited");
        h2 = host_index(&cl, host);
    }
    cr_assert(done, "the job did not finish after its host was killed (state %s)", state);
    cr_assert_neq(h2, h);
    cr_assert_gt(epoch2, epoch);
    char *console = host_console(&cl, h2, "night");
    cr_assert_not_null(console);
    cr_assert_str_eq(console, expected, "the moved job's output differs from an uninterrupted run");
    free(console);
    /* It went on from its last checkpoint, not from the start. */
    cr_assert_eq(host_api(&cl, h2, "GET", "/v1/batch/night", NULL, &o), 200);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "resumptions");
    cr_assert(cJSON_IsNumber(r) && r->valuedouble >= 1, "the job was not resumed from a snapshot");
    cJSON_Delete(o);
}

Test(hosts, a_name_is_defined_once_and_a_deleted_vm_stops_with_its_files)
{
    char body[512], dir[400];
    double epoch;
    int h = define_and_wait(0, heartbeat_body("brief", body, sizeof(body)), "brief", &epoch);
    wait_beats(h, "brief", 3);
    cJSON *o;
    cr_assert_eq(host_api(&cl, 1, "POST", "/v1/vms", body, &o), 409, "a second definition");
    cJSON_Delete(o);
    cr_assert_eq(host_api(&cl, 2, "DELETE", "/v1/vms/brief", NULL, &o), 202);
    cJSON_Delete(o);
    snprintf(dir, sizeof(dir), "%s/vms/brief", cl.store);
    bool gone = false;
    for (double t0 = now_s(); now_s() - t0 < WAIT_S && !gone; sleep_s(0.1)) {
        gone = host_api(&cl, h, "GET", "/v1/vms/brief", NULL, &o) == 404 && access(dir, F_OK);
        cJSON_Delete(o);
    }
    cr_assert(gone, "the deleted VM still runs on %s, or %s is still there", cl.hosts[h].name, dir);
    cr_assert_eq(host_api(&cl, 1, "DELETE", "/v1/vms/brief", NULL, &o), 404);
    cJSON_Delete(o);
}

/* ---- live migration ---- */

struct kv_client {
    volatile int stop;
    int lines;            /* accepted lines */
    char expect[1 << 16]; /* the console kv owes for them, in order */
    size_t expect_len;
    int refused; /* 503s while the store moved, each sent again */
};

/* Sends one line to the store's current host until one accepts it. */
static void send_accepted(struct kv_client *k, const char *line, const char *answer)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"data\":\"%s\\n\"}", line);
    for (double t0 = now_s(); now_s() - t0 < WAIT_S;) {
        char host[16], state[32];
        double epoch;
        int h = cluster_vm(&cl, 0, "store", host, &epoch, state) ? host_index(&cl, host) : -1;
        cJSON *o = NULL;
        int st = h >= 0 ? host_api(&cl, h, "POST", "/v1/vms/store/input", body, &o) : 0;
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(o, "accepted");
        bool whole =
            st == 202 && cJSON_IsNumber(acc) && (size_t)acc->valuedouble == strlen(line) + 1;
        cJSON_Delete(o);
        if (whole) {
            size_t n = strlen(answer);
            cr_assert_lt(k->expect_len + n + 1, sizeof(k->expect));
            memcpy(k->expect + k->expect_len, answer, n);
            k->expect[k->expect_len + n] = '\n';
            k->expect_len += n + 1;
            k->lines++;
            return;
        }
        cr_assert(st == 503 || st == 404 || st == 409 || st == 0, "input to the store answered %d",
                  st);
        k->refused++;
        sleep_s(0.005);
    }
    cr_assert_fail("no host took the line \"%s\"", line);
}

static void *kv_writer(void *arg)
{
    struct kv_client *k = arg;
    char line[64], answer[64];
    for (unsigned i = 0; !k->stop; i++) {
        snprintf(line, sizeof(line), "w%u=%u", i, i * 7 + 1);
        snprintf(answer, sizeof(answer), "stored w%u", i);
        send_accepted(k, line, answer);
        if (i % 3 == 2) { /* read back one written a little earlier */
            unsigned j = i - 2;
            snprintf(line, sizeof(line), "w%u", j);
            snprintf(answer, sizeof(answer), "w%u=%016x", j, j * 7 + 1);
            send_accepted(k, line, answer);
        }
        sleep_s(0.002);
    }
    return NULL;
}

Test(hosts, a_kv_store_migrates_while_a_client_writes_and_reads_it)
{
    char body[512];
    double epoch, epoch2;
    snprintf(body, sizeof(body), "{\"name\":\"store\",\"image\":\"%s\",\"mem\":\"64M\"}",
             abs_path_to("build/examples/kv.elf"));
    int h = define_and_wait(0, body, "store", &epoch);
    static struct kv_client k;
    pthread_t t;
    pthread_create(&t, NULL, kv_writer, &k);
    sleep_s(1.0);
    int to = (h + 1) % HOSTS;
    char req[64];
    snprintf(req, sizeof(req), "{\"to\":\"%s\"}", cl.hosts[to].name);
    cJSON *o;
    int st = host_api(&cl, h, "POST", "/v1/vms/store/migrate", req, &o);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cr_assert_eq(st, 200, "migrate: %d %s", st, text ? text : "");
    cr_log_info("migration %s -> %s: %s", cl.hosts[h].name, cl.hosts[to].name, text);
    free(text);
    cJSON_Delete(o);
    sleep_s(1.0);
    k.stop = 1;
    pthread_join(t, NULL);
    char host[16], state[32];
    cr_assert(cluster_vm(&cl, 0, "store", host, &epoch2, state));
    cr_assert_str_eq(host, cl.hosts[to].name);
    cr_assert_eq(epoch2, epoch + 1);
    /* Every accepted line answered once, in order, the reads with what was written. */
    char *console = NULL;
    for (double t0 = now_s(); now_s() - t0 < WAIT_S; sleep_s(0.1)) {
        free(console);
        console = host_console(&cl, to, "store");
        if (console && strlen(console) >= k.expect_len)
            break;
    }
    cr_assert_not_null(console);
    k.expect[k.expect_len] = 0;
    cr_assert_str_eq(console, k.expect, "%d lines accepted (%d refused while it moved)", k.lines,
                     k.refused);
    cr_log_info("%d lines answered in order across the move; %d refused and sent again", k.lines,
                k.refused);
    free(console);
    cr_assert_eq(host_api(&cl, h, "GET", "/v1/vms/store", NULL, &o), 404, "the source kept a copy");
    cJSON_Delete(o);
}

/* `tidal top`: every VM on the host, live, from the kernel's kvm tracepoints
 * (telemetry/); without BPF privileges, from the vCPU statistics of the processes'
 * descriptors. Rates come from two samples an interval apart. */
#include "commands.h"
#include "exit_codes.h"
#include "tidal/monitor.h"
#include "tidal/telemetry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOP_MAX 4096

enum sort_key { SORT_EXITS, SORT_FAULTS, SORT_GUEST, SORT_MEM, SORT_PID };

struct top_opts {
    int once, json;
    double interval;
    enum sort_key sort;
};

/* One row: the latest sample and its rates against the previous one. */
struct row {
    struct tidal_top_vm now;
    double exits_s, user_exits_s, faults_s, guest_pct;
    uint64_t rss_kib;
    char name[96];
};

struct sample {
    struct tidal_top_vm *vms;
    int n;
};

static struct tidal_telemetry *bpf;
static const char *fallback_why; /* set when BPF could not be used */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("tidal top: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tidal top [--once] [--json] [--interval SEC] "
          "[--sort exits|faults|guest|mem|pid]\n",
          stderr);
    return TIDAL_RC_USAGE;
}

static int parse(int argc, char **argv, struct top_opts *o)
{
    *o = (struct top_opts){.interval = 1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--once"))
            o->once = 1;
        else if (!strcmp(a, "--json"))
            o->json = 1;
        else if (!strcmp(a, "--interval") && i + 1 < argc) {
            char *end;
            errno = 0;
            o->interval = strtod(argv[++i], &end);
            if (errno || *end || !(o->interval >= 0.05 && o->interval <= 3600))
                return usage_error("--interval '%s': expected seconds from 0.05 to 3600", argv[i]);
        } else if (!strcmp(a, "--sort") && i + 1 < argc) {
            const char *k = argv[++i];
            static const char *const keys[] = {"exits", "faults", "guest", "mem", "pid"};
            int found = -1;
            for (int j = 0; j < 5; j++)
                if (!strcmp(k, keys[j]))
                    found = j;
            if (found < 0)
                return usage_error("--sort '%s': expected exits, faults, guest, mem or pid", k);
            o->sort = (enum sort_key)found;
        } else
            return usage_error("unknown or incomplete option '%s'", a);
    }
    if (o->json && !o->once)
        return usage_error("%s needs --once (one JSON document, not a stream)", "--json");
    return 0;
}

static int take(struct sample *s)
{
    if (bpf) {
        struct tidal_err err;
        s->n = tidal_telemetry_read(bpf, s->vms, TOP_MAX, &err);
        if (s->n < 0) {
            fprintf(stderr, "tidal top: %s\n", err.msg);
            return -1;
        }
        return 0;
    }
    unsigned denied;
    s->n = tidal_top_read_vcpu_stats(s->vms, TOP_MAX, &denied);
    return 0;
}

static const struct tidal_top_vm *find(const struct sample *s, const struct tidal_top_vm *v)
{
    for (int i = 0; i < s->n; i++)
        if (s->vms[i].pid == v->pid && s->vms[i].kvm == v->kvm)
            return &s->vms[i];
    return NULL;
}

static double rate(uint64_t now, uint64_t before, double sec)
{
    return now >= before ? (double)(now - before) / sec : 0;
}

static void make_row(struct row *r, const struct tidal_top_vm *now,
                     const struct tidal_top_vm *before, double sec)
{
    static const struct tidal_top_vm zero;
    if (!before)
        before = &zero;
    r->now = *now;
    r->exits_s = rate(now->kernel_exits, before->kernel_exits, sec);
    r->user_exits_s = rate(tidal_top_user_exits(now), tidal_top_user_exits(before), sec);
    r->faults_s = rate(now->page_faults, before->page_faults, sec);
    r->guest_pct = rate(now->guest_ns, before->guest_ns, sec) / 1e7;
    tidal_top_proc_info(now->pid, r->name, sizeof(r->name), &r->rss_kib);
}

static enum sort_key sort_by;

static int cmp_rows(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    double x = 0, y = 0;
    switch (sort_by) {
    case SORT_EXITS:
        x = a->user_exits_s + a->exits_s, y = b->user_exits_s + b->exits_s;
        break;
    case SORT_FAULTS:
        x = a->faults_s, y = b->faults_s;
        break;
    case SORT_GUEST:
        x = a->guest_pct, y = b->guest_pct;
        break;
    case SORT_MEM:
        x = (double)a->rss_kib, y = (double)b->rss_kib;
        break;
    case SORT_PID:
        return a->now.pid < b->now.pid ? -1 : a->now.pid > b->now.pid;
    }
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The reasons with a count, "io 41 hlt 1", into buf. */
static void reasons_text(const struct tidal_top_vm *v, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (unsigned r = 0; r < TIDAL_TOP_EXIT_REASONS && len < size; r++) {
        if (!v->user_exits[r])
            continue;
        const char *name = tidal_kvm_exit_name(r);
        int w = name ? snprintf(buf + len, size - len, "%s%s %lu", len ? " " : "", name,
                                (unsigned long)v->user_exits[r])
                     : snprintf(buf + len, size - len, "%sreason%u %lu", len ? " " : "", r,
                                (unsigned long)v->user_exits[r]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static void print_table(struct row *rows, int n)
{
    if (fallback_why)
        printf("tidal top: %s\n"
               "tidal top: showing the vCPU statistics of the processes' descriptors instead: "
               "one row per vCPU, no times, no latency; '-' where the process opened no "
               "statistics descriptor (KVM answers vCPU ioctls only in the VM's process; "
               "`tidal run --stats` opens one)\n",
               fallback_why);
    printf("%-7s %-7s %-16s %10s %10s %7s %9s %9s  %-28s %s\n", "PID", "TID", "VM", "EXITS/S",
           "USER/S", "%GUEST", "FAULTS/S", "MEM_KIB", "EXITS BY REASON", "COMMAND");
    for (int i = 0; i < n; i++) {
        char reasons[160];
        reasons_text(&rows[i].now, reasons, sizeof(reasons));
        if (rows[i].now.flags & TIDAL_TOP_NO_COUNTS) {
            printf("%-7u %-7u %-16lx %10s %10s %7s %9s %9lu  %-28s %.60s\n", rows[i].now.pid,
                   rows[i].now.tid, (unsigned long)rows[i].now.kvm, "-", "-", "-", "-",
                   (unsigned long)rows[i].rss_kib, "-", rows[i].name);
            continue;
        }
        printf("%-7u %-7u %-16lx %10.0f %10.0f %7.1f %9.0f %9lu  %-28s %.60s\n", rows[i].now.pid,
               rows[i].now.tid, (unsigned long)rows[i].now.kvm, rows[i].exits_s,
               rows[i].user_exits_s, rows[i].guest_pct, rows[i].faults_s,
               (unsigned long)rows[i].rss_kib, reasons, rows[i].name);
    }
    if (n == 0)
        printf("(no VMs running)\n");
}

static cJSON *vm_json(const struct row *r)
{
    const struct tidal_top_vm *v = &r->now;
    cJSON *o = cJSON_CreateObject();
    char id[24];
    snprintf(id, sizeof(id), "%lx", (unsigned long)v->kvm);
    cJSON_AddNumberToObject(o, "pid", v->pid);
    cJSON_AddNumberToObject(o, "tid", v->tid);
    cJSON_AddStringToObject(o, "vm_id", id);
    cJSON_AddStringToObject(o, "command", r->name);
    cJSON_AddNumberToObject(o, "rss_kib", (double)r->rss_kib);
    cJSON_AddBoolToObject(o, "counted", !(v->flags & TIDAL_TOP_NO_COUNTS));
    cJSON_AddNumberToObject(o, "kernel_exits", (double)v->kernel_exits);
    cJSON_AddNumberToObject(o, "kernel_exits_per_s", r->exits_s);
    cJSON_AddNumberToObject(o, "user_exits", (double)tidal_top_user_exits(v));
    cJSON_AddNumberToObject(o, "user_exits_per_s", r->user_exits_s);
    cJSON *by = cJSON_AddObjectToObject(o, "user_exits_by_reason");
    for (unsigned k = 0; k < TIDAL_TOP_EXIT_REASONS; k++) {
        if (!v->user_exits[k])
            continue;
        char other[16];
        const char *name = tidal_kvm_exit_name(k);
        snprintf(other, sizeof(other), "reason%u", k);
        cJSON_AddNumberToObject(by, name ? name : other, (double)v->user_exits[k]);
    }
    cJSON_AddNumberToObject(o, "page_faults", (double)v->page_faults);
    cJSON_AddNumberToObject(o, "page_faults_per_s", r->faults_s);
    cJSON_AddNumberToObject(o, "guest_ns", (double)v->guest_ns);
    cJSON_AddNumberToObject(o, "guest_pct", r->guest_pct);
    cJSON_AddNumberToObject(o, "kernel_handling_ns", (double)v->handling_ns);
    cJSON *h = cJSON_AddArrayToObject(o, "exit_interval_log2_ns");
    for (int b = 0; b < TIDAL_TOP_LAT_BUCKETS; b++)
        cJSON_AddItemToArray(h, cJSON_CreateNumber((double)v->lat_hist[b]));
    return o;
}

static void print_json(struct row *rows, int n, double interval)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "source", bpf ? "bpf" : "vcpu_stats");
    if (fallback_why)
        cJSON_AddStringToObject(doc, "bpf_error", fallback_why);
    cJSON_AddNumberToObject(doc, "interval_s", interval);
    cJSON *vms = cJSON_AddArrayToObject(doc, "vms");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(vms, vm_json(&rows[i]));
    char *text = cJSON_PrintUnformatted(doc);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(doc);
}

static void nap(double sec)
{
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
        ;
}

int tidal_cmd_top(int argc, char **argv)
{
    struct top_opts o;
    if (parse(argc, argv, &o))
        return TIDAL_RC_USAGE;
    struct tidal_err err;
    bpf = tidal_telemetry_open(0, &err);
    static char why[sizeof(err.msg)];
    if (!bpf) {
        snprintf(why, sizeof(why), "%s", err.msg);
        fallback_why = why;
    }
    struct sample a = {calloc(TOP_MAX, sizeof(*a.vms)), 0};
    struct sample b = {calloc(TOP_MAX, sizeof(*b.vms)), 0};
    struct row *rows = calloc(TOP_MAX, sizeof(*rows));
    int rc = TIDAL_RC_SYSTEM;
    if (!a.vms || !b.vms || !rows) {
        fprintf(stderr, "tidal top: out of memory\n");
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sort_by = o.sort;
    if (take(&a))
        goto out;
    for (;;) {
        nap(o.interval);
        if (take(&b))
            goto out;
        for (int i = 0; i < b.n; i++)
            make_row(&rows[i], &b.vms[i], find(&a, &b.vms[i]), o.interval);
        qsort(rows, (size_t)b.n, sizeof(*rows), cmp_rows);
        if (o.json)
            print_json(rows, b.n, o.interval);
        else {
            if (!o.once)
                fputs("\033[H\033[2J", stdout);
            print_table(rows, b.n);
        }
        fflush(stdout);
        if (o.once || stop)
            break;
        struct sample t = a;
        a = b;
        b = t;
    }
    rc = 0;
out:
    free(a.vms);
    free(b.vms);
    free(rows);
    tidal_telemetry_close(bpf);
    return rc;
}

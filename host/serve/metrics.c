/* Counters of `tidal serve` as Prometheus text (/metrics) and JSON (/v1/functions). */
#include "../kvm_metrics.h"
#include "pool.h"
#include "server.h"
#include "tidal/monitor.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tidal_serve_record(struct tidal_function *fn, enum tidal_outcome outcome, uint64_t ns)
{
    struct tidal_fn_counters *c = &fn->counters;
    atomic_fetch_add(&c->outcomes[outcome], 1);
    if (outcome == OUTCOME_REJECTED || outcome == OUTCOME_TOO_LARGE)
        return; /* never ran: latency is about invocations */
    unsigned b = 0;
    while (b < TIDAL_LATENCY_BUCKETS && (double)ns / 1e9 > tidal_latency_bounds[b])
        b++;
    atomic_fetch_add(&c->latency_buckets[b], 1);
    atomic_fetch_add(&c->latency_sum_ns, ns);
}

/* A worker between jobs last ran a VM of a known function, and the kernel knows which
 * VM its thread ran last: together, that VM's function. Checked again after the look
 * (seq), so a job started meanwhile teaches nothing wrong. Lock held. */
static void learn_owners(struct tidal_server *srv)
{
    unsigned n = tidal_dispatcher_workers(srv->dispatcher);
    for (unsigned i = 0; i < n; i++) {
        int tid, fn, tid2, fn2;
        unsigned seq, seq2;
        if (!tidal_dispatcher_idle_worker(srv->dispatcher, i, &tid, &fn, &seq))
            continue;
        uint64_t kvm = tidal_telemetry_thread_vm(srv->kvm, (uint32_t)tid);
        if (!kvm || !tidal_dispatcher_idle_worker(srv->dispatcher, i, &tid2, &fn2, &seq2) ||
            seq2 != seq)
            continue;
        unsigned j = 0;
        while (j < srv->nowners && srv->owners[j].kvm != kvm)
            j++;
        if (j == srv->nowners) {
            if (srv->nowners == KVM_OWNERS_MAX) /* the oldest VMs are the likeliest gone */
                memmove(srv->owners, srv->owners + 1, --srv->nowners * sizeof(*srv->owners));
            j = srv->nowners++;
        }
        srv->owners[j] = (struct kvm_owner){kvm, (unsigned)fn};
    }
}

static const char *function_of_row(const struct tidal_top_vm *row, void *arg)
{
    const struct tidal_server *srv = arg;
    for (unsigned j = 0; j < srv->nowners; j++)
        if (srv->owners[j].kvm == row->kvm)
            return srv->fns[srv->owners[j].fn].spec->name;
    return "(unattributed)";
}

/* The kernel's figures per function: a VM belongs to one function for its life. */
static void kernel_metrics(FILE *out, struct tidal_server *srv)
{
    pthread_mutex_lock(&srv->owners_lock);
    if (!srv->owners)
        srv->owners = calloc(KVM_OWNERS_MAX, sizeof(*srv->owners));
    if (srv->owners && srv->dispatcher) {
        learn_owners(srv);
        tidal_kvm_metrics_write(out, srv->kvm, "function", function_of_row, srv);
    } else {
        tidal_kvm_metrics_write(out, srv->kvm, NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&srv->owners_lock);
}

static unsigned long resident_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (unsigned long)sysconf(_SC_PAGESIZE);
}

enum per_function_value {
    EXITS,
    PF_TAKEN,
    SPAWNS,
    VM_CREATIONS,
    VM_TEARDOWNS,
    RESETS,
    PAGES_RESET,
    DIRTY_PAGES,
    HOT_PAGES,
    REPROTECTED,
    RESET_IOCTLS,
    POOL_IDLE,
    RUNNING,
    QUEUED,
    TEMPLATE
};

static unsigned long long pool_value(const struct tidal_function *fn, enum per_function_value v)
{
    if (!fn->vms)
        return 0;
    const struct tidal_vm_pool_counts *c = tidal_vm_pool_counts(fn->vms);
    switch (v) {
    case VM_CREATIONS:
        return atomic_load(&c->creations);
    case VM_TEARDOWNS:
        return atomic_load(&c->teardowns);
    case RESETS:
        return atomic_load(&c->resets);
    case PAGES_RESET:
        return atomic_load(&c->pages_reset);
    case DIRTY_PAGES:
        return atomic_load(&c->guest_dirty);
    case HOT_PAGES:
        return atomic_load(&c->hot_pages);
    case REPROTECTED:
        return atomic_load(&c->reprotected);
    case RESET_IOCTLS:
        return atomic_load(&c->reset_ioctls);
    default:
        return tidal_vm_pool_idle(fn->vms);
    }
}

static unsigned long long value_of(struct tidal_server *srv, struct tidal_function *fn,
                                   enum per_function_value v)
{
    unsigned running, queued;
    switch (v) {
    case EXITS:
        return atomic_load(&fn->counters.exits);
    case PF_TAKEN:
        return atomic_load(&fn->counters.pf_taken);
    case SPAWNS:
        return atomic_load(&fn->counters.spawns);
    case RUNNING:
    case QUEUED:
        tidal_dispatcher_load(srv->dispatcher, fn->index, &running, &queued);
        return v == RUNNING ? running : queued;
    case TEMPLATE:
        return fn->template_bytes;
    default:
        return pool_value(fn, v);
    }
}

/* A metric with one line per function. */
static void per_function(FILE *out, struct tidal_server *srv, const char *metric, const char *type,
                         const char *help, enum per_function_value v)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
    for (unsigned i = 0; i < srv->nfns; i++)
        fprintf(out, "%s{function=\"%s\"} %llu\n", metric, srv->fns[i].spec->name,
                value_of(srv, &srv->fns[i], v));
}

char *tidal_serve_metrics(struct tidal_server *srv)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    fputs("# HELP tidal_invocations_total Invocations by function and outcome.\n"
          "# TYPE tidal_invocations_total counter\n",
          out);
    for (unsigned i = 0; i < srv->nfns; i++)
        for (unsigned o = 0; o < OUTCOME_COUNT; o++)
            fprintf(out, "tidal_invocations_total{function=\"%s\",outcome=\"%s\"} %lu\n",
                    srv->fns[i].spec->name, tidal_outcome_name(o),
                    atomic_load(&srv->fns[i].counters.outcomes[o]));
    fputs("# HELP tidal_invocation_duration_seconds From request headers to response, "
          "queueing included.\n# TYPE tidal_invocation_duration_seconds histogram\n",
          out);
    for (unsigned i = 0; i < srv->nfns; i++) {
        struct tidal_fn_counters *c = &srv->fns[i].counters;
        const char *name = srv->fns[i].spec->name;
        unsigned long cumulative = 0;
        for (unsigned b = 0; b <= TIDAL_LATENCY_BUCKETS; b++) {
            cumulative += atomic_load(&c->latency_buckets[b]);
            if (b < TIDAL_LATENCY_BUCKETS)
                fprintf(out,
                        "tidal_invocation_duration_seconds_bucket{function=\"%s\",le=\"%g\"} %lu\n",
                        name, tidal_latency_bounds[b], cumulative);
            else
                fprintf(
                    out,
                    "tidal_invocation_duration_seconds_bucket{function=\"%s\",le=\"+Inf\"} %lu\n",
                    name, cumulative);
        }
        fprintf(out, "tidal_invocation_duration_seconds_sum{function=\"%s\"} %.9f\n", name,
                (double)atomic_load(&c->latency_sum_ns) / 1e9);
        fprintf(out, "tidal_invocation_duration_seconds_count{function=\"%s\"} %lu\n", name,
                cumulative);
    }
    per_function(out, srv, "tidal_vm_exits_total", "counter",
                 "VM exits to the monitor during invocations.", EXITS);
    per_function(out, srv, "tidal_pf_taken_total", "counter",
                 "KVM page faults taken during invocations (the vCPU's pf_taken).", PF_TAKEN);
    per_function(out, srv, "tidal_process_spawns_total", "counter",
                 "Processes spawned (process backend).", SPAWNS);
    per_function(out, srv, "tidal_vm_creations_total", "counter",
                 "VMs created for the function's pool (never on a request's path).", VM_CREATIONS);
    per_function(out, srv, "tidal_vm_teardowns_total", "counter",
                 "VMs torn down: failed requests' VMs are never reused.", VM_TEARDOWNS);
    per_function(out, srv, "tidal_vm_resets_total", "counter",
                 "VMs reset in place to the template after a request.", RESETS);
    per_function(out, srv, "tidal_pages_reset_total", "counter",
                 "Guest pages copied back from the template by resets.", PAGES_RESET);
    per_function(out, srv, "tidal_dirty_pages_total", "counter",
                 "Guest pages KVM's dirty log reported written, over all resets.", DIRTY_PAGES);
    per_function(out, srv, "tidal_hot_pages_total", "counter",
                 "Pages left writable because every request writes them, over all resets.",
                 HOT_PAGES);
    per_function(out, srv, "tidal_reprotected_pages_total", "counter",
                 "Pages write-protected again by resets (their next write faults).", REPROTECTED);
    per_function(out, srv, "tidal_reset_kvm_ioctls_total", "counter", "KVM ioctls made by resets.",
                 RESET_IOCTLS);
    per_function(out, srv, "tidal_pool_idle_vms", "gauge",
                 "Reused VMs waiting at the template point.", POOL_IDLE);
    per_function(out, srv, "tidal_running", "gauge", "Invocations running now.", RUNNING);
    per_function(out, srv, "tidal_queued", "gauge", "Invocations waiting for a worker.", QUEUED);
    per_function(out, srv, "tidal_template_bytes", "gauge",
                 "Memory pages stored in the function's template.", TEMPLATE);
    fprintf(out,
            "# HELP tidal_resident_bytes Resident memory of the server process.\n"
            "# TYPE tidal_resident_bytes gauge\ntidal_resident_bytes %lu\n",
            resident_bytes());
    if (srv->kvm)
        kernel_metrics(out, srv);
    fclose(out);
    return text;
}

static cJSON *limits_json(const struct tidal_fn_limits *l)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "memory", (double)l->mem_size);
    cJSON_AddNumberToObject(o, "timeout", l->timeout_sec);
    cJSON_AddNumberToObject(o, "max_concurrency", l->max_concurrency);
    cJSON_AddNumberToObject(o, "max_queue", l->max_queue);
    cJSON_AddNumberToObject(o, "max_body", (double)l->max_body);
    cJSON_AddNumberToObject(o, "max_output", (double)l->max_output);
    return o;
}

char *tidal_serve_functions_json(struct tidal_server *srv)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "functions");
    for (unsigned i = 0; i < srv->nfns; i++) {
        struct tidal_function *fn = &srv->fns[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", fn->spec->name);
        cJSON_AddStringToObject(o, "image", fn->spec->image);
        cJSON_AddStringToObject(o, "backend", fn->backend == TIDAL_BACKEND_VM ? "vm" : "process");
        cJSON_AddItemToObject(o, "limits", limits_json(&fn->spec->limits));
        cJSON *inv = cJSON_AddObjectToObject(o, "invocations");
        for (unsigned k = 0; k < OUTCOME_COUNT; k++)
            cJSON_AddNumberToObject(inv, tidal_outcome_name(k),
                                    (double)atomic_load(&fn->counters.outcomes[k]));
        unsigned running, queued;
        tidal_dispatcher_load(srv->dispatcher, fn->index, &running, &queued);
        cJSON_AddNumberToObject(o, "running", running);
        cJSON_AddNumberToObject(o, "queued", queued);
        cJSON_AddNumberToObject(o, "exits", (double)atomic_load(&fn->counters.exits));
        cJSON_AddNumberToObject(o, "pf_taken", (double)atomic_load(&fn->counters.pf_taken));
        cJSON_AddNumberToObject(o, "pool_vms", fn->pool_target);
        cJSON_AddNumberToObject(o, "pool_idle_vms", (double)pool_value(fn, POOL_IDLE));
        cJSON_AddNumberToObject(o, "vm_creations", (double)pool_value(fn, VM_CREATIONS));
        cJSON_AddNumberToObject(o, "vm_resets", (double)pool_value(fn, RESETS));
        cJSON_AddNumberToObject(o, "pages_reset", (double)pool_value(fn, PAGES_RESET));
        cJSON_AddNumberToObject(o, "template_bytes", (double)fn->template_bytes);
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

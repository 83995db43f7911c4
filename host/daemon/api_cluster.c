/* /v1/cluster: the cluster as etcd has it, and live migration of a VM running here. */
#include "api.h"
#include "cluster.h"
#include "../json_fields.h"

#include <string.h>

/* GET /v1/cluster */
static void view(struct daemon *d, struct api_reply *r)
{
    struct tidal_err err;
    unsigned status;
    r->json = cluster_view(d, &status, &err);
    if (!r->json)
        api_fail(r, status, "cluster", "%s", err.msg);
}

/* POST /v1/vms/NAME/migrate {"to": HOST} */
void api_migrate(struct daemon *d, const char *name, const cJSON *body, struct api_reply *r)
{
    static const char *const known[] = {"to", NULL};
    struct tidal_err err;
    const char *to;
    if (!d->cluster) {
        api_fail(r, 409, "not_a_cluster", "this daemon is not part of a cluster (--etcd)");
        return;
    }
    if (!body || tidal_json_only_fields(body, "", known, &err) ||
        tidal_json_string(body, "", "to", true, &to, &err)) {
        api_fail(r, 400, "bad_request", "%s", body ? err.msg : "expected {\"to\": HOST}");
        return;
    }
    unsigned status;
    cJSON *report;
    if (cluster_migrate(d, name, to, &report, &status, &err))
        api_fail(r, status, "migration_failed", "%s", err.msg);
    else
        r->json = report;
}

void api_cluster(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    if (!d->cluster) {
        api_fail(r, 404, "not_a_cluster",
                 "this daemon is not part of a cluster (start it with --etcd and --store)");
        return;
    }
    if (q->nparts == 2 && !strcmp(q->method, "GET"))
        view(d, r);
    else
        api_fail(r, 405, "method_not_allowed", "%s /v1/cluster: expected GET", q->method);
}

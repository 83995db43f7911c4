/* Leases: grant, renew once, revoke, time left. etcd gives lease IDs as int64 strings
 * ("ID") and TTLs in seconds ("TTL"). */
#include "etcd_internal.h"

static cJSON *lease_body(int64_t id)
{
    cJSON *body = cJSON_CreateObject();
    return etcd_json_built(body, body && etcd_json_add_int64(body, "ID", id));
}

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, struct tidal_err *err)
{
    if (ttl_s < 1)
        return tidal_err_set(err, "etcd lease TTL %lld s: expected at least 1", (long long)ttl_s);
    cJSON *body = cJSON_CreateObject();
    cJSON *answer;
    if (etcd_unary(e, "/v3/lease/grant",
                   etcd_json_built(body, body && etcd_json_add_int64(body, "TTL", ttl_s)), &answer,
                   err))
        return -1;
    int result = etcd_json_int64(e, answer, "ID", id, err);
    if (!result && *id <= 0)
        result = etcd_bad_answer(e, err, "field \"ID\": expected a lease ID > 0");
    cJSON_Delete(answer);
    return result;
}

int etcd_lease_keepalive_once(struct etcd *e, int64_t id, int64_t *ttl_left, struct tidal_err *err)
{
    cJSON *answer;
    int64_t ttl;
    /* A stream in gRPC: the gateway sends our one message, closes its side and wraps
     * the one answer in "result". */
    if (etcd_unary(e, "/v3/lease/keepalive", lease_body(id), &answer, err))
        return -1;
    const cJSON *result = etcd_json_member(e, answer, "result", err);
    int rc = result ? etcd_json_int64(e, result, "TTL", &ttl, err) : -1;
    cJSON_Delete(answer);
    if (rc)
        return -1;
    /* A lease that has expired or been revoked comes back without a TTL. */
    if (ttl <= 0)
        return ETCD_ABSENT;
    if (ttl_left)
        *ttl_left = ttl;
    return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, struct tidal_err *err)
{
    if (!etcd_unary(e, "/v3/lease/revoke", lease_body(id), NULL, err))
        return 0;
    return e->status == GRPC_NOT_FOUND ? ETCD_ABSENT : -1;
}

int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl_left, int64_t *granted,
                   struct tidal_err *err)
{
    cJSON *answer;
    int64_t ttl, granted_ttl;
    if (etcd_unary(e, "/v3/lease/timetolive", lease_body(id), &answer, err))
        return -1;
    int rc = etcd_json_int64(e, answer, "TTL", &ttl, err) ||
             etcd_json_int64(e, answer, "grantedTTL", &granted_ttl, err);
    cJSON_Delete(answer);
    if (rc)
        return -1;
    /* An unknown lease has TTL -1; one in its last second may show 0. */
    if (ttl < 0)
        return ETCD_ABSENT;
    if (ttl_left)
        *ttl_left = ttl;
    if (granted)
        *granted = granted_ttl;
    return 0;
}

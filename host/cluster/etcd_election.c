/* Leader election through etcd's election service (v3election): campaign, leader,
 * resign. The server does the waiting: a campaign is one long request whose answer
 * comes when this candidate's key is the oldest under the election's name. */
#include "etcd_internal.h"

#include <stdlib.h>
#include <string.h>

/* Copies a text field into a leader's fixed buffer. */
static int copy_text(const struct etcd *e, const cJSON *o, const char *name, char *out,
                     struct tidal_err *err)
{
    char *text;
    size_t len;
    if (etcd_json_bytes(e, o, name, true, &text, &len, err))
        return -1;
    int result = 0;
    if (!len || len >= ETCD_KEY_MAX)
        result = etcd_bad_answer(e, err, "field \"%s\": expected 1 to %d bytes, got %zu", name,
                                 ETCD_KEY_MAX - 1, len);
    else
        memcpy(out, text, len + 1);
    free(text);
    return result;
}

static int check_name(const char *name, struct tidal_err *err)
{
    /* The leader key is the name, "/" and the lease in hex. */
    if (!*name || strlen(name) > ETCD_KEY_MAX - 20)
        return tidal_err_set(err, "etcd election name \"%.60s\": expected 1 to %d bytes", name,
                             ETCD_KEY_MAX - 20);
    return 0;
}

static bool add_leader(cJSON *o, const struct etcd_leader *l)
{
    return etcd_json_add_bytes(o, "name", l->name, strlen(l->name)) &&
           etcd_json_add_bytes(o, "key", l->key, strlen(l->key)) &&
           etcd_json_add_int64(o, "rev", l->rev) && etcd_json_add_int64(o, "lease", l->lease);
}

int etcd_campaign(struct etcd *e, const char *name, int64_t lease, const void *value, size_t len,
                  volatile int *stop, struct etcd_leader *leader, struct tidal_err *err)
{
    if (check_name(name, err) || etcd_check_value(name, len, err))
        return -1;
    cJSON *body = cJSON_CreateObject();
    bool ok = body && etcd_json_add_bytes(body, "name", name, strlen(name)) &&
              etcd_json_add_int64(body, "lease", lease) &&
              etcd_json_add_bytes(body, "value", value, len);
    if (!(body = etcd_json_built(body, ok)))
        return tidal_err_set(err, "etcd: out of memory");
    cJSON *answer;
    struct etcd_request r = {
        .path = "/v3/election/campaign", .body = body, .unbounded = true, .stop = stop};
    int result = etcd_call(e, &r, &answer, err);
    cJSON_Delete(body);
    if (result)
        return result;
    const cJSON *l = etcd_json_member(e, answer, "leader", err);
    *leader = (struct etcd_leader){0};
    result = !l || copy_text(e, l, "name", leader->name, err) ||
                     copy_text(e, l, "key", leader->key, err) ||
                     etcd_json_int64(e, l, "rev", &leader->rev, err) ||
                     etcd_json_int64(e, l, "lease", &leader->lease, err)
                 ? -1
                 : 0;
    if (!result && (leader->rev <= 0 || leader->lease != lease || strcmp(leader->name, name)))
        result = etcd_bad_answer(e, err,
                                 "leader of \"%.100s\" with lease %lld at revision %lld: expected "
                                 "election \"%.100s\", lease %lld and a revision > 0",
                                 leader->name, (long long)leader->lease, (long long)leader->rev,
                                 name, (long long)lease);
    cJSON_Delete(answer);
    return result;
}

int etcd_leader(struct etcd *e, const char *name, struct etcd_leader *leader, char **value,
                size_t *len, struct tidal_err *err)
{
    if (value)
        *value = NULL;
    if (check_name(name, err))
        return -1;
    cJSON *body = cJSON_CreateObject();
    cJSON *answer;
    if (etcd_unary(
            e, "/v3/election/leader",
            etcd_json_built(body, body && etcd_json_add_bytes(body, "name", name, strlen(name))),
            &answer, err))
        /* The service says so with an error, "election: no leader" (gRPC "unknown"). */
        return strstr(err->msg, "election: no leader") ? ETCD_ABSENT : -1;
    const cJSON *kv_json = cJSON_GetObjectItemCaseSensitive(answer, "kv");
    struct etcd_kv kv;
    int result = !kv_json ? ETCD_ABSENT : etcd_json_kv(e, kv_json, &kv, err);
    cJSON_Delete(answer);
    if (result)
        return result;
    size_t key_len = strlen(kv.key);
    if (key_len >= ETCD_KEY_MAX || strncmp(kv.key, name, strlen(name)) ||
        kv.key[strlen(name)] != '/') {
        result =
            etcd_bad_answer(e, err, "leader key \"%.100s\" is not under \"%.100s/\"", kv.key, name);
        etcd_json_kv_free(&kv);
        return result;
    }
    *leader = (struct etcd_leader){.rev = kv.meta.create_revision, .lease = kv.meta.lease};
    strcpy(leader->name, name);
    memcpy(leader->key, kv.key, key_len + 1);
    if (value) {
        *value = (char *)kv.value;
        *len = kv.value_len;
        kv.value = NULL;
    }
    etcd_json_kv_free(&kv);
    return 0;
}

int etcd_resign(struct etcd *e, const struct etcd_leader *leader, struct tidal_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *l = body ? cJSON_AddObjectToObject(body, "leader") : NULL;
    return etcd_unary(e, "/v3/election/resign", etcd_json_built(body, l && add_leader(l, leader)),
                      NULL, err);
}

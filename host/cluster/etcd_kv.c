/* Keys and values: put, get, listing a prefix, delete, and transactions. */
#include "etcd_internal.h"

#include <stdlib.h>
#include <string.h>

/* Keys per page of a listing: a page of values far above the usual size still stays
 * under ETCD_MAX_BODY. */
#define PAGE_KEYS 500

int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
             int64_t *revision, struct tidal_err *err)
{
    if (etcd_check_value(key, len, err))
        return -1;
    cJSON *body = cJSON_CreateObject();
    bool ok = body && etcd_json_add_range(body, key, false) &&
              etcd_json_add_bytes(body, "value", value, len) &&
              (!lease || etcd_json_add_int64(body, "lease", lease));
    cJSON *answer;
    int64_t rev;
    if (etcd_unary(e, "/v3/kv/put", etcd_json_built(body, ok), &answer, err))
        return -1;
    int result = etcd_json_revision(e, answer, &rev, err);
    cJSON_Delete(answer);
    if (!result && revision)
        *revision = rev;
    return result;
}

int etcd_get(struct etcd *e, const char *key, char **value, size_t *len, struct etcd_kv_meta *meta,
             struct tidal_err *err)
{
    *value = NULL;
    *len = 0;
    cJSON *body = cJSON_CreateObject();
    cJSON *answer;
    if (etcd_unary(e, "/v3/kv/range",
                   etcd_json_built(body, body && etcd_json_add_range(body, key, false)), &answer,
                   err))
        return -1;
    const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(answer, "kvs");
    int n = cJSON_GetArraySize(kvs);
    int result = ETCD_ABSENT;
    struct etcd_kv kv;
    if (kvs && (!cJSON_IsArray(kvs) || n > 1))
        result = etcd_bad_answer(e, err, "field \"kvs\": expected one key-value at most");
    else if (n == 1 && !(result = etcd_json_kv(e, cJSON_GetArrayItem(kvs, 0), &kv, err))) {
        if (strcmp(kv.key, key)) {
            result =
                etcd_bad_answer(e, err, "asked for key \"%.100s\", got \"%.100s\"", key, kv.key);
            etcd_json_kv_free(&kv);
        } else {
            *value = (char *)kv.value;
            *len = kv.value_len;
            if (meta)
                *meta = kv.meta;
            free((char *)kv.key);
        }
    }
    cJSON_Delete(answer);
    return result;
}

/* Hands one page's key-values to fn; *last gets the last key (malloc'ed). */
static int list_page(struct etcd *e, const cJSON *answer, etcd_kv_fn fn, void *arg, char **last,
                     struct tidal_err *err)
{
    const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(answer, "kvs");
    if (kvs && !cJSON_IsArray(kvs))
        return etcd_bad_answer(e, err, "field \"kvs\": expected an array");
    const cJSON *item;
    cJSON_ArrayForEach(item, kvs)
    {
        struct etcd_kv kv;
        if (etcd_json_kv(e, item, &kv, err))
            return -1;
        if (*last && strcmp(kv.key, *last) <= 0) {
            etcd_json_kv_free(&kv);
            return etcd_bad_answer(e, err, "keys out of order");
        }
        int result = fn(&kv, arg, err);
        free(*last);
        *last = (char *)kv.key;
        free((char *)kv.value);
        if (result)
            return -1;
    }
    return 0;
}

int etcd_get_prefix(struct etcd *e, const char *prefix, etcd_kv_fn fn, void *arg, int64_t *revision,
                    struct tidal_err *err)
{
    cJSON *body = cJSON_CreateObject();
    bool ok = body && etcd_json_add_range(body, prefix, true) &&
              cJSON_AddNumberToObject(body, "limit", PAGE_KEYS);
    if (!(body = etcd_json_built(body, ok)))
        return tidal_err_set(err, "etcd: out of memory");
    char *last = NULL;
    int64_t at = 0; /* every page is read at the first one's revision */
    int result;
    for (;;) {
        cJSON *answer;
        int64_t rev;
        result = etcd_call(e, &(struct etcd_request){.path = "/v3/kv/range", .body = body}, &answer,
                           err);
        if (result)
            break;
        result = etcd_json_revision(e, answer, &rev, err);
        if (!result && !at)
            at = rev;
        if (!result)
            result = list_page(e, answer, fn, arg, &last, err);
        bool more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "more"));
        cJSON_Delete(answer);
        if (result || !more)
            break;
        if (!last) {
            result = etcd_bad_answer(e, err, "\"more\" set on a page without keys");
            break;
        }
        /* The next page starts right after the last key: the same key with a NUL added. */
        cJSON_DeleteItemFromObjectCaseSensitive(body, "key");
        cJSON_DeleteItemFromObjectCaseSensitive(body, "revision");
        if (!etcd_json_add_bytes(body, "key", last, strlen(last) + 1) ||
            !etcd_json_add_int64(body, "revision", at)) {
            result = tidal_err_set(err, "etcd: out of memory");
            break;
        }
    }
    free(last);
    cJSON_Delete(body);
    if (!result && revision)
        *revision = at;
    return result;
}

int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *deleted,
                struct tidal_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *answer;
    int64_t n = 0, rev;
    if (etcd_unary(e, "/v3/kv/deleterange",
                   etcd_json_built(body, body && etcd_json_add_range(body, key, prefix)), &answer,
                   err))
        return -1;
    int result =
        etcd_json_revision(e, answer, &rev, err) || etcd_json_int64(e, answer, "deleted", &n, err)
            ? -1
            : 0;
    cJSON_Delete(answer);
    if (!result && deleted)
        *deleted = n;
    return result;
}

static const char *const target_names[] = {"VERSION", "CREATE", "MOD", "VALUE"};
static const char *const target_fields[] = {"version", "create_revision", "mod_revision", "value"};
static const char *const result_names[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

static cJSON *compare_json(const struct etcd_compare *c)
{
    cJSON *o = cJSON_CreateObject();
    bool ok =
        o && etcd_json_add_range(o, c->key, false) &&
        cJSON_AddStringToObject(o, "target", target_names[c->target]) &&
        cJSON_AddStringToObject(o, "result", result_names[c->result]) &&
        (c->target == ETCD_VALUE ? etcd_json_add_bytes(o, "value", c->value, c->value_len)
                                 : etcd_json_add_int64(o, target_fields[c->target], c->number));
    return etcd_json_built(o, ok);
}

static cJSON *op_json(const struct etcd_op *op)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *request = NULL;
    bool ok = o;
    if (ok && op->kind == ETCD_OP_PUT)
        ok = (request = cJSON_AddObjectToObject(o, "request_put")) &&
             etcd_json_add_range(request, op->key, false) &&
             etcd_json_add_bytes(request, "value", op->value, op->value_len) &&
             (!op->lease || etcd_json_add_int64(request, "lease", op->lease));
    else if (ok)
        ok = (request = cJSON_AddObjectToObject(o, "request_delete_range")) &&
             etcd_json_add_range(request, op->key, op->prefix);
    return etcd_json_built(o, ok);
}

static bool add_ops(cJSON *body, const char *name, const struct etcd_op *ops, size_t n)
{
    cJSON *list = cJSON_AddArrayToObject(body, name);
    for (size_t i = 0; list && i < n; i++) {
        cJSON *op = op_json(&ops[i]);
        if (!op || !cJSON_AddItemToArray(list, op)) {
            cJSON_Delete(op);
            return false;
        }
    }
    return list;
}

static int check_compares(const struct etcd_compare *c, size_t n, struct tidal_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)c[i].target > ETCD_VALUE || (unsigned)c[i].result > ETCD_NOT_EQUAL)
            return tidal_err_set(err,
                                 "etcd txn: compare %zu on \"%.100s\": unknown target %d or "
                                 "result %d",
                                 i, c[i].key, (int)c[i].target, (int)c[i].result);
        if (etcd_check_value(c[i].key, c[i].value_len, err))
            return -1;
    }
    return 0;
}

static int check_ops(const struct etcd_op *ops, size_t n, struct tidal_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (etcd_check_value(ops[i].key, ops[i].value_len, err))
            return -1;
    return 0;
}

int etcd_txn(struct etcd *e, const struct etcd_compare *compares, size_t n_compares,
             const struct etcd_op *success, size_t n_success, const struct etcd_op *failure,
             size_t n_failure, bool *succeeded, int64_t *revision, struct tidal_err *err)
{
    if (check_compares(compares, n_compares, err) || check_ops(success, n_success, err) ||
        check_ops(failure, n_failure, err))
        return -1;
    cJSON *body = cJSON_CreateObject();
    cJSON *list = body ? cJSON_AddArrayToObject(body, "compare") : NULL;
    bool ok = list;
    for (size_t i = 0; ok && i < n_compares; i++) {
        cJSON *c = compare_json(&compares[i]);
        ok = c && cJSON_AddItemToArray(list, c);
        if (!ok)
            cJSON_Delete(c);
    }
    ok = ok && add_ops(body, "success", success, n_success) &&
         add_ops(body, "failure", failure, n_failure);
    cJSON *answer;
    int64_t rev;
    if (etcd_unary(e, "/v3/kv/txn", etcd_json_built(body, ok), &answer, err))
        return -1;
    int result = etcd_json_revision(e, answer, &rev, err);
    const cJSON *held = cJSON_GetObjectItemCaseSensitive(answer, "succeeded");
    if (!result && held && !cJSON_IsBool(held))
        result = etcd_bad_answer(e, err, "field \"succeeded\": expected true or false");
    if (!result) {
        *succeeded = cJSON_IsTrue(held);
        if (revision)
            *revision = rev;
    }
    cJSON_Delete(answer);
    return result;
}

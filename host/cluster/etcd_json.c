/* etcd's messages in the gateway's JSON: base64 for bytes, strings for int64, and
 * every zero or empty field left out. */
#include "base64.h"
#include "etcd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool etcd_json_add_bytes(cJSON *o, const char *name, const void *data, size_t len)
{
    char *text = len <= ETCD_MAX_BODY ? malloc(base64_encoded_len(len) + 1) : NULL;
    if (!text)
        return false;
    base64_encode(data, len, text);
    bool ok = cJSON_AddStringToObject(o, name, text) != NULL;
    free(text);
    return ok;
}

bool etcd_json_add_int64(cJSON *o, const char *name, int64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, v);
    return cJSON_AddStringToObject(o, name, text) != NULL;
}

bool etcd_json_add_range(cJSON *o, const char *key, bool prefix)
{
    size_t len = strlen(key);
    if (!prefix)
        return etcd_json_add_bytes(o, "key", key, len);
    /* Every key starting with key sorts below key with its last byte that is not 0xff
     * raised by one and what follows dropped; "\0" as range_end reaches to the end, and
     * "\0" as key is the first key there can be. */
    char *end = malloc(len + 1);
    if (!end)
        return false;
    memcpy(end, key, len);
    size_t end_len = len;
    while (end_len && (unsigned char)end[end_len - 1] == 0xff)
        end_len--;
    if (end_len)
        end[end_len - 1]++;
    else
        end[end_len++] = 0;
    bool ok = etcd_json_add_bytes(o, "key", key, len ? len : 1) &&
              etcd_json_add_bytes(o, "range_end", end, end_len);
    free(end);
    return ok;
}

int etcd_check_value(const char *key, size_t len, struct tidal_err *err)
{
    if (len > ETCD_MAX_BODY)
        return tidal_err_set(err, "etcd: value of \"%.100s\": %zu bytes, more than %u", key, len,
                             ETCD_MAX_BODY);
    return 0;
}

cJSON *etcd_json_built(cJSON *o, bool ok)
{
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

int etcd_json_int64(const struct etcd *e, const cJSON *o, const char *name, int64_t *out,
                    struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = 0;
    if (!v)
        return 0;
    if (cJSON_IsNumber(v)) {
        /* Only what a double holds exactly: etcd writes int64s as strings anyway. */
        if (v->valuedouble != (double)(int64_t)v->valuedouble || v->valuedouble > 9.0e15 ||
            v->valuedouble < -9.0e15)
            return etcd_bad_answer(e, err, "field \"%s\": %g is not a whole number", name,
                                   v->valuedouble);
        *out = (int64_t)v->valuedouble;
        return 0;
    }
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    char *end = NULL;
    errno = 0;
    long long n = s && (*s == '-' || (*s >= '0' && *s <= '9')) ? strtoll(s, &end, 10) : 0;
    if (!end || *end || errno)
        return etcd_bad_answer(e, err, "field \"%s\": expected a 64-bit integer", name);
    *out = n;
    return 0;
}

int etcd_json_bytes(const struct etcd *e, const cJSON *o, const char *name, bool text, char **out,
                    size_t *len, struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    const char *s = "";
    if (v && !cJSON_IsString(v))
        return etcd_bad_answer(e, err, "field \"%s\": expected a base64 string", name);
    if (v)
        s = v->valuestring;
    size_t s_len = strlen(s), n;
    unsigned char *bytes = malloc(s_len / 4 * 3 + 1);
    if (!bytes)
        return tidal_err_set(err, "etcd %s: out of memory for a %zu-byte field \"%s\"", e->url,
                             s_len, name);
    if (!base64_decode(s, s_len, bytes, &n)) {
        free(bytes);
        return etcd_bad_answer(e, err, "field \"%s\": \"%.40s\" is not base64", name, s);
    }
    if (text && memchr(bytes, 0, n)) {
        free(bytes);
        return etcd_bad_answer(e, err, "field \"%s\": a key with a NUL byte", name);
    }
    bytes[n] = 0;
    *out = (char *)bytes;
    if (len)
        *len = n;
    return 0;
}

int etcd_json_kv(const struct etcd *e, const cJSON *o, struct etcd_kv *kv, struct tidal_err *err)
{
    *kv = (struct etcd_kv){0};
    char *key = NULL, *value = NULL;
    if (!cJSON_IsObject(o))
        return etcd_bad_answer(e, err, "a key-value is not a JSON object");
    if (etcd_json_bytes(e, o, "key", true, &key, NULL, err) ||
        etcd_json_bytes(e, o, "value", false, &value, &kv->value_len, err) ||
        etcd_json_int64(e, o, "create_revision", &kv->meta.create_revision, err) ||
        etcd_json_int64(e, o, "mod_revision", &kv->meta.mod_revision, err) ||
        etcd_json_int64(e, o, "version", &kv->meta.version, err) ||
        etcd_json_int64(e, o, "lease", &kv->meta.lease, err)) {
        free(key);
        free(value);
        return -1;
    }
    if (!*key) {
        free(key);
        free(value);
        return etcd_bad_answer(e, err, "a key-value without a key");
    }
    kv->key = key;
    kv->value = value;
    return 0;
}

void etcd_json_kv_free(struct etcd_kv *kv)
{
    free((char *)kv->key);
    free((char *)kv->value);
    *kv = (struct etcd_kv){0};
}

const cJSON *etcd_json_member(const struct etcd *e, const cJSON *o, const char *name,
                              struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsObject(v)) {
        etcd_bad_answer(e, err, "field \"%s\": %s", name, v ? "expected a JSON object" : "missing");
        return NULL;
    }
    return v;
}

int etcd_json_revision(const struct etcd *e, const cJSON *answer, int64_t *revision,
                       struct tidal_err *err)
{
    const cJSON *header = etcd_json_member(e, answer, "header", err);
    if (!header || etcd_json_int64(e, header, "revision", revision, err))
        return -1;
    if (*revision <= 0)
        return etcd_bad_answer(e, err, "field \"header.revision\": expected a revision > 0");
    return 0;
}

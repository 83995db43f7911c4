/* Watches: one streamed request per connection, whose answer is a JSON object per line
 * ({"result": WatchResponse}) for as long as the watch lasts. A stream that breaks is
 * opened again, on the next endpoint, from the revision after the last one delivered. */
#include "etcd_internal.h"

#include <string.h>

struct watch {
    struct etcd *e;
    etcd_event_fn fn;
    void *arg;
    int64_t next;      /* the revision to resume from; 0: "now", until the server says */
    bool created;      /* the server confirmed the watch on this stream */
    int64_t compacted; /* the compaction revision that ended the watch */
};

static int on_event(struct watch *w, const cJSON *json, int64_t *revision, struct tidal_err *err)
{
    struct etcd_event ev = {.type = ETCD_EVENT_PUT};
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (type && cJSON_IsString(type) && !strcmp(type->valuestring, "DELETE"))
        ev.type = ETCD_EVENT_DELETE;
    /* PUT is the type's zero value, which the gateway leaves out. */
    else if (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "PUT")))
        return etcd_bad_answer(w->e, err, "field \"type\": expected PUT or DELETE");
    const cJSON *kv = etcd_json_member(w->e, json, "kv", err);
    if (!kv || etcd_json_kv(w->e, kv, &ev.kv, err))
        return -1;
    int result = 0;
    if (ev.kv.meta.mod_revision <= 0)
        result = etcd_bad_answer(w->e, err, "an event without a revision");
    else if (ev.kv.meta.mod_revision < *revision)
        result = etcd_bad_answer(w->e, err, "event at revision %lld after one at %lld",
                                 (long long)ev.kv.meta.mod_revision, (long long)*revision);
    /* Events of revisions delivered before the stream broke are not repeated; after a
     * failed one, its revision is where to resume. */
    else if (ev.kv.meta.mod_revision >= w->next && w->fn(&ev, w->arg, err)) {
        w->next = ev.kv.meta.mod_revision;
        result = -1;
    }
    *revision = ev.kv.meta.mod_revision;
    etcd_json_kv_free(&ev.kv);
    return result;
}

static int on_message(const cJSON *msg, void *arg, struct tidal_err *err)
{
    struct watch *w = arg;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "created"))) {
        w->created = true;
        int64_t now;
        if (!w->next && etcd_json_revision(w->e, msg, &now, err))
            return -1;
        if (!w->next)
            w->next = now + 1;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "canceled"))) {
        if (etcd_json_int64(w->e, msg, "compact_revision", &w->compacted, err))
            return -1;
        if (w->compacted > 0)
            return ETCD_COMPACTED;
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(msg, "cancel_reason");
        return tidal_err_set(err, "etcd %s: the watch was canceled: %.300s", w->e->url,
                             cJSON_IsString(why) ? why->valuestring : "(no reason given)");
    }
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(msg, "events");
    if (events && !cJSON_IsArray(events))
        return etcd_bad_answer(w->e, err, "field \"events\": expected an array");
    int64_t revision = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events)
    {
        if (on_event(w, ev, &revision, err))
            return -1;
    }
    /* A revision's events all come in one message: the next message starts a later one. */
    if (revision >= w->next)
        w->next = revision + 1;
    return 0;
}

int etcd_watch(struct etcd *e, const char *prefix, int64_t start_revision, etcd_event_fn fn,
               void *arg, volatile int *stop, int64_t *next, struct tidal_err *err)
{
    struct watch w = {
        .e = e, .fn = fn, .arg = arg, .next = start_revision > 0 ? start_revision : 0};
    struct etcd_retry retry = {0};
    int result;
    do {
        cJSON *body = cJSON_CreateObject();
        cJSON *create = body ? cJSON_AddObjectToObject(body, "create_request") : NULL;
        bool ok = create && etcd_json_add_range(create, prefix, true) &&
                  (!w.next || etcd_json_add_int64(create, "start_revision", w.next));
        if (!(body = etcd_json_built(body, ok))) {
            result = tidal_err_set(err, "etcd: out of memory");
            break;
        }
        struct etcd_request r = {.path = "/v3/watch",
                                 .body = body,
                                 .unbounded = true,
                                 .stop = stop,
                                 .on_message = on_message,
                                 .arg = &w};
        w.created = false;
        result = etcd_exchange(e, &r, NULL, err);
        cJSON_Delete(body);
        if (result == 0) {
            /* The server ended the stream: as good as a broken one. */
            tidal_err_set(err, "etcd %s: the watch stream ended", e->url);
            e->current = (e->current + 1) % e->n_endpoints;
            result = ETCD_UNREACHABLE;
        }
        if (w.created)
            retry = (struct etcd_retry){0};
    } while (result == ETCD_UNREACHABLE && !(stop && *stop) && etcd_retry(e, &retry));
    if (result == ETCD_UNREACHABLE)
        result = stop && *stop ? ETCD_STOPPED : -1;
    if (next)
        *next = result == ETCD_COMPACTED ? w.compacted : w.next;
    return result;
}

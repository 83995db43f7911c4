/* hosts.json: the plan's time zone and the host types of the fleet. */
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_type(struct tsched_model *m, const struct jctx *pc, const cJSON *o, int i)
{
    struct jctx c = *pc;
    snprintf(c.path, sizeof c.path, "hostTypes[%d]", i);
    if (!cJSON_IsObject(o))
        return jerr(&c, NULL, "expected an object {\"name\", \"cpu\", \"memoryGB\", \"count\"}");
    static const char *const keys[] = {"name", "cpu", "memoryGB", "count", NULL};
    if (jk_only(&c, o, keys) < 0)
        return -1;
    struct tsched_host_type *t = &m->types[i];
    const char *name = NULL;
    double cpu, mem, count = 0;
    if (jk_str(&c, o, "name", true, &name) < 0 ||
        jk_num(&c, o, "cpu", true, 0.001, 1e6, &cpu) < 0 ||
        jk_num(&c, o, "memoryGB", true, 0.001, 1e9, &mem) < 0 ||
        jk_num(&c, o, "count", false, 0, 1e6, &count) < 0)
        return -1;
    if (!*name || strlen(name) >= sizeof t->name)
        return jerr(&c, "name", "\"%s\": expected 1 to %zu characters", name, sizeof t->name - 1);
    if (count != (int)count)
        return jerr(&c, "count", "%g: expected a whole number (0 = unlimited)", count);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->cap[TSCHED_CPU] = cpu;
    t->cap[TSCHED_MEM] = mem;
    t->count = (int)count;
    return 0;
}

int tsched_load_hosts(struct tsched_model *m, const char *path, struct tsched_err *err)
{
    cJSON *root = tsched_json_load(path, err);
    if (!root)
        return -1;
    struct jctx c = {.file = path, .err = err};
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        jerr(&c, NULL, "expected an object with \"hostTypes\"");
        goto out;
    }
    static const char *const keys[] = {"hostTypes", "timeZone", "date", "snapshotGBps", NULL};
    if (jk_only(&c, root, keys) < 0)
        goto out;
    const char *date = NULL, *tz = NULL;
    if (jk_str(&c, root, "date", false, &date) < 0 ||
        jk_str(&c, root, "timeZone", false, &tz) < 0 ||
        jk_num(&c, root, "snapshotGBps", false, 1e-6, 1e6, &m->snapshot_gbs) < 0)
        goto out;
    if (date && tsched_parse_date(date, &m->ref_day) < 0) {
        jerr(&c, "date", "\"%s\": expected YYYY-MM-DD", date);
        goto out;
    }
    if (tz) {
        struct tsched_err e2;
        if (strlen(tz) >= sizeof m->tz ||
            tsched_tz_offset(tz, m->ref_day, &m->tz_offset_s, &e2) < 0) {
            jerr(&c, "timeZone", "%s", strlen(tz) >= sizeof m->tz ? "name too long" : e2.msg);
            goto out;
        }
        snprintf(m->tz, sizeof m->tz, "%s", tz);
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(root, "hostTypes");
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) < 1) {
        jerr(&c, "hostTypes", "%s: expected a non-empty array of host types",
             types ? "wrong type or empty" : "missing");
        goto out;
    }
    int n = cJSON_GetArraySize(types);
    free(m->types);
    m->types = calloc((size_t)n, sizeof *m->types);
    m->ntypes = 0;
    if (!m->types) {
        tsched_errf(err, "%s: out of memory", path);
        goto out;
    }
    int i = 0;
    for (const cJSON *it = types->child; it; it = it->next, i++) {
        if (load_type(m, &c, it, i) < 0)
            goto out;
        m->ntypes = i + 1;
        /* Only the last type may be unlimited, or the ones after it would never be used. */
        if (m->types[i].count == 0 && it->next) {
            snprintf(c.path, sizeof c.path, "hostTypes[%d]", i);
            jerr(&c, "count", "0 (unlimited) is only allowed on the last host type");
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

#include "json_fields.h"
#include "tidal/file.h"

#include "tidal/layout.h"
#include "tidal/size.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tidal_json_only_fields(const cJSON *obj, const char *where, const char *const *known,
                           struct tidal_err *err)
{
    if (!cJSON_IsObject(obj))
        return tidal_err_set(err, "%s: expected a JSON object", *where ? where : "body");
    for (const cJSON *m = obj->child; m; m = m->next) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(m->string, *k);
        if (!ok) {
            char list[512] = "";
            for (const char *const *k = known; *k; k++) {
                strncat(list, *k, sizeof(list) - strlen(list) - 3);
                if (k[1])
                    strcat(list, ", ");
            }
            return tidal_err_set(err, "unknown field \"%s%s\" (known: %s)", where, m->string, list);
        }
    }
    return 0;
}

int tidal_json_string(const cJSON *obj, const char *where, const char *name, bool required,
                      const char **out, struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v)
        return required ? tidal_err_set(err, "missing field \"%s%s\"", where, name) : 0;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return tidal_err_set(err, "field \"%s%s\": expected a non-empty string", where, name);
    *out = v->valuestring;
    return 0;
}

int tidal_json_number(const cJSON *obj, const char *where, const char *name, double min, double max,
                      double *out, struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max)
        return tidal_err_set(err, "field \"%s%s\": expected a number in %g..%g", where, name, min,
                             max);
    *out = v->valuedouble;
    return 0;
}

int tidal_json_whole(const cJSON *obj, const char *where, const char *name, uint64_t min,
                     uint64_t max, uint64_t *out, struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
        v->valuedouble != floor(v->valuedouble))
        return tidal_err_set(err, "field \"%s%s\": expected a whole number in %llu..%llu", where,
                             name, (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)v->valuedouble;
    return 0;
}

int tidal_json_size(const cJSON *obj, const char *where, const char *name, uint64_t *out,
                    struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    struct tidal_err inner;
    if (cJSON_IsString(v)) {
        if (tidal_parse_size(v->valuestring, name, out, &inner))
            return tidal_err_set(err, "field \"%s%s\": %s", where, name, inner.msg);
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble >= 1e15 ||
        v->valuedouble != floor(v->valuedouble))
        return tidal_err_set(err, "field \"%s%s\": expected a size such as \"64M\" or bytes", where,
                             name);
    *out = (uint64_t)v->valuedouble;
    return 0;
}

int tidal_json_mem(const cJSON *obj, const char *where, const char *name, uint64_t *out,
                   struct tidal_err *err)
{
    uint64_t size = 0;
    struct tidal_err inner;
    if (tidal_json_size(obj, where, name, &size, err))
        return -1;
    if (!size)
        return 0;
    if (tidal_layout_check_mem(size, &inner))
        return tidal_err_set(err, "field \"%s%s\": %s", where, name, inner.msg);
    *out = size;
    return 0;
}

int tidal_json_args(const cJSON *obj, const char *name, int max, char **argv, int *argc,
                    struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *argc = 0;
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return tidal_err_set(err, "field \"%s\": expected an array of strings", name);
    const cJSON *a;
    cJSON_ArrayForEach(a, v)
    {
        if (!cJSON_IsString(a))
            return tidal_err_set(err, "field \"%s\": item %d is not a string", name, *argc);
        if (*argc == max)
            return tidal_err_set(err, "field \"%s\": more than %d arguments", name, max);
        if (!(argv[(*argc)++] = strdup(a->valuestring)))
            return tidal_err_set(err, "out of memory");
    }
    return 0;
}

int tidal_json_trees(const cJSON *obj, const char *where, struct tidal_fs_trees *t,
                     struct tidal_err *err)
{
    static const char *const kinds[] = {"dirs", "files"};
    for (unsigned k = 0; k < 2; k++) {
        int n = 0;
        unsigned first = t->n;
        int rc = tidal_json_args(obj, kinds[k], (int)(TIDAL_FS_TREES_MAX - first), t->args + first,
                                 &n, err);
        t->n += (unsigned)n;
        if (rc)
            return -1;
        for (unsigned i = first; i < t->n; i++) {
            struct tidal_err why;
            if (tidal_fs_spec_parse(t->args[i], k == 0, &t->specs[i], &why))
                return tidal_err_set(err, "%s%s: %s", where, kinds[k], why.msg);
        }
    }
    return 0;
}

void tidal_json_add_trees(cJSON *o, const struct tidal_fs_trees *t)
{
    static const char *const kinds[] = {"files", "dirs"};
    for (unsigned k = 0; k < 2; k++) {
        cJSON *a = NULL;
        for (unsigned i = 0; i < t->n; i++) {
            if (t->specs[i].is_dir != (k == 1))
                continue;
            if (!a)
                a = cJSON_AddArrayToObject(o, kinds[k]);
            size_t len = strlen(t->specs[i].host) + strlen(t->specs[i].guest) + 2;
            char *joined = malloc(len);
            if (!joined)
                continue;
            snprintf(joined, len, "%s:%s", t->specs[i].host, t->specs[i].guest);
            cJSON_AddItemToArray(a, cJSON_CreateString(joined));
            free(joined);
        }
    }
}

int tidal_json_check_trees(const struct tidal_fs_trees *t, struct tidal_err *err)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->specs[i].host[0] != '/')
            return tidal_err_set(err, "field \"%s\": host path \"%.300s\" is not absolute",
                                 t->specs[i].is_dir ? "dirs" : "files", t->specs[i].host);
    if (!t->n)
        return 0;
    struct tidal_fs_plan *plan;
    size_t size;
    if (tidal_fs_plan(t->specs, t->n, &plan, &size, err))
        return -1;
    tidal_fs_plan_free(plan);
    return 0;
}

int tidal_json_check_args_fit(const char *image, char *const *args, int argc, struct tidal_err *err)
{
    char *argv[argc + 1];
    argv[0] = (char *)image;
    for (int i = 0; i < argc; i++)
        argv[i + 1] = args[i];
    struct tidal_boot_args boot = {.argc = argc + 1, .argv = argv};
    struct tidal_err why;
    if (tidal_layout_check_boot_args(&boot, &why))
        return tidal_err_set(err, "field \"args\": %s", why.msg);
    return 0;
}

int tidal_json_image(const cJSON *obj, char *out, size_t size, struct tidal_err *err)
{
    const char *image;
    if (tidal_json_string(obj, "", "image", true, &image, err))
        return -1;
    if (image[0] != '/')
        return tidal_err_set(err,
                             "field \"image\" \"%s\": expected an absolute path (the "
                             "daemon does not share your working directory)",
                             image);
    if (strlen(image) >= size)
        return tidal_err_set(err, "field \"image\": path longer than %zu bytes", size - 1);
    struct tidal_err why;
    int fd = tidal_file_open(image, true, &why);
    if (fd < 0)
        return tidal_err_set(err, "field \"image\": %s", why.msg);
    close(fd);
    strcpy(out, image);
    return 0;
}

/* cJSON helpers with precise messages. */
#include "json_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *tsched_json_load(const char *file, struct tsched_err *err)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        tsched_errc(err, tsched_errf(err, "%s: cannot open: %s", file, strerror(errno)),
                    TSCHED_E_NOFILE);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool rerr = ferror(f);
    fclose(f);
    if (!buf) {
        tsched_errf(err, "%s: out of memory", file);
        return NULL;
    }
    if (rerr) {
        free(buf);
        tsched_errf(err, "%s: read error", file);
        return NULL;
    }
    buf[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(buf, &end, 1);
    if (!root) {
        const char *at = end ? end : buf;
        if (at < buf || at > buf + len)
            at = buf;
        int line = 1, col = 1;
        for (const char *p = buf; p < at; p++, col++)
            if (*p == '\n')
                line++, col = 0;
        tsched_errf(err, "%s:%d:%d: invalid JSON near \"%.20s\"", file, line, col, at);
    }
    free(buf);
    return root;
}

int jerr(const struct jctx *c, const char *key, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tsched_errf(c->err, "%s: %s%s%s: %s", c->file, c->path, key && *c->path ? "." : "",
                       key ? key : "", what);
}

/* Shows a value in a message, clipped so that a huge array does not flood it. */
static void show(const cJSON *v, char *buf, size_t n)
{
    char *s = cJSON_PrintUnformatted(v);
    snprintf(buf, n, "%s", s ? s : "?");
    if (s && strlen(s) >= n && n > 4)
        strcpy(buf + n - 4, "...");
    free(s);
}

int jk_only(const struct jctx *c, const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= !strcmp(*a, it->string);
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         a == allowed ? "" : ", ", *a);
            return jerr(c, it->string, "unknown field (expected one of: %s)", list);
        }
    }
    return 0;
}

int jk_num(const struct jctx *c, const cJSON *obj, const char *key, bool required, double lo,
           double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char b[64];
    if (!v) {
        if (required)
            return jerr(c, key, "missing (expected a number in [%g, %g])", lo, hi);
        return 0;
    }
    if (!cJSON_IsNumber(v)) {
        show(v, b, sizeof b);
        return jerr(c, key, "%s: expected a number in [%g, %g]", b, lo, hi);
    }
    if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        show(v, b, sizeof b);
        return jerr(c, key, "%s: out of range, expected a number in [%g, %g]", b, lo, hi);
    }
    *out = v->valuedouble;
    return 1;
}

int jk_str(const struct jctx *c, const cJSON *obj, const char *key, bool required, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char b[64];
    if (!v) {
        if (required)
            return jerr(c, key, "missing (expected a string)");
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        show(v, b, sizeof b);
        return jerr(c, key, "%s: expected a string", b);
    }
    *out = v->valuestring;
    return 1;
}

int jk_bool(const struct jctx *c, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char b[64];
    if (!v)
        return 0;
    if (!cJSON_IsBool(v)) {
        show(v, b, sizeof b);
        return jerr(c, key, "%s: expected true or false", b);
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

int jk_curve(const struct jctx *c, const cJSON *obj, const char *key, bool required, double hi,
             float *out, int n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char b[64];
    if (!v) {
        if (required)
            return jerr(c, key,
                        "missing (expected a number or an array of numbers, one per "
                        "equal part of the day)");
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > hi) {
            show(v, b, sizeof b);
            return jerr(c, key, "%s: expected a number in [0, %g]", b, hi);
        }
        for (int t = 0; t < n; t++)
            out[t] = (float)v->valuedouble;
        return 1;
    }
    if (!cJSON_IsArray(v)) {
        show(v, b, sizeof b);
        return jerr(c, key, "%s: expected a number or an array of numbers", b);
    }
    int len = cJSON_GetArraySize(v);
    if (len < 1 || len > 86400)
        return jerr(c, key,
                    "array of %d values: expected 1 to 86400 values (one per equal "
                    "part of the day)",
                    len);
    double *vals = malloc((size_t)len * sizeof *vals);
    if (!vals)
        return jerr(c, key, "out of memory");
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
            it->valuedouble > hi) {
            show(it, b, sizeof b);
            free(vals);
            return jerr(c, key, "[%d] = %s: expected a number in [0, %g]", i, b, hi);
        }
        vals[i] = it->valuedouble;
    }
    /* Each value covers 1/len of the day; a slot takes the mean of what it overlaps, so
     * a minute-resolution curve is averaged into 5-min slots and an hourly one repeated. */
    for (int t = 0; t < n; t++) {
        double a = (double)t * len / n, e = (double)(t + 1) * len / n, sum = 0;
        for (int k = (int)a; k < len && k < e; k++) {
            double lo = fmax(a, k), up = fmin(e, k + 1);
            sum += vals[k] * (up - lo);
        }
        out[t] = (float)(sum / (e - a));
    }
    free(vals);
    return 1;
}

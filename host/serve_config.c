/* The functions `tidal serve` offers: from --function NAME=PATH and from a JSON file. */
#include "tidal/layout.h"
#include "tidal/serve.h"
#include "tidal/size.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_SEC 10.0
#define DEFAULT_MAX_QUEUE 1024u
#define DEFAULT_MAX_BODY (1ull << 20)
#define DEFAULT_MAX_OUTPUT (8ull << 20)
#define MAX_FUNCTIONS 256

static bool valid_name(const char *name, size_t len)
{
    if (len == 0 || len > TIDAL_FN_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static struct tidal_fn_spec *add_function(struct tidal_serve_config *cfg, const char *name,
                                          size_t name_len, const char *image, const char *where,
                                          struct tidal_err *err)
{
    if (!valid_name(name, name_len)) {
        tidal_err_set(err, "%s: function name '%.*s' must be 1-%d characters of A-Z a-z 0-9 - _ .",
                      where, (int)(name_len > 100 ? 100 : name_len), name, TIDAL_FN_NAME_MAX);
        return NULL;
    }
    for (unsigned i = 0; i < cfg->nfns; i++)
        if (strlen(cfg->fns[i].name) == name_len && !memcmp(cfg->fns[i].name, name, name_len)) {
            tidal_err_set(err, "%s: function '%.*s' is defined twice", where, (int)name_len, name);
            return NULL;
        }
    if (!*image) {
        tidal_err_set(err, "%s: function '%.*s' has an empty image path", where, (int)name_len,
                      name);
        return NULL;
    }
    if (cfg->nfns == MAX_FUNCTIONS) {
        tidal_err_set(err, "%s: more than %d functions", where, MAX_FUNCTIONS);
        return NULL;
    }
    struct tidal_fn_spec *grown = realloc(cfg->fns, (cfg->nfns + 1) * sizeof(*grown));
    char *path = strdup(image);
    if (!grown || !path) {
        free(path);
        if (grown)
            cfg->fns = grown;
        tidal_err_set(err, "out of memory");
        return NULL;
    }
    cfg->fns = grown;
    struct tidal_fn_spec *fn = &cfg->fns[cfg->nfns++];
    memset(fn, 0, sizeof(*fn));
    memcpy(fn->name, name, name_len);
    fn->image = path;
    return fn;
}

int tidal_serve_config_add_arg(struct tidal_serve_config *cfg, const char *arg,
                               struct tidal_err *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return tidal_err_set(err, "--function '%.200s': expected NAME=IMAGE", arg);
    char where[256];
    snprintf(where, sizeof(where), "--function '%.200s'", arg);
    return add_function(cfg, arg, (size_t)(eq - arg), eq + 1, where, err) ? 0 : -1;
}

/* A size given as a JSON number of bytes or as a string such as "16M". */
static int json_size(const cJSON *item, const char *what, uint64_t *out, struct tidal_err *err)
{
    if (cJSON_IsString(item))
        return tidal_parse_size(item->valuestring, what, out, err);
    if (cJSON_IsNumber(item) && item->valuedouble >= 1 && item->valuedouble <= 1e15 &&
        item->valuedouble == floor(item->valuedouble)) {
        *out = (uint64_t)item->valuedouble;
        return 0;
    }
    return tidal_err_set(err, "%s: expected a size (bytes, or a string such as \"16M\")", what);
}

static int json_count(const cJSON *item, const char *what, unsigned max, unsigned *out,
                      struct tidal_err *err)
{
    if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > max ||
        item->valuedouble != floor(item->valuedouble))
        return tidal_err_set(err, "%s: expected a whole number in 0..%u", what, max);
    *out = (unsigned)item->valuedouble;
    return 0;
}

static int load_function(struct tidal_serve_config *cfg, const char *path, const cJSON *entry,
                         struct tidal_err *err)
{
    char what[512];
    snprintf(what, sizeof(what), "%.300s: functions.%.64s", path, entry->string);
    if (!cJSON_IsObject(entry))
        return tidal_err_set(err, "%s: expected an object", what);
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(entry, "image");
    if (!cJSON_IsString(image))
        return tidal_err_set(err, "%s.image: expected the path of a guest image (a string)", what);
    struct tidal_fn_spec *fn =
        add_function(cfg, entry->string, strlen(entry->string), image->valuestring, what, err);
    if (!fn)
        return -1;
    struct tidal_fn_limits *l = &fn->limits;
    const cJSON *f;
    cJSON_ArrayForEach(f, entry)
    {
        char field[600];
        snprintf(field, sizeof(field), "%s.%.40s", what, f->string);
        const char *k = f->string;
        int r = 0;
        unsigned queue;
        if (!strcmp(k, "image"))
            continue;
        else if (!strcmp(k, "memory"))
            r = json_size(f, field, &l->mem_size, err);
        else if (!strcmp(k, "max_body"))
            r = json_size(f, field, &l->max_body, err);
        else if (!strcmp(k, "max_output"))
            r = json_size(f, field, &l->max_output, err);
        else if (!strcmp(k, "max_concurrency")) {
            r = json_count(f, field, 4096, &l->max_concurrency, err);
            if (!r && !l->max_concurrency)
                r = tidal_err_set(err, "%s: expected at least 1", field);
        } else if (!strcmp(k, "max_queue")) {
            r = json_count(f, field, 1u << 20, &queue, err);
            l->max_queue = queue ? queue : TIDAL_FN_QUEUE_NONE;
        } else if (!strcmp(k, "timeout")) {
            if (!cJSON_IsNumber(f) || !(f->valuedouble > 0) || f->valuedouble > 86400)
                r = tidal_err_set(err, "%s: expected seconds, more than 0 and at most 86400",
                                  field);
            else
                l->timeout_sec = f->valuedouble;
        } else
            r = tidal_err_set(err,
                              "%s: unknown field (expected image, memory, timeout, "
                              "max_concurrency, max_queue, max_body, max_output)",
                              field);
        if (r)
            return -1;
    }
    return 0;
}

int tidal_serve_config_load(struct tidal_serve_config *cfg, const char *path, struct tidal_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tidal_err_set(err, "%.300s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    while (len < (1u << 20)) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(text, cap);
            if (!grown)
                break;
            text = grown;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        if (!n)
            break;
        len += n;
    }
    bool read_error = ferror(f), too_big = !feof(f);
    fclose(f);
    if (!text || read_error || too_big) {
        free(text);
        return tidal_err_set(err, "%.300s: %s", path,
                             too_big ? "larger than 1 MiB; expected a small JSON file"
                                     : "cannot be read");
    }
    text[len] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        unsigned line = 1;
        for (size_t i = 0; i < at && i < len; i++)
            line += text[i] == '\n';
        free(text);
        return tidal_err_set(err, "%.300s: line %u: not valid JSON", path, line);
    }
    free(text);
    int r = 0;
    const cJSON *fns = cJSON_GetObjectItemCaseSensitive(root, "functions");
    const cJSON *item;
    if (!cJSON_IsObject(root))
        r = tidal_err_set(err, "%.300s: expected a JSON object with \"functions\"", path);
    cJSON_ArrayForEach(item, root) if (!r && strcmp(item->string, "functions")) r = tidal_err_set(
        err, "%.300s: unknown field '%.64s' (expected \"functions\")", path, item->string);
    if (!r && !cJSON_IsObject(fns))
        r = tidal_err_set(err, "%.300s: functions: expected an object of name: {image, ...}", path);
    if (!r)
        cJSON_ArrayForEach(item, fns) if (!r) r = load_function(cfg, path, item, err);
    cJSON_Delete(root);
    return r;
}

int tidal_serve_config_finish(struct tidal_serve_config *cfg, struct tidal_err *err)
{
    if (!cfg->nfns)
        return tidal_err_set(err, "no functions: give --function NAME=IMAGE or --config FILE");
    if (!cfg->workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 ? (unsigned)n : 1;
    }
    if (!cfg->http_threads)
        cfg->http_threads = 1;
    for (unsigned i = 0; i < cfg->nfns; i++) {
        struct tidal_fn_limits *l = &cfg->fns[i].limits;
        if (!l->mem_size)
            l->mem_size = TIDAL_MEM_DEFAULT;
        if (!l->timeout_sec)
            l->timeout_sec = DEFAULT_TIMEOUT_SEC;
        if (!l->max_concurrency)
            l->max_concurrency = cfg->workers;
        if (!l->max_queue)
            l->max_queue = DEFAULT_MAX_QUEUE;
        else if (l->max_queue == TIDAL_FN_QUEUE_NONE)
            l->max_queue = 0;
        if (!l->max_body)
            l->max_body = DEFAULT_MAX_BODY;
        if (!l->max_output)
            l->max_output = DEFAULT_MAX_OUTPUT;
    }
    return 0;
}

void tidal_serve_config_free(struct tidal_serve_config *cfg)
{
    for (unsigned i = 0; i < cfg->nfns; i++)
        free(cfg->fns[i].image);
    free(cfg->fns);
    cfg->fns = NULL;
    cfg->nfns = 0;
}

/* The functions `tidal serve` offers: from --function NAME=PATH and from a JSON file. */
#include "../json_fields.h"
#include "tidal/host_file.h"
#include "tidal/layout.h"
#include "tidal/serve.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_SEC 10.0
#define DEFAULT_MAX_QUEUE 1024u
/* What bodies being received may hold in all: 300 slow clients each sending the
 * largest body would otherwise pin gigabytes. */
#define DEFAULT_MAX_UPLOADS (256ull << 20)
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

static void set_queue(struct tidal_fn_limits *l, const cJSON *entry, uint64_t queue)
{
    if (cJSON_GetObjectItemCaseSensitive(entry, "max_queue"))
        l->max_queue = queue ? (unsigned)queue : TIDAL_FN_QUEUE_NONE;
}

static int load_function(struct tidal_serve_config *cfg, const cJSON *entry, struct tidal_err *err)
{
    static const char *const known[] = {"image",     "memory",   "timeout",    "max_concurrency",
                                        "max_queue", "max_body", "max_output", "dirs",
                                        "files",     "scratch",  NULL};
    char where[100];
    snprintf(where, sizeof(where), "functions.%.64s.", entry->string);
    const char *image;
    if (tidal_json_only_fields(entry, where, known, err) ||
        tidal_json_string(entry, where, "image", true, &image, err))
        return -1;
    struct tidal_fn_spec *fn =
        add_function(cfg, entry->string, strlen(entry->string), image, "functions", err);
    if (!fn)
        return -1;
    struct tidal_fn_limits *l = &fn->limits;
    uint64_t concurrency = 0, queue = 0;
    if (tidal_json_mem(entry, where, "memory", &l->mem_size, err) ||
        tidal_json_number(entry, where, "timeout", 0.001, 86400, &l->timeout_sec, err) ||
        tidal_json_whole(entry, where, "max_concurrency", 1, 4096, &concurrency, err) ||
        tidal_json_whole(entry, where, "max_queue", 0, 1u << 20, &queue, err) ||
        tidal_json_size(entry, where, "max_body", &l->max_body, err) ||
        tidal_json_size(entry, where, "max_output", &l->max_output, err))
        return -1;
    if (tidal_json_trees(entry, where, &fn->trees, err) ||
        tidal_json_size(entry, where, "scratch", &fn->scratch_max, err))
        return -1;
    l->max_concurrency = (unsigned)concurrency;
    set_queue(l, entry, queue);
    return 0;
}

static int load_root(struct tidal_serve_config *cfg, const cJSON *root, struct tidal_err *err)
{
    static const char *const known[] = {"functions", NULL};
    if (tidal_json_only_fields(root, "", known, err))
        return -1;
    const cJSON *fns = cJSON_GetObjectItemCaseSensitive(root, "functions");
    if (!cJSON_IsObject(fns))
        return tidal_err_set(err, "field \"functions\": expected an object of name: {image, ...}");
    const cJSON *entry;
    cJSON_ArrayForEach(entry, fns)
    {
        if (!cJSON_IsObject(entry))
            return tidal_err_set(err, "field \"functions.%.64s\": expected an object",
                                 entry->string);
        if (load_function(cfg, entry, err))
            return -1;
    }
    return 0;
}

int tidal_serve_config_load(struct tidal_serve_config *cfg, const char *path, struct tidal_err *err)
{
    char *text;
    size_t len;
    if (tidal_read_file(path, 1u << 20, &text, &len, err))
        return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    struct tidal_err inner;
    int r = 0;
    if (!root) {
        unsigned line = 1;
        for (const char *c = text; end && c < end && *c; c++)
            line += *c == '\n';
        r = tidal_err_set(err, "%.300s: line %u: not valid JSON", path, line);
    } else if (load_root(cfg, root, &inner)) {
        r = tidal_err_set(err, "%.300s: %s", path, inner.msg);
    }
    cJSON_Delete(root);
    free(text);
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
    if (!cfg->max_uploads)
        cfg->max_uploads = DEFAULT_MAX_UPLOADS;
    for (unsigned i = 0; i < cfg->nfns; i++) {
        struct tidal_fn_limits *l = &cfg->fns[i].limits;
        if (!l->mem_size)
            l->mem_size = TIDAL_MEM_DEFAULT;
        if (!l->timeout_sec)
            l->timeout_sec = DEFAULT_TIMEOUT_SEC;
        /* One worker is always left to the other functions: a function whose guests
         * spin until their timeout cannot hold every worker by default. */
        if (!l->max_concurrency)
            l->max_concurrency =
                cfg->nfns > 1 && cfg->workers > 1 ? cfg->workers - 1 : cfg->workers;
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
    for (unsigned i = 0; i < cfg->nfns; i++) {
        free(cfg->fns[i].image);
        tidal_fs_trees_free(&cfg->fns[i].trees);
    }
    free(cfg->fns);
    cfg->fns = NULL;
    cfg->nfns = 0;
}

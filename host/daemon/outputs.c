/* A batch job's outputs: what the guest left under /out when it exited, kept in
 * <state>/vms/NAME/outputs (vm.c writes it whole, then renames it into place)
 * and served read-only: GET /v1/batch/NAME/outputs lists the files, GET
 * /v1/batch/NAME/outputs/PATH returns one. */
#include "api.h"
#include "internal.h"
#include "tidal/host_file.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OUTPUT_SERVE_LIMIT (64u << 20)

static cJSON *listing;
static size_t listing_root;
static pthread_mutex_t listing_lock = PTHREAD_MUTEX_INITIALIZER; /* nftw has no user pointer */

static int list_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", path + listing_root);
    cJSON_AddNumberToObject(f, "size", (double)st->st_size);
    cJSON_AddItemToArray(listing, f);
    return 0;
}

/* A path inside the outputs: relative, and no segment empty, "." or "..". */
static bool safe_relative(const char *rel)
{
    if (!*rel || *rel == '/')
        return false;
    for (const char *p = rel; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += len;
        if (*p == '/' && !*++p)
            return false; /* a trailing slash names no file */
    }
    return true;
}

void api_job_outputs(const char *vm_dir, const char *name, const struct api_request *q,
                     struct api_reply *r)
{
    if (strcmp(q->method, "GET")) {
        api_fail(r, 405, "method_not_allowed", "%s outputs of \"%s\": expected GET", q->method,
                 name);
        return;
    }
    char dir[4400];
    snprintf(dir, sizeof(dir), "%s/outputs", vm_dir);
    if (q->nparts == 4) {
        pthread_mutex_lock(&listing_lock);
        listing = cJSON_CreateArray();
        listing_root = strlen(dir) + 1;
        nftw(dir, list_entry, 16, FTW_PHYS);
        r->json = listing;
        listing = NULL;
        pthread_mutex_unlock(&listing_lock);
        return;
    }
    const char *rel = q->from[4];
    if (!safe_relative(rel)) {
        api_fail(r, 400, "bad_request",
                 "output path \"%.200s\": expected a relative path without \".\" or \"..\"", rel);
        return;
    }
    char path[8800];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct tidal_err err;
    size_t len;
    if (tidal_read_file(path, OUTPUT_SERVE_LIMIT, &r->bytes, &len, &err)) {
        struct stat st;
        if (lstat(path, &st))
            api_fail(r, 404, "not_found", "job \"%s\" has no output \"%.200s\"", name, rel);
        else
            api_fail(r, 422, "unreadable",
                     "job \"%s\", output \"%.200s\": %s (over %u MiB: read "
                     "it from %s)",
                     name, rel, err.msg, OUTPUT_SERVE_LIMIT >> 20, dir);
        return;
    }
    r->bytes_len = len;
}

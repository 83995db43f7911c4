/* The daemon's REST API bodies (host/daemon_api*.c, host/daemon_job.c, host/json_fields.c)
 * as a client on its socket sends them: the path split, the body's JSON checked (one
 * value, no \u0000), then read as each endpoint reads it: a VM (POST /v1/vms), a batch
 * job (POST /v1/batch, then stored as state.json stores it) and a clock advance (POST
 * /v1/clock). Input: the method, a newline, the path, a newline, then the body. */
#include "fuzz_util.h"

#include "../../host/daemon/api.h"
#include "../../host/json_fields.h"

#include <stdlib.h>
#include <string.h>

static void job(const cJSON *body)
{
    struct tidal_job_spec spec;
    struct tidal_err err;
    if (tidal_job_spec_parse(body, &spec, &err) == 0) {
        /* What the daemon keeps and prints of a job, and what it asks of its window. */
        cJSON *json = tidal_job_spec_json(&spec);
        char *text = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);
        free(text);
        tidal_window_open(&spec.window, spec.deadline);
    }
    tidal_job_spec_free(&spec);
}

static void clock_advance(const cJSON *body)
{
    struct tidal_clock c;
    struct tidal_err err;
    tidal_clock_init(&c, true, 1e9, 0);
    const cJSON *adv = cJSON_GetObjectItemCaseSensitive(body, "advance");
    if (cJSON_IsNumber(adv))
        tidal_clock_advance(&c, adv->valuedouble, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, len;
    const uint8_t *piece = fuzz_next_piece(data, size, &pos, '\n', &len);
    char *method = fuzz_strndup(piece, len);
    piece = fuzz_next_piece(data, size, &pos, '\n', &len);
    char *url = piece ? fuzz_strndup(piece, len) : fuzz_strndup((const uint8_t *)"/", 1);
    size_t body_len = pos < size ? size - pos : 0;
    /* libmicrohttpd hands over a NUL-terminated copy (tidal_http_body_append). */
    char *body = fuzz_strndup(data + (pos < size ? pos : size), body_len);

    char path[1024];
    struct api_request q;
    struct api_reply r = {0};
    if (api_parse_request(method, url, body, body_len, path, sizeof(path), &q, &r) == 0 && q.body) {
        struct api_vm_spec vm;
        struct tidal_err err;
        api_vm_spec_parse(q.body, &vm, &err);
        api_vm_spec_free(&vm);
        job(q.body);
        clock_advance(q.body);
        cJSON_Delete((cJSON *)q.body);
    }
    free(method);
    free(url);
    free(body);
    return 0;
}

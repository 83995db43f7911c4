/* What `tidal serve` does with a request before a guest sees it (host/serve_http.c,
 * host/http.c), without a socket: the path routed as sent, and the body gathered in
 * the pieces libmicrohttpd hands over, under the per-request limit and the server's
 * upload cap. Input: the path, a newline, then the body, whose first byte also chooses
 * the piece size. */
#include "fuzz_util.h"

#include "../../host/serve/server.h"

#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT 4096u
#define UPLOAD_CAP 6000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, len;
    const uint8_t *piece = fuzz_next_piece(data, size, &pos, '\n', &len);
    char *url = fuzz_strndup(piece, len);
    const char *name = NULL;
    size_t name_len = 0;
    if (tidal_serve_route(url, &name, &name_len) == TIDAL_ROUTE_INVOKE &&
        (name < url || name + name_len > url + strlen(url)))
        abort(); /* the name must lie inside the path */
    free(url);

    /* Another body already holds part of the cap, as when requests overlap. */
    atomic_size_t shared = 2000;
    struct tidal_http_body body = {
        .limit = BODY_LIMIT, .shared = &shared, .shared_cap = UPLOAD_CAP};
    if (pos < size) {
        size_t step = 1 + data[pos] % 64;
        for (size_t at = pos; at < size; at += step) {
            size_t n = size - at < step ? size - at : step;
            if (tidal_http_body_append(&body, (const char *)data + at, n))
                break;
            if (body.data && (body.len > BODY_LIMIT || body.data[body.len] != 0))
                abort(); /* over the limit, or not NUL-terminated */
        }
    }
    tidal_http_body_free(&body);
    if (shared != 2000)
        abort(); /* the body gave back all it took from the cap */
    return 0;
}

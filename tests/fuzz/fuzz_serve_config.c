/* `tidal serve`'s configuration (host/serve_config.c, host/http.c): the --config JSON
 * file, and the same text as a --function NAME=IMAGE argument and a --listen address.
 * Input: the file's bytes. */
#include "fuzz_util.h"

#include "tidal/http.h"
#include "tidal/serve.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tidal_serve_config cfg = {0};
    struct tidal_err err;
    struct fuzz_file f;
    fuzz_file_open(&f, data, size);
    if (tidal_serve_config_load(&cfg, f.path, &err) == 0)
        tidal_serve_config_finish(&cfg, &err);
    fuzz_file_close(&f);

    char *text = fuzz_strndup(data, size);
    tidal_serve_config_add_arg(&cfg, text, &err);
    struct sockaddr_in addr;
    char msg[256];
    tidal_http_parse_listen(text, &addr, msg, sizeof(msg));
    free(text);
    tidal_serve_config_free(&cfg);
    return 0;
}

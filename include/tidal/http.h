/* Small helpers over libmicrohttpd shared by `tidal serve` and `tidal daemon`:
 * request bodies with a size limit, JSON errors, plain responses. */
#ifndef TIDAL_HTTP_H
#define TIDAL_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* A request body gathered across the access handler's upload calls. */
struct tidal_http_body {
    char *data; /* NUL-terminated; NULL until the first byte */
    size_t len;
    size_t limit;   /* bytes; more is refused */
    bool too_large; /* the client sent more than limit: answer 413 */
    /* Optional: the bytes all bodies being received hold together, and their cap.
     * A chunk that would take them past it is refused: over_shared (answer 503). */
    atomic_size_t *shared;
    size_t shared_cap;
    bool over_shared;
};

/* Appends an upload chunk; sets too_large (and drops the data) past the limit, and
 * over_shared past the shared cap. Returns -1 only when memory runs out. */
int tidal_http_body_append(struct tidal_http_body *body, const char *data, size_t len);
void tidal_http_body_free(struct tidal_http_body *body);

/* True when the request carries Content-Length more than once: which one frames the
 * body is then in doubt (a proxy in front may pick the other), so such a request is
 * refused before its body is read. */
bool tidal_http_length_ambiguous(struct MHD_Connection *conn);

/* Queues a response copied from data. extra_header/extra_value may be NULL. */
enum MHD_Result tidal_http_send(struct MHD_Connection *conn, unsigned status,
                                const char *content_type, const void *data, size_t len,
                                const char *extra_header, const char *extra_value);

/* Queues {"error": error, "detail": detail} (detail may be NULL) with status. */
enum MHD_Result tidal_http_send_error(struct MHD_Connection *conn, unsigned status,
                                      const char *error, const char *detail);

/* The same with one more header (Allow, Retry-After...). */
enum MHD_Result tidal_http_send_error_header(struct MHD_Connection *conn, unsigned status,
                                             const char *error, const char *detail,
                                             const char *header, const char *value);

/* Parses "HOST:PORT" (IPv4 dotted quad or "localhost"; PORT 0 = any free port).
 * Returns -1 with a message naming the value when it is malformed. */
struct sockaddr_in;
int tidal_http_parse_listen(const char *text, struct sockaddr_in *out, char *msg, size_t msg_size);

#endif

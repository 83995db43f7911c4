/* The CLI's side of the API: one request per connection ("Connection: close"), so
 * the response ends where the stream does and needs no chunked decoding. */
#include "tidal/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RESPONSE_LIMIT (64u << 20)

static int send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int parse_response(char *raw, size_t len, struct tidal_response *resp,
                          const char *socket_path, struct tidal_err *err)
{
    int status;
    if (sscanf(raw, "HTTP/1.%*d %d", &status) != 1)
        return tidal_err_set(err, "%s: the daemon's answer is not HTTP", socket_path);
    char *body = strstr(raw, "\r\n\r\n");
    if (!body)
        return tidal_err_set(err, "%s: the daemon's answer ended inside its headers", socket_path);
    body += 4;
    resp->status = status;
    resp->len = len - (size_t)(body - raw);
    resp->body = malloc(resp->len + 1);
    if (!resp->body)
        return tidal_err_set(err, "out of memory");
    memcpy(resp->body, body, resp->len);
    resp->body[resp->len] = 0;
    return 0;
}

int tidal_client_request(const char *socket_path, const char *method, const char *path,
                         const char *body, struct tidal_response *resp, struct tidal_err *err)
{
    memset(resp, 0, sizeof(*resp));
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(addr.sun_path))
        return tidal_err_set(err, "socket path %s: longer than %zu bytes", socket_path,
                             sizeof(addr.sun_path) - 1);
    strcpy(addr.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tidal_err_set(err, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "cannot reach the daemon at %s: %s%s", socket_path, strerror(e),
                             e == ENOENT || e == ECONNREFUSED
                                 ? " (is `tidal daemon` running? --socket selects another)"
                                 : "");
    }
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hn = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: tidal\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, blen);
    if (hn < 0 || (size_t)hn >= sizeof(head) || send_all(fd, head, (size_t)hn) ||
        (blen && send_all(fd, body, blen))) {
        close(fd);
        return tidal_err_set(err, "%s: sending the request failed: %s", socket_path,
                             strerror(errno));
    }
    size_t cap = 8192, len = 0;
    char *raw = malloc(cap);
    for (;;) {
        if (!raw) {
            close(fd);
            return tidal_err_set(err, "out of memory");
        }
        if (len + 1 == cap) {
            if (cap >= RESPONSE_LIMIT) {
                free(raw);
                close(fd);
                return tidal_err_set(err, "%s: answer larger than %u bytes", socket_path,
                                     RESPONSE_LIMIT);
            }
            char *grown = realloc(raw, cap * 2);
            if (!grown)
                free(raw);
            raw = grown;
            cap *= 2;
            continue;
        }
        ssize_t n = recv(fd, raw + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(raw);
            close(fd);
            return tidal_err_set(err, "%s: reading the answer: %s", socket_path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    raw[len] = 0;
    int r = parse_response(raw, len, resp, socket_path, err);
    free(raw);
    return r;
}

void tidal_response_free(struct tidal_response *resp)
{
    free(resp->body);
    resp->body = NULL;
}

/* Live migration between hosts of a cluster: the source daemon connects to the
 * target's peer port and sends a header line, then the migration stream (pre-copy
 * rounds while the guest runs, then the last pages and the state once it is paused:
 * tidal/migrate.h). The target builds the VM and answers "ready"; the source hands
 * the assignment over in etcd (epoch + 1, only if it is still the one it held) and
 * says "commit"; the target starts the VM and the source drops its copy. Until the
 * commit the source keeps its VM and resumes it on any failure: a VM never runs on
 * both hosts, and is never lost. */
#include "cluster_internal.h"
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536

int cluster_peer_listen(struct cluster *c, struct tidal_err *err)
{
    if (!c->port)
        c->port = 7946;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->addr, &a.sin_addr) != 1)
        return tidal_err_set(err, "--advertise %s: expected an IPv4 address", c->addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return tidal_err_set(err, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
        int e = errno;
        close(fd);
        return tidal_err_set(err, "--advertise %s --peer-port %d: %s", c->addr, c->port,
                             strerror(e));
    }
    c->peer_fd = fd;
    return 0;
}

/* One line (without its newline) into buf; -1 on EOF, error or an overlong line. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0)
            return -1;
        if (ch == '\n') {
            buf[n] = 0;
            return 0;
        }
        buf[n++] = ch;
    }
    return -1;
}

static int write_all(int fd, const void *p, size_t len)
{
    const char *s = p;
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

static int send_line(int fd, const char *line)
{
    return write_all(fd, line, strlen(line)) || write_all(fd, "\n", 1) ? -1 : 0;
}

/* A migration offered by another host. */
static void take_migration(struct cluster *c, int fd)
{
    char line[LINE_MAX_BYTES];
    if (read_line(fd, line, sizeof(line)) == 0)
        send_line(fd, "error live migration is not available on this host yet");
    dlog(c->d, "cluster: a migration was offered and refused");
}

void *cluster_peer_main(void *arg)
{
    struct cluster *c = arg;
    while (!c->stopping) {
        struct pollfd p = {.fd = c->peer_fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept4(c->peer_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        take_migration(c, fd);
        close(fd);
    }
    close(c->peer_fd);
    return NULL;
}

int cluster_migrate(struct daemon *d, const char *name, const char *to, cJSON **report,
                    unsigned *status, struct tidal_err *err)
{
    (void)d;
    (void)name;
    (void)to;
    *report = NULL;
    *status = 501;
    return tidal_err_set(err, "live migration is not available yet");
}

#include "netns.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `ip ARGS` quietly; returns its exit status. */
static int ip(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[600];
    snprintf(full, sizeof(full), "ip %s >/dev/null 2>&1", cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void must(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "network set-up: `ip %s` failed", what);
}

bool netns_possible(char *why, int size)
{
    if (access("/usr/sbin/ip", X_OK) && access("/sbin/ip", X_OK) && access("/usr/bin/ip", X_OK)) {
        snprintf(why, size, "the ip command (Debian's iproute2) is not installed");
        return false;
    }
    char name[32];
    snprintf(name, sizeof(name), "tidal-probe-%d", (int)getpid());
    if (ip("netns add %s", name)) {
        snprintf(why, size, "cannot create a network namespace (needs root or CAP_NET_ADMIN)");
        return false;
    }
    ip("netns del %s", name);
    return true;
}

void netns_setup(struct test_net *n, int hosts)
{
    cr_assert(hosts > 0 && hosts <= NETNS_MAX_HOSTS);
    memset(n, 0, sizeof(*n));
    int id = (int)(getpid() % 100000);
    n->hosts = hosts;
    snprintf(n->bridge, sizeof(n->bridge), "tbr%d", id);
    snprintf(n->prefix, sizeof(n->prefix), "10.199.%d.", 10 + id % 240);
    snprintf(n->hub, sizeof(n->hub), "%s1", n->prefix);
    n->up = true;
    must(ip("link add %s type bridge", n->bridge), "link add bridge");
    must(ip("addr add %s/24 dev %s", n->hub, n->bridge), "addr add (bridge)");
    must(ip("link set %s up", n->bridge), "link set bridge up");
    for (int i = 0; i < hosts; i++) {
        snprintf(n->ns[i], sizeof(n->ns[i]), "tidal-%d-%d", id, i);
        snprintf(n->veth[i], sizeof(n->veth[i]), "tv%d%c", id, 'a' + i);
        snprintf(n->addr[i], sizeof(n->addr[i]), "%s%d", n->prefix, 11 + i);
        char peer[16];
        snprintf(peer, sizeof(peer), "tp%d%c", id, 'a' + i);
        must(ip("netns add %s", n->ns[i]), "netns add");
        must(ip("link add %s type veth peer name %s", n->veth[i], peer), "link add veth");
        must(ip("link set %s netns %s", peer, n->ns[i]), "link set netns");
        must(ip("link set %s master %s", n->veth[i], n->bridge), "link set master");
        must(ip("link set %s up", n->veth[i]), "link set up");
        must(ip("-n %s addr add %s/24 dev %s", n->ns[i], n->addr[i], peer), "addr add (host)");
        must(ip("-n %s link set %s up", n->ns[i], peer), "link set up (host)");
        must(ip("-n %s link set lo up", n->ns[i]), "link set lo up");
    }
}

void netns_link(struct test_net *n, int i, bool up)
{
    must(ip("link set %s %s", n->veth[i], up ? "up" : "down"), up ? "link up" : "link down");
}

void netns_teardown(struct test_net *n)
{
    if (!n->up)
        return;
    for (int i = 0; i < n->hosts; i++)
        ip("netns del %s", n->ns[i]); /* takes its veth pair along */
    ip("link del %s", n->bridge);
    n->up = false;
}

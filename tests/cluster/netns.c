#include "netns.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
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

/* Whether an address of this namespace lies in 10.199.k.0/24. */
static bool subnet_used(int k)
{
    FILE *p = popen("ip -4 -o addr show 2>/dev/null", "r");
    if (!p)
        return false;
    char line[512], needle[32];
    snprintf(needle, sizeof(needle), " 10.199.%d.", k);
    bool used = false;
    while (fgets(line, sizeof(line), p))
        used = used || strstr(line, needle);
    pclose(p);
    return used;
}

/* Bridges and namespaces of test processes that died before their teardown (a
 * crash, a timeout): their names carry the process id. */
static void sweep_stale(void)
{
    char line[512];
    FILE *p = popen("ip -o link show type bridge 2>/dev/null", "r");
    while (p && fgets(line, sizeof(line), p)) {
        int pid;
        if (sscanf(line, "%*d: tbr%d", &pid) == 1 && pid > 0 && kill(pid, 0) && errno == ESRCH)
            ip("link del tbr%d", pid);
    }
    if (p)
        pclose(p);
    p = popen("ip netns list 2>/dev/null", "r");
    while (p && fgets(line, sizeof(line), p)) {
        int pid, i;
        if (sscanf(line, "tidal-%d-%d", &pid, &i) == 2 && pid > 0 && kill(pid, 0) && errno == ESRCH)
            ip("netns del tidal-%d-%d", pid, i);
    }
    if (p)
        pclose(p);
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
    int id = (int)getpid(); /* the names carry it: sweep_stale reads it back */
    n->hosts = hosts;
    snprintf(n->bridge, sizeof(n->bridge), "tbr%d", id);
    /* A subnet no other test's bridge has (tests run in parallel): chosen and taken
     * under a lock. */
    int lock = open("/tmp/tidal-netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(lock, 0, "/tmp/tidal-netns.lock: %s", strerror(errno));
    flock(lock, LOCK_EX);
    sweep_stale();
    int k = 10 + id % 240;
    for (int tries = 0; tries < 240 && subnet_used(k); tries++)
        k = 10 + (k - 9) % 240;
    snprintf(n->prefix, sizeof(n->prefix), "10.199.%d.", k);
    snprintf(n->hub, sizeof(n->hub), "%s1", n->prefix);
    n->up = true;
    must(ip("link add %s type bridge", n->bridge), "link add bridge");
    must(ip("addr add %s/24 dev %s", n->hub, n->bridge), "addr add (bridge)");
    close(lock);
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

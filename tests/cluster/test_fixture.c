/* The etcd fixture itself: other addresses than 127.0.0.1, and no member left behind
 * by a test that dies without stopping its cluster. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(fixture, .fini = stop_cluster, .timeout = 120);

Test(fixture, runs_on_another_address)
{
    etcd_cluster_start(&cluster, 1, "127.0.0.2");
    cr_assert(strstr(cluster.endpoints, "http://127.0.0.2:"), "%s", cluster.endpoints);
    e = open_etcd(cluster.endpoints);
    struct tidal_err err;
    cr_assert_eq(etcd_put(e, "k", "v", 1, 0, NULL, &err), 0, "%s", err.msg);
}

static bool gone(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *state = strrchr(stat, ')');
    return state && (state[2] == 'Z' || state[2] == 'X'); /* dead, not yet reaped */
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

Test(fixture, a_test_process_that_dies_takes_its_members_along)
{
    if (access(ETCD_FIXTURE_BIN, X_OK))
        cr_skip_test("needs etcd (%s), skipped", ETCD_FIXTURE_BIN);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {
        /* Starts a cluster and dies at once, as a crashing test would. */
        struct etcd_cluster c;
        etcd_cluster_start(&c, 3, NULL);
        if (write(pipefd[1], &c, sizeof(c)) != sizeof(c))
            _exit(2);
        _exit(0);
    }
    close(pipefd[1]);
    struct etcd_cluster c;
    ssize_t got = read(pipefd[0], &c, sizeof(c));
    close(pipefd[0]);
    int status;
    waitpid(child, &status, 0);
    cr_assert_eq(got, (ssize_t)sizeof(c), "the child did not start its cluster");
    for (int i = 0; i < c.n; i++) {
        int tries = 0;
        while (!gone(c.m[i].pid) && tries++ < 200)
            usleep(50000);
        if (!gone(c.m[i].pid))
            kill(-c.m[i].pid, SIGKILL);
        cr_expect(gone(c.m[i].pid), "member %d (pid %d) outlived its test", i, (int)c.m[i].pid);
    }
    nftw(c.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

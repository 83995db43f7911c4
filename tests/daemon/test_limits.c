/* Descriptor limits: a daemon holding many VMs has descriptors numbered past 1024,
 * which select() cannot watch. Inherited descriptors stand in for the VMs here, so
 * no KVM is needed: every socket the daemon opens is numbered above them. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define HELD 1100

Test(limits, api_answers_with_descriptors_past_1024, .timeout = 120)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * HELD)
        cr_skip_test("the hard descriptor limit (%llu) is below %d",
                     (unsigned long long)rl.rlim_max, 2 * HELD);
    struct rlimit raised = {.rlim_cur = 2 * HELD, .rlim_max = rl.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &raised), 0);
    int held[HELD];
    for (int i = 0; i < HELD; i++)
        cr_assert((held[i] = open("/dev/null", O_RDONLY)) >= 0); /* inherited: no O_CLOEXEC */
    struct test_daemon t;
    daemon_start(&t, NULL);
    for (int i = 0; i < HELD; i++)
        close(held[i]);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(api(&t, "GET", "/v1/host", NULL, NULL), 200, "call %d", i);
    daemon_stop(&t);
    setrlimit(RLIMIT_NOFILE, &rl);
}

static char *own_cgroup(struct test_daemon *t)
{
    cJSON *host = NULL;
    cr_assert_eq(api(t, "GET", "/v1/host", NULL, &host), 200);
    const cJSON *dir = cJSON_GetObjectItem(host, "cgroup_dir");
    char *copy = cJSON_IsString(dir) ? strdup(dir->valuestring) : NULL;
    if (!copy)
        cr_log_info("no cgroup: %s", jstr(host, "cgroups_note"));
    cJSON_Delete(host);
    return copy;
}

/* A daemon killed with SIGKILL cannot remove its cgroup: the next one to start does,
 * and one that stops removes its own. */
Test(limits, cgroups_of_dead_daemons_are_removed, .timeout = 120)
{
    struct test_daemon killed, next;
    daemon_start(&killed, NULL);
    char *killed_dir = own_cgroup(&killed);
    if (!killed_dir) {
        daemon_stop(&killed);
        cr_skip_test("no writable cgroup hierarchy here (the daemon runs without one)");
    }
    cr_assert_eq(access(killed_dir, F_OK), 0, "%s exists while its daemon runs", killed_dir);
    daemon_kill9(&killed);
    cr_assert_eq(access(killed_dir, F_OK), 0, "nothing removed %s yet", killed_dir);

    daemon_start(&next, NULL);
    char *next_dir = own_cgroup(&next);
    cr_assert_neq(access(killed_dir, F_OK), 0, "%s outlived its daemon", killed_dir);
    cr_assert_str_neq(next_dir, killed_dir);
    daemon_stop(&next);
    cr_assert_neq(access(next_dir, F_OK), 0, "%s left after a clean stop", next_dir);
    daemon_stop(&killed);
    free(killed_dir);
    free(next_dir);
}

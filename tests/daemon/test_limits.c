/* Descriptor limits: a daemon holding many VMs has descriptors numbered past 1024,
 * which select() cannot watch. Inherited descriptors stand in for the VMs here, so
 * no KVM is needed: every socket the daemon opens is numbered above them. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
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

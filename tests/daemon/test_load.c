/* Load: a daemon started under the common 1,024 descriptor soft limit holds 1,000
 * small running VMs (about six descriptors each) while four clients create them and
 * call the API between creations; every call must be answered. Loopback (a Unix
 * socket) only; bounded by the VM count, not by time. */
#include "helpers.h"
#include "tidal/daemon.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define VMS 1000
#define CLIENTS 4
#define SOFT_LIMIT 1024
#define CALLS_BETWEEN 10 /* creations between rounds of other calls */

static struct test_daemon t;
static char image[PATH_MAX];
static atomic_int calls, failures;
static char first_failure[512];
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

/* One API call from a client thread: no Criterion assertion here (they belong to the
 * test's own thread); a failure is counted and the first one kept for the report. */
static void call(const char *method, const char *path, const char *body, int expected)
{
    struct tidal_response resp;
    struct tidal_err err;
    atomic_fetch_add(&calls, 1);
    int rc = tidal_client_request(t.socket, method, path, body, &resp, &err);
    if (rc == 0 && resp.status == expected) {
        tidal_response_free(&resp);
        return;
    }
    atomic_fetch_add(&failures, 1);
    pthread_mutex_lock(&failure_lock);
    if (!first_failure[0])
        snprintf(first_failure, sizeof(first_failure), "%s %s: %.300s", method, path,
                 rc          ? err.msg
                 : resp.body ? resp.body
                             : "(no body)");
    pthread_mutex_unlock(&failure_lock);
    if (rc == 0)
        tidal_response_free(&resp);
}

static void *client(void *arg)
{
    int k = (int)(long)arg;
    char body[PATH_MAX + 200], path[128];
    for (int i = k, n = 0; i < VMS; i += CLIENTS, n++) {
        snprintf(body, sizeof(body), "{\"name\":\"vm%d\",\"image\":\"%s\",\"mem\":\"4M\"}", i,
                 image);
        call("POST", "/v1/vms", body, 201);
        if (n % CALLS_BETWEEN)
            continue;
        call("GET", "/v1/vms", NULL, 200);
        call("GET", "/v1/host", NULL, 200);
        snprintf(path, sizeof(path), "/v1/vms/vm%d", i);
        call("GET", path, NULL, 200);
        snprintf(path, sizeof(path), "/v1/vms/vm%d/console", i);
        call("GET", path, NULL, 200);
        call("GET", "/metrics", NULL, 200);
    }
    return NULL;
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int running_vms(void)
{
    cJSON *list = NULL;
    cr_assert_eq(api(&t, "GET", "/v1/vms", NULL, &list), 200);
    int running = 0;
    const cJSON *vms = cJSON_IsArray(list) ? list : cJSON_GetObjectItem(list, "vms");
    const cJSON *v;
    cJSON_ArrayForEach(v, vms) running += strcmp(jstr(v, "state"), "running") == 0;
    cJSON_Delete(list);
    return running;
}

Test(load, a_thousand_vms_four_clients_under_1024_descriptors, .timeout = 900)
{
    require_kvm();
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 8 * VMS)
        cr_skip_test("the hard descriptor limit (%llu) is below the %d a thousand VMs need",
                     (unsigned long long)rl.rlim_max, 8 * VMS);
    snprintf(image, sizeof(image), "%s", abs_path_to("build/examples/echo.elf"));

    /* The daemon inherits the common soft limit and must raise it itself. */
    struct rlimit soft = {.rlim_cur = SOFT_LIMIT, .rlim_max = rl.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &soft), 0);
    daemon_start(&t, NULL);
    setrlimit(RLIMIT_NOFILE, &rl);

    pthread_t threads[CLIENTS];
    for (long k = 0; k < CLIENTS; k++)
        cr_assert_eq(pthread_create(&threads[k], NULL, client, (void *)k), 0);
    for (int k = 0; k < CLIENTS; k++)
        pthread_join(threads[k], NULL);

    int fds = count_fds(t.pid);
    cr_log_info("%d API calls from %d clients, %d failed; daemon holds %d descriptors", calls,
                CLIENTS, failures, fds);
    cr_assert_eq(failures, 0, "%d of %d calls failed; the first: %s", failures, calls,
                 first_failure);
    cr_assert_gt(fds, SOFT_LIMIT, "the VMs hold more descriptors than the inherited limit");
    cr_assert_eq(running_vms(), VMS);
    /* A VM created last still answers its own input. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/vms/vm%d/input", VMS - 1);
    cr_assert_eq(api(&t, "POST", path, "{\"data\":\"ping\\n\"}", NULL), 202);
    daemon_stop(&t);
}

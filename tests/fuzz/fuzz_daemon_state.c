/* The daemon's state file (host/daemon_state.c): state.json, read at every start to
 * bring back each VM and batch job, then shown by `tidal ps` and `tidal batch ls`
 * and written again. A damaged or hand-edited file must be refused with a message,
 * never crash the daemon. Input: the file. */
#include "fuzz_util.h"

#include "../../host/daemon/internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct daemon d;

static void init(void)
{
    snprintf(d.state_dir, sizeof(d.state_dir), "%s/state", fuzz_scratch_dir());
    char vms[4200];
    snprintf(vms, sizeof(vms), "%s/vms", d.state_dir);
    if ((mkdir(d.state_dir, 0700) && errno != EEXIST) || (mkdir(vms, 0700) && errno != EEXIST))
        abort();
    pthread_mutex_init(&d.lock, NULL);
    pthread_mutex_init(&d.persist_lock, NULL);
    pthread_mutex_init(&d.log_lock, NULL);
    d.log = fopen("/dev/null", "w");
    if (!d.log)
        abort();
    tidal_clock_init(&d.clock, true, 1.7e9, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!d.log)
        init();
    fuzz_write_file(d.state_dir, "state.json", data, size);
    struct tidal_err err;
    if (daemon_load(&d, &err) == 0) {
        /* `tidal ps` and `tidal batch ls` of what was loaded, then the file written back. */
        pthread_mutex_lock(&d.lock);
        for (struct dvm *v = d.vms; v; v = v->next) {
            cJSON_Delete(dvm_json(&d, v));
            if (v->job)
                cJSON_Delete(job_json(&d, v));
        }
        pthread_mutex_unlock(&d.lock);
        daemon_persist(&d);
    }
    while (d.vms) {
        struct dvm *v = d.vms;
        d.vms = v->next;
        dvm_free(v);
    }
    char vms[4200];
    snprintf(vms, sizeof(vms), "%s/vms", d.state_dir);
    fuzz_empty_dir(vms);
    return 0;
}

/* The planner's inputs (scheduler/input_hosts.c, scheduler/input_workloads.c): hosts.json
 * and workloads.json as `tidal plan --hosts --workloads` reads them, then the model's
 * feasibility check. Input: the hosts file, a NUL byte, the workloads file. */
#include "fuzz_util.h"

#include "tidal/scheduler.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, hosts_len, work_len = 0;
    const uint8_t *hosts = fuzz_next_piece(data, size, &pos, 0, &hosts_len);
    const uint8_t *work = fuzz_next_piece(data, size, &pos, 0, &work_len);
    struct tsched_model m;
    struct tsched_err err;
    if (tsched_model_init(&m, 300, &err))
        abort();
    struct fuzz_file hf;
    fuzz_file_open(&hf, hosts, hosts_len);
    if (tsched_load_hosts(&m, hf.path, &err) == 0 && work) {
        struct fuzz_file wf;
        fuzz_file_open(&wf, work, work_len);
        if (tsched_load_workloads(&m, wf.path, &err) == 0)
            tsched_check(&m, &err);
        fuzz_file_close(&wf);
    }
    fuzz_file_close(&hf);
    tsched_model_free(&m);
    return 0;
}

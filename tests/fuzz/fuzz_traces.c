/* The public traces `tidal plan --from-traces DIR` turns into a model
 * (scheduler/trace_*.c): CSV and text rows from downloads of Azure Functions 2019,
 * Azure VM 2017 and Alibaba 2017. Input: the eight files, separated by NUL bytes, in
 * the order of `files` below; a missing one is empty. The plan's zone is +05:30, so
 * rows are shifted as a non-UTC plan shifts them. */
#include "fuzz_util.h"

#include "tidal/scheduler.h"

#include <stdlib.h>

static const char *const files[] = {
    "azure-functions-2019/durations_ms.csv",
    "azure-functions-2019/memory_mb.csv",
    "azure-functions-2019/invocations_per_minute.csv",
    "azure-vm-2017/flavors.txt",
    "azure-vm-2017/interval_map.txt",
    "azure-vm-2017/arrivals.txt",
    "azure-vm-2017/durations.txt",
    "alibaba-batch-2017/batch_task.csv",
};
#define NFILES (sizeof(files) / sizeof(files[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch_dir();
    size_t pos = 0;
    for (unsigned i = 0; i < NFILES; i++) {
        size_t len = 0;
        const uint8_t *piece = fuzz_next_piece(data, size, &pos, 0, &len);
        fuzz_write_file(dir, files[i], piece ? piece : data, piece ? len : 0);
    }
    struct tsched_model m;
    struct tsched_err err;
    if (tsched_model_init(&m, 300, &err))
        abort();
    /* One host type, as --hosts gives it: the bundle sizes and memory scale. */
    m.types = calloc(1, sizeof(*m.types));
    if (!m.types)
        abort();
    m.ntypes = 1;
    m.types[0] = (struct tsched_host_type){.name = "std", .cap = {64, 256}};
    struct tsched_trace_opts o;
    tsched_trace_opts_default(&o);
    o.tz = "+05:30";
    struct tsched_trace_report rep;
    tsched_load_traces(&m, dir, &o, &rep, &err);
    tsched_model_free(&m);
    return 0;
}

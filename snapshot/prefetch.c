#include "tidal/prefetch.h"
#include "tidal/file.h"
#include "tidal/vmstate.h"

#include "tidal/checksum.h"
#include "tidal/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define WS_MAGIC "TIDALWS1"
#define PAGE 4096u
#define PAGEMAP_PRESENT (1ull << 63)

struct ws_run {
    uint64_t first, count;
};

struct ws_header {
    char magic[8];
    uint64_t mem_size;
    uint64_t nruns;
    uint32_t crc; /* CRC32C of the runs */
    uint32_t reserved;
};

struct tidal_ws {
    uint64_t nruns;
    struct ws_run runs[];
};

int tidal_ws_record(struct tidal_vm *vm, const char *path, struct tidal_err *err)
{
    uint64_t size;
    const uint8_t *mem = tidal_vm_memory(vm, &size);
    uint64_t pages = size / PAGE;
    uint64_t *entries = malloc(pages * sizeof(uint64_t));
    struct ws_run *runs = malloc(pages / 2 * sizeof(struct ws_run) + sizeof(struct ws_run));
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int r = -1;
    if (!entries || !runs) {
        tidal_err_set(err, "out of memory");
        goto out;
    }
    /* pagemap: one 64-bit entry per virtual page of this process; bit 63 = present. */
    if (fd < 0 || pread(fd, entries, pages * sizeof(uint64_t),
                        (off_t)((uintptr_t)mem / PAGE * sizeof(uint64_t))) !=
                      (ssize_t)(pages * sizeof(uint64_t))) {
        tidal_err_set(err, "/proc/self/pagemap: %s", strerror(errno));
        goto out;
    }
    uint64_t nruns = 0;
    for (uint64_t p = 0; p < pages; p++) {
        if (!(entries[p] & PAGEMAP_PRESENT))
            continue;
        if (nruns && runs[nruns - 1].first + runs[nruns - 1].count == p)
            runs[nruns - 1].count++;
        else
            runs[nruns++] = (struct ws_run){p, 1};
    }
    struct ws_header h = {
        .mem_size = size, .nruns = nruns, .crc = tidal_crc32c(0, runs, nruns * sizeof(*runs))};
    memcpy(h.magic, WS_MAGIC, sizeof(h.magic));
    char tmp[4096];
    int tmp_fd = tidal_file_create_temp(path, tmp, sizeof(tmp), err);
    if (tmp_fd < 0)
        goto out;
    FILE *f = fdopen(tmp_fd, "wb");
    if (!f)
        close(tmp_fd);
    if (!f || fwrite(&h, sizeof(h), 1, f) != 1 ||
        (nruns && fwrite(runs, sizeof(*runs), nruns, f) != nruns) || fflush(f) ||
        fsync(fileno(f))) {
        tidal_err_set(err, "%s: %s", tmp, strerror(errno));
        if (f)
            fclose(f);
        unlink(tmp);
        goto out;
    }
    fclose(f);
    if (rename(tmp, path)) {
        tidal_err_set(err, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    free(entries);
    free(runs);
    return r;
}

int tidal_ws_load(const char *path, uint64_t mem_size, struct tidal_ws **out, struct tidal_err *err)
{
    *out = NULL;
    int fd = tidal_file_open(path, true, err);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return tidal_err_set(err, "%s: %s", path, strerror(errno));
    }
    struct ws_header h;
    struct tidal_ws *ws = NULL;
    if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, WS_MAGIC, 8)) {
        tidal_err_set(err, "%s: not a working-set file", path);
        goto bad;
    }
    if (h.mem_size != mem_size || h.nruns > mem_size / PAGE) {
        tidal_err_set(err,
                      "%s: recorded for %llu bytes of memory with %llu runs; the snapshot "
                      "has %llu bytes",
                      path, (unsigned long long)h.mem_size, (unsigned long long)h.nruns,
                      (unsigned long long)mem_size);
        goto bad;
    }
    ws = malloc(sizeof(*ws) + h.nruns * sizeof(struct ws_run));
    if (!ws || (h.nruns && fread(ws->runs, sizeof(struct ws_run), h.nruns, f) != h.nruns) ||
        tidal_crc32c(0, ws->runs, h.nruns * sizeof(struct ws_run)) != h.crc) {
        tidal_err_set(err, "%s: truncated or corrupt (checksum mismatch)", path);
        goto bad;
    }
    for (uint64_t i = 0; i < h.nruns; i++) {
        if (!ws->runs[i].count || ws->runs[i].first >= mem_size / PAGE ||
            ws->runs[i].count > mem_size / PAGE - ws->runs[i].first) {
            tidal_err_set(err, "%s: run %llu lies outside guest memory", path,
                          (unsigned long long)i);
            goto bad;
        }
    }
    ws->nruns = h.nruns;
    fclose(f);
    *out = ws;
    return 0;
bad:
    free(ws);
    fclose(f);
    return -1;
}

uint64_t tidal_ws_prefetch(const struct tidal_ws *ws, struct tidal_vm *vm)
{
    uint64_t size, pages = 0;
    uint8_t *mem = (uint8_t *)tidal_vm_memory(vm, &size);
    for (uint64_t i = 0; ws && i < ws->nruns; i++) {
        /* Writable, so copied out of the snapshot's page cache now: KVM maps a page
         * (and its present neighbours) in one fault only when the host page is present
         * and writable, and a first guest write to a page populated for reading takes
         * two faults. The copy costs a few µs per page; each fault it saves, ~20.
         * A kernel without MADV_POPULATE_WRITE (before 5.14) only loses the speed-up. */
        madvise(mem + ws->runs[i].first * PAGE, ws->runs[i].count * PAGE, MADV_POPULATE_WRITE);
        pages += ws->runs[i].count;
    }
    return pages;
}

void tidal_ws_free(struct tidal_ws *ws)
{
    free(ws);
}

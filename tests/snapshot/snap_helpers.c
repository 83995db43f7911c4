#include "snap_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *th_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = NULL;
    cr_assert(asprintf(&dir, "%s/tidal-snap-XXXXXX", base && *base ? base : "/tmp") > 0);
    cr_assert(mkdtemp(dir), "mkdtemp %s", dir);
    return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void th_rmrf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *th_path(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* xorshift: cheap, deterministic, never zero for a non-zero state */
static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

uint8_t *th_mem(uint64_t mem_size, uint32_t seed, int (*pick)(uint64_t page))
{
    uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert(mem != MAP_FAILED);
    for (uint64_t p = 0; p < mem_size / SNAP_PAGE; p++) {
        if (!pick(p))
            continue;
        uint32_t x = seed * 2654435761u + (uint32_t)p + 1;
        if (!x)
            x = 1;
        uint32_t *w = (uint32_t *)(mem + p * SNAP_PAGE);
        for (unsigned i = 0; i < SNAP_PAGE / 4; i++)
            w[i] = next(&x);
    }
    return mem;
}

void th_free_mem(uint8_t *mem, uint64_t mem_size)
{
    munmap(mem, mem_size);
}

uint64_t th_nonzero_pages(const uint8_t *mem, uint64_t mem_size)
{
    static const uint8_t zero[SNAP_PAGE];
    uint64_t n = 0;
    for (uint64_t off = 0; off < mem_size; off += SNAP_PAGE)
        n += memcmp(mem + off, zero, SNAP_PAGE) != 0;
    return n;
}

void th_blob(uint32_t type, uint32_t seed, uint8_t *out, size_t *size)
{
    *size = type == TIDAL_SNAP_VCPU ? 1234 : 321;
    uint32_t x = seed * 7919u + type;
    for (size_t i = 0; i < *size; i++)
        out[i] = (uint8_t)next(&x);
}

void th_write(const char *path, const uint8_t *mem, uint64_t mem_size, uint32_t seed)
{
    uint8_t vcpu[2048], mon[2048];
    size_t vn, mn;
    th_blob(TIDAL_SNAP_VCPU, seed, vcpu, &vn);
    th_blob(TIDAL_SNAP_MONITOR, seed, mon, &mn);
    struct tidal_snap_blob blobs[] = {{TIDAL_SNAP_VCPU, vcpu, vn}, {TIDAL_SNAP_MONITOR, mon, mn}};
    struct tidal_snap_header_info info = {
        .abi_version = 7, .mem_size = mem_size, .cpu_features = {seed, 2, 3, ~0ull}};
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_write(path, &info, blobs, 2, mem, &err), 0, "%s", err.msg);
}

uint8_t *th_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    uint8_t *buf = malloc(*size + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, *size, f), *size);
    fclose(f);
    return buf;
}

void th_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "create %s", path);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    cr_assert_eq(fclose(f), 0);
}

uint32_t th_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

uint64_t th_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void th_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

void th_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

size_t th_entry(const uint8_t *file, uint32_t type)
{
    uint32_t n = th_get32(file + SNAP_HDR_NSECTIONS);
    for (uint32_t i = 0; i < n && i < SNAP_MAX_SECTIONS; i++) {
        size_t e = SNAP_TABLE_OFF + i * SNAP_ENTRY_SIZE;
        if (th_get32(file + e + SNAP_ENTRY_TYPE) == type)
            return e;
    }
    return 0;
}

static void reseal_memory(uint8_t *file, size_t size, uint64_t off)
{
    uint8_t *h = file + off;
    uint64_t nruns = th_get64(h + SNAP_MEM_NRUNS);
    if (off + SNAP_MEM_HDR_SIZE > size || nruns > (size - off - SNAP_MEM_HDR_SIZE) / SNAP_RUN_SIZE)
        return;
    uint32_t crc = tidal_crc32c(0, h, SNAP_MEM_INDEX_CRC);
    crc = tidal_crc32c(crc, h + SNAP_MEM_HDR_SIZE, nruns * SNAP_RUN_SIZE);
    th_put32(h + SNAP_MEM_INDEX_CRC, crc);
}

void th_reseal(uint8_t *file, size_t size)
{
    uint32_t n = th_get32(file + SNAP_HDR_NSECTIONS);
    if (n > SNAP_MAX_SECTIONS || SNAP_TABLE_OFF + n * SNAP_ENTRY_SIZE > size)
        n = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = file + SNAP_TABLE_OFF + i * SNAP_ENTRY_SIZE;
        uint64_t off = th_get64(e + SNAP_ENTRY_OFFSET), len = th_get64(e + SNAP_ENTRY_SIZE_OFF);
        if (off > size || len > size - off)
            continue;
        if (th_get32(e + SNAP_ENTRY_TYPE) == TIDAL_SNAP_MEMORY)
            reseal_memory(file, size, off);
        th_put32(e + SNAP_ENTRY_CRC, tidal_crc32c(0, file + off, len));
    }
    th_put32(file + SNAP_HDR_TABLE_CRC,
             tidal_crc32c(0, file + SNAP_TABLE_OFF, n * SNAP_ENTRY_SIZE));
    th_put32(file + SNAP_HDR_CRC, tidal_crc32c(0, file, SNAP_HDR_CRC));
}

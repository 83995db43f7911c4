/* Writes the binary seeds of tests/fuzz/corpus/ (the text seeds are written by hand):
 * valid images, snapshots, a diff chain, a working-set file, guest calls and a
 * migration stream, each made
 * by the code that makes the real thing where there is such code, so the fuzzer starts
 * from inputs that pass every check. Run from the repository root after `make`:
 *   gcc -std=c11 -D_GNU_SOURCE -Iinclude -Itests/monitor tests/fuzz/tools/make_seeds.c \
 *       tests/monitor/elf_builder.c build/libtidal-snapshot.a \
 *       build/libtidal-monitor.a -o /tmp/make_seeds && /tmp/make_seeds */
#include "../../../snapshot/format.h"
#include "../../../snapshot/migrate_wire.h"
#include "elf_builder.h"
#include "tidal/abi.h"
#include "tidal/checksum.h"
#include "tidal/fsimage.h"
#include "tidal/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CORPUS "tests/fuzz/corpus"

static void save(const char *harness, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), CORPUS "/%s", harness);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), CORPUS "/%s/%s", harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *d = malloc(*len + 1);
    if (fread(d, 1, *len, f) != *len)
        exit(1);
    fclose(f);
    return d;
}

static void elf_seeds(void)
{
    struct eb b;
    eb_init(&b, false);
    save("fuzz_elf", "valid.elf", eb_bytes(&b), b.size);
    eb_init(&b, true);
    save("fuzz_elf", "valid-symtab.elf", eb_bytes(&b), b.size);
}

#define SNAP_MEM (256u << 10)

/* Guest memory with boot info naming a file image of one tree, as a guest given
 * --dir DIR:/data has it, and a few pages of data. */
static uint8_t *guest_memory(void)
{
    uint8_t *mem = calloc(1, SNAP_MEM);
    char dir[] = "/tmp/seed-tree-XXXXXX";
    if (!mkdtemp(dir))
        exit(1);
    struct tidal_fs_spec spec = {.host = dir, .guest = "/data", .is_dir = true};
    uint8_t *img;
    size_t size;
    struct tidal_err err;
    if (tidal_fs_build(&spec, 1, &img, &size, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    rmdir(dir);
    struct tidal_boot_info bi = {
        .magic = 1, .mem_size = SNAP_MEM, .fs_gpa = 0x10000, .fs_size = size};
    memcpy(mem + TIDAL_BOOT_INFO_GPA, &bi, sizeof(bi));
    memcpy(mem + 0x10000, img, size);
    free(img);
    memset(mem + 0x20000, 0xab, 2 * TIDAL_PAGE_SIZE);
    memcpy(mem + 0x30000, "tidal", 5);
    return mem;
}

static void snapshot_seeds(void)
{
    const char *full = "/tmp/seed.snap", *diff = "/tmp/seed.snap.1";
    uint8_t *mem = guest_memory();
    uint8_t vcpu[48] = {1, 2, 3}, monitor[24] = {4, 5, 6};
    struct tidal_snap_blob blobs[] = {{TIDAL_SNAP_VCPU, vcpu, sizeof(vcpu)},
                                      {TIDAL_SNAP_MONITOR, monitor, sizeof(monitor)}};
    struct tidal_snap_header_info info = {.abi_version = TIDAL_ABI_VERSION, .mem_size = SNAP_MEM};
    struct tidal_err err;
    if (tidal_snap_write(full, &info, blobs, 2, mem, &err))
        exit(1);
    struct tidal_snap *base;
    if (tidal_snap_open(full, &base, &err))
        exit(1);
    uint64_t dirty[SNAP_MEM / TIDAL_PAGE_SIZE / 64] = {0};
    dirty[0] = 1ull << 0x21 | 1ull << 0x30; /* one page of data changed, one zeroed */
    memset(mem + 0x21000, 0xcd, 100);
    memset(mem + 0x30000, 0, 5);
    struct tidal_snap_diff d = {.base = base, .dirty = dirty};
    if (tidal_snap_write_diff(diff, &info, blobs, 2, mem, &d, &err))
        exit(1);
    tidal_snap_close(base);

    size_t flen, dlen;
    uint8_t *f = slurp(full, &flen), *df = slurp(diff, &dlen);
    uint8_t *one = malloc(1 + flen);
    one[0] = 0; /* checksums as written */
    memcpy(one + 1, f, flen);
    save("fuzz_snapshot", "full", one, 1 + flen);
    one[0] = 1; /* checksums rewritten after mutation */
    save("fuzz_snapshot", "full-fixup", one, 1 + flen);

    uint8_t *chain = malloc(1 + 8 + flen + dlen);
    uint32_t l1 = (uint32_t)flen, l2 = (uint32_t)dlen;
    chain[0] = 3;
    memcpy(chain + 1, &l1, 4);
    memcpy(chain + 5, f, flen);
    memcpy(chain + 5 + flen, &l2, 4);
    memcpy(chain + 9 + flen, df, dlen);
    save("fuzz_snapshot_chain", "full-diff", chain, 9 + flen + dlen);
    chain[0] = 0;
    save("fuzz_snapshot_chain", "full-diff-raw", chain, 9 + flen + dlen);
    unlink(full);
    unlink(diff);
    free(one);
    free(chain);
    free(f);
    free(df);
    free(mem);
}

static void ws_seeds(void)
{
    /* The layout of snapshot/prefetch.c: magic, mem_size, nruns, CRC32C of the runs. */
    struct {
        char magic[8];
        uint64_t mem_size, nruns;
        uint32_t crc, reserved;
        uint64_t runs[2][2];
    } ws = {{'T', 'I', 'D', 'A', 'L', 'W', 'S', '1'}, 64u << 20, 2, 0, 0, {{0, 16}, {100, 3}}};
    ws.crc = tidal_crc32c(0, ws.runs, sizeof(ws.runs));
    save("fuzz_snapshot_ws", "two-runs", &ws, sizeof(ws));
}

/* Guest memory as fuzz_calls lays it out: ring place, then the call block at
 * TIDAL_IMAGE_MIN_GPA + 16, then whatever the call points at. */
#define BASE ((uint64_t)TIDAL_IMAGE_MIN_GPA)
struct call_seed {
    uint64_t ring_gpa, ring_size;
    struct tidal_call call;
    uint8_t rest[1024];
};
#define AT(field) (BASE + offsetof(struct call_seed, field))

static void call_seeds(void)
{
    struct call_seed s;
    struct tidal_iov iov[2] = {{1, 5, AT(rest) + 64}, {2, 3, AT(rest) + 72}};

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_WRITE, .arg = {AT(rest), 2}};
    memcpy(s.rest, iov, sizeof(iov));
    memcpy(s.rest + 64, "hello", 5);
    memcpy(s.rest + 72, "err", 3);
    save("fuzz_calls", "write", &s, sizeof(s));

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_READ, .arg = {0, AT(rest), 100}};
    save("fuzz_calls", "read", &s, sizeof(s));

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_SLEEP, .arg = {1000}};
    save("fuzz_calls", "sleep", &s, sizeof(s));

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_PROGRESS, .arg = {3, 10}};
    save("fuzz_calls", "progress", &s, sizeof(s));

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_FAULT, .arg = {AT(rest) + 256, AT(rest), 1}};
    memcpy(s.rest, iov, sizeof(iov[0]));
    memcpy(s.rest + 64, "hello", 5);
    save("fuzz_calls", "fault", &s, sizeof(s));

    memset(&s, 0, sizeof(s));
    s.call = (struct tidal_call){.nr = TIDAL_CALL_READY, .arg = {AT(rest) + 512, AT(rest), 1}};
    memcpy(s.rest, iov, sizeof(iov[0]));
    memcpy(s.rest + 64, "hello", 5);
    save("fuzz_calls", "ready", &s, sizeof(s));

    /* EXIT with an /out archive: a directory, then a file in it. */
    memset(&s, 0, sizeof(s));
    uint8_t *a = s.rest + 128;
    struct tidal_out_record d = {TIDAL_FS_DIR, 3, 0}, f = {TIDAL_FS_FILE, 9, 4};
    memcpy(a, &d, sizeof(d));
    memcpy(a + 16, "dir", 3);
    memcpy(a + 24, &f, sizeof(f));
    memcpy(a + 40, "dir/a.txt", 9);
    memcpy(a + 49, "data", 4);
    s.call =
        (struct tidal_call){.nr = TIDAL_CALL_EXIT, .arg = {7, AT(rest), 1, AT(rest) + 128, 56}};
    memcpy(s.rest, iov, sizeof(iov[0]));
    memcpy(s.rest + 64, "hello", 5);
    save("fuzz_calls", "exit-out", &s, sizeof(s));

    /* A console ring in s.rest holding two records; the call is an empty WRITE, the one
     * a guest with a full ring makes. */
    memset(&s, 0, sizeof(s));
    s.ring_gpa = AT(rest);
    s.ring_size = 256;
    struct tidal_console_ring ring = {.head = 32, .tail = 0};
    struct tidal_console_record r1 = {1, 6}, r2 = {2, 4};
    memcpy(s.rest, &ring, sizeof(ring));
    uint8_t *data = s.rest + sizeof(ring);
    memcpy(data, &r1, 8);
    memcpy(data + 8, "ring!\n", 6);
    memcpy(data + 16, &r2, 8);
    memcpy(data + 24, "err\n", 4);
    s.call = (struct tidal_call){.nr = TIDAL_CALL_WRITE};
    save("fuzz_calls", "ring", &s, sizeof(s));
}

/* A migration stream as it is laid out on the wire (docs/migration.md), built record by
 * record: round 0 with page and zero runs, a round of two pages, a final page, the
 * state and the end record. */
static uint8_t stream[64 << 10];
static size_t stream_len;

static void put(const void *p, size_t n)
{
    memcpy(stream + stream_len, p, n);
    stream_len += n;
}

static void put_record(uint32_t type, uint32_t count, uint64_t arg)
{
    uint8_t r[MIG_REC_SIZE];
    put32(r + MIG_REC_TYPE, type);
    put32(r + MIG_REC_COUNT, count);
    put64(r + MIG_REC_ARG, arg);
    put(r, sizeof(r));
}

static void put_pages(uint64_t first, uint32_t count, uint8_t fill)
{
    put_record(MIG_PAGES, count, first);
    uint8_t page[MIG_PAGE];
    memset(page, fill, sizeof(page));
    for (uint32_t i = 0; i < count; i++)
        put(page, sizeof(page));
}

static void migrate_seeds(void)
{
    const uint64_t mem = 4u << 20, pages = mem / MIG_PAGE;
    uint8_t h[MIG_HDR_SIZE] = {0};
    memcpy(h + MIG_HDR_MAGIC, MIG_MAGIC, MIG_MAGIC_LEN);
    put32(h + MIG_HDR_VERSION, TIDAL_MIGRATE_VERSION);
    put32(h + MIG_HDR_PAGE_SIZE, MIG_PAGE);
    put64(h + MIG_HDR_MEM_SIZE, mem);
    put32(h + MIG_HDR_ABI, TIDAL_ABI_VERSION);
    put32(h + MIG_HDR_VCPU_SIZE, sizeof(struct tidal_vcpu_state));
    put32(h + MIG_HDR_STATE_SIZE, sizeof(struct tidal_vm_state));
    put32(h + MIG_HDR_CRC, tidal_crc32c(0, h, MIG_HDR_CRC));
    stream_len = 0;
    uint8_t flags = 0;
    put(&flags, 1);
    put(h, sizeof(h));
    put_record(MIG_ZEROS, 2, 0);
    put_pages(2, 3, 0x11);
    put_record(MIG_ZEROS, (uint32_t)(pages - 5), 5);
    put_record(MIG_ROUND_END, 0, 0);
    put_pages(3, 2, 0x22);
    put_record(MIG_ROUND_END, 0, 1);
    put_pages(pages - 1, 1, 0x33);
    put_record(MIG_ZEROS, 1, 2);
    static struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state = {.abi_version = TIDAL_ABI_VERSION, .mem_size = mem};
    put_record(MIG_VCPU, 0, sizeof(vcpu));
    put(&vcpu, sizeof(vcpu));
    put_record(MIG_VM_STATE, 0, sizeof(state));
    put(&state, sizeof(state));
    put_record(MIG_END, 0, tidal_crc32c(0, stream + 1, stream_len - 1));
    save("fuzz_migrate", "stream", stream, stream_len);
    stream[0] = 1;
    save("fuzz_migrate", "stream-fixup", stream, stream_len);
    save("fuzz_migrate", "truncated-fixup", stream, 1 + MIG_HDR_SIZE + 40);
}

int main(void)
{
    elf_seeds();
    snapshot_seeds();
    ws_seeds();
    call_seeds();
    migrate_seeds();
    return 0;
}

/* Snapshot files: writing them atomically and opening them without trusting a byte.
 * The layout is in format.h and docs/snapshot-format.md. Every size read from a file is
 * checked against the file's real size before it is used, and every read is a pread of
 * a checked range, so a damaged file is a message, never a crash. */
#include "tidal/snapshot.h"
#include "tidal/file.h"
#include "tidal/host_limits.h"

#include "tidal/checksum.h"
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The public header repeats the limits for callers; they must agree. */
#ifdef TIDAL_SNAP_MAX_MEM_SIZE
_Static_assert(TIDAL_SNAP_MAX_MEM_SIZE == SNAP_MAX_MEM_SIZE, "mem size limit");
_Static_assert(TIDAL_SNAP_MAX_BLOB_SIZE == SNAP_MAX_BLOB_SIZE, "blob size limit");
_Static_assert(TIDAL_SNAP_PAGE_SIZE == SNAP_PAGE, "page size");
#endif

/* A mapping of guest memory is one private mapping of the snapshot's memory image
 * (see struct memory_image), except for the largest zero ranges of at least
 * ZERO_RANGE_MIN, at most MAX_ZERO_RANGES of them, which get anonymous memory: there a
 * guest's first write costs one page instead of a page of the image and its copy, and
 * the range can take transparent huge pages. So a mapping costs at most
 * 1 + 2 * MAX_ZERO_RANGES VMAs, usually 1 to 3, however many runs the file has:
 * vm.max_map_count (65530 by default) allows ten thousand clones and more. */
#define ZERO_RANGE_MIN (2ull << 20)
#define MAX_ZERO_RANGES 4u
/* Linux transfers at most 0x7ffff000 bytes per read/write call. */
#define IO_CHUNK (1u << 30)

struct run {
    uint64_t first, count, file_offset;
};

struct page_range {
    uint64_t first, count;
};

/* Guest memory as saved, laid out once per opened snapshot, at its first mapping: a
 * memory file (memfd) with each stored page at its guest-physical offset and holes for
 * zero pages. Mappings of it share its pages until they write them, as clones share a
 * template. Separate from struct tidal_snap so that mapping a const snapshot may fill
 * it in. */
struct memory_image {
    pthread_mutex_t lock;                    /* held while the image is built or verified */
    int fd;                                  /* -1 until built */
    bool verified;                           /* the memory section's checksum matched */
    struct page_range zero[MAX_ZERO_RANGES]; /* anonymous in every mapping, largest first */
    unsigned nzero;
};

struct section {
    uint32_t type, crc;
    uint64_t offset, size;
};

struct blob_slot {
    bool present;
    uint64_t size;
    void *data;
};

struct tidal_snap {
    char *path;
    int fd;
    uint64_t file_size;
    uint32_t flags;      /* SNAP_FLAG_* */
    uint32_t header_crc; /* with file_size, the identity a diff of this file records */
    uint32_t base_crc;   /* diff: the base's header_crc and file_size */
    uint64_t base_size;
    struct tidal_snap_header_info info;
    struct blob_slot blobs[2]; /* TIDAL_SNAP_VCPU, TIDAL_SNAP_MONITOR */
    struct section mem;
    uint64_t data_offset, stored_pages, nruns;
    struct run *runs;
    struct memory_image *image;
};

static const char *section_name(uint32_t type)
{
    switch (type) {
    case TIDAL_SNAP_VCPU:
        return "vcpu";
    case TIDAL_SNAP_MONITOR:
        return "monitor";
    case TIDAL_SNAP_MEMORY:
        return "memory";
    default:
        return "unknown";
    }
}

static bool is_blob_type(uint32_t type)
{
    return type == TIDAL_SNAP_VCPU || type == TIDAL_SNAP_MONITOR;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* ---- I/O that finishes or says why not ---- */

static int pwrite_full(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len < IO_CHUNK ? len : IO_CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            return -1;
        buf += n, len -= (uint64_t)n, off += (uint64_t)n;
    }
    return 0;
}

/* A short read means the file shrank under us (or lied about its size): EIO. */
static int pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len < IO_CHUNK ? len : IO_CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n, len -= (uint64_t)n, off += (uint64_t)n;
    }
    return 0;
}

/* ======================================================================== writing */

struct plan {
    const struct tidal_snap_blob *blobs[2];
    unsigned nblobs;
    struct run *runs;
    uint64_t nruns, stored, cap;
    uint32_t flags, base_crc; /* a diff: SNAP_FLAG_DIFF and its base's identity */
    uint64_t base_size;
    uint64_t mem_off, index_end, data_off, file_size;
    uint8_t *meta; /* bytes [0, data_off): header, table, blobs, memory index, padding */
};

static int check_info(const char *path, const struct tidal_snap_header_info *info,
                      struct tidal_err *err)
{
    uint64_t m = info->mem_size;
    if (m == 0 || m % SNAP_PAGE || m > SNAP_MAX_MEM_SIZE)
        return tidal_err_set(err,
                             "%s: cannot write a snapshot of %" PRIu64
                             " bytes of memory: expected a multiple of %u between %u and %llu",
                             path, m, SNAP_PAGE, SNAP_PAGE, (unsigned long long)SNAP_MAX_MEM_SIZE);
    return 0;
}

static int check_blobs(const char *path, const struct tidal_snap_blob *blobs, unsigned nblobs,
                       struct plan *p, struct tidal_err *err)
{
    bool seen[3] = {false};
    if (nblobs > 2)
        return tidal_err_set(err, "%s: %u blobs given, a snapshot holds at most 2 (vcpu, monitor)",
                             path, nblobs);
    for (unsigned i = 0; i < nblobs; i++) {
        const struct tidal_snap_blob *b = &blobs[i];
        if (!is_blob_type(b->type))
            return tidal_err_set(err, "%s: blob %u has type %u, expected %d (vcpu) or %d (monitor)",
                                 path, i, b->type, TIDAL_SNAP_VCPU, TIDAL_SNAP_MONITOR);
        if (seen[b->type])
            return tidal_err_set(err, "%s: two %s blobs given", path, section_name(b->type));
        if (b->size > SNAP_MAX_BLOB_SIZE || (b->size && !b->data))
            return tidal_err_set(err,
                                 "%s: %s blob of %" PRIu64 " bytes: expected data and at most %u",
                                 path, section_name(b->type), b->size, SNAP_MAX_BLOB_SIZE);
        seen[b->type] = true;
        p->blobs[p->nblobs++] = b;
    }
    return 0;
}

/* A page is zero when its first 8 bytes are and every byte equals the one 8 further on;
 * memcmp is vectorised, so this runs at memory bandwidth. */
static bool page_is_zero(const uint8_t *page)
{
    return all_zero(page, 8) && memcmp(page, page + 8, SNAP_PAGE - 8) == 0;
}

/* Stores page pg, which follows every page stored so far: extends the last run or
 * starts a new one. */
static int store_page(const char *path, struct plan *p, uint64_t pg, struct tidal_err *err)
{
    struct run *last = p->nruns ? &p->runs[p->nruns - 1] : NULL;
    p->stored++;
    if (last && last->first + last->count == pg) {
        last->count++;
        return 0;
    }
    if (p->nruns == p->cap) {
        uint64_t cap = p->cap ? 2 * p->cap : 64;
        struct run *r = realloc(p->runs, cap * sizeof(*r));
        if (!r)
            return tidal_err_set(err, "%s: out of memory for the page index", path);
        p->runs = r;
        p->cap = cap;
    }
    p->runs[p->nruns++] = (struct run){.first = pg, .count = 1};
    return 0;
}

/* Maximal runs of non-zero pages, in guest page order. */
static int find_runs(const char *path, const uint8_t *mem, uint64_t pages, struct plan *p,
                     struct tidal_err *err)
{
    for (uint64_t pg = 0; pg < pages; pg++)
        if (!page_is_zero(mem + pg * SNAP_PAGE) && store_page(path, p, pg, err) < 0)
            return -1;
    return 0;
}

/* A diff: maximal runs of the pages whose bit is set, zero or not. Bits beyond the last
 * page of memory are ignored. */
static int find_dirty_runs(const char *path, const uint64_t *dirty, uint64_t pages, struct plan *p,
                           struct tidal_err *err)
{
    for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
        uint64_t bits = dirty[w];
        if (pages - 64 * w < 64)
            bits &= (1ull << (pages - 64 * w)) - 1;
        for (; bits; bits &= bits - 1)
            if (store_page(path, p, 64 * w + (uint64_t)__builtin_ctzll(bits), err) < 0)
                return -1;
    }
    return 0;
}

/* Offsets of everything: blobs back to back after the table, then the memory section,
 * whose page data starts at the next page boundary so that it can be mmap'ed. */
static void lay_out(struct plan *p)
{
    uint64_t off = SNAP_TABLE_OFF + (uint64_t)(p->nblobs + 1) * SNAP_ENTRY_SIZE;
    for (unsigned i = 0; i < p->nblobs; i++)
        off += p->blobs[i]->size;
    p->mem_off = off;
    p->index_end = off + SNAP_MEM_HDR_SIZE + p->nruns * SNAP_RUN_SIZE;
    p->data_off = align_up(p->index_end, SNAP_PAGE);
    uint64_t f = p->data_off;
    for (uint64_t i = 0; i < p->nruns; i++) {
        p->runs[i].file_offset = f;
        f += p->runs[i].count * SNAP_PAGE;
    }
    p->file_size = f;
}

static void put_entry(uint8_t *e, uint32_t type, uint32_t crc, uint64_t off, uint64_t size)
{
    put32(e + SNAP_ENTRY_TYPE, type);
    put32(e + SNAP_ENTRY_CRC, crc);
    put64(e + SNAP_ENTRY_OFFSET, off);
    put64(e + SNAP_ENTRY_SIZE_OFF, size);
}

/* The memory index; returns the memory section's CRC (index, padding, then the pages). */
static uint32_t fill_memory(struct plan *p, const uint8_t *mem)
{
    uint8_t *h = p->meta + p->mem_off;
    put64(h + SNAP_MEM_NRUNS, p->nruns);
    put64(h + SNAP_MEM_STORED, p->stored);
    put64(h + SNAP_MEM_DATA_OFFSET, p->data_off);
    put32(h + SNAP_MEM_PAGE_SIZE, SNAP_PAGE);
    for (uint64_t i = 0; i < p->nruns; i++) {
        uint8_t *r = h + SNAP_MEM_HDR_SIZE + i * SNAP_RUN_SIZE;
        put64(r + SNAP_RUN_FIRST, p->runs[i].first);
        put64(r + SNAP_RUN_COUNT, p->runs[i].count);
        put64(r + SNAP_RUN_OFFSET, p->runs[i].file_offset);
    }
    uint32_t icrc = tidal_crc32c(0, h, SNAP_MEM_INDEX_CRC);
    icrc = tidal_crc32c(icrc, h + SNAP_MEM_HDR_SIZE, p->nruns * SNAP_RUN_SIZE);
    put32(h + SNAP_MEM_INDEX_CRC, icrc);

    uint32_t crc = tidal_crc32c(0, h, p->data_off - p->mem_off);
    for (uint64_t i = 0; i < p->nruns; i++)
        crc = tidal_crc32c(crc, mem + p->runs[i].first * SNAP_PAGE, p->runs[i].count * SNAP_PAGE);
    return crc;
}

static void fill_meta(struct plan *p, const struct tidal_snap_header_info *info, const uint8_t *mem)
{
    uint8_t *m = p->meta;
    uint8_t *table = m + SNAP_TABLE_OFF;
    uint64_t off = SNAP_TABLE_OFF + (uint64_t)(p->nblobs + 1) * SNAP_ENTRY_SIZE;
    for (unsigned i = 0; i < p->nblobs; i++) {
        const struct tidal_snap_blob *b = p->blobs[i];
        if (b->size)
            memcpy(m + off, b->data, b->size);
        put_entry(table + i * SNAP_ENTRY_SIZE, b->type, tidal_crc32c(0, m + off, b->size), off,
                  b->size);
        off += b->size;
    }
    uint32_t mcrc = fill_memory(p, mem);
    put_entry(table + p->nblobs * SNAP_ENTRY_SIZE, TIDAL_SNAP_MEMORY, mcrc, p->mem_off,
              p->file_size - p->mem_off);

    memcpy(m + SNAP_HDR_MAGIC, SNAP_MAGIC, SNAP_MAGIC_LEN);
    put32(m + SNAP_HDR_VERSION, TIDAL_SNAP_VERSION);
    put32(m + SNAP_HDR_NSECTIONS, p->nblobs + 1);
    put32(m + SNAP_HDR_ABI, info->abi_version);
    put32(m + SNAP_HDR_FLAGS, p->flags);
    put32(m + SNAP_HDR_BASE_CRC, p->base_crc);
    put64(m + SNAP_HDR_BASE_SIZE, p->base_size);
    put64(m + SNAP_HDR_MEM_SIZE, info->mem_size);
    for (int i = 0; i < 4; i++)
        put64(m + SNAP_HDR_CPU_FEATURES + 8 * i, info->cpu_features[i]);
    put64(m + SNAP_HDR_FILE_SIZE, p->file_size);
    put32(m + SNAP_HDR_TABLE_CRC, tidal_crc32c(0, table, (p->nblobs + 1) * SNAP_ENTRY_SIZE));
    put32(m + SNAP_HDR_CRC, tidal_crc32c(0, m, SNAP_HDR_CRC));
}

static int fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_data(int fd, const struct plan *p, const uint8_t *mem)
{
    if (pwrite_full(fd, p->meta, p->data_off, 0) < 0)
        return -1;
    for (uint64_t i = 0; i < p->nruns; i++) {
        const struct run *r = &p->runs[i];
        if (pwrite_full(fd, mem + r->first * SNAP_PAGE, r->count * SNAP_PAGE, r->file_offset) < 0)
            return -1;
    }
    return fsync(fd);
}

/* Temporary file, fsync, rename, fsync of the directory: readers see the old file or the
 * complete new one, never a mix, whatever happens to this process or the machine. */
static int write_atomically(const char *path, const struct plan *p, const uint8_t *mem,
                            struct tidal_err *err)
{
    char tmp[4096];
    int fd = tidal_file_create_temp(path, tmp, sizeof(tmp), err);
    if (fd < 0)
        return -1;
    if (write_data(fd, p, mem) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tidal_err_set(err, "%s: writing temporary file %s: %s", path, tmp, strerror(e));
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return tidal_err_set(err, "%s: cannot replace it with %s: %s", path, tmp, strerror(e));
    }
    if (fsync_dir_of(path) < 0)
        return tidal_err_set(err, "%s: written, but syncing its directory failed: %s", path,
                             strerror(errno));
    return 0;
}

/* A diff needs a base of the same memory size, and must not be written over the file of
 * its own base, which would leave it without one. */
static int check_diff(const char *path, const struct tidal_snap_header_info *info,
                      const struct tidal_snap_diff *diff, struct tidal_err *err)
{
    if (!diff || !diff->base || !diff->dirty)
        return tidal_err_set(err, "%s: a diff needs a base snapshot and a dirty-page bitmap", path);
    const struct tidal_snap *b = diff->base;
    if (info->mem_size != b->info.mem_size)
        return tidal_err_set(err,
                             "%s: a diff of %" PRIu64 " bytes of memory cannot apply to %s, "
                             "which has %" PRIu64,
                             path, info->mem_size, b->path, b->info.mem_size);
    struct stat st, bst;
    if (stat(path, &st) == 0 && fstat(b->fd, &bst) == 0 && st.st_dev == bst.st_dev &&
        st.st_ino == bst.st_ino)
        return tidal_err_set(err, "%s: is the diff's own base (%s): writing would replace it", path,
                             b->path);
    return 0;
}

static int write_snap(const char *path, const struct tidal_snap_header_info *info,
                      const struct tidal_snap_blob *blobs, unsigned nblobs, const uint8_t *mem,
                      const struct tidal_snap_diff *diff, struct tidal_err *err)
{
    struct plan p = {0};
    if (check_info(path, info, err) < 0 || check_blobs(path, blobs, nblobs, &p, err) < 0)
        return -1;
    if (!mem)
        return tidal_err_set(err, "%s: no guest memory given", path);
    int rc;
    if (diff) {
        p.flags = SNAP_FLAG_DIFF;
        p.base_crc = diff->base->header_crc;
        p.base_size = diff->base->file_size;
        rc = find_dirty_runs(path, diff->dirty, info->mem_size / SNAP_PAGE, &p, err);
    } else {
        rc = find_runs(path, mem, info->mem_size / SNAP_PAGE, &p, err);
    }
    if (rc == 0) {
        lay_out(&p);
        p.meta = calloc(1, p.data_off);
        if (!p.meta)
            rc = tidal_err_set(err, "%s: out of memory for %" PRIu64 " bytes of metadata", path,
                               p.data_off);
    }
    if (rc == 0) {
        fill_meta(&p, info, mem);
        rc = write_atomically(path, &p, mem, err);
    }
    free(p.meta);
    free(p.runs);
    return rc;
}

int tidal_snap_write(const char *path, const struct tidal_snap_header_info *info,
                     const struct tidal_snap_blob *blobs, unsigned nblobs, const uint8_t *mem,
                     struct tidal_err *err)
{
    return write_snap(path, info, blobs, nblobs, mem, NULL, err);
}

int tidal_snap_write_diff(const char *path, const struct tidal_snap_header_info *info,
                          const struct tidal_snap_blob *blobs, unsigned nblobs, const uint8_t *mem,
                          const struct tidal_snap_diff *diff, struct tidal_err *err)
{
    if (check_info(path, info, err) < 0 || check_diff(path, info, diff, err) < 0)
        return -1;
    return write_snap(path, info, blobs, nblobs, mem, diff, err);
}

/* ======================================================================== reading */

static int read_at(const struct tidal_snap *s, void *buf, uint64_t len, uint64_t off,
                   const char *what, struct tidal_err *err)
{
    if (pread_full(s->fd, buf, len, off) < 0)
        return tidal_err_set(err, "%s: reading %s (%" PRIu64 " bytes at offset %" PRIu64 "): %s",
                             s->path, what, len, off, strerror(errno));
    return 0;
}

static int open_file(struct tidal_snap *s, struct tidal_err *err)
{
    struct tidal_err why;
    s->fd = tidal_file_open(s->path, true, &why);
    if (s->fd < 0)
        return tidal_err_set(err, "cannot open snapshot %s", why.msg);
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return tidal_err_set(err, "%s: cannot stat snapshot: %s", s->path, strerror(errno));
    s->file_size = (uint64_t)st.st_size;
    return 0;
}

static int check_magic_version(struct tidal_snap *s, const uint8_t *h, struct tidal_err *err)
{
    if (s->file_size < SNAP_MAGIC_LEN)
        return tidal_err_set(err,
                             "%s: truncated: file is %" PRIu64 " bytes, a snapshot header is %u",
                             s->path, s->file_size, SNAP_HDR_SIZE);
    if (memcmp(h, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
        return tidal_err_set(err,
                             "%s: not a Tidal snapshot: bad magic in the header, expected \"%s\"",
                             s->path, SNAP_MAGIC);
    if (s->file_size < SNAP_HDR_SIZE)
        return tidal_err_set(err,
                             "%s: truncated header: file is %" PRIu64 " bytes, the header is %u",
                             s->path, s->file_size, SNAP_HDR_SIZE);
    /* Checked before the CRC: another version may lay the header out differently. */
    uint32_t v = get32(h + SNAP_HDR_VERSION);
    if (v != TIDAL_SNAP_VERSION)
        return tidal_err_set(err,
                             "%s: header: snapshot format version %u, this build reads version %d",
                             s->path, v, TIDAL_SNAP_VERSION);
    return 0;
}

static int check_mem_size(struct tidal_snap *s, struct tidal_err *err)
{
    uint64_t m = s->info.mem_size;
    if (m == 0 || m % SNAP_PAGE || m > SNAP_MAX_MEM_SIZE)
        return tidal_err_set(err,
                             "%s: header: mem_size %" PRIu64
                             " is invalid: expected a non-zero multiple of %u up to %llu",
                             s->path, m, SNAP_PAGE, (unsigned long long)SNAP_MAX_MEM_SIZE);
    return 0;
}

static int read_header(struct tidal_snap *s, uint32_t *nsections, uint32_t *table_crc,
                       struct tidal_err *err)
{
    uint8_t h[SNAP_HDR_SIZE] = {0};
    uint64_t n = s->file_size < SNAP_HDR_SIZE ? s->file_size : SNAP_HDR_SIZE;
    if (read_at(s, h, n, 0, "the header", err) < 0 || check_magic_version(s, h, err) < 0)
        return -1;
    uint32_t stored = get32(h + SNAP_HDR_CRC), crc = tidal_crc32c(0, h, SNAP_HDR_CRC);
    if (stored != crc)
        return tidal_err_set(err, "%s: header checksum mismatch (stored 0x%08x, computed 0x%08x)",
                             s->path, stored, crc);
    s->header_crc = stored;
    s->flags = get32(h + SNAP_HDR_FLAGS);
    s->base_crc = get32(h + SNAP_HDR_BASE_CRC);
    s->base_size = get64(h + SNAP_HDR_BASE_SIZE);
    if (s->flags & ~SNAP_FLAG_DIFF)
        return tidal_err_set(err, "%s: header: unknown flags 0x%x", s->path,
                             s->flags & ~SNAP_FLAG_DIFF);
    if (!all_zero(h + SNAP_HDR_RESERVED, SNAP_HDR_CRC - SNAP_HDR_RESERVED) ||
        (!(s->flags & SNAP_FLAG_DIFF) && (s->base_crc || s->base_size)))
        return tidal_err_set(err, "%s: header: reserved fields are not zero", s->path);
    if ((s->flags & SNAP_FLAG_DIFF) && s->base_size < SNAP_HDR_SIZE)
        return tidal_err_set(err,
                             "%s: header: a diff whose base is %" PRIu64
                             " bytes: no snapshot is smaller than %u",
                             s->path, s->base_size, SNAP_HDR_SIZE);
    uint64_t declared = get64(h + SNAP_HDR_FILE_SIZE);
    if (s->file_size < declared)
        return tidal_err_set(
            err, "%s: truncated: file is %" PRIu64 " bytes, the header declares %" PRIu64, s->path,
            s->file_size, declared);
    if (s->file_size > declared)
        return tidal_err_set(
            err, "%s: %" PRIu64 " unexpected bytes after the declared end (%" PRIu64 ")", s->path,
            s->file_size - declared, declared);
    s->info.abi_version = get32(h + SNAP_HDR_ABI);
    s->info.mem_size = get64(h + SNAP_HDR_MEM_SIZE);
    for (int i = 0; i < 4; i++)
        s->info.cpu_features[i] = get64(h + SNAP_HDR_CPU_FEATURES + 8 * i);
    *nsections = get32(h + SNAP_HDR_NSECTIONS);
    *table_crc = get32(h + SNAP_HDR_TABLE_CRC);
    return check_mem_size(s, err);
}

static int read_table(struct tidal_snap *s, uint32_t n, uint32_t table_crc, struct section *sec,
                      struct tidal_err *err)
{
    if (n == 0 || n > SNAP_MAX_SECTIONS)
        return tidal_err_set(err, "%s: header: %u sections, expected 1 to %u", s->path, n,
                             SNAP_MAX_SECTIONS);
    uint8_t t[SNAP_MAX_SECTIONS * SNAP_ENTRY_SIZE];
    uint64_t len = (uint64_t)n * SNAP_ENTRY_SIZE;
    if (SNAP_TABLE_OFF + len > s->file_size)
        return tidal_err_set(err,
                             "%s: truncated section table: %u entries need %" PRIu64
                             " bytes, the file is %" PRIu64,
                             s->path, n, SNAP_TABLE_OFF + len, s->file_size);
    if (read_at(s, t, len, SNAP_TABLE_OFF, "the section table", err) < 0)
        return -1;
    uint32_t crc = tidal_crc32c(0, t, len);
    if (crc != table_crc)
        return tidal_err_set(err,
                             "%s: section table checksum mismatch (stored 0x%08x, computed 0x%08x)",
                             s->path, table_crc, crc);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = t + i * SNAP_ENTRY_SIZE;
        sec[i] = (struct section){.type = get32(e + SNAP_ENTRY_TYPE),
                                  .crc = get32(e + SNAP_ENTRY_CRC),
                                  .offset = get64(e + SNAP_ENTRY_OFFSET),
                                  .size = get64(e + SNAP_ENTRY_SIZE_OFF)};
        if (get64(e + SNAP_ENTRY_RESERVED))
            return tidal_err_set(err, "%s: section table entry %u: reserved field is not zero",
                                 s->path, i);
    }
    return 0;
}

/* Known types, each once, each inside the file. */
static int check_entries(struct tidal_snap *s, const struct section *sec, uint32_t n,
                         struct tidal_err *err)
{
    uint64_t table_end = SNAP_TABLE_OFF + (uint64_t)n * SNAP_ENTRY_SIZE;
    bool seen[4] = {false};
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = sec[i].type;
        if (t < TIDAL_SNAP_VCPU || t > TIDAL_SNAP_MEMORY)
            return tidal_err_set(err, "%s: section table entry %u: unknown section type %u",
                                 s->path, i, t);
        if (seen[t])
            return tidal_err_set(err, "%s: section table entry %u: duplicate %s section", s->path,
                                 i, section_name(t));
        seen[t] = true;
        if (sec[i].offset < table_end || sec[i].offset > s->file_size ||
            sec[i].size > s->file_size - sec[i].offset)
            return tidal_err_set(err,
                                 "%s: %s section: offset %" PRIu64 " size %" PRIu64
                                 " is outside the file (data is %" PRIu64 "..%" PRIu64 ")",
                                 s->path, section_name(t), sec[i].offset, sec[i].size, table_end,
                                 s->file_size);
    }
    if (!seen[TIDAL_SNAP_MEMORY])
        return tidal_err_set(err, "%s: no memory section", s->path);
    return 0;
}

/* Sections must tile the file after the table exactly, so that every byte of the file
 * is covered by some checksum: no gaps where damage could hide, no overlaps. */
static int check_tiling(struct tidal_snap *s, const struct section *sec, uint32_t n,
                        struct tidal_err *err)
{
    uint64_t pos = SNAP_TABLE_OFF + (uint64_t)n * SNAP_ENTRY_SIZE;
    bool used[SNAP_MAX_SECTIONS] = {false};
    for (uint32_t k = 0; k < n; k++) {
        uint32_t at = n;
        for (uint32_t i = 0; i < n; i++)
            if (!used[i] && (at == n || sec[i].offset < sec[at].offset))
                at = i;
        used[at] = true;
        if (sec[at].offset != pos)
            return tidal_err_set(
                err, "%s: %s section: starts at offset %" PRIu64 ", expected %" PRIu64 " (%s)",
                s->path, section_name(sec[at].type), sec[at].offset, pos,
                sec[at].offset < pos ? "overlaps the previous data" : "leaves a gap");
        pos += sec[at].size;
    }
    if (pos != s->file_size)
        return tidal_err_set(err, "%s: sections end at %" PRIu64 ", the file at %" PRIu64, s->path,
                             pos, s->file_size);
    return 0;
}

static int load_blob(struct tidal_snap *s, const struct section *sec, struct tidal_err *err)
{
    const char *name = section_name(sec->type);
    if (sec->size > SNAP_MAX_BLOB_SIZE)
        return tidal_err_set(err, "%s: %s section: %" PRIu64 " bytes, at most %u are allowed",
                             s->path, name, sec->size, SNAP_MAX_BLOB_SIZE);
    struct blob_slot *b = &s->blobs[sec->type - TIDAL_SNAP_VCPU];
    b->data = malloc(sec->size + 1); /* + 1: a present empty blob is still non-NULL */
    if (!b->data)
        return tidal_err_set(err, "%s: %s section: out of memory", s->path, name);
    b->size = sec->size;
    b->present = true;
    if (read_at(s, b->data, sec->size, sec->offset, name, err) < 0)
        return -1;
    uint32_t crc = tidal_crc32c(0, b->data, sec->size);
    if (crc != sec->crc)
        return tidal_err_set(err,
                             "%s: %s section: checksum mismatch (stored 0x%08x, computed 0x%08x)",
                             s->path, name, sec->crc, crc);
    return 0;
}

/* Reads the run table and checks the index CRC; the runs are checked afterwards. */
static int read_index(struct tidal_snap *s, const uint8_t *h, struct tidal_err *err)
{
    const struct section *m = &s->mem;
    s->nruns = get64(h + SNAP_MEM_NRUNS);
    uint64_t room = (m->size - SNAP_MEM_HDR_SIZE) / SNAP_RUN_SIZE;
    if (s->nruns > room)
        return tidal_err_set(err,
                             "%s: memory section: index declares %" PRIu64
                             " runs, the section has room for %" PRIu64,
                             s->path, s->nruns, room);
    s->runs = calloc(s->nruns ? s->nruns : 1, sizeof(*s->runs));
    uint8_t *raw = malloc(s->nruns ? s->nruns * SNAP_RUN_SIZE : 1);
    int rc = 0;
    if (!s->runs || !raw)
        rc = tidal_err_set(err, "%s: memory section: out of memory for %" PRIu64 " runs", s->path,
                           s->nruns);
    if (rc == 0)
        rc = read_at(s, raw, s->nruns * SNAP_RUN_SIZE, m->offset + SNAP_MEM_HDR_SIZE,
                     "the memory index", err);
    if (rc == 0) {
        uint32_t crc = tidal_crc32c(0, h, SNAP_MEM_INDEX_CRC);
        crc = tidal_crc32c(crc, raw, s->nruns * SNAP_RUN_SIZE);
        uint32_t stored = get32(h + SNAP_MEM_INDEX_CRC);
        if (crc != stored)
            rc = tidal_err_set(err,
                               "%s: memory section: index checksum mismatch (stored 0x%08x, "
                               "computed 0x%08x)",
                               s->path, stored, crc);
    }
    for (uint64_t i = 0; rc == 0 && i < s->nruns; i++) {
        const uint8_t *r = raw + i * SNAP_RUN_SIZE;
        s->runs[i] = (struct run){.first = get64(r + SNAP_RUN_FIRST),
                                  .count = get64(r + SNAP_RUN_COUNT),
                                  .file_offset = get64(r + SNAP_RUN_OFFSET)};
    }
    free(raw);
    return rc;
}

/* Where the page data lies: page-aligned, right after the index, filling the section. */
static int check_data_area(struct tidal_snap *s, const uint8_t *h, struct tidal_err *err)
{
    const struct section *m = &s->mem;
    uint64_t index_end = m->offset + SNAP_MEM_HDR_SIZE + s->nruns * SNAP_RUN_SIZE;
    uint64_t end = m->offset + m->size;
    uint32_t page = get32(h + SNAP_MEM_PAGE_SIZE);
    s->data_offset = get64(h + SNAP_MEM_DATA_OFFSET);
    s->stored_pages = get64(h + SNAP_MEM_STORED);
    if (page != SNAP_PAGE)
        return tidal_err_set(err, "%s: memory section: page size %u, expected %u", s->path, page,
                             SNAP_PAGE);
    if (s->data_offset != align_up(index_end, SNAP_PAGE) || s->data_offset > end)
        return tidal_err_set(err,
                             "%s: memory section: page data offset %" PRIu64 ", expected %" PRIu64
                             " (the index end rounded up to a page)",
                             s->path, s->data_offset, align_up(index_end, SNAP_PAGE));
    if (s->stored_pages > s->info.mem_size / SNAP_PAGE ||
        s->stored_pages != (end - s->data_offset) / SNAP_PAGE || (end - s->data_offset) % SNAP_PAGE)
        return tidal_err_set(err,
                             "%s: memory section: %" PRIu64 " stored pages declared, the data "
                             "area holds %" PRIu64 " bytes and memory is %" PRIu64 " pages",
                             s->path, s->stored_pages, end - s->data_offset,
                             s->info.mem_size / SNAP_PAGE);
    return 0;
}

/* Runs sorted, disjoint, inside guest memory, their data packed in order. */
static int check_runs(struct tidal_snap *s, struct tidal_err *err)
{
    uint64_t pages = s->info.mem_size / SNAP_PAGE, next_page = 0, next_off = s->data_offset;
    for (uint64_t i = 0; i < s->nruns; i++) {
        const struct run *r = &s->runs[i];
        if (r->count == 0 || r->first < next_page || r->first > pages ||
            r->count > pages - r->first)
            return tidal_err_set(err,
                                 "%s: memory section: run %" PRIu64 " (pages %" PRIu64 " + %" PRIu64
                                 ") is empty, unsorted, overlapping or beyond "
                                 "the %" PRIu64 " pages of memory",
                                 s->path, i, r->first, r->count, pages);
        if (r->file_offset != next_off)
            return tidal_err_set(err,
                                 "%s: memory section: run %" PRIu64 " at file offset %" PRIu64
                                 ", expected %" PRIu64,
                                 s->path, i, r->file_offset, next_off);
        next_page = r->first + r->count;
        next_off += r->count * SNAP_PAGE;
    }
    if ((next_off - s->data_offset) / SNAP_PAGE != s->stored_pages)
        return tidal_err_set(
            err, "%s: memory section: runs hold %" PRIu64 " pages, the index declares %" PRIu64,
            s->path, (next_off - s->data_offset) / SNAP_PAGE, s->stored_pages);
    return 0;
}

static int load_memory(struct tidal_snap *s, const struct section *sec, struct tidal_err *err)
{
    s->mem = *sec;
    if (sec->size < SNAP_MEM_HDR_SIZE)
        return tidal_err_set(err,
                             "%s: memory section: %" PRIu64 " bytes, its index header alone is %u",
                             s->path, sec->size, SNAP_MEM_HDR_SIZE);
    uint8_t h[SNAP_MEM_HDR_SIZE];
    if (read_at(s, h, SNAP_MEM_HDR_SIZE, sec->offset, "the memory index", err) < 0 ||
        read_index(s, h, err) < 0 || check_data_area(s, h, err) < 0)
        return -1;
    return check_runs(s, err);
}

static int validate(struct tidal_snap *s, struct tidal_err *err)
{
    uint32_t n = 0, table_crc = 0;
    struct section sec[SNAP_MAX_SECTIONS];
    if (open_file(s, err) < 0 || read_header(s, &n, &table_crc, err) < 0 ||
        read_table(s, n, table_crc, sec, err) < 0 || check_entries(s, sec, n, err) < 0 ||
        check_tiling(s, sec, n, err) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        int rc = sec[i].type == TIDAL_SNAP_MEMORY ? load_memory(s, &sec[i], err)
                                                  : load_blob(s, &sec[i], err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int tidal_snap_open(const char *path, struct tidal_snap **out, struct tidal_err *err)
{
    *out = NULL;
    struct tidal_snap *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return tidal_err_set(err, "%s: out of memory", path);
    }
    s->fd = -1;
    if (!(s->image = calloc(1, sizeof(*s->image)))) {
        free(s->path);
        free(s);
        return tidal_err_set(err, "%s: out of memory", path);
    }
    pthread_mutex_init(&s->image->lock, NULL);
    s->image->fd = -1;
    if (validate(s, err) < 0) {
        tidal_snap_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int check_memory_crc(const struct tidal_snap *s, struct tidal_err *err)
{
    /* pread into a small buffer rather than mmap: a file truncated behind our back is
     * then an error message, not a SIGBUS. */
    uint8_t buf[64 * 1024];
    uint32_t crc = 0;
    for (uint64_t off = 0; off < s->mem.size; off += sizeof(buf)) {
        uint64_t n = s->mem.size - off < sizeof(buf) ? s->mem.size - off : sizeof(buf);
        if (read_at(s, buf, n, s->mem.offset + off, "the memory section", err) < 0)
            return -1;
        crc = tidal_crc32c(crc, buf, n);
    }
    if (crc != s->mem.crc)
        return tidal_err_set(err,
                             "%s: memory section: checksum mismatch (stored 0x%08x, computed "
                             "0x%08x): the page data is damaged",
                             s->path, s->mem.crc, crc);
    return 0;
}

/* Remembered per opened file: clones of one template pay for the check once. */
int tidal_snap_verify_memory(const struct tidal_snap *s, struct tidal_err *err)
{
    struct memory_image *im = s->image;
    pthread_mutex_lock(&im->lock);
    int rc = im->verified ? 0 : check_memory_crc(s, err);
    if (rc == 0)
        im->verified = true;
    pthread_mutex_unlock(&im->lock);
    return rc;
}

void tidal_snap_close(struct tidal_snap *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    for (int i = 0; i < 2; i++)
        free(s->blobs[i].data);
    if (s->image->fd >= 0)
        close(s->image->fd); /* mappings of the image keep it alive */
    pthread_mutex_destroy(&s->image->lock);
    free(s->image);
    free(s->runs);
    free(s->path);
    free(s);
}

const struct tidal_snap_header_info *tidal_snap_info(const struct tidal_snap *s)
{
    return &s->info;
}

const void *tidal_snap_blob(const struct tidal_snap *s, uint32_t type, uint64_t *size)
{
    if (!is_blob_type(type) || !s->blobs[type - TIDAL_SNAP_VCPU].present)
        return NULL;
    if (size)
        *size = s->blobs[type - TIDAL_SNAP_VCPU].size;
    return s->blobs[type - TIDAL_SNAP_VCPU].data;
}

uint64_t tidal_snap_stored_pages(const struct tidal_snap *s)
{
    return s->stored_pages;
}

bool tidal_snap_is_diff(const struct tidal_snap *s)
{
    return s->flags & SNAP_FLAG_DIFF;
}

/* Reads run i of s into its place in guest memory at base. */
static int read_run(const struct tidal_snap *s, uint8_t *base, uint64_t i, struct tidal_err *err)
{
    const struct run *r = &s->runs[i];
    if (pread_full(s->fd, base + r->first * SNAP_PAGE, r->count * SNAP_PAGE, r->file_offset) < 0)
        return tidal_err_set(err, "%s: memory section: reading run %" PRIu64 ": %s", s->path, i,
                             strerror(errno));
    return 0;
}

/* Keeps the MAX_ZERO_RANGES largest zero ranges of at least ZERO_RANGE_MIN, largest
 * first. */
static void note_zero_range(struct memory_image *im, uint64_t first, uint64_t count)
{
    if (count * SNAP_PAGE < ZERO_RANGE_MIN ||
        (im->nzero == MAX_ZERO_RANGES && im->zero[MAX_ZERO_RANGES - 1].count >= count))
        return;
    unsigned i = im->nzero < MAX_ZERO_RANGES ? im->nzero++ : MAX_ZERO_RANGES - 1;
    for (; i > 0 && im->zero[i - 1].count < count; i--)
        im->zero[i] = im->zero[i - 1];
    im->zero[i] = (struct page_range){first, count};
}

static void find_zero_ranges(const struct tidal_snap *s, struct memory_image *im)
{
    uint64_t next = 0;
    for (uint64_t i = 0; i < s->nruns; i++) {
        note_zero_range(im, next, s->runs[i].first - next);
        next = s->runs[i].first + s->runs[i].count;
    }
    note_zero_range(im, next, s->info.mem_size / SNAP_PAGE - next);
}

static int build_image(const struct tidal_snap *s, struct memory_image *im, struct tidal_err *err)
{
    uint64_t size = s->info.mem_size;
    char why[300];
    int fd = memfd_create("tidal-snapshot", MFD_CLOEXEC);
    if (fd < 0)
        return tidal_err_set(err, "%s: memory file for the guest memory image: %s", s->path,
                             tidal_describe_errno(errno, why, sizeof(why)));
    uint8_t *img = MAP_FAILED;
    int rc = 0;
    if (ftruncate(fd, (off_t)size) < 0 ||
        (img = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        rc = tidal_err_set(err, "%s: a %" PRIu64 "-byte guest memory image: %s", s->path, size,
                           tidal_describe_errno(errno, why, sizeof(why)));
    for (uint64_t i = 0; rc == 0 && i < s->nruns; i++)
        rc = read_run(s, img, i, err);
    if (img != MAP_FAILED)
        munmap(img, size);
    if (rc) {
        close(fd);
        return -1;
    }
    find_zero_ranges(s, im);
    im->fd = fd;
    return 0;
}

/* A full snapshot's memory: one private mapping of its image, anonymous memory over
 * its largest zero ranges. */
static uint8_t *map_image(const struct tidal_snap *s, struct tidal_err *err)
{
    struct memory_image *im = s->image;
    pthread_mutex_lock(&im->lock);
    int rc = im->fd < 0 ? build_image(s, im, err) : 0;
    pthread_mutex_unlock(&im->lock);
    if (rc)
        return NULL;
    uint64_t size = s->info.mem_size;
    char why[300];
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, im->fd, 0);
    if (mem == MAP_FAILED) {
        tidal_err_set(err, "%s: mapping %" PRIu64 " bytes of guest memory: %s", s->path, size,
                      tidal_describe_errno(errno, why, sizeof(why)));
        return NULL;
    }
    for (unsigned i = 0; i < im->nzero; i++) {
        uint8_t *at = mem + im->zero[i].first * SNAP_PAGE;
        uint64_t len = im->zero[i].count * SNAP_PAGE;
        if (mmap(at, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
            tidal_err_set(err,
                          "%s: anonymous memory for %" PRIu64 " zero bytes of guest memory: %s",
                          s->path, len, tidal_describe_errno(errno, why, sizeof(why)));
            munmap(mem, size);
            return NULL;
        }
    }
    return mem;
}

uint8_t *tidal_snap_map_memory(const struct tidal_snap *s, struct tidal_err *err)
{
    if (tidal_snap_is_diff(s)) {
        tidal_err_set(err,
                      "%s: a diff snapshot cannot be mapped alone, it needs its base: use "
                      "tidal_snap_map_chain",
                      s->path);
        return NULL;
    }
    return map_image(s, err);
}

/* chain[i] (i > 0) must be a diff recorded against chain[i - 1], of the same memory size. */
static int check_link(const struct tidal_snap *base, const struct tidal_snap *d,
                      struct tidal_err *err)
{
    if (!tidal_snap_is_diff(d))
        return tidal_err_set(err, "%s: a full snapshot, not a diff: it cannot follow %s in a chain",
                             d->path, base->path);
    if (d->base_crc != base->header_crc || d->base_size != base->file_size)
        return tidal_err_set(err,
                             "%s: not a diff of %s: it records a base with header checksum "
                             "0x%08x and %" PRIu64 " bytes, %s has 0x%08x and %" PRIu64,
                             d->path, base->path, d->base_crc, d->base_size, base->path,
                             base->header_crc, base->file_size);
    if (d->info.mem_size != base->info.mem_size)
        return tidal_err_set(err, "%s: %" PRIu64 " bytes of memory, its base %s has %" PRIu64,
                             d->path, d->info.mem_size, base->path, base->info.mem_size);
    return 0;
}

int tidal_snap_check_chain(const struct tidal_snap *const *chain, unsigned n, struct tidal_err *err)
{
    if (!chain || n == 0)
        return tidal_err_set(err, "an empty snapshot chain: nothing to map");
    for (unsigned i = 0; i < n; i++)
        if (!chain[i])
            return tidal_err_set(err, "snapshot chain: entry %u of %u is missing", i, n);
    if (tidal_snap_is_diff(chain[0]))
        return tidal_err_set(err,
                             "%s: a diff snapshot cannot start a chain: the chain starts with "
                             "the full snapshot it was taken from",
                             chain[0]->path);
    for (unsigned i = 1; i < n; i++)
        if (check_link(chain[i - 1], chain[i], err) < 0)
            return -1;
    return 0;
}

uint8_t *tidal_snap_map_chain(const struct tidal_snap *const *chain, unsigned n,
                              struct tidal_err *err)
{
    if (tidal_snap_check_chain(chain, n, err))
        return NULL;
    /* A chain is restored once (a suspended guest resuming), and its diffs hold what
     * changed, few pages: they are read over the base's mapping, adding no VMA. */
    uint8_t *mem = map_image(chain[0], err);
    for (unsigned k = 1; mem && k < n; k++) {
        for (uint64_t i = 0; i < chain[k]->nruns; i++) {
            if (read_run(chain[k], mem, i, err) < 0) {
                munmap(mem, chain[0]->info.mem_size);
                return NULL;
            }
        }
    }
    return mem;
}

void tidal_snap_unmap_memory(const struct tidal_snap *s, uint8_t *mem)
{
    if (mem)
        munmap(mem, s->info.mem_size);
}

/* The target's reading of a migration stream: every field is the peer's word, so each
 * is checked before it is used, and a refusal names the record, the field and the
 * stream offset. Pages go straight into the memory the VM will be built around. */
#include "format.h"
#include "migrate_wire.h"
#include "tidal/checksum.h"
#include "tidal/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BAD TIDAL_CREATE_BAD_INPUT

/* The magic as text a person can read in a message, whatever its bytes are. */
static void printable(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[n] = 0;
}

static int check_header(const uint8_t *h, struct mig_incoming *in, struct tidal_err *err)
{
    if (memcmp(h + MIG_HDR_MAGIC, MIG_MAGIC, MIG_MAGIC_LEN)) {
        char magic[MIG_MAGIC_LEN + 1];
        printable(h + MIG_HDR_MAGIC, MIG_MAGIC_LEN, magic);
        tidal_err_set(err, "not a Tidal migration stream: header magic \"%s\" (expected \"%s\")",
                      magic, MIG_MAGIC);
        return BAD;
    }
    uint32_t version = get32(h + MIG_HDR_VERSION);
    if (version != TIDAL_MIGRATE_VERSION) {
        tidal_err_set(err, "migration header: stream version %u, this Tidal speaks version %d",
                      version, TIDAL_MIGRATE_VERSION);
        return BAD;
    }
    uint32_t crc = get32(h + MIG_HDR_CRC), want = tidal_crc32c(0, h, MIG_HDR_CRC);
    if (crc != want) {
        tidal_err_set(err, "migration header: checksum 0x%08x, its bytes give 0x%08x (damaged)",
                      crc, want);
        return BAD;
    }
    uint32_t page = get32(h + MIG_HDR_PAGE_SIZE), flags = get32(h + MIG_HDR_FLAGS);
    uint32_t reserved = get32(h + MIG_HDR_RESERVED);
    if (page != MIG_PAGE || flags || reserved) {
        tidal_err_set(err, "migration header: %s %u (expected %u)",
                      page != MIG_PAGE ? "page size"
                      : flags          ? "flags"
                                       : "reserved field",
                      page != MIG_PAGE ? page
                      : flags          ? flags
                                       : reserved,
                      page != MIG_PAGE ? MIG_PAGE : 0);
        return BAD;
    }
    in->mem_size = get64(h + MIG_HDR_MEM_SIZE);
    if (in->mem_size < TIDAL_MEM_MIN || in->mem_size > TIDAL_MEM_MAX || in->mem_size % MIG_PAGE) {
        tidal_err_set(err,
                      "migration header: memory size %llu bytes (expected a multiple of 4096 "
                      "from %llu to %llu)",
                      (unsigned long long)in->mem_size, (unsigned long long)TIDAL_MEM_MIN,
                      (unsigned long long)TIDAL_MEM_MAX);
        return BAD;
    }
    in->pages = in->mem_size / MIG_PAGE;
    in->abi_version = get32(h + MIG_HDR_ABI);
    if (in->abi_version != TIDAL_ABI_VERSION) {
        tidal_err_set(err, "migration header: the guest speaks guest ABI v%u, this monitor v%d",
                      in->abi_version, TIDAL_ABI_VERSION);
        return BAD;
    }
    const uint8_t *f = h + MIG_HDR_CPU_FEATURES;
    in->features = (struct tidal_cpu_features){get32(f), get32(f + 4), get32(f + 8), get32(f + 12)};
    uint32_t vcpu = get32(h + MIG_HDR_VCPU_SIZE), state = get32(h + MIG_HDR_STATE_SIZE);
    if (vcpu != sizeof(struct tidal_vcpu_state) || state != sizeof(struct tidal_vm_state)) {
        tidal_err_set(err,
                      "migration header: vCPU state of %u bytes and VM state of %u, this Tidal "
                      "keeps %zu and %zu: the source runs an incompatible build",
                      vcpu, state, sizeof(struct tidal_vcpu_state), sizeof(struct tidal_vm_state));
        return BAD;
    }
    return 0;
}

static int map_memory(struct mig_incoming *in, struct tidal_err *err)
{
    /* Pages that never arrive (zero, or never touched) are never touched here either. */
    void *mem = mmap(NULL, in->mem_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        tidal_err_set(err, "guest memory for the migrated VM: mmap of %llu bytes failed",
                      (unsigned long long)in->mem_size);
        return TIDAL_CREATE_SYSTEM;
    }
    in->mem = mem;
    if (!(in->filled = calloc((in->pages + 63) / 64, sizeof(uint64_t)))) {
        tidal_err_set(err, "out of memory for the migrated VM's page map");
        return TIDAL_CREATE_SYSTEM;
    }
    return 0;
}

/* Where the parse is, for messages, the order rules and the stats. */
struct cursor {
    uint64_t round;                 /* the round the next pages belong to */
    uint64_t round_start;           /* stream offset where it began */
    uint64_t round_t0;              /* and when */
    struct tidal_migrate_round cur; /* what it has brought so far */
    bool full_copy_done;            /* round 0 ended */
    bool state_begun;               /* a state record came: only state and the end may follow */
};

/* Closes the current round's figures into *out (the pages since the last round end
 * are the final, stop-and-copy ones when the end record comes). */
static void close_round(struct cursor *c, uint64_t end, struct tidal_migrate_round *out)
{
    uint64_t now = tidal_now_ns();
    c->cur.bytes = end - c->round_start;
    c->cur.ns = now - c->round_t0;
    if (out)
        *out = c->cur;
    c->cur = (struct tidal_migrate_round){0};
    c->round_start = end;
    c->round_t0 = now;
}

static const char *record_name(uint32_t type)
{
    static const char *const names[] = {
        [MIG_PAGES] = "pages",     [MIG_ZEROS] = "zero-run",    [MIG_ROUND_END] = "round-end",
        [MIG_VCPU] = "vCPU-state", [MIG_VM_STATE] = "VM-state", [MIG_END] = "end"};
    return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}

static int page_run(struct mig_reader *r, struct mig_incoming *in, uint32_t type, uint32_t count,
                    uint64_t first, uint64_t at, struct cursor *c, struct tidal_err *err)
{
    const char *name = record_name(type);
    uint32_t max = type == MIG_PAGES ? MIG_MAX_RUN : UINT32_MAX;
    if (count == 0 || count > max) {
        tidal_err_set(err, "migration stream: %s record at byte %llu: %u pages (expected 1 to %u)",
                      name, (unsigned long long)at, count, max);
        return BAD;
    }
    if (first >= in->pages || count > in->pages - first) {
        tidal_err_set(err,
                      "migration stream: %s record at byte %llu: %u pages from page %llu on lie "
                      "past the end of guest memory (%llu pages)",
                      name, (unsigned long long)at, count, (unsigned long long)first,
                      (unsigned long long)in->pages);
        return BAD;
    }
    if (c->state_begun) {
        tidal_err_set(err, "migration stream: %s record at byte %llu comes after the VM state",
                      name, (unsigned long long)at);
        return BAD;
    }
    if (type == MIG_PAGES) {
        char what[96];
        snprintf(what, sizeof(what), "the data of pages %llu..%llu", (unsigned long long)first,
                 (unsigned long long)(first + count - 1));
        if (mig_read(r, in->mem + first * MIG_PAGE, (size_t)count * MIG_PAGE, what, err))
            return BAD;
    }
    for (uint64_t p = first; p < first + count; p++) {
        uint64_t bit = 1ull << (p % 64);
        if (type == MIG_PAGES)
            in->filled[p / 64] |= bit;
        else if (in->filled[p / 64] & bit) {
            memset(in->mem + p * MIG_PAGE, 0, MIG_PAGE);
            in->filled[p / 64] &= ~bit;
        }
    }
    *(type == MIG_PAGES ? &c->cur.pages : &c->cur.zero_pages) += count;
    return 0;
}

static int state_record(struct mig_reader *r, struct mig_incoming *in, uint32_t type, uint64_t size,
                        uint64_t at, struct cursor *c, struct tidal_err *err)
{
    bool vcpu = type == MIG_VCPU;
    const char *name = record_name(type);
    size_t want = vcpu ? sizeof(in->vcpu) : sizeof(in->state);
    if (!c->full_copy_done) {
        tidal_err_set(err, "migration stream: %s record at byte %llu comes before all of memory",
                      name, (unsigned long long)at);
        return BAD;
    }
    if (vcpu ? in->have_vcpu : in->have_state) {
        tidal_err_set(err, "migration stream: a second %s record at byte %llu", name,
                      (unsigned long long)at);
        return BAD;
    }
    if (size != want) {
        tidal_err_set(err, "migration stream: %s record at byte %llu: %llu bytes (expected %zu)",
                      name, (unsigned long long)at, (unsigned long long)size, want);
        return BAD;
    }
    c->state_begun = true;
    if (mig_read(r, vcpu ? (void *)&in->vcpu : (void *)&in->state, want,
                 vcpu ? "the vCPU state" : "the VM state", err))
        return BAD;
    *(vcpu ? &in->have_vcpu : &in->have_state) = true;
    if (!vcpu && in->state.mem_size != in->mem_size) {
        tidal_err_set(err,
                      "migration stream: the VM state says %llu bytes of memory, the header %llu",
                      (unsigned long long)in->state.mem_size, (unsigned long long)in->mem_size);
        return BAD;
    }
    return 0;
}

static int round_end(uint64_t number, uint64_t at, struct cursor *c,
                     const struct mig_parse_hooks *hooks, struct tidal_migrate_stats *st,
                     struct tidal_err *err)
{
    if (number != c->round || c->state_begun) {
        tidal_err_set(err,
                      "migration stream: round-end record at byte %llu ends round %llu (expected "
                      "%llu%s)",
                      (unsigned long long)at, (unsigned long long)number,
                      (unsigned long long)c->round, c->state_begun ? ", before the VM state" : "");
        return BAD;
    }
    bool kept = st && c->round < TIDAL_MIGRATE_MAX_ROUNDS;
    close_round(c, at + MIG_REC_SIZE, kept ? &st->round[c->round] : NULL);
    if (kept)
        st->rounds = (unsigned)c->round + 1;
    c->round++;
    if (!c->full_copy_done) {
        c->full_copy_done = true;
        if (hooks && hooks->full_copy)
            return hooks->full_copy(hooks->ctx, err);
    }
    return 0;
}

static int end_record(const struct mig_incoming *in, uint64_t crc, uint32_t crc_before, uint64_t at,
                      const struct cursor *c, struct tidal_err *err)
{
    if (!c->full_copy_done || !in->have_vcpu || !in->have_state) {
        tidal_err_set(err, "migration stream: end record at byte %llu before %s",
                      (unsigned long long)at,
                      !c->full_copy_done ? "all of memory"
                      : !in->have_vcpu   ? "the vCPU state"
                                         : "the VM state");
        return BAD;
    }
    if (crc != crc_before) {
        tidal_err_set(err,
                      "migration stream: end record at byte %llu: checksum 0x%llx, the stream's "
                      "bytes give 0x%08x (damaged in transit)",
                      (unsigned long long)at, (unsigned long long)crc, crc_before);
        return BAD;
    }
    return 0;
}

int mig_parse(struct mig_reader *r, struct mig_incoming *in, const struct mig_parse_hooks *hooks,
              struct tidal_migrate_stats *st, struct tidal_err *err)
{
    uint8_t h[MIG_HDR_SIZE];
    if (mig_read(r, h, sizeof(h), "the header", err))
        return BAD;
    if (st)
        st->t_header = tidal_now_ns();
    int rc = check_header(h, in, err);
    if (!rc && hooks && hooks->header)
        rc = hooks->header(hooks->ctx, in, err);
    if (!rc)
        rc = map_memory(in, err);
    if (rc)
        return rc;
    struct cursor c = {.round_t0 = tidal_now_ns()}; /* round 0 counts the header too */
    for (;;) {
        uint64_t at = r->offset;
        uint32_t crc_before = r->crc;
        uint8_t rec[MIG_REC_SIZE];
        if (mig_read(r, rec, sizeof(rec), "a record header", err))
            return BAD;
        uint32_t type = get32(rec + MIG_REC_TYPE), count = get32(rec + MIG_REC_COUNT);
        uint64_t arg = get64(rec + MIG_REC_ARG);
        if (type != MIG_PAGES && type != MIG_ZEROS && count) {
            tidal_err_set(err, "migration stream: %s record at byte %llu: count %u (expected 0)",
                          record_name(type), (unsigned long long)at, count);
            return BAD;
        }
        switch (type) {
        case MIG_PAGES:
        case MIG_ZEROS:
            rc = page_run(r, in, type, count, arg, at, &c, err);
            break;
        case MIG_ROUND_END:
            rc = round_end(arg, at, &c, hooks, st, err);
            break;
        case MIG_VCPU:
        case MIG_VM_STATE:
            rc = state_record(r, in, type, arg, at, &c, err);
            break;
        case MIG_END:
            rc = end_record(in, arg, crc_before, at, &c, err);
            if (!rc && st) {
                close_round(&c, r->offset, &st->final);
                st->bytes = r->offset;
                st->crc = r->crc;
                st->t_end = tidal_now_ns();
            }
            return rc;
        default:
            tidal_err_set(err, "migration stream: unknown record type %u at byte %llu", type,
                          (unsigned long long)at);
            return BAD;
        }
        if (rc)
            return rc;
    }
}

void mig_incoming_free(struct mig_incoming *in)
{
    if (in->mem)
        munmap(in->mem, in->mem_size);
    free(in->filled);
    in->mem = NULL;
    in->filled = NULL;
}

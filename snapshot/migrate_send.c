/* The source's side of a migration (tidal/migrate.h): memory in runs of pages while
 * the guest runs, the pages it dirtied meanwhile round after round, then, paused, the
 * last ones and its state. */
#include "format.h"
#include "migrate_wire.h"
#include "tidal/checksum.h"

#include <stdlib.h>
#include <string.h>

/* One pass over memory (round 0, a round, or the final pages): contiguous pages are
 * gathered into one record, zero pages into zero runs. */
struct sender {
    const uint8_t *mem;
    uint64_t pages;
    struct mig_writer w;
    /* Each page is copied here once, from guest memory the guest may be writing: what
     * is checked for zeros and what the checksum covers is then what is sent. */
    uint8_t *stage;
    uint64_t run_first;
    uint32_t run_count; /* 0: no run pending */
    bool run_zero;
    struct tidal_migrate_round *figures;
    uint64_t t0;
};

static int sender_open(struct sender *s, struct tidal_vm *vm, int fd,
                       const struct tidal_migrate_stats *st, struct tidal_migrate_round *figures,
                       struct tidal_err *err)
{
    uint64_t size;
    *s = (struct sender){
        .mem = tidal_vm_memory(vm, &size), .figures = figures, .t0 = tidal_now_ns()};
    s->pages = size / MIG_PAGE;
    *figures = (struct tidal_migrate_round){0};
    if (mig_writer_open(&s->w, fd, st->bytes, st->crc, err))
        return -1;
    if (!(s->stage = malloc((size_t)MIG_MAX_RUN * MIG_PAGE))) {
        mig_writer_close(&s->w);
        return tidal_err_set(err, "out of memory for the migration's page buffer");
    }
    return 0;
}

/* Flushes the stream and closes the pass's figures into st. */
static int sender_close(struct sender *s, struct tidal_migrate_stats *st, int status,
                        struct tidal_err *err)
{
    if (!status)
        status = mig_flush(&s->w, err);
    s->figures->bytes = s->w.bytes - st->bytes;
    s->figures->ns = tidal_now_ns() - s->t0;
    st->bytes = s->w.bytes;
    st->crc = s->w.crc;
    mig_writer_close(&s->w);
    free(s->stage);
    return status;
}

static int flush_run(struct sender *s, struct tidal_err *err)
{
    if (!s->run_count)
        return 0;
    uint32_t n = s->run_count;
    s->run_count = 0;
    if (mig_write_record(&s->w, s->run_zero ? MIG_ZEROS : MIG_PAGES, n, s->run_first, err) ||
        (!s->run_zero && mig_write(&s->w, s->stage, (size_t)n * MIG_PAGE, err)))
        return -1;
    *(s->run_zero ? &s->figures->zero_pages : &s->figures->pages) += n;
    return 0;
}

static bool all_zero(const uint8_t *page)
{
    const uint64_t *w = (const uint64_t *)page;
    uint64_t any = 0;
    for (unsigned i = 0; i < MIG_PAGE / 8; i++)
        any |= w[i];
    return any == 0;
}

static int send_page(struct sender *s, uint64_t p, struct tidal_err *err)
{
    bool follows = s->run_count && p == s->run_first + s->run_count;
    /* The page's slot: after the data run it may extend, else the first (a data run
     * that cannot take it goes out before the slot is reused). */
    uint32_t slot = 0;
    if (s->run_count && !s->run_zero) {
        if (follows && s->run_count < MIG_MAX_RUN)
            slot = s->run_count;
        else if (flush_run(s, err))
            return -1;
    }
    uint8_t *copy = s->stage + (size_t)slot * MIG_PAGE;
    memcpy(copy, s->mem + p * MIG_PAGE, MIG_PAGE);
    bool zero = all_zero(copy);
    follows = s->run_count && p == s->run_first + s->run_count;
    if (s->run_count && (s->run_zero != zero || !follows) && flush_run(s, err))
        return -1;
    if (!s->run_count) {
        s->run_first = p;
        s->run_zero = zero;
    }
    s->run_count++; /* guest memory has fewer than 2^32 pages: a zero run never overflows */
    return 0;
}

/* Sends the pages set in bitmap; *sent: how many. */
static int send_pages(struct sender *s, const uint64_t *bitmap, uint64_t *sent,
                      struct tidal_err *err)
{
    *sent = 0;
    for (uint64_t w = 0; w < (s->pages + 63) / 64; w++)
        for (uint64_t bits = bitmap[w]; bits; bits &= bits - 1) {
            uint64_t p = w * 64 + (unsigned)__builtin_ctzll(bits);
            if (p >= s->pages)
                break;
            if (send_page(s, p, err))
                return -1;
            ++*sent;
        }
    return flush_run(s, err);
}

static int send_header(struct sender *s, struct tidal_err *err)
{
    struct tidal_cpu_features f;
    if (tidal_kvm_cpu_features(&f, err)) /* what this host offered the guest */
        return -1;
    uint8_t h[MIG_HDR_SIZE] = {0};
    memcpy(h + MIG_HDR_MAGIC, MIG_MAGIC, MIG_MAGIC_LEN);
    put32(h + MIG_HDR_VERSION, TIDAL_MIGRATE_VERSION);
    put32(h + MIG_HDR_PAGE_SIZE, MIG_PAGE);
    put64(h + MIG_HDR_MEM_SIZE, s->pages * MIG_PAGE);
    put32(h + MIG_HDR_ABI, TIDAL_ABI_VERSION);
    const uint32_t words[4] = {f.leaf1_ecx, f.leaf1_edx, f.leaf7_ebx, f.leaf7_ecx};
    for (int i = 0; i < 4; i++)
        put32(h + MIG_HDR_CPU_FEATURES + 4 * i, words[i]);
    put32(h + MIG_HDR_VCPU_SIZE, sizeof(struct tidal_vcpu_state));
    put32(h + MIG_HDR_STATE_SIZE, sizeof(struct tidal_vm_state));
    put32(h + MIG_HDR_CRC, tidal_crc32c(0, h, MIG_HDR_CRC));
    return mig_write(&s->w, h, sizeof(h), err);
}

static int send_memory(struct sender *s, struct tidal_err *err)
{
    for (uint64_t p = 0; p < s->pages; p++)
        if (send_page(s, p, err))
            return -1;
    return flush_run(s, err);
}

void tidal_migrate_cancel(struct tidal_vm *vm)
{
    tidal_vm_dirty_stop(vm, TIDAL_DIRTY_MIGRATION);
}

int tidal_migrate_begin(struct tidal_vm *vm, int fd, struct tidal_migrate_stats *st,
                        struct tidal_err *err)
{
    *st = (struct tidal_migrate_stats){.t_begin = tidal_now_ns()};
    /* Tracking starts before the first page is read: a page written after its copy
     * is then dirty in round 1. */
    if (tidal_vm_dirty_start(vm, TIDAL_DIRTY_MIGRATION, err))
        return -1;
    struct sender s;
    int r = sender_open(&s, vm, fd, st, &st->round[0], err);
    if (!r) {
        r = send_header(&s, err) || send_memory(&s, err) ||
                    mig_write_record(&s.w, MIG_ROUND_END, 0, 0, err)
                ? -1
                : 0;
        r = sender_close(&s, st, r, err);
    }
    if (r) {
        tidal_migrate_cancel(vm);
        return -1;
    }
    st->rounds = 1;
    return 0;
}

int tidal_migrate_round(struct tidal_vm *vm, int fd, uint64_t *dirty_pages,
                        struct tidal_migrate_stats *st, struct tidal_err *err)
{
    *dirty_pages = 0;
    if (st->rounds == 0)
        return tidal_err_set(err, "tidal_migrate_round before tidal_migrate_begin");
    if (st->rounds >= TIDAL_MIGRATE_MAX_ROUNDS)
        return tidal_err_set(err, "%d pre-copy rounds sent already: finish the migration",
                             TIDAL_MIGRATE_MAX_ROUNDS);
    uint64_t *dirty = calloc(tidal_vm_dirty_words(vm), sizeof(uint64_t));
    struct sender s;
    int r = !dirty ? tidal_err_set(err, "out of memory for the dirty bitmap")
                   : sender_open(&s, vm, fd, st, &st->round[st->rounds], err);
    if (!r) {
        st->dirty_log_reads++;
        r = tidal_vm_dirty_take(vm, TIDAL_DIRTY_MIGRATION, dirty, err) ||
                    send_pages(&s, dirty, dirty_pages, err) ||
                    mig_write_record(&s.w, MIG_ROUND_END, 0, st->rounds, err)
                ? -1
                : 0;
        r = sender_close(&s, st, r, err);
    }
    free(dirty);
    if (r) {
        tidal_migrate_cancel(vm);
        return -1;
    }
    st->rounds++;
    return 0;
}

int tidal_migrate_precopy(struct tidal_vm *vm, int fd, const struct tidal_migrate_policy *policy,
                          struct tidal_migrate_stats *st, struct tidal_err *err)
{
    uint64_t small = policy && policy->max_dirty_pages ? policy->max_dirty_pages
                                                       : TIDAL_MIGRATE_DEFAULT_DIRTY_PAGES;
    unsigned rounds =
        policy && policy->max_rounds ? policy->max_rounds : TIDAL_MIGRATE_DEFAULT_ROUNDS;
    if (rounds > TIDAL_MIGRATE_MAX_ROUNDS - 1)
        rounds = TIDAL_MIGRATE_MAX_ROUNDS - 1;
    if (tidal_migrate_begin(vm, fd, st, err))
        return -1;
    for (unsigned i = 0; i < rounds && !st->converged; i++) {
        uint64_t dirty;
        if (tidal_migrate_round(vm, fd, &dirty, st, err))
            return -1;
        st->converged = dirty <= small;
    }
    return 0;
}

/* The last pass, the guest paused: its state (captured first: that drains the console
 * ring, which writes guest memory), the pages dirtied since the last round, the end. */
static int send_final(struct tidal_vm *vm, int fd, struct tidal_migrate_stats *st,
                      struct tidal_err *err)
{
    struct tidal_vcpu_state *vcpu = malloc(sizeof(*vcpu));
    struct tidal_vm_state state;
    uint64_t *dirty = calloc(tidal_vm_dirty_words(vm), sizeof(uint64_t));
    struct sender s;
    uint64_t sent;
    int r = !vcpu || !dirty ? tidal_err_set(err, "out of memory for the VM's state")
            : tidal_vm_save_state(vm, vcpu, &state, err)
                ? -1
                : sender_open(&s, vm, fd, st, &st->final, err);
    if (!r) {
        st->dirty_log_reads++;
        r = tidal_vm_dirty_take(vm, TIDAL_DIRTY_MIGRATION, dirty, err) ||
                    send_pages(&s, dirty, &sent, err) ||
                    mig_write_record(&s.w, MIG_VCPU, 0, sizeof(*vcpu), err) ||
                    mig_write(&s.w, vcpu, sizeof(*vcpu), err) ||
                    mig_write_record(&s.w, MIG_VM_STATE, 0, sizeof(state), err) ||
                    mig_write(&s.w, &state, sizeof(state), err) ||
                    mig_write_record(&s.w, MIG_END, 0, s.w.crc, err)
                ? -1
                : 0;
        r = sender_close(&s, st, r, err);
    }
    free(dirty);
    free(vcpu);
    return r;
}

enum tidal_migrate_outcome tidal_migrate_finish(struct tidal_vm *vm, int fd,
                                                struct tidal_migrate_stats *st,
                                                struct tidal_err *err)
{
    st->t_finish = tidal_now_ns();
    enum tidal_migrate_outcome out = TIDAL_MIGRATE_RESUME_HERE;
    if (st->rounds == 0) {
        tidal_err_set(err, "tidal_migrate_finish before tidal_migrate_begin");
    } else if (send_final(vm, fd, st, err) == 0) {
        st->t_sent = tidal_now_ns();
        /* From here the target holds everything it needs to run the guest. */
        bool refused;
        if (mig_read_ack(fd, &refused, err) == 0) {
            st->t_acked = tidal_now_ns();
            out = TIDAL_MIGRATE_DONE;
        } else if (!refused) {
            out = TIDAL_MIGRATE_IN_DOUBT;
        }
    }
    tidal_migrate_cancel(vm);
    return out;
}

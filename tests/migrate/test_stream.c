/* A target fed streams that are truncated, foreign, out of bounds or damaged refuses
 * each with a message naming what was wrong, sends that refusal back, and never
 * builds a VM from it. */
#include "../../snapshot/format.h"
#include "../../snapshot/migrate_wire.h"
#include "helpers.h"
#include "tidal/checksum.h"
#include "tidal/layout.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(stream, .timeout = 60);

#define MEM (4 * MIB) /* 1024 pages */

/* A stream under construction. */
struct stream {
    uint8_t *data;
    size_t len;
};

static void add(struct stream *s, const void *p, size_t n)
{
    s->data = realloc(s->data, s->len + n);
    cr_assert_not_null(s->data);
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

static void header(struct stream *s, uint64_t mem_size)
{
    uint8_t h[MIG_HDR_SIZE] = {0};
    memcpy(h + MIG_HDR_MAGIC, MIG_MAGIC, MIG_MAGIC_LEN);
    put32(h + MIG_HDR_VERSION, TIDAL_MIGRATE_VERSION);
    put32(h + MIG_HDR_PAGE_SIZE, MIG_PAGE);
    put64(h + MIG_HDR_MEM_SIZE, mem_size);
    put32(h + MIG_HDR_ABI, TIDAL_ABI_VERSION); /* CPU features: none needed */
    put32(h + MIG_HDR_VCPU_SIZE, sizeof(struct tidal_vcpu_state));
    put32(h + MIG_HDR_STATE_SIZE, sizeof(struct tidal_vm_state));
    put32(h + MIG_HDR_CRC, tidal_crc32c(0, h, MIG_HDR_CRC));
    add(s, h, sizeof(h));
}

static void record(struct stream *s, uint32_t type, uint32_t count, uint64_t arg)
{
    uint8_t r[MIG_REC_SIZE];
    put32(r + MIG_REC_TYPE, type);
    put32(r + MIG_REC_COUNT, count);
    put64(r + MIG_REC_ARG, arg);
    add(s, r, sizeof(r));
}

static void page(struct stream *s, uint8_t fill)
{
    uint8_t p[MIG_PAGE];
    memset(p, fill, sizeof(p));
    add(s, p, sizeof(p));
}

/* Everything up to the end record of a stream the target accepts (but for a VM state
 * that names no guest it could build). */
static void whole(struct stream *s)
{
    header(s, MEM);
    record(s, MIG_ZEROS, 300, 0);
    record(s, MIG_PAGES, 1, 300);
    page(s, 0xab);
    record(s, MIG_ZEROS, 723, 301);
    record(s, MIG_ROUND_END, 0, 0);
    static struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state = {.mem_size = MEM};
    record(s, MIG_VCPU, 0, sizeof(vcpu));
    add(s, &vcpu, sizeof(vcpu));
    record(s, MIG_VM_STATE, 0, sizeof(state));
    add(s, &state, sizeof(state));
}

/* Feeds the stream to a target and returns its refusal, checking that it was also
 * sent back to the source. */
static char *refusal(struct stream *s)
{
    int sv[2];
    stream_pair(sv);
    cr_assert_eq(write(sv[0], s->data, s->len), (ssize_t)s->len);
    shutdown(sv[0], SHUT_WR);
    struct tidal_vm_config cfg = {.in_fd = -1, .out_fd = -1, .err_fd = -1};
    struct tidal_vm *vm = NULL;
    struct tidal_migrate_stats st;
    struct tidal_err err;
    int rc = tidal_migrate_receive(sv[1], &cfg, &vm, &st, &err);
    tidal_vm_destroy(vm);
    cr_assert_eq(rc, TIDAL_CREATE_BAD_INPUT, "accepted (rc %d): %s", rc, rc ? err.msg : "");
    bool refused;
    struct tidal_err back;
    cr_assert_neq(mig_read_ack(sv[0], &refused, &back), 0);
    cr_assert(refused, "no refusal came back: %s", back.msg);
    cr_assert(strstr(back.msg, err.msg), "sent back \"%s\", said \"%s\"", back.msg, err.msg);
    close(sv[0]);
    close(sv[1]);
    free(s->data);
    return strdup(err.msg);
}

#define REFUSED_WITH(stream, text)                                                                 \
    do {                                                                                           \
        char *msg_ = refusal(stream);                                                              \
        cr_assert(strstr(msg_, text), "refusal \"%s\" does not say \"%s\"", msg_, text);           \
        free(msg_);                                                                                \
    } while (0)

Test(stream, empty_stream)
{
    struct stream s = {.data = malloc(1)};
    REFUSED_WITH(&s, "migration stream ended at byte 0, 0 of the 64 bytes of the header read");
}

Test(stream, truncated_header)
{
    struct stream s = {0};
    header(&s, MEM);
    s.len = 10;
    REFUSED_WITH(&s, "ended at byte 10, 10 of the 64 bytes of the header read");
}

Test(stream, bad_magic)
{
    struct stream s = {0};
    header(&s, MEM);
    memcpy(s.data, "GET / HT", 8);
    REFUSED_WITH(&s, "not a Tidal migration stream: header magic \"GET / HT\"");
}

Test(stream, other_version)
{
    struct stream s = {0};
    header(&s, MEM);
    put32(s.data + MIG_HDR_VERSION, 9);
    put32(s.data + MIG_HDR_CRC, tidal_crc32c(0, s.data, MIG_HDR_CRC));
    REFUSED_WITH(&s, "stream version 9, this Tidal speaks version 1");
}

Test(stream, damaged_header)
{
    struct stream s = {0};
    header(&s, MEM);
    s.data[MIG_HDR_MEM_SIZE] ^= 1;
    REFUSED_WITH(&s, "migration header: checksum");
}

Test(stream, absurd_memory_size)
{
    struct stream s = {0};
    header(&s, 1ull << 40);
    REFUSED_WITH(&s, "memory size 1099511627776 bytes (expected a multiple of 4096");
}

Test(stream, incompatible_state_sizes)
{
    struct stream s = {0};
    header(&s, MEM);
    put32(s.data + MIG_HDR_VCPU_SIZE, 12);
    put32(s.data + MIG_HDR_CRC, tidal_crc32c(0, s.data, MIG_HDR_CRC));
    REFUSED_WITH(&s, "vCPU state of 12 bytes");
}

/* From here on the header is valid: the target asks KVM about this host's CPU. */

Test(stream, page_past_memory, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_PAGES, 1, 1024);
    page(&s, 1);
    REFUSED_WITH(&s, "pages record at byte 64: 1 pages from page 1024 on lie past the end of "
                     "guest memory (1024 pages)");
}

Test(stream, run_overflowing_memory, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_ZEROS, UINT32_MAX, UINT64_MAX - 2);
    REFUSED_WITH(&s, "zero-run record at byte 64: 4294967295 pages from page "
                     "18446744073709551613 on lie past the end");
}

Test(stream, huge_page_count, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_PAGES, UINT32_MAX, 0);
    REFUSED_WITH(&s, "pages record at byte 64: 4294967295 pages (expected 1 to 64)");
}

Test(stream, huge_state_length, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_ROUND_END, 0, 0);
    record(&s, MIG_VCPU, 0, 1ull << 40);
    REFUSED_WITH(&s, "vCPU-state record at byte 80: 1099511627776 bytes (expected");
}

Test(stream, unknown_record_type, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, 99, 0, 0);
    REFUSED_WITH(&s, "unknown record type 99 at byte 64");
}

Test(stream, truncated_page_data, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_PAGES, 2, 0);
    page(&s, 7);
    REFUSED_WITH(&s, "ended at byte 4176, 4096 of the 8192 bytes of the data of pages 0..1 read");
}

Test(stream, rounds_out_of_order, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_ROUND_END, 0, 1);
    REFUSED_WITH(&s, "round-end record at byte 64 ends round 1 (expected 0)");
}

Test(stream, state_before_memory, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_VM_STATE, 0, sizeof(struct tidal_vm_state));
    REFUSED_WITH(&s, "VM-state record at byte 64 comes before all of memory");
}

Test(stream, end_without_state, .init = require_kvm)
{
    struct stream s = {0};
    header(&s, MEM);
    record(&s, MIG_ROUND_END, 0, 0);
    record(&s, MIG_END, 0, 0);
    REFUSED_WITH(&s, "end record at byte 80 before the vCPU state");
}

Test(stream, truncated_before_the_end, .init = require_kvm)
{
    struct stream s = {0};
    whole(&s);
    REFUSED_WITH(&s, "of the 16 bytes of a record header read");
}

Test(stream, damaged_in_transit, .init = require_kvm)
{
    struct stream s = {0};
    whole(&s);
    uint32_t crc = tidal_crc32c(0, s.data, s.len);
    s.data[MIG_HDR_SIZE + 2 * MIG_REC_SIZE + 100] ^= 0x40; /* a bit of page 300 */
    record(&s, MIG_END, 0, crc);
    REFUSED_WITH(&s, "checksum");
    /* REFUSED_WITH freed it: the same stream, intact, gets past every stream check. */
    struct stream ok = {0};
    whole(&ok);
    record(&ok, MIG_END, 0, tidal_crc32c(0, ok.data, ok.len));
    char *msg = refusal(&ok);
    cr_assert(strstr(msg, "migration stream's VM state: saved guest speaks guest ABI v0"), "%s",
              msg);
    free(msg);
}

Test(stream, cpu_lacking_a_feature_is_refused_at_the_header, .init = require_kvm)
{
    struct tidal_cpu_features here, want;
    struct tidal_err err;
    cr_assert_eq(tidal_kvm_cpu_features(&here, &err), 0, "%s", err.msg);
    /* Some instruction-set extension this host does not offer, asked for by the guest. */
    uint32_t *words = &want.leaf1_ecx;
    bool found = false;
    for (int w = 0; w < 4 && !found; w++)
        for (int bit = 0; bit < 32 && !found; bit++) {
            want = here;
            words[w] |= 1u << bit;
            found = tidal_cpu_features_check(&want, &here, &err) != 0;
        }
    if (!found)
        cr_skip_test("this host offers every extension the check knows of");
    struct stream s = {0};
    header(&s, MEM);
    const uint32_t f[4] = {want.leaf1_ecx, want.leaf1_edx, want.leaf7_ebx, want.leaf7_ecx};
    for (int i = 0; i < 4; i++)
        put32(s.data + MIG_HDR_CPU_FEATURES + 4 * i, f[i]);
    put32(s.data + MIG_HDR_CRC, tidal_crc32c(0, s.data, MIG_HDR_CRC));
    REFUSED_WITH(&s, "this host's CPU lacks");
}

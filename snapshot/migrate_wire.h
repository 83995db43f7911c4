/* Private: the byte layout of the migration stream (docs/migration.md), the buffered
 * reader and writer both ends use, and the parser of a whole stream (without KVM, so
 * that it can be fuzzed). All integers are little-endian. */
#ifndef TIDAL_SNAPSHOT_MIGRATE_WIRE_H
#define TIDAL_SNAPSHOT_MIGRATE_WIRE_H

#include "tidal/migrate.h"
#include "tidal/vmstate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_MAGIC "TIDALMIG"
#define MIG_MAGIC_LEN 8
#define MIG_PAGE 4096u

/* Header: 64 bytes at the start of the stream. */
#define MIG_HDR_SIZE 64u
#define MIG_HDR_MAGIC 0         /* 8 bytes "TIDALMIG" */
#define MIG_HDR_VERSION 8       /* u32 TIDAL_MIGRATE_VERSION */
#define MIG_HDR_PAGE_SIZE 12    /* u32 4096 */
#define MIG_HDR_MEM_SIZE 16     /* u64 bytes of guest memory */
#define MIG_HDR_ABI 24          /* u32 guest ABI version */
#define MIG_HDR_FLAGS 28        /* u32 0 */
#define MIG_HDR_CPU_FEATURES 32 /* 4 x u32: CPUID.1 ECX, EDX, CPUID.7 EBX, ECX */
#define MIG_HDR_VCPU_SIZE 48    /* u32 sizeof(struct tidal_vcpu_state) */
#define MIG_HDR_STATE_SIZE 52   /* u32 sizeof(struct tidal_vm_state) */
#define MIG_HDR_RESERVED 56     /* u32 0 */
#define MIG_HDR_CRC 60          /* u32 CRC32C of bytes 0..59 */

/* Every record starts with 16 bytes: type, count, argument. */
#define MIG_REC_SIZE 16u
#define MIG_REC_TYPE 0
#define MIG_REC_COUNT 4 /* u32 */
#define MIG_REC_ARG 8   /* u64 */

enum mig_record_type {
    MIG_PAGES = 1,     /* count pages from page `arg` on, count * 4096 bytes follow */
    MIG_ZEROS = 2,     /* count pages from page `arg` on are all zero; no data */
    MIG_ROUND_END = 3, /* count 0, arg: round number (0: all of memory) */
    MIG_VCPU = 4,      /* count 0, arg: bytes of struct tidal_vcpu_state that follow */
    MIG_VM_STATE = 5,  /* count 0, arg: bytes of struct tidal_vm_state that follow */
    MIG_END = 6,       /* count 0, arg: CRC32C of every byte before this record */
};
/* Pages in one MIG_PAGES record at most (256 KiB of data). */
#define MIG_MAX_RUN 64u

/* The target's answer: u32 status, u32 message length, then the message (no NUL). */
#define MIG_ACK_SIZE 8u
enum mig_ack_status { MIG_ACK_RESUMED = 1, MIG_ACK_REFUSED = 2 };

/* ---- writer: buffered, CRC32C of everything written, the peer's refusal noticed ---- */
struct mig_writer {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    uint64_t bytes; /* written so far, buffered bytes included */
    uint32_t crc;   /* of those bytes */
};

/* Starts a writer on fd going on from `bytes` bytes with CRC32C `crc`. */
int mig_writer_open(struct mig_writer *w, int fd, uint64_t bytes, uint32_t crc,
                    struct tidal_err *err);
void mig_writer_close(struct mig_writer *w);
/* Appends n bytes; they reach fd at the latest at mig_flush. */
int mig_write(struct mig_writer *w, const void *data, size_t n, struct tidal_err *err);
/* A record header. */
int mig_write_record(struct mig_writer *w, uint32_t type, uint32_t count, uint64_t arg,
                     struct tidal_err *err);
int mig_flush(struct mig_writer *w, struct tidal_err *err);

/* ---- reader: buffered, CRC32C of everything read, errors naming the stream offset ---- */
struct mig_reader {
    int fd;
    uint8_t *buf;
    size_t len, pos, cap;
    uint64_t offset; /* bytes consumed */
    uint32_t crc;    /* of those bytes */
};

int mig_reader_open(struct mig_reader *r, int fd, struct tidal_err *err);
void mig_reader_close(struct mig_reader *r);
/* Reads exactly n bytes into dst; `what` names them for the error (a truncated stream
 * says where it ended and what it was reading). */
int mig_read(struct mig_reader *r, void *dst, size_t n, const char *what, struct tidal_err *err);

/* ---- acknowledgement ---- */
int mig_send_ack(int fd, uint32_t status, const char *message, struct tidal_err *err);
/* Reads the target's answer: 0 when it resumed the guest; -1 with err set otherwise,
 * *refused telling whether the target said no (err: its message) or the answer was
 * missing or malformed. */
int mig_read_ack(int fd, bool *refused, struct tidal_err *err);

/* ---- the target's parser ---- */
struct mig_incoming {
    uint64_t mem_size, pages;
    uint32_t abi_version;
    struct tidal_cpu_features features;
    uint8_t *mem;     /* mem_size bytes, mapped once the header is checked */
    uint64_t *filled; /* pages that hold data: a later zero run must clear them */
    struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state;
    bool have_vcpu, have_state;
};

/* Where the target acts on the stream as it arrives; either may be NULL. Each returns
 * 0 or a TIDAL_CREATE_* code with err set, which ends the parse. */
struct mig_parse_hooks {
    /* the header is checked, no memory mapped yet: may the guest run here at all? */
    int (*header)(void *ctx, const struct mig_incoming *in, struct tidal_err *err);
    /* round 0 (all of memory) arrived: make the VM while the other rounds come */
    int (*full_copy)(void *ctx, struct tidal_err *err);
    void *ctx;
};

/* Reads a stream up to its end record and checks every field on the way; pages go
 * into in->mem. Returns 0, TIDAL_CREATE_BAD_INPUT (err names the record, field and
 * stream offset), TIDAL_CREATE_SYSTEM (this host ran out of memory) or a hook's code.
 * *in starts zeroed; mig_incoming_free releases it whatever the outcome. st may be
 * NULL. */
int mig_parse(struct mig_reader *r, struct mig_incoming *in, const struct mig_parse_hooks *hooks,
              struct tidal_migrate_stats *st, struct tidal_err *err);
/* Unmaps in->mem unless the caller took it (set it to NULL), frees the rest. */
void mig_incoming_free(struct mig_incoming *in);

#endif

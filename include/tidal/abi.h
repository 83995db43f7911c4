/*
 * The Tidal guest ABI: the only header shared by the monitor and guests.
 *
 * Versioned as a whole: any change to a struct layout, a call number or the memory
 * layout below bumps TIDAL_ABI_VERSION, and the monitor refuses images built for
 * another version (it reads the version from the image's "Tidal" ELF note).
 *
 * Design rule: every exit costs tens of microseconds on a software-assisted KVM, so
 * a guest talks to the monitor as rarely as possible. Console output goes through a
 * ring in guest memory that the monitor drains at every exit (a flush costs no exit
 * until the ring is full); time is computed from rdtsc with the parameters in the
 * boot-info page.
 */
#ifndef TIDAL_ABI_H
#define TIDAL_ABI_H

/* 2: TIDAL_CALL_PROGRESS; 3: request input in tidal_ready_info; 4: files (the read-only
 * file image, the scratch budget and the /out archive of EXIT) */
#define TIDAL_ABI_VERSION 4

/* ---- The image note: a PT_NOTE with this name and type, desc = tidal_image_note ---- */
#define TIDAL_NOTE_NAME "Tidal"
#define TIDAL_NOTE_TYPE_IMAGE 0x54490001 /* "TI" 1 */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Where the monitor points the vCPU's IDT and LSTAR, and where the console ring is. */
struct tidal_image_note {
    uint32_t abi_version;
    uint32_t exception_stub_stride; /* bytes between the stubs of consecutive vectors */
    uint64_t exception_stubs;       /* address of the stub for vector 0; 32 stubs */
    uint64_t syscall_entry;         /* the `syscall` instruction lands here (MSR_LSTAR) */
    uint64_t console_ring;          /* struct tidal_console_ring in a writable segment; 0: none */
    uint64_t console_ring_size;     /* bytes of records after it (see below) */
};
#endif

/* ---- Memory layout: guest-physical == guest-virtual (identity mapped) ---- */
#define TIDAL_PAGE_SIZE 4096u
#define TIDAL_BOOT_INFO_GPA 0x1000u   /* the boot-info page, then argv/env strings */
#define TIDAL_BOOT_AREA_END 0x9000u   /* boot info + argument strings end here (32 KiB) */
#define TIDAL_IMAGE_MIN_GPA 0x200000u /* PT_LOAD segments start at or above 2 MiB */
/* Between TIDAL_BOOT_AREA_END and TIDAL_IMAGE_MIN_GPA the monitor keeps its own
 * structures (GDT, TSS, IDT, page tables, exception stack); page 0 is never mapped. */

/* ---- Calls: `outl %eax, $TIDAL_PORT_CALL` with eax = GPA of a struct tidal_call ---- */
#define TIDAL_PORT_CALL 0x7e1u

#ifndef __ASSEMBLER__
enum tidal_call_nr {
    TIDAL_CALL_WRITE = 1,    /* arg0 = GPA of tidal_iov[], arg1 = count; ret = bytes or -errno.
                              * count 0: only the ring drain that precedes every call */
    TIDAL_CALL_READ = 2,     /* arg0 = fd (0), arg1 = GPA of buffer, arg2 = length; ret = bytes */
    TIDAL_CALL_EXIT = 3,     /* arg0 = status, arg1/arg2 = final console flush (iov, count),
                              * arg3/arg4 = GPA and length of the /out archive (0: none) */
    TIDAL_CALL_FAULT = 4,    /* arg0 = GPA of tidal_fault, arg1/arg2 = final flush; never returns */
    TIDAL_CALL_SLEEP = 5,    /* arg0 = nanoseconds; ret = 0 */
    TIDAL_CALL_READY = 6,    /* arg0 = GPA of tidal_ready_info, arg1/arg2 = console flush;
                              * the guest is initialised: the host may snapshot it here */
    TIDAL_CALL_PROGRESS = 7, /* arg0 = work done, arg1 = total (> 0, >= done); ret = 0 or -EINVAL.
                              * Only recorded: a host daemon shows it, the guest goes on */
};

/* Filled by the monitor when a guest resumes from tidal_ready(): after a restore the
 * generation is higher, and the guest must re-seed its randomness from `entropy`
 * and take its clone id (the VMGenID-like contract in docs/guestlib.md). */
struct tidal_ready_info {
    uint64_t generation; /* 0 at boot; +1 for every restore */
    uint64_t clone_id;   /* which clone this is (0 when not a clone) */
    uint8_t entropy[32];
    /* A request's input placed in guest memory, so that reading it costs no exit. The
     * guest names a window before calling READY; the host copies up to input_cap bytes
     * of the new input there before the guest resumes, and says so in input_flags. */
    uint64_t input_gpa;   /* guest: the window (0: none) */
    uint64_t input_cap;   /* guest: its size in bytes */
    uint64_t input_len;   /* host: bytes placed at input_gpa */
    uint64_t input_flags; /* host: enum tidal_input_flags */
};

enum tidal_input_flags {
    TIDAL_INPUT_PLACED = 1u << 0,   /* stdin starts with the input_len bytes in the window */
    TIDAL_INPUT_COMPLETE = 1u << 1, /* and ends there: no READ needed to see end of file */
};

struct tidal_call {
    uint32_t nr;
    uint32_t reserved; /* must be 0 */
    uint64_t arg[5];
    int64_t ret; /* written by the monitor; negative values are -errno */
};

/* One piece of console output; fd is 1 (stdout) or 2 (stderr). */
struct tidal_iov {
    uint32_t fd;
    uint32_t len;
    uint64_t gpa;
};
#define TIDAL_IOV_MAX 1024u           /* most pieces one call may pass */
#define TIDAL_CALL_LEN_MAX (1u << 24) /* most bytes one call may move */

/* The console ring: one ring for stdout and stderr, so their order is kept. The
 * guest appends records at `head` and publishes them with a release store of head;
 * the monitor writes them out in order and advances `tail`. Both count bytes from
 * the start, never wrap, and stay multiples of 8; a record starts at offset
 * index % console_ring_size of the data that follows the header, its text may wrap
 * to the data's start, and the next record starts at the next multiple of 8. The
 * monitor drains the ring before handling every call and whenever the guest stops
 * (exit, crash, pause, timeout, snapshot), and a host may also drain it from another
 * thread while the guest runs (tidal daemon and a piped tidal run do, every 100 ms),
 * so publishing costs no exit; a guest with a full ring makes a WRITE call with
 * count 0. A malformed ring (bad fd, a length past head, head behind tail
 * or more than the size ahead of it) is an invalid call: the guest is killed. */
struct tidal_console_ring {
    uint64_t head; /* guest: bytes of records published */
    uint64_t tail; /* monitor: bytes of records written out */
    uint64_t reserved[6];
};
struct tidal_console_record {
    uint32_t fd;  /* 1 (stdout) or 2 (stderr) */
    uint32_t len; /* bytes of text after this header */
};
#define TIDAL_CONSOLE_RING_MAX (1u << 24) /* most data bytes a ring may have */

/* What guestlib's exception handler reports: the hardware frame plus registers. */
struct tidal_fault {
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip, cs, rflags, rsp, ss;
    uint64_t cr2;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* ---- Boot info: at TIDAL_BOOT_INFO_GPA; rdi points here at the entry point ---- */
#define TIDAL_BOOT_MAGIC 0x4c444954u /* "TIDL" */

enum tidal_boot_flags {
    TIDAL_BOOT_STDOUT_TTY = 1u << 0,  /* the monitor's stdout is a terminal: an exit per write */
    TIDAL_BOOT_FSGSBASE = 1u << 1,    /* CR4.FSGSBASE is on: wrfsbase works without a trap */
    TIDAL_BOOT_COLLECT_OUT = 1u << 2, /* the host keeps /out: EXIT passes its archive */
    /* stdin is a regular file the host placed in the file image at /dev/stdin:
     * descriptor 0 reads, seeks and stats as that file, with no exit. */
    TIDAL_BOOT_STDIN_FILE = 1u << 3,
};

struct tidal_boot_info {
    uint32_t magic;
    uint32_t abi_version;
    uint64_t mem_size;   /* bytes of guest memory, from GPA 0 */
    uint64_t heap_start; /* [heap_start, heap_end): free memory for the guest's heap */
    uint64_t heap_end;
    uint64_t stack_bottom; /* [stack_bottom, stack_top): the initial stack; guard below */
    uint64_t stack_top;
    uint64_t tsc_khz;      /* rdtsc ticks per millisecond */
    uint64_t boot_tsc;     /* guest rdtsc value at the instant boot_wall_ns was read */
    uint64_t boot_wall_ns; /* CLOCK_REALTIME at boot, ns since the epoch */
    uint64_t mono_base_ns; /* CLOCK_MONOTONIC at boot_tsc (0 at boot; rebased on restore) */
    uint32_t flags;        /* enum tidal_boot_flags */
    uint32_t argc;
    uint32_t envc;
    uint32_t reserved;
    uint64_t argv_gpa;    /* argc + 1 GPAs of NUL-terminated strings (last is 0) */
    uint64_t envp_gpa;    /* envc + 1 GPAs, likewise */
    uint8_t entropy[32];  /* fresh random seed from the host */
    uint64_t fs_gpa;      /* the read-only file image (struct tidal_fs_header); 0: none */
    uint64_t fs_size;     /* bytes of it (mapped read-only) */
    uint64_t scratch_max; /* bytes the writable scratch file system (/tmp, /out) may hold */
};

/* ---- Files: the read-only image the monitor places in guest memory at boot ----
 * One tree rooted at "/" that merges every --dir and --file of the command line.
 * Nodes are in breadth-first order: node 0 is "/", and the children of a directory
 * are consecutive and sorted by name (bytewise), so a guest finds a path component
 * by binary search without building anything. All offsets are from the header; the
 * guest checks them against fs_size before use. /tmp and /out are never in it: they
 * belong to the guest's scratch file system. */
#define TIDAL_FS_MAGIC 0x53464454u /* "TDFS" */
#define TIDAL_FS_ROOT 0u

enum tidal_fs_type {
    TIDAL_FS_DIR = 1,
    TIDAL_FS_FILE = 2,
};

struct tidal_fs_header {
    uint32_t magic;
    uint32_t nnodes;
    uint64_t size;      /* bytes of the whole image */
    uint64_t nodes_off; /* nnodes x struct tidal_fs_node */
    uint64_t trees_off; /* ntrees x struct tidal_fs_tree */
    uint32_t ntrees;
    uint32_t reserved;
};

struct tidal_fs_node {
    uint32_t type;        /* enum tidal_fs_type */
    uint32_t perm;        /* permission bits as on the host, write bits cleared */
    uint32_t parent;      /* node 0 is its own parent */
    uint32_t name_len;    /* bytes, no NUL; 0 for the root */
    uint64_t name_off;    /* the name's bytes */
    uint32_t first_child; /* directories: children are [first_child, first_child+nchildren) */
    uint32_t nchildren;
    uint64_t data_off; /* files: content bytes */
    uint64_t size;     /* files: bytes of content */
    int64_t mtime;     /* seconds since the epoch, from the host */
};

/* What each --dir/--file was: a snapshot records it, so a restore can refuse a tree
 * that changed (same guest path, other checksum). */
struct tidal_fs_tree {
    uint64_t checksum; /* FNV-1a 64 over each node's name, type, size and content CRC32C */
    uint64_t path_off; /* the guest path, e.g. "/data" */
    uint32_t path_len;
    uint32_t node; /* its node */
};

/* ---- The /out archive a guest passes with EXIT (TIDAL_BOOT_COLLECT_OUT) ----
 * Records one after another, each 8-byte aligned: a header, the path relative to
 * /out (no NUL, no "." or ".." component), then for files the content. Directories
 * come before what they hold. The host checks the whole archive before it writes a
 * byte, and refuses it whole when anything is malformed. */
struct tidal_out_record {
    uint32_t type; /* enum tidal_fs_type */
    uint32_t path_len;
    uint64_t size; /* files: bytes of content after the path */
};

#endif /* __ASSEMBLER__ */

#endif

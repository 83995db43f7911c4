/* Shared by the migration tests: guests booted in this process, their output, and a
 * target that receives on another thread and then does what the test asks. */
#ifndef TIDAL_TEST_MIGRATE_HELPERS_H
#define TIDAL_TEST_MIGRATE_HELPERS_H

#include "../common/test_env.h"
#include "../common/vm_runner.h"
#include "tidal/migrate.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MIB (1ull << 20)
#define LOAD_GUEST "build/tests/guests/migrate_load.elf"

/* An anonymous temporary file. */
int temp_fd(void);
/* Everything written to fd, NUL-terminated (free it). */
char *read_all(int fd);

/* Boots migrate_load with args (FILL_MIB HOT_MIB ITERATIONS REPORT) in mem bytes. */
struct tidal_vm *boot_load(const char *const args[4], uint64_t mem, int in_fd, int out_fd);
/* The output of migrate_load run to its end without moving, given its line of stdin. */
char *unmoved_output(const char *const args[4], uint64_t mem);

/* A guest running on its own thread, with a stdin pipe and an output file. */
struct source {
    struct tidal_vm *vm;
    struct vm_runner runner;
    int in[2];
    int out;
};
void source_start(struct source *s, const char *const args[4], uint64_t mem);
/* Waits until the guest has written `text` (drains its console ring meanwhile). */
void source_wait_for(struct source *s, const char *text);
/* Gives the guest its line of stdin, waits for it to end (exit 0 checked). */
void source_finish(struct source *s);
void source_free(struct source *s);

enum target_mode {
    TARGET_RUNS,     /* runs the guest, then acknowledges */
    TARGET_SILENT,   /* receives it all, then closes without a word */
    TARGET_REFUSES,  /* receives it all, then says no */
    TARGET_HANGS_UP, /* closes the stream after its first 4 KiB */
    TARGET_BALKS,    /* refuses as soon as the header has come */
};

struct target {
    int fd; /* closed by the target's thread */
    enum target_mode mode;
    const struct tidal_vm *source; /* compared page by page with what arrived (may be NULL) */
    int in[2], out;                /* the guest's stdin and output here */
    pthread_t thread;
    int rc;
    struct tidal_err err;
    struct tidal_migrate_stats st;
    struct tidal_vm *vm;
    struct vm_runner runner; /* TARGET_RUNS */
    uint64_t differing_pages;
    uint64_t first_difference; /* guest-physical address of the first differing byte */
};
void target_start(struct target *t, int fd, enum target_mode mode, const struct tidal_vm *source);
void target_join(struct target *t);
void target_free(struct target *t);

/* A connected pair of stream sockets. */
void stream_pair(int sv[2]);

#endif

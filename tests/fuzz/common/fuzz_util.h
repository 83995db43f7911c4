/* What the harnesses share: the parsers under test read paths, so an input is handed
 * over as an in-memory file (memfd) named by its /proc/self/fd path; directories of
 * inputs live under one scratch directory per process. */
#ifndef TIDAL_FUZZ_UTIL_H
#define TIDAL_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_file {
    int fd;
    char path[64]; /* /proc/self/fd/N: opening it reads the memfd from its start */
};

/* Copies data into a new memfd; aborts if the host cannot (not the parser's fault). */
void fuzz_file_open(struct fuzz_file *f, const uint8_t *data, size_t size);
void fuzz_file_close(struct fuzz_file *f);

/* A fresh, empty directory for this process (the same path on every call); aborts on
 * failure. */
const char *fuzz_scratch_dir(void);
/* Removes everything inside dir (not dir itself). */
void fuzz_empty_dir(const char *dir);
/* Writes data to dir/name, creating the parent directories of name. */
void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t size);

/* Splits data at the first `sep` byte at or after *pos: returns the piece (not
 * NUL-terminated) and its length, and moves *pos past the separator. A piece beyond the
 * last separator runs to the end. Returns NULL once *pos is past the end. */
const uint8_t *fuzz_next_piece(const uint8_t *data, size_t size, size_t *pos, uint8_t sep,
                               size_t *len);

/* A NUL-terminated malloc'ed copy (the parsers take C strings); aborts on no memory. */
char *fuzz_strndup(const uint8_t *data, size_t len);

#endif

/* The host side of guest files (guest ABI 4): building the read-only file image
 * from --dir and --file (monitor/fs_build.c), checking a snapshot's trees against
 * the host's (snapshot/fs_match.c) and writing a guest's /out archive to the host
 * (monitor/fs_outputs.c). */
#ifndef TIDAL_FSIMAGE_H
#define TIDAL_FSIMAGE_H

#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tidal_fs_spec {
    const char *host;  /* a directory (--dir) or a regular file (--file) */
    const char *guest; /* absolute guest path */
    bool is_dir;
};

/* Splits "HOST:GUEST" (the last ':' separates them). */
int tidal_fs_spec_parse(char *arg, bool is_dir, struct tidal_fs_spec *out, struct tidal_err *err);

#define TIDAL_FS_TREES_MAX 16

/* The trees of a function, VM or job, as its configuration gave them. */
struct tidal_fs_trees {
    struct tidal_fs_spec specs[TIDAL_FS_TREES_MAX];
    char *args[TIDAL_FS_TREES_MAX]; /* malloc'ed copies that specs[] point into */
    unsigned n;
};
void tidal_fs_trees_free(struct tidal_fs_trees *t);
/* dst (empty) gets copies of src's trees; 0, or -1 when out of memory. */
int tidal_fs_trees_copy(struct tidal_fs_trees *dst, const struct tidal_fs_trees *src);

/* The image (abi.h, "Files") in two steps: tidal_fs_plan walks the trees and lays the
 * image out (its size in *size); tidal_fs_write then writes it, reading every file,
 * into size bytes at dst (guest memory, with no copy in between). The specs must
 * outlive the plan. Refused, naming the path: a ".." component, a guest path at or
 * under /tmp or /out or overlapping another, symbolic links that point outside their
 * tree or to a directory, device files, sockets and FIFOs; a file that changed size
 * since it was planned. */
struct tidal_fs_plan;
int tidal_fs_plan(const struct tidal_fs_spec *specs, unsigned n, struct tidal_fs_plan **plan,
                  size_t *size, struct tidal_err *err);
int tidal_fs_write(struct tidal_fs_plan *plan, uint8_t *dst, struct tidal_err *err);
void tidal_fs_plan_free(struct tidal_fs_plan *plan);

/* Both steps into malloc'ed memory, for an image kept on the host side. */
int tidal_fs_build(const struct tidal_fs_spec *specs, unsigned n, uint8_t **image, size_t *size,
                   struct tidal_err *err);

/* Whether the trees the specs name now are those a snapshot's guest was given: the
 * same guest paths, each with the checksum recorded in the file image in its memory
 * (mem: the restored guest's memory). 0, or -1 naming the tree that differs. */
int tidal_fs_match_snapshot(const uint8_t *mem, uint64_t mem_size,
                            const struct tidal_fs_spec *specs, unsigned n, struct tidal_err *err);

/* Checks an image as a guest would (every offset inside it); 0 or -1 with why. */
int tidal_fs_image_check(const uint8_t *image, size_t size, struct tidal_err *err);

/* Writes the /out archive into host_dir (created if missing): the whole archive is
 * checked first (paths relative, no "." or "..", inside it), then each file goes to
 * a temporary name opened O_EXCL|O_NOFOLLOW and is renamed into place, so nothing
 * half-written ever carries a final name. */
int tidal_fs_write_outputs(const uint8_t *archive, size_t len, const char *host_dir,
                           struct tidal_err *err);

#endif

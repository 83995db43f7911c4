/* The malformed-ELF corpus: each case is the valid builder image with one defect. The
 * same table generates tests/corpus/elf/ (tests/corpus/make-elf-corpus.sh) and checks
 * in test_elf.c that the committed files still match it byte for byte. */
#ifndef TIDAL_TEST_ELF_CORPUS_H
#define TIDAL_TEST_ELF_CORPUS_H

#include "elf_builder.h"

struct elf_corpus_case {
    const char *file;     /* name under tests/corpus/elf/ */
    const char *what;     /* one line for the README */
    const char *expected; /* fragment of the rejection message (without the path) */
    void (*mutate)(struct eb *b);
};

extern const struct elf_corpus_case elf_corpus[];
extern const unsigned elf_corpus_count;

/* Builds the bytes of one case (without section headers, to keep the files small). */
void elf_corpus_build(const struct elf_corpus_case *c, struct eb *b);

#endif

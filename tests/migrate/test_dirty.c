/* The monitor's two dirty-page readers: a migration's takes, from another thread while
 * the guest runs, never hide a page from the snapshot reader's next diff. */
#include "helpers.h"
#include "tidal/vmstate.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

TestSuite(dirty, .init = require_kvm, .timeout = 60);

static uint64_t count(const uint64_t *bitmap, size_t words)
{
    uint64_t n = 0;
    for (size_t i = 0; i < words; i++)
        n += (uint64_t)__builtin_popcountll(bitmap[i]);
    return n;
}

Test(dirty, migration_takes_leave_the_snapshot_reader_whole)
{
    static const char *const writer[4] = {"8", "2", "0", "20000"}; /* writes until stopped */
    struct source src;
    source_start(&src, writer, 16 * MIB);
    source_wait_for(&src, "filled");
    struct tidal_err err;
    cr_assert_eq(tidal_vm_track_dirty(src.vm, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_vm_dirty_start(src.vm, TIDAL_DIRTY_MIGRATION, &err), 0, "%s", err.msg);
    size_t words = tidal_vm_dirty_words(src.vm);
    uint64_t *migration = calloc(words, 8), *snapshot = calloc(words, 8);
    cr_assert(migration && snapshot);
    usleep(20000);
    cr_assert_eq(tidal_vm_dirty_take(src.vm, TIDAL_DIRTY_MIGRATION, migration, &err), 0, "%s",
                 err.msg);
    /* The 512 pages it keeps rewriting, at least. */
    cr_assert_geq(count(migration, words), 512);
    usleep(20000);
    cr_assert(vm_runner_pause(&src.runner));
    cr_assert_eq(tidal_vm_take_dirty(src.vm, snapshot, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < words; i++)
        cr_assert_eq(migration[i] & ~snapshot[i], 0,
                     "pages the migration took in word %zu "
                     "are missing from the snapshot reader's",
                     i);
    tidal_vm_dirty_stop(src.vm, TIDAL_DIRTY_MIGRATION);
    cr_assert_neq(tidal_vm_dirty_take(src.vm, TIDAL_DIRTY_MIGRATION, migration, &err), 0);
    cr_assert_eq(tidal_vm_take_dirty(src.vm, snapshot, &err), 0, "%s", err.msg);
    tidal_vm_dirty_stop(src.vm, TIDAL_DIRTY_SNAPSHOT);
    vm_runner_join(&src.runner);
    free(migration);
    free(snapshot);
    source_free(&src);
}

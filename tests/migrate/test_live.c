/* A running guest moved to a target over a socketpair while it keeps writing memory:
 * its output goes on where it stopped and its result is the unmoved run's; and every
 * way a migration can fail leaves the source able to run the guest on. */
#include "helpers.h"
#include "tidal/vmstate.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void setup(void)
{
    require_kvm();
}

TestSuite(live, .init = setup, .timeout = 120);

/* Writes 2 MiB of its 8 without pause for about a second unmoved. */
static const char *const writer[4] = {"8", "2", "400000", "40000"};
/* Sleeps 1 ms at a time for about half a second. */
static const char *const sleeper[4] = {"8", "0", "400", "100"};

static char *joined(char *a, char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);
    cr_assert_not_null(s);
    strcpy(s, a);
    strcat(s, b);
    free(a);
    free(b);
    return s;
}

/* Moves a running guest with the policy, runs it to its end on the target, and checks
 * the joined output against an unmoved run. */
static void move_and_check(const char *const args[4], const struct tidal_migrate_policy *policy,
                           struct tidal_migrate_stats *st, struct tidal_migrate_stats *target_st)
{
    char *want = unmoved_output(args, 16 * MIB);
    int sv[2];
    stream_pair(sv);
    struct source src;
    source_start(&src, args, 16 * MIB);
    source_wait_for(&src, "filled"); /* past its boot: idle or writing from here on */
    struct target t;
    target_start(&t, sv[1], TARGET_RUNS, src.vm);

    struct tidal_err err;
    cr_assert_eq(tidal_migrate_precopy(src.vm, sv[0], policy, st, &err), 0, "%s", err.msg);
    cr_assert(vm_runner_pause(&src.runner),
              "the guest ended before it could be moved (reason %d): a very slow host?",
              (int)src.runner.res.reason);
    enum tidal_migrate_outcome out = tidal_migrate_finish(src.vm, sv[0], st, &err);
    cr_assert_eq(out, TIDAL_MIGRATE_DONE, "outcome %d: %s", out, err.msg);
    vm_runner_join(&src.runner); /* released: it never runs here again */
    target_join(&t);
    cr_assert_eq(t.rc, 0, "%s", t.err.msg);
    cr_assert_eq(t.differing_pages, 0,
                 "%llu pages differ between source and target, the first at 0x%llx",
                 (unsigned long long)t.differing_pages, (unsigned long long)t.first_difference);

    cr_assert_eq(write(t.in[1], "go\n", 3), 3);
    vm_runner_join(&t.runner);
    cr_assert_eq(t.runner.res.reason, TIDAL_EXIT_HALTED, "%s", t.runner.res.report);
    cr_assert_eq(t.runner.res.status, 0);
    char *got = joined(read_all(src.out), read_all(t.out));
    cr_assert_str_eq(got, want, "moved output:\n%s\nunmoved output:\n%s", got, want);
    cr_assert_str_neq(read_all(t.out), "", "the target's guest wrote nothing");
    *target_st = t.st;
    free(got);
    free(want);
    source_free(&src);
    target_free(&t);
    close(sv[0]);
}

static void check_same_figures(const struct tidal_migrate_stats *a,
                               const struct tidal_migrate_stats *b)
{
    cr_assert_eq(a->rounds, b->rounds);
    cr_assert_eq(a->bytes, b->bytes);
    cr_assert_eq(a->crc, b->crc);
    for (unsigned r = 0; r < a->rounds; r++) {
        cr_assert_eq(a->round[r].pages, b->round[r].pages, "round %u", r);
        cr_assert_eq(a->round[r].zero_pages, b->round[r].zero_pages, "round %u", r);
        cr_assert_eq(a->round[r].bytes, b->round[r].bytes, "round %u", r);
    }
    cr_assert_eq(a->final.pages, b->final.pages);
    cr_assert_eq(a->final.zero_pages, b->final.zero_pages);
    cr_assert_eq(a->final.bytes, b->final.bytes);
}

Test(live, writing_guest_moves_and_continues_exactly)
{
    struct tidal_migrate_policy policy = {.max_dirty_pages = 8, .max_rounds = 4};
    struct tidal_migrate_stats st, tst;
    move_and_check(writer, &policy, &st, &tst);
    check_same_figures(&st, &tst);
    /* It keeps dirtying its 512 hot pages faster than rounds can send them. */
    cr_assert_gt(st.rounds, 1);
    cr_assert_gt(st.round[1].pages, 0);
    cr_assert_eq(st.dirty_log_reads, st.rounds); /* one per round after the first, one final */
    /* Round 0 sends every page once: the zero ones as zero runs. */
    cr_assert_eq(st.round[0].pages + st.round[0].zero_pages, 16 * MIB / 4096);
    cr_assert_gt(st.round[0].zero_pages, 0);
    cr_assert(st.t_begin && st.t_finish >= st.t_begin && st.t_acked >= st.t_sent);
    cr_assert(tst.t_ready >= tst.t_end && tst.t_end >= tst.t_header);
}

Test(live, idle_guest_converges_after_one_round)
{
    struct tidal_migrate_stats st, tst;
    move_and_check(sleeper, NULL, &st, &tst);
    check_same_figures(&st, &tst);
    cr_assert(st.converged);
    cr_assert_eq(st.rounds, 2, "%u rounds (all of memory, then one)", st.rounds);
    cr_assert_lt(st.round[1].pages + st.round[1].zero_pages, 64);
    cr_assert_lt(st.final.pages + st.final.zero_pages, 64);
}

Test(live, stop_and_copy_without_rounds)
{
    struct tidal_migrate_stats st, tst;
    move_and_check(writer, &(struct tidal_migrate_policy){.max_dirty_pages = UINT64_MAX}, &st,
                   &tst);
    check_same_figures(&st, &tst);
    cr_assert_eq(st.rounds, 2); /* a round counts as converged at once */
}

/* Migrates up to finish with a target that does not run the guest; returns the
 * outcome. The source's guest is paused afterwards. */
static enum tidal_migrate_outcome move_to(struct source *src, enum target_mode mode,
                                          struct tidal_err *err)
{
    int sv[2];
    stream_pair(sv);
    struct target t;
    target_start(&t, sv[1], mode, NULL);
    struct tidal_migrate_stats st;
    cr_assert_eq(tidal_migrate_precopy(src->vm, sv[0], NULL, &st, err), 0, "%s", err->msg);
    cr_assert(vm_runner_pause(&src->runner), "the guest ended before it could be moved");
    enum tidal_migrate_outcome out = tidal_migrate_finish(src->vm, sv[0], &st, err);
    close(sv[0]);
    target_join(&t);
    cr_assert_eq(t.rc, 0, "%s", t.err.msg);
    target_free(&t);
    return out;
}

/* The source resumes the guest and runs it to its end: output as if never moved. */
static void resume_here(struct source *src, const char *const args[4])
{
    char *want = unmoved_output(args, 16 * MIB);
    uint64_t words = tidal_vm_dirty_words(src->vm);
    uint64_t *bitmap = calloc(words, sizeof(uint64_t));
    struct tidal_err err;
    cr_assert_neq(tidal_vm_dirty_take(src->vm, TIDAL_DIRTY_MIGRATION, bitmap, &err), 0,
                  "migration's dirty tracking was left on");
    free(bitmap);
    vm_runner_resume(&src->runner);
    source_finish(src);
    char *got = read_all(src->out);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
}

Test(live, source_resumes_when_the_target_refuses)
{
    struct source src;
    source_start(&src, writer, 16 * MIB);
    struct tidal_err err;
    cr_assert_eq(move_to(&src, TARGET_REFUSES, &err), TIDAL_MIGRATE_RESUME_HERE);
    cr_assert(strstr(err.msg, "the target refused the migration: no room for it here"), "%s",
              err.msg);
    resume_here(&src, writer);
    source_free(&src);
}

Test(live, source_is_in_doubt_when_the_target_goes_silent)
{
    struct source src;
    source_start(&src, writer, 16 * MIB);
    struct tidal_err err;
    cr_assert_eq(move_to(&src, TARGET_SILENT, &err), TIDAL_MIGRATE_IN_DOUBT);
    cr_assert(strstr(err.msg, "no answer from the target: it closed the stream"), "%s", err.msg);
    /* Here nobody else can run it (the target destroyed its copy): resume. */
    resume_here(&src, writer);
    source_free(&src);
}

/* A target that stops the migration while round 0 is still being sent. */
static void broken_off(enum target_mode mode, const char *why)
{
    struct source src;
    source_start(&src, writer, 16 * MIB);
    source_wait_for(&src, "filled"); /* 8 MiB to send: more than the socket holds */
    int sv[2];
    stream_pair(sv);
    struct target t;
    target_start(&t, sv[1], mode, NULL);
    struct tidal_migrate_stats st;
    struct tidal_err err;
    cr_assert_neq(tidal_migrate_precopy(src.vm, sv[0], NULL, &st, &err), 0);
    cr_assert(strstr(err.msg, why), "\"%s\" does not say \"%s\"", err.msg, why);
    close(sv[0]); /* the refusing target reads until the source closes */
    target_join(&t);
    target_free(&t);
    /* Never paused: it only has to finish. */
    char *want = unmoved_output(writer, 16 * MIB);
    source_finish(&src);
    char *got = read_all(src.out);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    source_free(&src);
}

Test(live, guest_runs_on_when_the_stream_breaks_during_precopy)
{
    broken_off(TARGET_HANGS_UP, "the target broke off the migration stream");
}

Test(live, guest_runs_on_when_the_target_refuses_during_precopy)
{
    broken_off(TARGET_BALKS, "the target refused the migration: not today");
}

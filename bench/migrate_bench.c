/* migrate-bench: what moving a running guest costs, in this process: the guest
 * (IMAGE, tests/guests/migrate_load.c) runs on a thread of its own as the daemon runs
 * one, and is moved over a socketpair to a target thread, which builds it, starts
 * it and acknowledges. For each memory size (16 and 64 MiB; half of it filled) and
 * load (idle: 1 ms sleeps; writing: an eighth of memory rewritten without pause),
 * RUNS rounds of three ways of moving it, interleaved:
 *   precopy   the engine's pre-copy rounds (default policy) while the guest runs,
 *             then the pause and tidal_migrate_finish
 *   stopcopy  the pause first, then the same engine with no round: all of memory
 *             in the downtime
 *   snapshot  the pause, tidal_snapshot_save to a file in DIR, open, restore (memory
 *             mapped copy-on-write from the file: its pages fault in later)
 * downtime: from the pause request (the signal to the runner thread) to the target's
 * VM ready for tidal_vm_run (tidal_migrate_stats.t_ready; for snapshot the restore's
 * return); acked: to the source's reading of the target's acknowledgement; total:
 * from tidal_migrate_begin to that acknowledgement. Counts of the precopy runs:
 * rounds (round 0, all of memory, included), pages sent per round, KVM_GET_DIRTY_LOG
 * calls, stream bytes. The stream is a local socketpair: memory copies, no network.
 * Prints a table and `BENCH migrate_<size>_<load>_<figure> <value> <unit>` lines.
 *
 * usage: migrate-bench [-n RUNS] [-d DIR] IMAGE
 *        migrate-bench --probe     exit 0 if /dev/kvm is usable, else print why, exit 1 */
#include "../tests/common/vm_runner.h"
#include "bench_stats.h"
#include "kvm_probe.h"
#include "tidal/file.h"
#include "tidal/migrate.h"
#include "tidal/snapshot_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIB (1ull << 20)

static const uint8_t *image;
static size_t image_size;
static const char *image_path, *dir = "/tmp";
static int null_fd;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "migrate-bench: %s: %s\n", what, msg);
    exit(1);
}

struct load {
    const char *name; /* "16m_idle"... */
    unsigned mem_mib;
    bool writing;
};

/* A guest running on its own thread. */
struct guest {
    struct tidal_vm *vm;
    struct vm_runner runner;
    int out; /* its output, kept open as long as the VM exists; -1: none of its own */
};

static void guest_stop(struct guest *g)
{
    if (g->vm) {
        vm_runner_pause(&g->runner);
        vm_runner_join(&g->runner);
        tidal_vm_destroy(g->vm);
        g->vm = NULL;
    }
    if (g->out >= 0)
        close(g->out);
    g->out = -1;
}

/* Boots the guest and waits until it has filled its memory: from then on it only
 * idles or writes. */
static void boot(const struct load *l, struct guest *g)
{
    char fill[16], hot[16];
    snprintf(fill, sizeof(fill), "%u", l->mem_mib / 2);
    snprintf(hot, sizeof(hot), "%u", l->writing ? l->mem_mib / 8 : 0);
    char *argv[] = {(char *)image_path, fill, hot, "0", "1000", NULL};
    char out_path[] = "/tmp/migrate-bench-XXXXXX";
    int out = g->out = mkstemp(out_path);
    if (out < 0)
        die("mkstemp", strerror(errno));
    unlink(out_path);
    struct tidal_vm_config cfg = {.mem_size = (uint64_t)l->mem_mib * MIB,
                                  .argc = 5,
                                  .argv = argv,
                                  .in_fd = null_fd,
                                  .out_fd = out,
                                  .err_fd = 2};
    struct tidal_err err;
    if (tidal_vm_create(&cfg, image, image_size, image_path, &g->vm, &err))
        die(image_path, err.msg);
    if (vm_runner_start(&g->runner, g->vm))
        die("pthread_create", strerror(errno));
    for (int tries = 0;; tries++) {
        char text[64] = {0};
        if (tidal_vm_drain_console(g->vm, &err))
            die("console", err.msg);
        if (pread(out, text, sizeof(text) - 1, 0) > 0 && strstr(text, "filled"))
            break;
        if (tries > 60000)
            die(image_path, "the guest never said it had filled its memory");
        usleep(500);
    }
}

/* The target: receives, starts the guest, acknowledges. */
struct target {
    int fd;
    pthread_t thread;
    int rc;
    struct tidal_err err;
    struct tidal_migrate_stats st;
    struct guest g;
};

static void *target_main(void *arg)
{
    struct target *t = arg;
    struct tidal_vm_config cfg = {.in_fd = null_fd, .out_fd = null_fd, .err_fd = null_fd};
    t->rc = tidal_migrate_receive(t->fd, &cfg, &t->g.vm, &t->st, &t->err);
    if (t->rc == 0) {
        struct tidal_err err;
        if (vm_runner_start(&t->g.runner, t->g.vm) == 0)
            tidal_migrate_ack(t->fd, true, NULL, &err);
    } else {
        tidal_vm_destroy(t->g.vm);
        t->g.vm = NULL;
    }
    return NULL;
}

enum way { PRECOPY, STOPCOPY, SNAPSHOT, NWAYS };
static const char *const way_names[NWAYS] = {"precopy", "stopcopy", "snapshot"};

struct sample {
    double downtime_us, acked_us, total_us;
    /* the downtime's parts: the runner stopping, the last pages and the state sent,
     * the target's VM built from them */
    double pause_us, send_us, build_us;
    struct tidal_migrate_stats st; /* the source's */
};

static double us(uint64_t from, uint64_t to)
{
    return (double)(to - from) / 1e3;
}

static void move_once(const struct load *l, enum way way, struct sample *s)
{
    struct guest src;
    boot(l, &src);
    struct tidal_err err;
    memset(s, 0, sizeof(*s));
    if (way == SNAPSHOT) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/migrate-bench.snap", dir);
        uint64_t t0 = now_ns();
        if (!vm_runner_pause(&src.runner))
            die(image_path, "the guest stopped before the pause");
        struct tidal_snap *snap;
        struct tidal_vm *vm = NULL;
        if (tidal_snapshot_save(src.vm, path, &err) || tidal_snap_open(path, &snap, &err))
            die(path, err.msg);
        const struct tidal_snap *chain[1] = {snap};
        struct tidal_vm_config cfg = {.in_fd = null_fd, .out_fd = null_fd, .err_fd = null_fd};
        if (tidal_snapshot_restore(chain, 1, &cfg, 0, NULL, &vm, &err))
            die(path, err.msg);
        s->downtime_us = s->acked_us = s->total_us = us(t0, now_ns());
        tidal_vm_destroy(vm);
        tidal_snap_close(snap);
        unlink(path);
        guest_stop(&src);
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        die("socketpair", strerror(errno));
    struct target t = {.fd = sv[1], .g.out = -1};
    if (pthread_create(&t.thread, NULL, target_main, &t))
        die("pthread_create", strerror(errno));
    uint64_t t_pause = 0;
    if (way == STOPCOPY) {
        t_pause = now_ns();
        if (!vm_runner_pause(&src.runner))
            die(image_path, "the guest stopped before the pause");
        if (tidal_migrate_begin(src.vm, sv[0], &s->st, &err))
            die("tidal_migrate_begin", err.msg);
    } else {
        if (tidal_migrate_precopy(src.vm, sv[0], NULL, &s->st, &err))
            die("tidal_migrate_precopy", err.msg);
        t_pause = now_ns();
        if (!vm_runner_pause(&src.runner))
            die(image_path, "the guest stopped before the pause");
    }
    enum tidal_migrate_outcome out = tidal_migrate_finish(src.vm, sv[0], &s->st, &err);
    pthread_join(t.thread, NULL);
    if (t.rc)
        die("tidal_migrate_receive", t.err.msg);
    if (out != TIDAL_MIGRATE_DONE)
        die("tidal_migrate_finish", err.msg);
    s->downtime_us = us(t_pause, t.st.t_ready);
    s->acked_us = us(t_pause, s->st.t_acked);
    s->total_us = us(way == STOPCOPY ? t_pause : s->st.t_begin, s->st.t_acked);
    s->pause_us = us(t_pause, way == STOPCOPY ? s->st.t_begin : s->st.t_finish);
    s->send_us = us(s->st.t_finish, s->st.t_sent);
    s->build_us = us(t.st.t_end, t.st.t_ready);
    vm_runner_join(&src.runner); /* released: it moved */
    tidal_vm_destroy(src.vm);
    src.vm = NULL;
    guest_stop(&src);
    guest_stop(&t.g);
    close(sv[0]);
    close(sv[1]);
}

/* Medians of one figure over the runs. */
static double med(struct sample *s, int n, double (*get)(const struct sample *))
{
    double *v = malloc((size_t)n * sizeof(double));
    if (!v)
        die("malloc", strerror(errno));
    for (int i = 0; i < n; i++)
        v[i] = get(&s[i]);
    double m = median(v, n);
    free(v);
    return m;
}

static double get_downtime(const struct sample *s)
{
    return s->downtime_us;
}
static double get_acked(const struct sample *s)
{
    return s->acked_us;
}
static double get_total(const struct sample *s)
{
    return s->total_us;
}
static double get_pause(const struct sample *s)
{
    return s->pause_us;
}
static double get_send(const struct sample *s)
{
    return s->send_us;
}
static double get_build(const struct sample *s)
{
    return s->build_us;
}
static double get_rounds(const struct sample *s)
{
    return s->st.rounds;
}
static double get_round0_pages(const struct sample *s)
{
    return (double)s->st.round[0].pages;
}
static double get_round1_pages(const struct sample *s)
{
    return s->st.rounds > 1 ? (double)s->st.round[1].pages : 0;
}
static double get_final_pages(const struct sample *s)
{
    return (double)s->st.final.pages;
}
static double get_reads(const struct sample *s)
{
    return (double)s->st.dirty_log_reads;
}
static double get_mib(const struct sample *s)
{
    return (double)s->st.bytes / (double)MIB;
}

static void bench_load(const struct load *l, int runs)
{
    struct sample *s[NWAYS];
    for (int w = 0; w < NWAYS; w++)
        if (!(s[w] = calloc((size_t)runs, sizeof(struct sample))))
            die("calloc", strerror(errno));
    for (int r = 0; r < runs; r++)
        for (int w = 0; w < NWAYS; w++)
            move_once(l, (enum way)w, &s[w][r]);

    printf("\n%u MiB guest, %s (%u MiB filled%s), %d runs each, medians:\n", l->mem_mib,
           l->writing ? "writing" : "idle", l->mem_mib / 2,
           l->writing ? ", an eighth of memory rewritten without pause" : ", 1 ms sleeps", runs);
    printf("  %-9s %12s %12s %12s\n", "way", "downtime us", "acked us", "total us");
    for (int w = 0; w < NWAYS; w++)
        printf("  %-9s %12.0f %12.0f %12.0f\n", way_names[w], med(s[w], runs, get_downtime),
               med(s[w], runs, get_acked), med(s[w], runs, get_total));
    struct sample *p = s[PRECOPY], *last = &p[runs - 1];
    printf("  precopy downtime, of which: %.0f us until the runner stopped, %.0f us the last "
           "pages and the state sent, %.0f us the target's VM built (the rest: the stream "
           "between them)\n",
           med(p, runs, get_pause), med(p, runs, get_send), med(p, runs, get_build));
    printf("  precopy counts: %.0f rounds, %.0f data pages in round 0, %.0f in round 1, %.0f "
           "final; %.0f KVM_GET_DIRTY_LOG calls; %.1f MiB streamed\n",
           med(p, runs, get_rounds), med(p, runs, get_round0_pages), med(p, runs, get_round1_pages),
           med(p, runs, get_final_pages), med(p, runs, get_reads), med(p, runs, get_mib));
    printf("  pages per round, last run (data+zero):");
    for (unsigned r = 0; r < last->st.rounds; r++)
        printf(" %llu+%llu", (unsigned long long)last->st.round[r].pages,
               (unsigned long long)last->st.round[r].zero_pages);
    printf(", final %llu+%llu\n", (unsigned long long)last->st.final.pages,
           (unsigned long long)last->st.final.zero_pages);

    const char *name = l->name;
    printf("BENCH migrate_%s_downtime %.0f us\n", name, med(p, runs, get_downtime));
    printf("BENCH migrate_%s_acked %.0f us\n", name, med(p, runs, get_acked));
    printf("BENCH migrate_%s_total %.0f us\n", name, med(p, runs, get_total));
    for (int w = STOPCOPY; w < NWAYS; w++)
        printf("BENCH migrate_%s_%s_downtime %.0f us\n", name, way_names[w],
               med(s[w], runs, get_downtime));
    printf("BENCH migrate_%s_rounds %.0f count\n", name, med(p, runs, get_rounds));
    printf("BENCH migrate_%s_round1_pages %.0f pages\n", name, med(p, runs, get_round1_pages));
    printf("BENCH migrate_%s_final_pages %.0f pages\n", name, med(p, runs, get_final_pages));
    printf("BENCH migrate_%s_dirty_log_reads %.0f count\n", name, med(p, runs, get_reads));
    printf("BENCH migrate_%s_stream_mib %.1f MiB\n", name, med(p, runs, get_mib));
    for (int w = 0; w < NWAYS; w++)
        free(s[w]);
}

int main(int argc, char **argv)
{
    bench_handle_probe(argc, argv);
    int runs = 10, i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-n"))
            runs = parse_count("migrate-bench", argv[i + 1], 1);
        else if (!strcmp(argv[i], "-d"))
            dir = argv[i + 1];
        else
            break;
    }
    if (i + 1 != argc || argv[i][0] == '-') {
        fputs("usage: migrate-bench [-n RUNS] [-d DIR] IMAGE | migrate-bench --probe\n", stderr);
        return 2;
    }
    image_path = argv[i];
    struct tidal_err err;
    if (tidal_kvm_available(&err))
        die("KVM", err.msg);
    if (tidal_file_map(image_path, 256 << 20, &image, &image_size, &err))
        die(image_path, err.msg);
    if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        die("/dev/null", strerror(errno));
    static const struct load loads[] = {{"16m_idle", 16, false},
                                        {"16m_writing", 16, true},
                                        {"64m_idle", 64, false},
                                        {"64m_writing", 64, true}};
    for (size_t l = 0; l < sizeof(loads) / sizeof(loads[0]); l++)
        bench_load(&loads[l], runs);
    tidal_file_unmap(image, image_size);
    close(null_fd);
    return 0;
}

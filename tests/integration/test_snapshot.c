/* Snapshots end to end: save at tidal_ready(), restore with new input, clone. */
#include "harness.h"
#include "tidal/checksum.h"
#include "tidal/host_limits.h"
#include "tidal/snapshot.h"
#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

#include "../../snapshot/format.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct tidal_proc p;
static char dir[] = "/tmp/tidal-snap-XXXXXX";

static void setup(void)
{
    require_kvm();
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(snapshot, .init = setup, .fini = teardown, .timeout = 180);

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof(buf[0]), "%s/%s", dir, name);
    return out;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void save(const char *image, const char *snap)
{
    const char *args[] = {"run", "--snapshot-on-ready", snap, path_to(image), NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "saving %s: %s", image, p.err);
    cr_assert(strstr(p.err, "saved"), "%s", p.err);
}

static void restore(const char *snap, const char *input)
{
    const char *rargs[] = {"restore", "--input", input, snap, NULL};
    run_tidal(rargs, NULL, &p);
}

static void same_as_uninterrupted(const char *image, const char *input_text)
{
    const char *snap = in_dir("x.snap"), *input = in_dir("input");
    write_file(input, input_text);
    const char *args[] = {"run", path_to(image), NULL};
    run_tidal(args, input_text, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    static char direct[sizeof(p.out)];
    memcpy(direct, p.out, sizeof(direct));
    save(image, snap);
    cr_assert_str_eq(p.out, "", "nothing is printed before tidal_ready()");
    restore(snap, input);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_str_eq(p.out, direct);
}

Test(snapshot, echo_restore_equals_uninterrupted_run)
{
    same_as_uninterrupted("build/examples/echo.elf", "{\"hello\": \"world\"}\n");
}

Test(snapshot, kv_restore_equals_uninterrupted_run)
{
    same_as_uninterrupted("build/examples/kv.elf", "k1\nk54321\nmissing\nk99999\n");
    /* writes, then reads of what was written, and a refused write */
    same_as_uninterrupted("build/examples/kv.elf", "new=0x2a\nk1=7\nnew\nk1\nbad=x\nbad\n");
}

Test(snapshot, clocks_entropy_and_isolation_after_restore)
{
    const char *snap = in_dir("ready.snap"), *a = in_dir("a"), *b = in_dir("b");
    save("build/tests/guests/ready_state.elf", snap);
    write_file(a, "secret-A\n");
    write_file(b, "secret-B\n");
    sleep(1); /* the restored wall clock must be the host's now, not the save time */
    restore(snap, a);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.out, "restored 1\n"), "%s", p.out);
    cr_assert(strstr(p.out, "monotonic_forward 1\n"), "%s", p.out);
    cr_assert(strstr(p.out, "previous secret ''\n"), "%s", p.out);
    cr_assert(strstr(p.out, "stored secret 'secret-A'\n"), "%s", p.out);
    double wall = 0;
    const char *w = strstr(p.out, "wall ");
    cr_assert(w && sscanf(w, "wall %lf", &wall) == 1);
    double host = (double)time(NULL);
    cr_assert(wall >= host - 5 && wall <= host + 1, "guest wall %.0f, host %.0f", wall, host);
    char random_a[64];
    const char *r = strstr(p.out, "random ");
    cr_assert(r && sscanf(r, "random %63s", random_a) == 1);

    restore(snap, b);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.out, "previous secret ''\n"), "restore A's secret leaked: %s", p.out);
    char random_b[64];
    r = strstr(p.out, "random ");
    cr_assert(r && sscanf(r, "random %63s", random_b) == 1);
    cr_assert_str_neq(random_a, random_b, "two restores produced the same random bytes");
}

/* Twelve clones of a guest that remembers its input in memory: each must see only its
 * own, whether each has its VM or they run one after another on reused VMs. */
static void check_clones(bool reuse)
{
    const char *snap = in_dir("clone.snap"), *inputs = in_dir("in"), *outputs = in_dir("out");
    save("build/tests/guests/ready_state.elf", snap);
    cr_assert_eq(mkdir(inputs, 0755), 0);
    cr_assert_eq(mkdir(outputs, 0755), 0);
    for (int i = 0; i < 4; i++) {
        char path[600], text[32];
        snprintf(path, sizeof(path), "%s/req-%d", inputs, i);
        snprintf(text, sizeof(text), "input-%d\n", i);
        write_file(path, text);
    }
    const char *args[] = {"clone",
                          snap,
                          "-n",
                          "12",
                          "--input-dir",
                          inputs,
                          "--output-dir",
                          outputs,
                          "--threads",
                          "2",
                          reuse ? "--reuse" : NULL,
                          NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, reuse ? "12 inputs on reused VMs, 12 exited 0"
                                  : "12 clones, 12 alive at once, 12 exited 0"),
              "%s", p.err);
    for (int i = 0; i < 12; i++) {
        char path[600], want[64], buf[4096] = "";
        snprintf(path, sizeof(path), "%s/clone-%05d.out", outputs, i);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s missing", path);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
        snprintf(want, sizeof(want), "clone %d\n", i);
        cr_assert(strstr(buf, want), "%s: %s", path, buf);
        snprintf(want, sizeof(want), "stored secret 'input-%d'\n", i % 4);
        cr_assert(strstr(buf, want), "%s: %s", path, buf);
        cr_assert(strstr(buf, "previous secret ''\n"), "clone saw another's secret: %s", buf);
    }
}

Test(snapshot, clones_have_own_input_output_and_id)
{
    check_clones(false);
}

Test(snapshot, reused_clones_have_own_input_output_and_id)
{
    check_clones(true);
}

/* A restored guest whose stdin is a file finds the file in its input window (256 KiB):
 * no READ exit; a pipe is read through READ calls as before. The output is the same
 * either way. */
static void restore_echo(const char *snap, const char *path, const char *input, size_t len,
                         bool piped)
{
    static char want[64];
    snprintf(want, sizeof(want), "echo ready: %zu bytes\n", len);
    const char *args[] = {"restore", "--stats", snap, piped ? NULL : "--input", path, NULL};
    run_tidal(args, piped ? input : NULL, &p);
    cr_assert_eq(p.status, 0, "%.2000s", p.err);
    cr_assert_eq(p.out_len, strlen(want) + len, "%zu bytes out", p.out_len);
    cr_assert(!memcmp(p.out, want, strlen(want)) && !memcmp(p.out + strlen(want), input, len),
              "output differs from the input");
}

Test(snapshot, file_input_is_placed_in_the_window)
{
    const char *snap = in_dir("echo.snap"), *path = in_dir("req");
    save("build/examples/echo.elf", snap);
    static char input[200 * 1024];
    for (size_t i = 0; i < sizeof(input) - 1; i++)
        input[i] = (char)('a' + i % 26);
    size_t lens[] = {10, sizeof(input) - 1};
    for (int k = 0; k < 2; k++) {
        input[lens[k]] = 0;
        write_file(path, input);
        restore_echo(snap, path, input, lens[k], false);
        cr_assert(!strstr(p.err, "\"READ\""), "%zu bytes from a file: %s", lens[k], p.err);
        restore_echo(snap, path, input, lens[k], true);
        cr_assert(strstr(p.err, "\"READ\""), "%zu bytes from a pipe: %s", lens[k], p.err);
        input[lens[k]] = 'x';
    }
}

/* Ten thousand clones of echo at once: each holds one descriptor and a few mappings,
 * so neither the open-file limit nor vm.max_map_count stops them. */
Test(snapshot, ten_thousand_clones_alive_at_once, .timeout = 900)
{
    /* ~200 KiB a clone, twice that for room (a nested test machine has 2 GiB) */
    if (tidal_mem_available_kib() < (4l << 20))
        cr_skip_test("needs 4 GiB of available memory for 10,000 clones, this machine has %ld MiB",
                     tidal_mem_available_kib() >> 10);
    const char *snap = in_dir("echo.snap"), *inputs = in_dir("in");
    save("build/examples/echo.elf", snap);
    cr_assert_eq(mkdir(inputs, 0755), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/req", inputs);
    write_file(path, "{\"n\": 1}\n");
    const char *args[] = {"clone", snap, "-n", "10000", "--input-dir", inputs, NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "%.2000s", p.err);
    cr_assert(strstr(p.err, "10000 clones, 10000 alive at once, 10000 exited 0"), "%.2000s", p.err);
}

Test(snapshot, corrupt_snapshot_is_refused)
{
    const char *snap = in_dir("bad.snap"), *input = in_dir("input");
    write_file(input, "x\n");
    save("build/examples/echo.elf", snap);
    struct stat st;
    cr_assert_eq(stat(snap, &st), 0);
    /* A flipped byte in the header, and the file cut short. */
    int fd = open(snap, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char byte;
    cr_assert_eq(pread(fd, &byte, 1, 9), 1);
    byte ^= 0x40;
    cr_assert_eq(pwrite(fd, &byte, 1, 9), 1);
    restore(snap, input);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, snap), "message names the file: %s", p.err);
    byte ^= 0x40;
    cr_assert_eq(pwrite(fd, &byte, 1, 9), 1);
    cr_assert_eq(ftruncate(fd, st.st_size / 2), 0);
    close(fd);
    restore(snap, input);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert_str_eq(p.out, "");
}

/* Starts `tidal run --snapshot-path snap [--diff] long_job.elf`, waits until the
 * guest says it has started, sends `signals` SIGUSR1s a little apart, and collects
 * the rest of its stdout. */
static int run_and_signal(const char *snap, int signals, char *out, size_t size)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *bin = getenv("TIDAL_BIN");
        const char *image = path_to("build/tests/guests/long_job.elf");
        const char *tidal = bin ? bin : path_to("build/tidal");
        if (signals > 1)
            execl(tidal, "tidal", "run", "--snapshot-path", snap, "--diff", image, (char *)NULL);
        else
            execl(tidal, "tidal", "run", "--snapshot-path", snap, image, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (!strstr(out, "started\n") && (n = read(fds[0], out + len, size - 1 - len)) > 0) {
        len += (size_t)n;
        out[len] = 0;
    }
    for (int i = 0; i < signals; i++) {
        if (i)
            usleep(150 * 1000);
        kill(pid, SIGUSR1);
    }
    while ((n = read(fds[0], out + len, size - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(snapshot, sigusr1_snapshot_of_a_running_guest_resumes_to_the_same_result)
{
    const char *snap = in_dir("job.snap");
    static char out[4096];
    cr_assert_eq(run_and_signal(snap, 1, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "result "), "%s", out);
    struct stat st;
    cr_assert_eq(stat(snap, &st), 0, "no snapshot was written");
    const char *args[] = {"restore", snap, NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_str_eq(p.out, strstr(out, "result "), "the restored job ended differently");
}

Test(snapshot, diff_chain_resumes_to_the_same_result)
{
    const char *snap = in_dir("chain.snap");
    static char out[4096];
    cr_assert_eq(run_and_signal(snap, 3, out, sizeof(out)), 0, "%s", out);
    const char *result = strstr(out, "result ");
    cr_assert_not_null(result, "%s", out);
    char diff1[600], diff2[600];
    snprintf(diff1, sizeof(diff1), "%s.1", snap);
    snprintf(diff2, sizeof(diff2), "%s.2", snap);
    struct stat st;
    cr_assert_eq(stat(diff2, &st), 0, "the third SIGUSR1 wrote no second diff");

    const char *chain[] = {"restore", snap, diff1, diff2, NULL};
    run_tidal(chain, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_str_eq(p.out, result, "base + 2 diffs ended differently");
    const char *partial[] = {"restore", snap, diff1, NULL};
    run_tidal(partial, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_str_eq(p.out, result, "base + 1 diff ended differently");
    const char *wrong_order[] = {"restore", snap, diff2, NULL};
    run_tidal(wrong_order, NULL, &p);
    cr_assert_eq(p.status, 65, "a diff on the wrong base must be refused: %s", p.err);
}

Test(snapshot, prefetch_records_and_reuses_the_working_set)
{
    const char *snap = in_dir("kv.snap"), *input = in_dir("input");
    char ws[600];
    snprintf(ws, sizeof(ws), "%s.ws", snap);
    write_file(input, "k7\nk70000\n");
    save("build/examples/kv.elf", snap);
    const char *args[] = {"restore", "--stats", "--prefetch", "--input", input, snap, NULL};
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    static char first[sizeof(p.out)];
    memcpy(first, p.out, sizeof(first));
    double faults = stats_value(&p, "vcpu.pf_taken");
    struct stat st;
    cr_assert_eq(stat(ws, &st), 0, "no working set was recorded");
    cr_assert_gt(st.st_size, 32);
    run_tidal(args, NULL, &p); /* now with the recorded set */
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert_str_eq(p.out, first);
    /* Populated writable, the working set costs KVM fewer faults than touching it
     * page by page (populated for reading, each first write cost two). */
    double prefetched = stats_value(&p, "vcpu.pf_taken");
    cr_assert(faults < 0 || prefetched < faults, "pf_taken %.0f with prefetch, %.0f without",
              prefetched, faults);
    write_file(ws, "garbage");
    run_tidal(args, NULL, &p);
    cr_assert_eq(p.status, 0, "a bad working set only costs speed: %s", p.err);
    cr_assert(strstr(p.err, "ignoring"), "%s", p.err);
    cr_assert_str_eq(p.out, first);
}

/* Another local user may plant `SNAP.ws.tmp.<pid>` as a symlink to a file of ours:
 * recording the working set must not write through it. The shell plants it for its
 * own pid, which exec hands on to tidal. */
Test(snapshot, prefetch_never_writes_through_a_planted_symlink)
{
    const char *snap = in_dir("kv.snap"), *input = in_dir("input"), *victim = in_dir("victim");
    write_file(input, "k7\n");
    write_file(victim, "precious");
    save("build/examples/kv.elf", snap);
    const char *argv[] = {"/bin/sh",
                          "-c",
                          "ln -s \"$1\" \"$2.ws.tmp.$$\" && exec \"$0\" restore --prefetch "
                          "--input \"$3\" \"$2\"",
                          tidal_bin(),
                          victim,
                          snap,
                          input,
                          NULL};
    run_program(argv, NULL, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    char buf[64] = "";
    FILE *f = fopen(victim, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    cr_assert_str_eq(buf, "precious", "the working set was written through the symlink");
    char ws[600];
    snprintf(ws, sizeof(ws), "%s.ws", snap);
    struct stat st;
    cr_assert_eq(lstat(ws, &st), 0, "no working set was recorded");
    cr_assert(S_ISREG(st.st_mode));
}

/* Sets the saved CR0 of a snapshot file to value and recomputes the checksums over it,
 * as a file written with a bad vCPU state would be. */
static void rewrite_cr0(const char *path, uint64_t value)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    size_t size = (size_t)ftell(f);
    rewind(f);
    uint8_t *file = malloc(size);
    cr_assert(file && size > SNAP_HDR_SIZE);
    cr_assert_eq(fread(file, 1, size, f), size);
    uint32_t n;
    memcpy(&n, file + SNAP_HDR_NSECTIONS, 4);
    uint8_t *entry = NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = file + SNAP_TABLE_OFF + i * SNAP_ENTRY_SIZE;
        uint32_t type;
        memcpy(&type, e + SNAP_ENTRY_TYPE, 4);
        if (type == TIDAL_SNAP_VCPU)
            entry = e;
    }
    cr_assert_not_null(entry, "no vCPU section");
    uint64_t off, len;
    memcpy(&off, entry + SNAP_ENTRY_OFFSET, 8);
    memcpy(&len, entry + SNAP_ENTRY_SIZE_OFF, 8);
    cr_assert_eq(len, sizeof(struct tidal_vcpu_state));
    memcpy(file + off + offsetof(struct tidal_vcpu_state, sregs.cr0), &value, 8);
    uint32_t crc = tidal_crc32c(0, file + off, len);
    memcpy(entry + SNAP_ENTRY_CRC, &crc, 4);
    crc = tidal_crc32c(0, file + SNAP_TABLE_OFF, n * SNAP_ENTRY_SIZE);
    memcpy(file + SNAP_HDR_TABLE_CRC, &crc, 4);
    crc = tidal_crc32c(0, file, SNAP_HDR_CRC);
    memcpy(file + SNAP_HDR_CRC, &crc, 4);
    rewind(f);
    cr_assert_eq(fwrite(file, 1, size, f), size);
    fclose(f);
    free(file);
}

/* Registers KVM refuses (paging without protected mode) are the snapshot's fault:
 * exit 65, as for any bad snapshot, not 71 (a monitor failure). */
Test(snapshot, impossible_cpu_state_is_a_bad_snapshot)
{
    const char *snap = in_dir("kv.snap");
    save("build/examples/kv.elf", snap);
    rewrite_cr0(snap, 0x80000000u);
    const char *args[] = {"restore", snap, NULL};
    run_tidal(args, "k1\n", &p);
    cr_assert_eq(p.status, 65, "%s", p.err);
    cr_assert(strstr(p.err, "the saved vCPU state is invalid"), "%s", p.err);
}

/* A restore takes the snapshot's memory as the whole guest: files and scratch space
 * asked for in the configuration (the daemon passes a job's, booted or resumed) add
 * nothing. They once grew the size the VM later unmapped, past the snapshot's
 * mapping, and the daemon lost memory that was not its guest's. */
Test(snapshot, restore_ignores_files_and_scratch_in_its_configuration)
{
    require_kvm();
    const char *snap = in_dir("scratch.snap");
    save("build/tests/guests/scratch_keep.elf", snap);
    struct tidal_snap *s = NULL;
    struct tidal_err err = {""};
    cr_assert_eq(tidal_snap_open(snap, &s, &err), 0, "%s", err.msg);
    const struct tidal_snap *chain[1] = {s};
    struct tidal_vm_config cfg = {.in_fd = -1,
                                  .out_fd = -1,
                                  .err_fd = -1,
                                  .scratch_max = 1u << 20,
                                  .fs_image_size = 1u << 20};
    struct tidal_vm *vm = NULL;
    cr_assert_eq(tidal_snapshot_restore(chain, 1, &cfg, 0, NULL, &vm, &err), 0, "%s", err.msg);
    uint64_t size;
    tidal_vm_memory(vm, &size);
    cr_assert_eq(size, tidal_snap_info(s)->mem_size, "restored guest memory: %llu bytes",
                 (unsigned long long)size);
    tidal_vm_destroy(vm);
    tidal_snap_close(s);
}

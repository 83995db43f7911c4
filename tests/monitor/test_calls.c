/* The monitor's side of the guest ABI, driven with hostile arguments. */
#include "tidal/calls.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM (8ull << 20)
#define BLOCK 0x300000ull /* where the tests put the call block */
#define DATA 0x310000ull

static struct tidal_guest_mem mem;
static int out_pipe[2], err_pipe[2], in_pipe[2];
static volatile int interrupted;
static struct tidal_call_io io;

static void setup(void)
{
    mem.base = calloc(1, MEM);
    mem.size = MEM;
    cr_assert_eq(pipe(out_pipe), 0);
    cr_assert_eq(pipe(err_pipe), 0);
    cr_assert_eq(pipe(in_pipe), 0);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    interrupted = 0;
    io = (struct tidal_call_io){.in_fd = in_pipe[0],
                                .out_fd = out_pipe[1],
                                .err_fd = err_pipe[1],
                                .interrupted = &interrupted};
}

static void teardown(void)
{
    free(mem.base);
    for (int i = 0; i < 2; i++) {
        close(out_pipe[i]);
        close(err_pipe[i]);
        close(in_pipe[i]);
    }
}

TestSuite(calls, .init = setup, .fini = teardown);

static struct tidal_call *block(void)
{
    return (struct tidal_call *)(mem.base + BLOCK);
}

static void put_call(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    *block() = (struct tidal_call){.nr = nr, .arg = {a0, a1, a2}};
}

static void put_iov(uint64_t at, unsigned i, uint32_t fd, uint64_t gpa, uint32_t len)
{
    struct tidal_iov v = {.fd = fd, .len = len, .gpa = gpa};
    memcpy(mem.base + at + i * sizeof(v), &v, sizeof(v));
}

static enum tidal_call_outcome handle(struct tidal_call_result *res)
{
    return tidal_call_handle(&mem, &io, BLOCK, res);
}

static size_t drain(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);
    n = n < 0 ? 0 : n;
    buf[n] = 0;
    return (size_t)n;
}

Test(calls, guest_range_checks)
{
    cr_assert_not_null(tidal_guest_range(&mem, 0x200000, 16, 1));
    cr_assert_null(tidal_guest_range(&mem, MEM - 8, 16, 0), "crosses the end");
    cr_assert_null(tidal_guest_range(&mem, MEM, 0, 0), "starts at the end");
    cr_assert_null(tidal_guest_range(&mem, UINT64_MAX - 4, 16, 0), "wraps around");
    cr_assert_null(tidal_guest_range(&mem, 0x10, 8, 0), "page 0");
    cr_assert_null(tidal_guest_range(&mem, 0x10000, 8, 1), "monitor's page tables");
    cr_assert_not_null(tidal_guest_range(&mem, 0x1000, 8, 0), "boot info is readable");
}

Test(calls, write_vector_in_order)
{
    memcpy(mem.base + DATA, "out1 err out2\n", 14);
    put_iov(DATA + 0x100, 0, 1, DATA, 5);
    put_iov(DATA + 0x100, 1, 2, DATA + 5, 4);
    put_iov(DATA + 0x100, 2, 1, DATA + 9, 5);
    put_call(TIDAL_CALL_WRITE, DATA + 0x100, 3, 0);
    struct tidal_call_result res;
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE, "%s", res.msg);
    cr_assert_eq(block()->ret, 14);
    char buf[64];
    drain(out_pipe[0], buf, sizeof(buf));
    cr_assert_str_eq(buf, "out1 out2\n");
    drain(err_pipe[0], buf, sizeof(buf));
    cr_assert_str_eq(buf, "err ");
    cr_assert_eq(io.bytes_out, 14);
}

Test(calls, write_rejects_hostile_vectors_before_writing)
{
    struct tidal_call_result res;
    char buf[64];
    /* vector outside memory */
    put_call(TIDAL_CALL_WRITE, MEM - 8, 2, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "outside guest memory"), "%s", res.msg);
    /* too many pieces */
    put_call(TIDAL_CALL_WRITE, DATA, TIDAL_IOV_MAX + 1, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "pieces"), "%s", res.msg);
    /* a huge length, after a valid piece: nothing may be written */
    put_iov(DATA, 0, 1, DATA + 0x100, 4);
    put_iov(DATA, 1, 1, DATA + 0x100, 0xffffffffu);
    put_call(TIDAL_CALL_WRITE, DATA, 2, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "bytes of output"), "%s", res.msg);
    cr_assert_eq(drain(out_pipe[0], buf, sizeof(buf)), 0);
    /* a piece that wraps past the end of the address space */
    put_iov(DATA, 0, 1, UINT64_MAX - 2, 16);
    put_call(TIDAL_CALL_WRITE, DATA, 1, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "piece 0"), "%s", res.msg);
    /* a wrong fd */
    put_iov(DATA, 0, 7, DATA + 0x100, 4);
    put_call(TIDAL_CALL_WRITE, DATA, 1, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "fd 7"), "%s", res.msg);
}

Test(calls, bad_blocks)
{
    struct tidal_call_result res;
    cr_assert_eq(tidal_call_handle(&mem, &io, MEM - 8, &res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "outside guest memory"), "%s", res.msg);
    cr_assert_eq(tidal_call_handle(&mem, &io, BLOCK + 4, &res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "aligned"), "%s", res.msg);
    cr_assert_eq(tidal_call_handle(&mem, &io, 0x10000, &res), TIDAL_CALL_INVALID,
                 "a block in the monitor's pages would let the guest write there");
    put_call(99, 0, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "unknown call number 99"), "%s", res.msg);
    put_call(TIDAL_CALL_WRITE, 0, 0, 0);
    block()->reserved = 5;
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "reserved"), "%s", res.msg);
}

Test(calls, read_checks_the_buffer)
{
    struct tidal_call_result res;
    cr_assert_eq(write(in_pipe[1], "input", 5), 5);
    put_call(TIDAL_CALL_READ, 0, 0x10000, 5);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID, "no reads into page tables");
    put_call(TIDAL_CALL_READ, 0, MEM - 2, 5);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    put_call(TIDAL_CALL_READ, 0, DATA, 1ull << 40);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "length"), "%s", res.msg);
    put_call(TIDAL_CALL_READ, 3, DATA, 5);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_lt(block()->ret, 0, "only fd 0 can be read");
    put_call(TIDAL_CALL_READ, 0, DATA, 64);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_eq(block()->ret, 5);
    cr_assert_eq(memcmp(mem.base + DATA, "input", 5), 0);
}

Test(calls, exit_flushes_and_reports_status)
{
    struct tidal_call_result res;
    memcpy(mem.base + DATA, "bye\n", 4);
    put_iov(DATA + 0x100, 0, 1, DATA, 4);
    put_call(TIDAL_CALL_EXIT, 42, DATA + 0x100, 1);
    cr_assert_eq(handle(&res), TIDAL_CALL_EXITED);
    cr_assert_eq(res.status, 42);
    char buf[16];
    drain(out_pipe[0], buf, sizeof(buf));
    cr_assert_str_eq(buf, "bye\n");
    put_call(TIDAL_CALL_EXIT, 256, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
    cr_assert(strstr(res.msg, "status 256"), "%s", res.msg);
}

Test(calls, fault_report)
{
    struct tidal_call_result res;
    struct tidal_fault f = {.vector = 14, .rip = 0x201234, .cr2 = 0};
    memcpy(mem.base + DATA, &f, sizeof(f));
    put_call(TIDAL_CALL_FAULT, DATA, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_FAULTED);
    cr_assert_eq(res.fault.vector, 14);
    cr_assert_eq(res.fault.rip, 0x201234);
    put_call(TIDAL_CALL_FAULT, MEM - 16, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_INVALID);
}

Test(calls, sleep_stops_when_interrupted)
{
    struct tidal_call_result res;
    interrupted = 1;
    put_call(TIDAL_CALL_SLEEP, UINT64_MAX, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_eq(block()->ret, 0);
}

Test(calls, progress_is_recorded)
{
    struct tidal_call_result res;
    put_call(TIDAL_CALL_PROGRESS, 25, 100, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_eq(block()->ret, 0);
    cr_assert_eq(io.progress_done, 25);
    cr_assert_eq(io.progress_total, 100);
}

Test(calls, progress_with_bad_numbers_is_refused_but_not_fatal)
{
    struct tidal_call_result res;
    put_call(TIDAL_CALL_PROGRESS, 7, 10, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    put_call(TIDAL_CALL_PROGRESS, 11, 10, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_eq(block()->ret, -EINVAL, "done past total");
    put_call(TIDAL_CALL_PROGRESS, 0, 0, 0);
    cr_assert_eq(handle(&res), TIDAL_CALL_CONTINUE);
    cr_assert_eq(block()->ret, -EINVAL, "total of 0");
    cr_assert_eq(io.progress_done, 7, "the last good report stands");
    cr_assert_eq(io.progress_total, 10);
}

/* The host side of the console ring, driven with well-formed and hostile rings. */
#include "tidal/calls.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM (8ull << 20)
#define RING 0x300000ull
#define SIZE 256u

static struct tidal_guest_mem mem;
static int out_pipe[2], err_pipe[2];
static struct tidal_call_io io;
static const struct tidal_console_ring_place place = {RING, SIZE};
static uint64_t head; /* the test's guest's own head */
static char msg[256];

static void setup(void)
{
    mem.base = calloc(1, MEM);
    mem.size = MEM;
    cr_assert_eq(pipe(out_pipe), 0);
    cr_assert_eq(pipe(err_pipe), 0);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    io = (struct tidal_call_io){.in_fd = -1, .out_fd = out_pipe[1], .err_fd = err_pipe[1]};
    head = 0;
}

static void teardown(void)
{
    free(mem.base);
    free(mem.host_dirty);
    mem.host_dirty = NULL;
    for (int i = 0; i < 2; i++) {
        close(out_pipe[i]);
        close(err_pipe[i]);
    }
}

TestSuite(console_ring, .init = setup, .fini = teardown);

static struct tidal_console_ring *hdr(void)
{
    return (struct tidal_console_ring *)(mem.base + RING);
}

static uint8_t *data(void)
{
    return mem.base + RING + sizeof(struct tidal_console_ring);
}

/* What guestlib does: header, text (wrapping), head past the padding. */
static void put_raw(uint32_t fd, uint32_t len, const char *text, size_t text_len)
{
    struct tidal_console_record rec = {fd, len};
    memcpy(data() + head % SIZE, &rec, sizeof(rec));
    for (size_t i = 0; i < text_len; i++)
        data()[(head + sizeof(rec) + i) % SIZE] = (uint8_t)text[i];
    head += sizeof(rec) + ((text_len + 7) & ~(size_t)7);
    hdr()->head = head;
}

static void put(uint32_t fd, const char *text)
{
    put_raw(fd, (uint32_t)strlen(text), text, strlen(text));
}

static const char *read_all(int fd)
{
    static char buf[2][4096];
    static int which;
    char *b = buf[which ^= 1];
    ssize_t n = read(fd, b, sizeof(buf[0]) - 1);
    b[n < 0 ? 0 : n] = 0;
    return b;
}

static int drain(void)
{
    return tidal_console_ring_drain(&mem, &io, &place, msg, sizeof(msg));
}

Test(console_ring, empty_ring_writes_nothing)
{
    cr_assert_eq(drain(), 0);
    cr_assert_str_eq(read_all(out_pipe[0]), "");
    cr_assert_eq(hdr()->tail, 0);
}

Test(console_ring, no_ring_is_fine)
{
    const struct tidal_console_ring_place none = {0, 0};
    cr_assert_eq(tidal_console_ring_drain(&mem, &io, &none, msg, sizeof(msg)), 0);
}

Test(console_ring, records_go_to_their_fd_and_tail_follows_head)
{
    put(1, "one\n");
    put(2, "warning\n");
    put(1, "two\n");
    cr_assert_eq(drain(), 0, "%s", msg);
    cr_assert_str_eq(read_all(out_pipe[0]), "one\ntwo\n");
    cr_assert_str_eq(read_all(err_pipe[0]), "warning\n");
    cr_assert_eq(hdr()->tail, head);
    cr_assert_eq(io.bytes_out, 16);
    cr_assert_eq(drain(), 0, "a second drain finds nothing new");
    cr_assert_str_eq(read_all(out_pipe[0]), "");
}

Test(console_ring, interleaved_fds_keep_their_order_in_one_capture)
{
    struct tidal_out_buf both = {.data = malloc(64), .cap = 64};
    io.capture[0] = io.capture[1] = &both;
    put(1, "a");
    put(2, "b");
    put(1, "c");
    put(2, "d");
    cr_assert_eq(drain(), 0, "%s", msg);
    cr_assert_eq(both.len, 4);
    cr_assert_eq(memcmp(both.data, "abcd", 4), 0);
    free(both.data);
}

Test(console_ring, text_wrapping_past_the_end_comes_out_whole)
{
    char filler[SIZE - 40];
    memset(filler, 'x', sizeof(filler));
    put_raw(1, sizeof(filler), filler, sizeof(filler));
    cr_assert_eq(drain(), 0, "%s", msg);
    read_all(out_pipe[0]);
    put(1, "this line wraps around the end of the ring\n"); /* starts 32 bytes before the end */
    cr_assert_eq(drain(), 0, "%s", msg);
    cr_assert_str_eq(read_all(out_pipe[0]), "this line wraps around the end of the ring\n");
    cr_assert_eq(hdr()->tail, head);
}

Test(console_ring, tail_write_is_recorded_for_dirty_tracking)
{
    mem.host_dirty = calloc(MEM / 4096 / 64, sizeof(uint64_t));
    put(1, "x");
    cr_assert_eq(drain(), 0, "%s", msg);
    uint64_t page = RING / 4096;
    cr_assert(mem.host_dirty[page / 64] & (1ull << (page % 64)));
}

Test(console_ring, capture_overflow_is_counted_and_the_ring_still_drains)
{
    struct tidal_out_buf small = {.data = malloc(4), .cap = 4};
    io.capture[0] = &small;
    put(1, "too long for it");
    cr_assert_eq(drain(), 0, "%s", msg);
    cr_assert_eq(small.len, 0);
    cr_assert_eq(io.stdout_errors, 1);
    cr_assert_eq(hdr()->tail, head);
    free(small.data);
}

static void expect_malformed(const char *fragment)
{
    cr_assert_eq(drain(), -1);
    cr_assert(strstr(msg, fragment), "expected '%s' in: %s", fragment, msg);
}

Test(console_ring, bad_fd_stops_the_drain_after_the_good_records)
{
    put(1, "kept\n");
    put(7, "dropped\n");
    put(1, "never\n");
    expect_malformed("record at 16 names fd 7 (expected 1 or 2)");
    cr_assert_str_eq(read_all(out_pipe[0]), "kept\n");
    cr_assert_eq(hdr()->tail, 16, "tail stays at the bad record");
    expect_malformed("names fd 7");
}

Test(console_ring, length_past_head_is_malformed)
{
    put_raw(1, 100, "short", 5);
    expect_malformed("record at 0 claims 100 bytes, but head is 16 bytes on");
    cr_assert_str_eq(read_all(out_pipe[0]), "");
}

Test(console_ring, huge_length_is_malformed)
{
    put_raw(2, 0xffffffffu, "x", 1);
    expect_malformed("claims 4294967295 bytes");
}

Test(console_ring, head_more_than_the_size_ahead_is_malformed)
{
    hdr()->head = SIZE + 8;
    expect_malformed("head 264 and tail 0 do not describe records in 256 bytes");
}

Test(console_ring, head_behind_tail_is_malformed)
{
    hdr()->head = 8;
    hdr()->tail = 16;
    expect_malformed("head 8 and tail 16");
}

Test(console_ring, misaligned_head_is_malformed)
{
    hdr()->head = 12;
    expect_malformed("head 12 and tail 0");
}

Test(console_ring, indices_near_the_top_of_the_range_work)
{
    hdr()->tail = head = UINT64_MAX - 7 - 8 * SIZE; /* a multiple of 8 */
    put(1, "far\n");
    cr_assert_eq(drain(), 0, "%s", msg);
    cr_assert_str_eq(read_all(out_pipe[0]), "far\n");
}

Test(console_ring, ring_outside_guest_memory_is_malformed)
{
    const struct tidal_console_ring_place outside = {MEM - 64, SIZE};
    cr_assert_eq(tidal_console_ring_drain(&mem, &io, &outside, msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, "lies outside the guest's writable memory"), "%s", msg);
    const struct tidal_console_ring_place low = {0x2000, SIZE};
    cr_assert_eq(tidal_console_ring_drain(&mem, &io, &low, msg, sizeof(msg)), -1,
                 "the monitor's own pages are not a ring");
}

Test(console_ring, bad_places_are_refused)
{
    const struct tidal_console_ring_place bad[] = {{RING + 4, SIZE},
                                                   {RING, SIZE + 4},
                                                   {RING, 8},
                                                   {RING, TIDAL_CONSOLE_RING_MAX + 8},
                                                   {0, SIZE}};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(tidal_console_ring_check(&bad[i], msg, sizeof(msg)), -1, "place %u", i);
    cr_assert_eq(tidal_console_ring_check(&place, msg, sizeof(msg)), 0);
}

#include "helpers.h"
#include "tidal/file.h"
#include "tidal/vmstate.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int temp_fd(void)
{
    char path[] = "/tmp/tidal-migrate-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp");
    unlink(path);
    return fd;
}

char *read_all(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    buf[st.st_size] = 0;
    return buf;
}

struct tidal_vm *boot_load(const char *const args[4], uint64_t mem, int in_fd, int out_fd)
{
    const char *path = path_to(LOAD_GUEST);
    const uint8_t *image;
    size_t size;
    struct tidal_err err;
    cr_assert_eq(tidal_file_map(path, 256 << 20, &image, &size, &err), 0, "%s", err.msg);
    char *argv[] = {(char *)path,    (char *)args[0], (char *)args[1],
                    (char *)args[2], (char *)args[3], NULL};
    struct tidal_vm_config cfg = {
        .mem_size = mem, .argc = 5, .argv = argv, .in_fd = in_fd, .out_fd = out_fd, .err_fd = 2};
    struct tidal_vm *vm = NULL;
    int rc = tidal_vm_create(&cfg, image, size, path, &vm, &err);
    tidal_file_unmap(image, size);
    cr_assert_eq(rc, 0, "booting %s: %s", path, err.msg);
    return vm;
}

static void check_exit(const struct tidal_run_result *res, const char *who)
{
    cr_assert_eq(res->reason, TIDAL_EXIT_HALTED, "%s stopped with reason %d: %s", who,
                 (int)res->reason, res->report);
    cr_assert_eq(res->status, 0, "%s exited with status %d", who, res->status);
}

char *unmoved_output(const char *const args[4], uint64_t mem)
{
    int in[2], out = temp_fd();
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(write(in[1], "go\n", 3), 3);
    close(in[1]);
    struct tidal_vm *vm = boot_load(args, mem, in[0], out);
    struct tidal_run_result res;
    do
        tidal_vm_run(vm, &res);
    while (res.reason == TIDAL_EXIT_READY);
    check_exit(&res, "the unmoved guest");
    tidal_vm_destroy(vm);
    char *text = read_all(out);
    close(in[0]);
    close(out);
    return text;
}

void source_start(struct source *s, const char *const args[4], uint64_t mem)
{
    cr_assert_eq(pipe(s->in), 0);
    s->out = temp_fd();
    s->vm = boot_load(args, mem, s->in[0], s->out);
    cr_assert_eq(vm_runner_start(&s->runner, s->vm), 0);
}

void source_wait_for(struct source *s, const char *text)
{
    for (int tries = 0; tries < 10000; tries++) {
        struct tidal_err err;
        cr_assert_eq(tidal_vm_drain_console(s->vm, &err), 0, "%s", err.msg);
        char *out = read_all(s->out);
        bool seen = strstr(out, text) != NULL;
        free(out);
        if (seen)
            return;
        usleep(1000);
    }
    cr_assert_fail("the guest never wrote \"%s\"", text);
}

void source_finish(struct source *s)
{
    cr_assert_eq(write(s->in[1], "go\n", 3), 3);
    vm_runner_join(&s->runner);
    check_exit(&s->runner.res, "the source's guest");
}

void source_free(struct source *s)
{
    tidal_vm_destroy(s->vm);
    close(s->in[0]);
    close(s->in[1]);
    close(s->out);
}

static uint64_t differing_pages(const struct tidal_vm *a, const struct tidal_vm *b, uint64_t *first)
{
    uint64_t size_a, size_b;
    const uint8_t *ma = tidal_vm_memory(a, &size_a), *mb = tidal_vm_memory(b, &size_b);
    if (size_a != size_b)
        return UINT64_MAX;
    uint64_t n = 0;
    for (uint64_t off = 0; off < size_a; off += 4096)
        if (memcmp(ma + off, mb + off, 4096) && n++ == 0)
            for (*first = off; ma[*first] == mb[*first]; ++*first)
                ;
    return n;
}

/* No Criterion assertions on this thread: the test checks what it recorded. */
static void *target_main(void *arg)
{
    struct target *t = arg;
    if (t->mode == TARGET_HANGS_UP) {
        char sink[4096];
        for (size_t got = 0; got < sizeof(sink);) {
            ssize_t k = read(t->fd, sink, sizeof(sink));
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        close(t->fd);
        return NULL;
    }
    if (t->mode == TARGET_BALKS) {
        char header[64];
        struct tidal_err err;
        if (read(t->fd, header, sizeof(header)) > 0)
            tidal_migrate_ack(t->fd, false, "not today", &err);
        close(t->fd);
        return NULL;
    }
    struct tidal_vm_config cfg = {.in_fd = t->in[0], .out_fd = t->out, .err_fd = 2};
    t->rc = tidal_migrate_receive(t->fd, &cfg, &t->vm, &t->st, &t->err);
    if (t->rc == 0) {
        /* The source is paused until it hears from us: its memory stands still. */
        if (t->source)
            t->differing_pages = differing_pages(t->source, t->vm, &t->first_difference);
        struct tidal_err err;
        if (t->mode == TARGET_RUNS) {
            vm_runner_start(&t->runner, t->vm);
            tidal_migrate_ack(t->fd, true, NULL, &err);
        } else {
            tidal_vm_destroy(t->vm);
            t->vm = NULL;
            if (t->mode == TARGET_REFUSES)
                tidal_migrate_ack(t->fd, false, "no room for it here", &err);
        }
    }
    close(t->fd);
    return NULL;
}

void target_start(struct target *t, int fd, enum target_mode mode, const struct tidal_vm *source)
{
    memset(t, 0, sizeof(*t));
    t->fd = fd;
    t->mode = mode;
    t->source = source;
    cr_assert_eq(pipe(t->in), 0);
    t->out = temp_fd();
    cr_assert_eq(pthread_create(&t->thread, NULL, target_main, t), 0);
}

void target_join(struct target *t)
{
    pthread_join(t->thread, NULL);
}

void target_free(struct target *t)
{
    tidal_vm_destroy(t->vm);
    close(t->in[0]);
    close(t->in[1]);
    close(t->out);
}

void stream_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

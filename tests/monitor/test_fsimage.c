/* The file image builder and checker, and the /out archive writer: built images pass
 * the guest's checks, damaged ones and hostile archives are refused, never crash,
 * and a refused archive writes nothing. */
#include "tidal/abi.h"
#include "tidal/fsimage.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tidal-fsimage-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd)) {
    }
}

TestSuite(fsimage, .init = setup, .fini = teardown);

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static struct tidal_fs_node node(const uint8_t *img, uint32_t i)
{
    struct tidal_fs_header h;
    memcpy(&h, img, sizeof(h));
    struct tidal_fs_node n;
    memcpy(&n, img + h.nodes_off + i * sizeof(n), sizeof(n));
    return n;
}

Test(fsimage, built_image_is_breadth_first_sorted_and_checks)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    put("zeta", "z");
    put("alpha", "aa");
    put("sub/inner", "inner");
    struct tidal_fs_spec spec = {.host = dir, .guest = "/data", .is_dir = true};
    uint8_t *img;
    size_t size;
    struct tidal_err err;
    cr_assert_eq(tidal_fs_build(&spec, 1, &img, &size, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_fs_image_check(img, size, &err), 0, "%s", err.msg);
    struct tidal_fs_header h;
    memcpy(&h, img, sizeof(h));
    cr_assert_eq(h.nnodes, 6); /* /, data, alpha, sub, zeta, inner */
    cr_assert_eq(h.ntrees, 1);
    struct tidal_fs_node root = node(img, 0), data = node(img, 1);
    cr_assert_eq(root.nchildren, 1);
    cr_assert_eq(data.nchildren, 3);
    const char *names[] = {"alpha", "sub", "zeta"};
    for (unsigned i = 0; i < 3; i++) {
        struct tidal_fs_node c = node(img, data.first_child + i);
        cr_assert_eq(c.name_len, strlen(names[i]));
        cr_assert(!memcmp(img + c.name_off, names[i], c.name_len));
        cr_assert_eq(c.parent, 1);
    }
    struct tidal_fs_node alpha = node(img, data.first_child);
    cr_assert_eq(alpha.size, 2);
    cr_assert(!memcmp(img + alpha.data_off, "aa", 2));
    cr_assert_eq(alpha.perm & 0222, 0, "write bits are cleared");

    /* the checksum follows the content */
    struct tidal_fs_tree t1;
    memcpy(&t1, img + h.trees_off, sizeof(t1));
    free(img);
    put("alpha", "ab");
    cr_assert_eq(tidal_fs_build(&spec, 1, &img, &size, &err), 0, "%s", err.msg);
    struct tidal_fs_tree t2;
    memcpy(&t2, img + h.trees_off, sizeof(t2));
    cr_assert_neq(t1.checksum, t2.checksum);

    /* every damaged node or header is refused, and nothing reads out of bounds */
    for (size_t off = 0; off < h.nodes_off + h.nnodes * sizeof(struct tidal_fs_node); off += 4) {
        uint8_t *copy = malloc(size);
        memcpy(copy, img, size);
        uint32_t bad = 0xfffffff0u;
        memcpy(copy + off, &bad, 4);
        tidal_fs_image_check(copy, size, &err); /* refused or harmless: never a crash */
        free(copy);
    }
    cr_assert_neq(tidal_fs_image_check(img, sizeof(struct tidal_fs_header) - 1, &err), 0);
    cr_assert_neq(tidal_fs_image_check(img, size - 1, &err), 0, "a cut image is refused");
    free(img);
}

static size_t rec(uint8_t *buf, size_t at, uint32_t type, const char *path, const char *data)
{
    struct tidal_out_record h = {
        .type = type, .path_len = (uint32_t)strlen(path), .size = data ? strlen(data) : 0};
    memcpy(buf + at, &h, sizeof(h));
    memcpy(buf + at + sizeof(h), path, h.path_len);
    if (data)
        memcpy(buf + at + sizeof(h) + h.path_len, data, h.size);
    return at + ((sizeof(h) + h.path_len + h.size + 7) & ~7ull);
}

Test(fsimage, outputs_written_whole_or_not_at_all)
{
    static uint8_t a[4096];
    size_t n = rec(a, 0, TIDAL_FS_DIR, "d", NULL);
    n = rec(a, n, TIDAL_FS_FILE, "d/f.txt", "content");
    n = rec(a, n, TIDAL_FS_FILE, "top", "t");
    char out[128], path[256];
    snprintf(out, sizeof(out), "%s/out", dir);
    struct tidal_err err;
    cr_assert_eq(tidal_fs_write_outputs(a, n, out, &err), 0, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/d/f.txt", out);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 7);

    const char *hostile[] = {"../escape", "/abs", "a/../../b", "a//b", ".", "x/."};
    for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        char fresh[160];
        snprintf(fresh, sizeof(fresh), "%s/h%u", dir, i);
        size_t m = rec(a, 0, TIDAL_FS_FILE, "fine", "ok");
        m = rec(a, m, TIDAL_FS_FILE, hostile[i], "bad");
        cr_assert_neq(tidal_fs_write_outputs(a, m, fresh, &err), 0, "%s accepted", hostile[i]);
        cr_assert_neq(stat(fresh, &st), 0, "%s: something was written", hostile[i]);
    }
    /* a length past the end, a bad type: refused whole */
    rec(a, 0, TIDAL_FS_FILE, "fine", "ok");
    size_t whole = sizeof(struct tidal_out_record) + 4 + 2; /* the last padding may be absent */
    for (size_t cut = 1; cut < whole; cut++)
        cr_assert_neq(tidal_fs_write_outputs(a, cut, out, &err), 0, "cut at %zu", cut);
    struct tidal_out_record h = {.type = 9, .path_len = 1};
    memcpy(a, &h, sizeof(h));
    cr_assert_neq(tidal_fs_write_outputs(a, 24, out, &err), 0);
}

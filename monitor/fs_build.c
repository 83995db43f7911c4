/* The read-only file image from the host's trees (abi.h, "Files"): walked once at
 * start, checked entry by entry, laid out breadth first with sorted children so the
 * guest looks names up by binary search without building anything. */
#include "tidal/abi.h"
#include "tidal/checksum.h"
#include "tidal/fsimage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODES (1u << 20)
#define MAX_DEPTH 64
#define MAX_IMAGE (2ull << 30)

struct bnode {
    char *name;
    int is_dir;
    int is_tree; /* the root of a --dir: nothing else may go inside it */
    uint32_t perm;
    int64_t mtime;
    uint64_t size;
    char *host; /* files: where the content is read from */
    struct bnode *parent;
    struct bnode **kids;
    unsigned nkids, cap;
    uint32_t index;
    uint64_t name_off, data_off;
    uint32_t crc; /* files: CRC32C of the content, taken as it is read in */
};

struct builder {
    struct bnode root;
    unsigned nnodes;
    struct tidal_err *err;
};

static void free_node(struct bnode *n)
{
    for (unsigned i = 0; i < n->nkids; i++) {
        free_node(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    free(n->name);
    free(n->host);
}

static struct bnode *add_kid(struct builder *b, struct bnode *dir, const char *name, size_t len)
{
    if (b->nnodes >= MAX_NODES) {
        tidal_err_set(b->err, "more than %u files and directories in the trees", MAX_NODES);
        return NULL;
    }
    if (dir->nkids == dir->cap) {
        unsigned cap = dir->cap ? dir->cap * 2 : 8;
        struct bnode **k = realloc(dir->kids, cap * sizeof(*k));
        if (!k)
            goto oom;
        dir->kids = k;
        dir->cap = cap;
    }
    struct bnode *n = calloc(1, sizeof(*n));
    if (!n || !(n->name = strndup(name, len))) {
        free(n);
        goto oom;
    }
    n->parent = dir;
    dir->kids[dir->nkids++] = n;
    b->nnodes++;
    return n;
oom:
    tidal_err_set(b->err, "out of memory building the file image");
    return NULL;
}

static struct bnode *find_kid(struct bnode *dir, const char *name, size_t len)
{
    for (unsigned i = 0; i < dir->nkids; i++)
        if (strlen(dir->kids[i]->name) == len && !memcmp(dir->kids[i]->name, name, len))
            return dir->kids[i];
    return NULL;
}

static int has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
            return 1;
    return 0;
}

static int set_file(struct builder *b, struct bnode *n, const char *host, const struct stat *st)
{
    n->is_dir = 0;
    n->perm = st->st_mode & 0555;
    n->mtime = st->st_mtime;
    n->size = (uint64_t)st->st_size;
    if (!(n->host = strdup(host)))
        return tidal_err_set(b->err, "out of memory building the file image");
    return 0;
}

static const char *kind_of(mode_t m)
{
    return S_ISCHR(m) || S_ISBLK(m) ? "a device file"
           : S_ISSOCK(m)            ? "a socket"
           : S_ISFIFO(m)            ? "a FIFO"
                                    : "not a regular file";
}

/* A symbolic link inside a tree: kept only when it resolves to a regular file inside
 * the same tree (then the file's content is copied under the link's name). */
static int add_link(struct builder *b, struct bnode *n, const char *path, const char *root_real)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return tidal_err_set(b->err, "%s: symbolic link that does not resolve: %s", path,
                             strerror(errno));
    size_t rl = strlen(root_real);
    if (strncmp(real, root_real, rl) || (real[rl] != '/' && real[rl] != 0))
        return tidal_err_set(b->err, "%s: symbolic link points outside the tree (to %s)", path,
                             real);
    struct stat st;
    if (stat(real, &st))
        return tidal_err_set(b->err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return tidal_err_set(b->err,
                             "%s: symbolic link to a directory (only links to files "
                             "are followed)",
                             path);
    if (!S_ISREG(st.st_mode))
        return tidal_err_set(b->err, "%s: symbolic link to %s", path, kind_of(st.st_mode));
    return set_file(b, n, real, &st);
}

static int walk_dir(struct builder *b, struct bnode *dir, const char *path, const char *root_real,
                    int depth)
{
    if (depth > MAX_DEPTH)
        return tidal_err_set(b->err, "%s: directories nested deeper than %d", path, MAX_DEPTH);
    DIR *d = opendir(path);
    if (!d)
        return tidal_err_set(b->err, "%s: %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    char child[PATH_MAX];
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child)) {
            rc = tidal_err_set(b->err, "%s/%s: path too long", path, e->d_name);
            break;
        }
        struct stat st;
        if (lstat(child, &st)) {
            rc = tidal_err_set(b->err, "%s: %s", child, strerror(errno));
            break;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
            rc = tidal_err_set(b->err, "%s: %s cannot be given to a guest", child,
                               kind_of(st.st_mode));
            break;
        }
        struct bnode *n = add_kid(b, dir, e->d_name, strlen(e->d_name));
        if (!n) {
            rc = -1;
            break;
        }
        if (S_ISLNK(st.st_mode))
            rc = add_link(b, n, child, root_real);
        else if (S_ISREG(st.st_mode))
            rc = set_file(b, n, child, &st);
        else {
            n->is_dir = 1;
            n->perm = st.st_mode & 0555;
            n->mtime = st.st_mtime;
            rc = walk_dir(b, n, child, root_real, depth + 1);
        }
    }
    closedir(d);
    return rc;
}

/* The node for a guest path, creating directories on the way; refuses overlaps. */
static struct bnode *place(struct builder *b, const char *guest)
{
    struct bnode *cur = &b->root;
    const char *p = guest;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!len)
            break;
        struct bnode *k = find_kid(cur, p, len);
        int last = !p[len] || !p[len + strspn(p + len, "/")];
        if (k && (last || !k->is_dir || k->is_tree)) {
            tidal_err_set(b->err, "guest path %s overlaps another --dir or --file", guest);
            return NULL;
        }
        if (!k) {
            if (!(k = add_kid(b, cur, p, len)))
                return NULL;
            k->is_dir = !last;
            k->perm = 0555;
        }
        cur = k;
        p += len;
    }
    return cur;
}

static int check_guest_path(const char *g, struct tidal_err *err)
{
    if (g[0] != '/' || !g[strspn(g, "/")])
        return tidal_err_set(err, "guest path '%s': expected an absolute path below /", g);
    if (has_dotdot(g) || strstr(g, "/./") || !strcmp(g + strlen(g) - 2, "/."))
        return tidal_err_set(err, "guest path '%s': '.' and '..' are not allowed", g);
    const char *first = g + strspn(g, "/");
    if ((!strncmp(first, "tmp", 3) || !strncmp(first, "out", 3)) &&
        (first[3] == 0 || first[3] == '/'))
        return tidal_err_set(err, "guest path '%s': /tmp and /out are the guest's scratch space",
                             g);
    if (strlen(g) >= 1024)
        return tidal_err_set(err, "guest path '%s...': longer than 1023 bytes", g);
    return 0;
}

static int add_spec(struct builder *b, const struct tidal_fs_spec *s)
{
    if (has_dotdot(s->host))
        return tidal_err_set(b->err, "%s: '..' is not allowed in a host path", s->host);
    if (check_guest_path(s->guest, b->err))
        return -1;
    struct stat st;
    if (stat(s->host, &st))
        return tidal_err_set(b->err, "%s: %s", s->host, strerror(errno));
    if (s->is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return tidal_err_set(b->err, "%s: --%s expects %s", s->host, s->is_dir ? "dir" : "file",
                             s->is_dir ? "a directory" : "a regular file");
    struct bnode *n = place(b, s->guest);
    if (!n)
        return -1;
    if (!s->is_dir)
        return set_file(b, n, s->host, &st);
    n->perm = st.st_mode & 0555;
    n->mtime = st.st_mtime;
    n->is_tree = 1;
    n->is_dir = 1;
    char real[PATH_MAX];
    if (!realpath(s->host, real))
        return tidal_err_set(b->err, "%s: %s", s->host, strerror(errno));
    return walk_dir(b, n, s->host, real, 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(struct bnode *const *)a)->name, (*(struct bnode *const *)b)->name);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* FNV-1a over the names, types and sizes, folding in each file's content CRC: the
 * content goes through the CPU's CRC instruction (several GB/s) while it is still in
 * cache, not through FNV's byte-at-a-time multiply (under 1 GB/s). */
static uint64_t tree_sum(const struct bnode *n, uint64_t h)
{
    h = fnv(h, n->name, strlen(n->name) + 1);
    uint32_t t = n->is_dir ? TIDAL_FS_DIR : TIDAL_FS_FILE;
    h = fnv(h, &t, sizeof(t));
    h = fnv(h, &n->size, sizeof(n->size));
    if (!n->is_dir)
        h = fnv(h, &n->crc, sizeof(n->crc));
    for (unsigned i = 0; i < n->nkids; i++)
        h = tree_sum(n->kids[i], h);
    return h;
}

static int read_content(const struct bnode *n, uint8_t *dst, struct tidal_err *err)
{
    int fd = open(n->host, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tidal_err_set(err, "%s: %s", n->host, strerror(errno));
    uint64_t got = 0;
    while (got < n->size) {
        ssize_t r = read(fd, dst + got, n->size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    close(fd);
    if (got != n->size)
        return tidal_err_set(err, "%s: changed while it was read (%llu of %llu bytes)", n->host,
                             (unsigned long long)got, (unsigned long long)n->size);
    return 0;
}

static uint64_t up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Walked and laid out; the contents are read only when the image is written, straight
 * into guest memory (no copy in between: for large files, reading them is most of a
 * start's cost). */
struct tidal_fs_plan {
    struct builder b;
    const struct tidal_fs_spec *specs;
    unsigned nspecs;
    struct bnode **q; /* every node, breadth first: children sorted and consecutive */
    unsigned nq;
    uint64_t trees_off, nodes_off, names_off, data_off, total;
};

static int lay_out(struct tidal_fs_plan *p)
{
    struct builder *b = &p->b;
    struct bnode **q = p->q = malloc((b->nnodes + 1) * sizeof(*q));
    if (!q)
        return tidal_err_set(b->err, "out of memory building the file image");
    unsigned head = 0, tail = 0;
    q[tail++] = &b->root;
    uint64_t names = 0, data = 0;
    while (head < tail) {
        struct bnode *n = q[head];
        n->index = head++;
        n->perm &= 0555;
        if (n->nkids > 1) /* qsort of no array at all is undefined */
            qsort(n->kids, n->nkids, sizeof(*n->kids), by_name);
        for (unsigned i = 0; i < n->nkids; i++)
            q[tail++] = n->kids[i];
        names += strlen(n->name);
        if (!n->is_dir)
            data = up(data, 64) + n->size;
    }
    p->nq = tail;
    for (unsigned i = 0; i < p->nspecs; i++)
        names += strlen(p->specs[i].guest);
    p->trees_off = up(sizeof(struct tidal_fs_header), 8);
    p->nodes_off = up(p->trees_off + p->nspecs * sizeof(struct tidal_fs_tree), 8);
    p->names_off = p->nodes_off + (uint64_t)tail * sizeof(struct tidal_fs_node);
    p->data_off = up(p->names_off + names, 64);
    p->total = p->data_off + data;
    if (p->total > MAX_IMAGE)
        return tidal_err_set(b->err, "the trees take %llu MiB; at most %llu MiB fit in a guest",
                             (unsigned long long)(p->total >> 20),
                             (unsigned long long)(MAX_IMAGE >> 20));
    return 0;
}

void tidal_fs_plan_free(struct tidal_fs_plan *p)
{
    if (!p)
        return;
    free_node(&p->b.root);
    free(p->q);
    free(p);
}

int tidal_fs_plan(const struct tidal_fs_spec *specs, unsigned n, struct tidal_fs_plan **plan,
                  size_t *size, struct tidal_err *err)
{
    *plan = NULL;
    *size = 0;
    struct tidal_fs_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return tidal_err_set(err, "out of memory");
    p->b = (struct builder){.root = {.is_dir = 1, .perm = 0555}, .nnodes = 1, .err = err};
    p->specs = specs;
    p->nspecs = n;
    int rc = (p->b.root.name = strdup("")) ? 0 : tidal_err_set(err, "out of memory");
    for (unsigned i = 0; i < n && !rc; i++)
        rc = add_spec(&p->b, &specs[i]);
    if (!rc)
        rc = lay_out(p);
    if (rc) {
        tidal_fs_plan_free(p);
        return rc;
    }
    *plan = p;
    *size = p->total;
    return 0;
}

int tidal_fs_write(struct tidal_fs_plan *p, uint8_t *img, struct tidal_err *err)
{
    /* The metadata is written field by field over zeroes; the file data covers the
     * rest, but for the gaps that align each file, zeroed as they come. */
    memset(img, 0, p->data_off);
    uint64_t name_at = p->names_off, data_at = p->data_off;
    struct tidal_fs_node *nodes = (struct tidal_fs_node *)(img + p->nodes_off);
    for (unsigned i = 0; i < p->nq; i++) {
        struct bnode *n = p->q[i];
        size_t nl = strlen(n->name);
        memcpy(img + name_at, n->name, nl);
        n->name_off = name_at;
        name_at += nl;
        struct tidal_fs_node *o = &nodes[i];
        o->type = n->is_dir ? TIDAL_FS_DIR : TIDAL_FS_FILE;
        o->perm = n->perm;
        o->parent = n->parent ? n->parent->index : 0;
        o->name_len = (uint32_t)nl;
        o->name_off = n->name_off;
        o->mtime = n->mtime;
        if (n->is_dir) {
            o->nchildren = n->nkids;
            o->first_child = n->nkids ? n->kids[0]->index : 0;
            continue;
        }
        uint64_t start = up(data_at, 64);
        memset(img + data_at, 0, start - data_at);
        data_at = start;
        n->data_off = o->data_off = data_at;
        o->size = n->size;
        if (read_content(n, img + data_at, err))
            return -1;
        n->crc = tidal_crc32c(0, img + data_at, n->size);
        data_at += n->size;
    }
    struct tidal_fs_tree *trees = (struct tidal_fs_tree *)(img + p->trees_off);
    for (unsigned i = 0; i < p->nspecs; i++) {
        const char *guest = p->specs[i].guest;
        size_t gl = strlen(guest);
        memcpy(img + name_at, guest, gl);
        trees[i].path_off = name_at;
        trees[i].path_len = (uint32_t)gl;
        name_at += gl;
        struct bnode *n = &p->b.root;
        for (const char *c = guest; *c && n;) {
            c += strspn(c, "/");
            size_t len = strcspn(c, "/");
            if (len)
                n = find_kid(n, c, len);
            c += len;
        }
        trees[i].node = n ? n->index : 0;
        trees[i].checksum = n ? tree_sum(n, 0xcbf29ce484222325ull) : 0;
    }
    struct tidal_fs_header h = {
        .magic = TIDAL_FS_MAGIC,
        .nnodes = p->nq,
        .size = p->total,
        .nodes_off = p->nodes_off,
        .trees_off = p->trees_off,
        .ntrees = p->nspecs,
    };
    memcpy(img, &h, sizeof(h));
    return 0;
}

int tidal_fs_build(const struct tidal_fs_spec *specs, unsigned n, uint8_t **image, size_t *size,
                   struct tidal_err *err)
{
    struct tidal_fs_plan *p;
    *image = NULL;
    if (tidal_fs_plan(specs, n, &p, size, err))
        return -1;
    uint8_t *img = malloc(*size);
    int rc = img ? tidal_fs_write(p, img, err)
                 : tidal_err_set(err, "out of memory for a %zu-byte file image", *size);
    tidal_fs_plan_free(p);
    if (rc) {
        free(img);
        *size = 0;
        return rc;
    }
    *image = img;
    return 0;
}

int tidal_fs_spec_parse(char *arg, bool is_dir, struct tidal_fs_spec *out, struct tidal_err *err)
{
    char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return tidal_err_set(err, "--%s '%s': expected HOST_PATH:GUEST_PATH",
                             is_dir ? "dir" : "file", arg);
    *colon = 0;
    *out = (struct tidal_fs_spec){.host = arg, .guest = colon + 1, .is_dir = is_dir};
    return 0;
}

void tidal_fs_trees_free(struct tidal_fs_trees *t)
{
    for (unsigned i = 0; i < t->n; i++)
        free(t->args[i]);
    t->n = 0;
}

int tidal_fs_trees_copy(struct tidal_fs_trees *dst, const struct tidal_fs_trees *src)
{
    dst->n = 0;
    for (unsigned i = 0; i < src->n; i++) {
        const struct tidal_fs_spec *s = &src->specs[i];
        size_t hl = strlen(s->host), gl = strlen(s->guest);
        char *copy = malloc(hl + gl + 2);
        if (!copy) {
            tidal_fs_trees_free(dst);
            return -1;
        }
        memcpy(copy, s->host, hl + 1);
        memcpy(copy + hl + 1, s->guest, gl + 1);
        dst->args[i] = copy;
        dst->specs[i] =
            (struct tidal_fs_spec){.host = copy, .guest = copy + hl + 1, .is_dir = s->is_dir};
        dst->n++;
    }
    return 0;
}

/* Dinic's algorithm. Capacities are doubles, so anything below MF_EPS counts as zero:
 * without it, rounding dust keeps augmenting paths alive forever. */
#include "maxflow.h"

#include <stdlib.h>

#define MF_EPS 1e-12

int mf_init(struct maxflow *g, int nodes)
{
    g->n = nodes;
    g->ne = 0;
    g->cape = 1024;
    g->head = malloc((size_t)nodes * sizeof(int));
    g->level = malloc((size_t)nodes * sizeof(int));
    g->it = malloc((size_t)nodes * sizeof(int));
    g->queue = malloc((size_t)nodes * sizeof(int));
    g->e = malloc(g->cape * sizeof *g->e);
    if (!g->head || !g->level || !g->it || !g->queue || !g->e) {
        mf_free(g);
        return -1;
    }
    for (int i = 0; i < nodes; i++)
        g->head[i] = -1;
    return 0;
}

void mf_free(struct maxflow *g)
{
    free(g->head);
    free(g->level);
    free(g->it);
    free(g->queue);
    free(g->e);
    g->head = g->level = g->it = g->queue = NULL;
    g->e = NULL;
}

long mf_add(struct maxflow *g, int u, int v, double c)
{
    if (g->ne + 2 > g->cape) {
        struct mf_edge *ne = realloc(g->e, g->cape * 2 * sizeof *ne);
        if (!ne)
            return -1;
        g->e = ne;
        g->cape *= 2;
    }
    long id = (long)g->ne;
    g->e[g->ne] = (struct mf_edge){.to = v, .next = g->head[u], .cap = c};
    g->head[u] = (int)g->ne++;
    g->e[g->ne] = (struct mf_edge){.to = u, .next = g->head[v], .cap = 0};
    g->head[v] = (int)g->ne++;
    return id;
}

static int bfs(struct maxflow *g, int s, int t)
{
    for (int i = 0; i < g->n; i++)
        g->level[i] = -1;
    int qh = 0, qt = 0;
    g->queue[qt++] = s;
    g->level[s] = 0;
    while (qh < qt) {
        int u = g->queue[qh++];
        for (int k = g->head[u]; k >= 0; k = g->e[k].next)
            if (g->e[k].cap > MF_EPS && g->level[g->e[k].to] < 0) {
                g->level[g->e[k].to] = g->level[u] + 1;
                g->queue[qt++] = g->e[k].to;
            }
    }
    return g->level[t] >= 0;
}

/* Iterative DFS along the level graph: the recursion depth would be fine here (4 layers),
 * but an explicit path keeps the routine usable for any graph. */
static double push(struct maxflow *g, int s, int t)
{
    double total = 0;
    int *path = g->queue; /* BFS is done: reuse its buffer for the edge path */
    int depth = 0, u = s;
    for (;;) {
        if (u == t) {
            double f = 1e300;
            for (int i = 0; i < depth; i++)
                if (g->e[path[i]].cap < f)
                    f = g->e[path[i]].cap;
            for (int i = 0; i < depth; i++) {
                g->e[path[i]].cap -= f;
                g->e[path[i] ^ 1].cap += f;
            }
            total += f;
            depth = 0;
            u = s;
            continue;
        }
        int k = g->it[u];
        while (k >= 0 && !(g->e[k].cap > MF_EPS && g->level[g->e[k].to] == g->level[u] + 1))
            k = g->e[k].next;
        g->it[u] = k;
        if (k >= 0) {
            path[depth++] = k;
            u = g->e[k].to;
            continue;
        }
        if (u == s)
            break;
        /* Dead end: retreat and skip the edge that led here. */
        g->level[u] = -1;
        int back = path[--depth];
        u = g->e[back ^ 1].to;
        g->it[u] = g->e[g->it[u]].next;
    }
    return total;
}

double mf_run(struct maxflow *g, int s, int t)
{
    double flow = 0;
    while (bfs(g, s, t)) {
        for (int i = 0; i < g->n; i++)
            g->it[i] = g->head[i];
        flow += push(g, s, t);
    }
    return flow;
}

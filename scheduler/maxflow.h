/* Dinic's max-flow with real capacities: the engine of the lower bound. */
#ifndef TSCHED_MAXFLOW_H
#define TSCHED_MAXFLOW_H

#include <stddef.h>

struct mf_edge {
    int to, next;
    double cap;
};

struct maxflow {
    int n;
    int *head, *level, *it, *queue;
    struct mf_edge *e;
    size_t ne, cape;
};

int mf_init(struct maxflow *g, int nodes);
void mf_free(struct maxflow *g);
/* Adds u->v with capacity c (and its residual twin); returns the edge index or -1. */
long mf_add(struct maxflow *g, int u, int v, double c);
double mf_run(struct maxflow *g, int s, int t);

#endif

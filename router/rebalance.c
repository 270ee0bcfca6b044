/* See rebalance.h. */
#include "rebalance.h"

#include <stdlib.h>
#include <string.h>

static double max_over_mean(const double *l, int n, double mean) {
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (l[i] > mx) mx = l[i];
    return mean > 0 ? mx / mean : 0;
}

int rebalance_plan(const double *load, const int *owner, int nmasters, double tolerance, double min_gain, int max_moves,
                   struct rb_move *moves, struct rb_result *res, double *masters_load) {
    memset(res, 0, sizeof(*res));
    if (nmasters <= 0 || nmasters > RB_MAX_MASTERS) return 0;
    double *l = calloc((size_t)nmasters, sizeof(double));
    int *own = malloc(sizeof(int) * SLOT_COUNT);
    unsigned char *moved = calloc(SLOT_COUNT, 1); /* a slot moves once in a plan */
    if (!l || !own || !moved) {
        free(l);
        free(own);
        free(moved);
        return 0;
    }
    double total = 0;
    for (int s = 0; s < SLOT_COUNT; s++) {
        own[s] = owner[s] >= 0 && owner[s] < nmasters ? owner[s] : -1;
        if (own[s] >= 0 && load[s] > 0) l[own[s]] += load[s], total += load[s];
    }
    res->mean = total / nmasters;
    res->before_max_over_mean = max_over_mean(l, nmasters, res->mean);
    int n = 0;
    while (n < max_moves && res->mean > 0 && max_over_mean(l, nmasters, res->mean) > 1.0 + tolerance) {
        int a = 0, b = 0;
        for (int i = 1; i < nmasters; i++) {
            if (l[i] > l[a]) a = i;
            if (l[i] < l[b]) b = i;
        }
        double gap = l[a] - l[b], best_d = -1;
        int best = -1;
        for (int s = 0; s < SLOT_COUNT; s++) {
            if (own[s] != a || moved[s] || load[s] <= 0 || load[s] >= gap) continue;
            double d = load[s] - gap / 2;
            if (d < 0) d = -d;
            if (best < 0 || d < best_d) best = s, best_d = d;
        }
        if (best < 0) break; /* every slot of the busiest master is too hot to move without making it worse */
        double gain = load[best] < gap - load[best] ? load[best] : gap - load[best]; /* the pair's max falls by it */
        if (gain < min_gain * res->mean) break; /* what is left is dust: not worth a slot migration each */
        moves[n++] = (struct rb_move){.slot = best, .from = a, .to = b, .load = load[best]};
        own[best] = b, moved[best] = 1;
        l[a] -= load[best];
        l[b] += load[best];
    }
    res->nmoves = n;
    res->after_max_over_mean = max_over_mean(l, nmasters, res->mean);
    if (masters_load) memcpy(masters_load, l, sizeof(double) * (size_t)nmasters);
    free(l);
    free(own);
    free(moved);
    return n;
}

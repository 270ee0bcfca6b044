/* See slotload.h. */
#include "slotload.h"

#include <stdlib.h>
#include <string.h>

#include "../health/status.h"
#include "worker.h"

int slotload_init(struct slotload *l) {
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->start = calloc(SLOT_COUNT, sizeof(*l->start));
    l->last = calloc(SLOT_COUNT, sizeof(*l->last));
    l->started = status_wall_now();
    return l->start && l->last ? 0 : -1;
}

void slotload_free(struct slotload *l) {
    free(l->start);
    free(l->last);
    pthread_mutex_destroy(&l->lock);
}

static void sum_workers(struct worker *all, int n, uint64_t (*out)[SL_KINDS]) {
    memset(out, 0, sizeof(*out) * SLOT_COUNT);
    for (int i = 0; i < n; i++) {
        const struct slot_ctr *t = all[i].load;
        if (!t) continue;
        for (int s = 0; s < SLOT_COUNT; s++)
            for (int k = 0; k < SL_KINDS; k++) out[s][k] += counter_get(&t[s].v[k]);
    }
}

void slotload_tick(struct worker *w) {
    struct slotload *l = w->shared.slotload;
    if (!l || w->id != 0) return;
    double now = status_wall_now();
    if (now - l->started < w->conf->slot_load_window_seconds - 0.05) return; /* the timer ticks each second */
    static uint64_t sums[SLOT_COUNT][SL_KINDS];
    sum_workers(w->shared.all, w->shared.nworkers, sums);
    pthread_mutex_lock(&l->lock);
    for (int s = 0; s < SLOT_COUNT; s++)
        for (int k = 0; k < SL_KINDS; k++) l->last[s][k] = sums[s][k] - l->start[s][k], l->start[s][k] = sums[s][k];
    l->last_start = l->started, l->last_end = now, l->started = now;
    pthread_mutex_unlock(&l->lock);
}

void slotload_read(struct worker *all, int nworkers, struct slotload *l, uint64_t (*out)[SL_KINDS], double *start,
                   double *end) {
    pthread_mutex_lock(&l->lock);
    if (l->last_end > 0) {
        memcpy(out, l->last, sizeof(*out) * SLOT_COUNT);
        *start = l->last_start, *end = l->last_end;
        pthread_mutex_unlock(&l->lock);
        return;
    }
    sum_workers(all, nworkers, out);
    for (int s = 0; s < SLOT_COUNT; s++)
        for (int k = 0; k < SL_KINDS; k++) out[s][k] -= l->start[s][k];
    *start = l->started, *end = status_wall_now();
    pthread_mutex_unlock(&l->lock);
}

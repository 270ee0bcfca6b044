/* Per-slot load: each worker counts, for every slot, the requests its nodes answered and the bytes sent
 * to and read from them (counters it alone writes: lib/counter.h, so nothing is locked or atomically
 * added on the request path), for one request in slot-load-sample (lib/sample.h) weighted by it. Only
 * requests with keys count: a keyless command sent to "any master" names a slot that carries none of
 * its load. Once a second worker 0 checks the window
 * (slot-load-window-seconds): when it has passed, the sums over workers minus the sums at its start
 * become the last complete window, which the readers (/load, /rebalance, the dashboard, SLOTGATE LOAD)
 * copy under a mutex. Memory, fixed whatever the number of keys: 384 KiB per worker and 768 KiB for the
 * windows. slotload.c. */
#ifndef SLOTGATE_SLOTLOAD_H
#define SLOTGATE_SLOTLOAD_H

#include <pthread.h>
#include <stdint.h>

#include "../lib/counter.h"
#include "../router/slot.h"

enum { SL_REQUESTS = 0, SL_BYTES_IN, SL_BYTES_OUT, SL_KINDS };

struct slot_ctr {
    struct counter v[SL_KINDS];
};

struct slotload {
    pthread_mutex_t lock;
    uint64_t (*start)[SL_KINDS];          /* the workers' sums when the current window began */
    uint64_t (*last)[SL_KINDS];           /* the last complete window */
    double started, last_start, last_end; /* wall clock; last_end 0: no window completed yet */
};

int slotload_init(struct slotload *l);
void slotload_free(struct slotload *l);

struct worker;
/* Worker 0's trim timer, once a second: closes the window when it has passed. */
void slotload_tick(struct worker *w);
/* The last complete window (or, before one completes, what the current one has so far) into
 * out[SLOT_COUNT][SL_KINDS]; its start and end (wall clock). */
void slotload_read(struct worker *all, int nworkers, struct slotload *l, uint64_t (*out)[SL_KINDS], double *start,
                   double *end);

static inline void slotload_add(struct slot_ctr *t, int slot, int kind, uint64_t n) {
    if ((unsigned)slot < SLOT_COUNT) counter_add(&t[slot].v[kind], (int64_t)n);
}
/* A reply came for a sampled request of `in` bytes, standing for `weight` requests: all three counters
 * of its slot. */
static inline void slotload_reply(struct slot_ctr *t, int slot, uint64_t weight, uint64_t in, uint64_t out) {
    if ((unsigned)slot >= SLOT_COUNT) return;
    struct slot_ctr *c = &t[slot];
    counter_add(&c->v[SL_REQUESTS], (int64_t)weight);
    counter_add(&c->v[SL_BYTES_IN], (int64_t)(in * weight));
    counter_add(&c->v[SL_BYTES_OUT], (int64_t)(out * weight));
}

#endif

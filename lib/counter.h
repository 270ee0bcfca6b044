/* Counters that more than one thread touches. A counter is a struct, so a plain ++ does not compile:
 * only these functions change it.
 *  - struct counter: one writer (the worker that owns it), any number of readers (the admin endpoint,
 *    INFO on another worker). Relaxed atomic load and store: plain moves on x86, no locked
 *    instruction on the request path, and no data race for ThreadSanitizer (or the C11 model).
 *  - struct shared_counter: several writers (maxclients' count of connected clients): atomic
 *    read-modify-write. */
#ifndef SLOTGATE_COUNTER_H
#define SLOTGATE_COUNTER_H

#include <stdint.h>

struct counter {
    uint64_t v;
};

static inline uint64_t counter_get(const struct counter *c) { return __atomic_load_n(&c->v, __ATOMIC_RELAXED); }
/* By its one writer. A gauge may go down: add a negative amount. */
static inline void counter_add(struct counter *c, int64_t n) {
    __atomic_store_n(&c->v, c->v + (uint64_t)n, __ATOMIC_RELAXED);
}
static inline void counter_inc(struct counter *c) { counter_add(c, 1); }

struct shared_counter {
    int64_t v;
};

static inline int64_t shared_counter_get(const struct shared_counter *c) {
    return __atomic_load_n(&c->v, __ATOMIC_RELAXED);
}
/* Returns the value after adding. */
static inline int64_t shared_counter_add(struct shared_counter *c, int64_t n) {
    return __atomic_add_fetch(&c->v, n, __ATOMIC_RELAXED);
}

#endif

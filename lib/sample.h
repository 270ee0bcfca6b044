/* One event in `every`, at random, for the request path's sampled figures (hot keys, per-slot load):
 * the gap to the next sampled one is drawn uniformly from 1 to 2 * every - 1 (mean: every), so the
 * request path only counts down, and no periodic pattern in the traffic lines up with the sampling.
 * every 0: never; 1: always. One owner (a worker), no locking. */
#ifndef SLOTGATE_SAMPLE_H
#define SLOTGATE_SAMPLE_H

#include <stdint.h>

struct sampler {
    uint32_t every;
    uint32_t countdown; /* events until the next sampled one */
    uint64_t rng;       /* xorshift64 */
};

static inline uint32_t sampler_gap(struct sampler *s) {
    if (s->every <= 1) return s->every ? 1 : UINT32_MAX; /* off: looked at again in 4 billion events */
    uint64_t x = s->rng;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s->rng = x;
    return 1 + (uint32_t)((x >> 32) % (2 * (uint64_t)s->every - 1));
}

/* (Re)starts it: every <= 0 turns it off; seed tells samplers apart (never 0). */
static inline void sampler_set(struct sampler *s, int every, uint64_t seed) {
    if (!s->rng) s->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
    s->every = every <= 0 ? 0 : (uint32_t)every;
    s->countdown = sampler_gap(s);
}

static inline int sampler_hit(struct sampler *s) {
    if (__builtin_expect(--s->countdown != 0, 1)) return 0;
    s->countdown = sampler_gap(s);
    return s->every != 0;
}

#endif

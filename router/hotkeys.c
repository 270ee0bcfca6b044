/* See hotkeys.h. */
#include "hotkeys.h"

#include <stdlib.h>
#include <string.h>

#define IDX_MASK 255u
_Static_assert((HK_K & (HK_K - 1)) == 0 && HK_K < 255, "HK_K: a power of two that fits the index's bytes");

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t hk_hash(const char *key, size_t len) { /* 8 bytes a step, each word mixed in; then the tail */
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ mix(w * 0xbf58476d1ce4e5b9ULL)) * 0x94d049bb133111ebULL;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i < len; i++, k += 8) tail |= (uint64_t)(unsigned char)key[i] << k;
    return mix(h ^ mix(tail * 0xbf58476d1ce4e5b9ULL + len));
}

void hk_reset(struct hk_sketch *s) {
    s->n = 0;
    s->total = 0;
    s->min_hint = 0;
    s->min_pos = 0;
    memset(s->idx, 0, sizeof(s->idx));
}

static int same(const struct hk_sketch *s, int i, const char *key, size_t len, uint64_t h) {
    return s->h[i] == h && s->len[i] == len && memcmp(s->key[i], key, len < HK_KEY_MAX ? len : HK_KEY_MAX) == 0;
}

static void index_put(struct hk_sketch *s, int i) {
    unsigned p = (unsigned)s->h[i] & IDX_MASK;
    while (s->idx[p]) p = (p + 1) & IDX_MASK;
    s->idx[p] = (uint8_t)(i + 1);
}

/* Linear probing's deletion by backward shift: the places after the hole that may move into it do, so
 * no probe ever walks over a deleted mark. */
static void index_drop(struct hk_sketch *s, int i) {
    unsigned p = (unsigned)s->h[i] & IDX_MASK;
    while (s->idx[p] != i + 1) p = (p + 1) & IDX_MASK;
    for (unsigned q = (p + 1) & IDX_MASK; s->idx[q]; q = (q + 1) & IDX_MASK) {
        unsigned home = (unsigned)s->h[s->idx[q] - 1] & IDX_MASK;
        if (((q - home) & IDX_MASK) >= ((q - p) & IDX_MASK)) { /* its home is not between the hole and it */
            s->idx[p] = s->idx[q];
            p = q;
        }
    }
    s->idx[p] = 0;
}

/* A counter with the smallest count. Counts only grow, so the last minimum found is a lower bound: a
 * counter at it is a smallest one, found from where the last search stopped (a stream of new keys
 * finds one at once); only when none is left does a full scan find the new minimum. */
static int smallest(struct hk_sketch *s) {
    for (int n = 0; n < HK_K; n++) {
        int k = (s->min_pos + n) & (HK_K - 1);
        if (s->count[k] <= s->min_hint) {
            s->min_pos = (k + 1) & (HK_K - 1);
            return k;
        }
    }
    int i = 0;
    for (int k = 1; k < HK_K; k++)
        if (s->count[k] < s->count[i]) i = k;
    s->min_hint = s->count[i];
    s->min_pos = (i + 1) & (HK_K - 1);
    return i;
}

void hk_add(struct hk_sketch *s, const char *key, size_t len, uint64_t h, uint64_t weight) {
    s->total += weight;
    for (unsigned p = (unsigned)h & IDX_MASK; s->idx[p]; p = (p + 1) & IDX_MASK) {
        int i = s->idx[p] - 1;
        if (same(s, i, key, len, h)) {
            s->count[i] += weight;
            return;
        }
    }
    int i;
    if (s->n < HK_K) {
        i = s->n++;
        s->count[i] = weight;
        s->err[i] = 0;
    } else { /* the smallest gives its place and count to the newcomer */
        i = smallest(s);
        index_drop(s, i);
        s->err[i] = s->count[i];
        s->count[i] += weight;
    }
    s->h[i] = h;
    s->len[i] = (uint32_t)len;
    memcpy(s->key[i], key, len < HK_KEY_MAX ? len : HK_KEY_MAX);
    index_put(s, i);
}

int hk_export(const struct hk_sketch *s, struct hk_entry *out) {
    for (int i = 0; i < s->n; i++) {
        out[i].h = s->h[i];
        out[i].count = s->count[i];
        out[i].err = s->err[i];
        out[i].len = s->len[i];
        memcpy(out[i].key, s->key[i], sizeof(out[i].key));
    }
    return s->n;
}

void hk_merge_entries(struct hk_entry *acc, int *n, int max, const struct hk_entry *in, int nin) {
    for (int i = 0; i < nin; i++) {
        const struct hk_entry *x = &in[i];
        int k = 0;
        while (k < *n && !(acc[k].h == x->h && acc[k].len == x->len &&
                           !memcmp(acc[k].key, x->key, x->len < HK_KEY_MAX ? x->len : HK_KEY_MAX)))
            k++;
        if (k < *n) {
            acc[k].count += x->count;
            acc[k].err += x->err;
        } else if (*n < max) {
            acc[(*n)++] = *x;
        }
    }
}

static int by_count(const void *a, const void *b) {
    const struct hk_entry *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

void hk_sort(struct hk_entry *e, int n) { qsort(e, (size_t)n, sizeof(*e), by_count); }

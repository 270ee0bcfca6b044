/* See hotkeys.h. */
#include "hotkeys.h"

#include <stdlib.h>
#include <string.h>

#define IDX_MASK 255u
#define DELETED  255

uint64_t hk_hash(const char *key, size_t len) { /* FNV-1a, then a mix: keys differ in their last bytes */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

void hk_reset(struct hk_sketch *s) {
    s->n = s->dead = 0;
    s->total = 0;
    memset(s->idx, 0, sizeof(s->idx));
}

static int same(const struct hk_sketch *s, int i, const char *key, size_t len, uint64_t h) {
    return s->h[i] == h && s->len[i] == len && memcmp(s->key[i], key, len < HK_KEY_MAX ? len : HK_KEY_MAX) == 0;
}

static void index_put(struct hk_sketch *s, int i) {
    unsigned p = (unsigned)s->h[i] & IDX_MASK;
    while (s->idx[p] && s->idx[p] != DELETED) p = (p + 1) & IDX_MASK;
    s->idx[p] = (uint8_t)(i + 1);
}

static void index_drop(struct hk_sketch *s, int i) {
    for (unsigned p = (unsigned)s->h[i] & IDX_MASK; s->idx[p]; p = (p + 1) & IDX_MASK) {
        if (s->idx[p] == i + 1) {
            s->idx[p] = DELETED;
            if (++s->dead > 64) { /* probes grow with the deleted places: index again */
                memset(s->idx, 0, sizeof(s->idx));
                s->dead = 0;
                for (int k = 0; k < s->n; k++)
                    if (k != i) index_put(s, k);
            }
            return;
        }
    }
}

void hk_add(struct hk_sketch *s, const char *key, size_t len, uint64_t h, uint64_t weight) {
    s->total += weight;
    for (unsigned p = (unsigned)h & IDX_MASK; s->idx[p]; p = (p + 1) & IDX_MASK) {
        int i = s->idx[p] - 1;
        if (s->idx[p] != DELETED && same(s, i, key, len, h)) {
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
        i = 0;
        for (int k = 1; k < HK_K; k++)
            if (s->count[k] < s->count[i]) i = k;
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

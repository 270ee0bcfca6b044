/* See track.h. A chained hash table of keys (FNV-1a, finished with murmur's mix) with a doubly linked age
 * list. */
#include "track.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const char *p, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    h ^= h >> 33; /* FNV-1a's low bits, which pick the bucket, mixed with its high ones (murmur's finish) */
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

void track_init(struct track_table *t) { memset(t, 0, sizeof(*t)); }

static size_t entry_bytes(const struct track_entry *e) { return sizeof(*e) + e->klen + sizeof(uint64_t) * e->ids_cap; }

void track_entry_free(struct track_table *t, struct track_entry *e) {
    t->bytes -= entry_bytes(e);
    free(e->ids);
    free(e);
}

void track_clear(struct track_table *t) {
    for (struct track_entry *e = t->oldest, *next; e; e = next) {
        next = e->newer;
        free(e->ids);
        free(e);
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static int grow(struct track_table *t) {
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    struct track_entry **b = calloc(n, sizeof(*b));
    if (!b) return -1;
    for (struct track_entry *e = t->oldest; e; e = e->newer) {
        size_t i = hash_key(e->key, e->klen) & (n - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    t->bytes += (n - t->nbuckets) * sizeof(*b);
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

static struct track_entry **find(struct track_table *t, const char *key, size_t klen) {
    if (!t->nbuckets) return NULL;
    struct track_entry **pp = &t->buckets[hash_key(key, klen) & (t->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if ((*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0) return pp;
    return NULL;
}

static int has_id(const struct track_entry *e, uint64_t id) {
    if (e->id0 == id) return 1;
    for (uint32_t i = 0; i < e->nids; i++)
        if (e->ids[i] == id) return 1;
    return 0;
}

int track_remember(struct track_table *t, const char *key, size_t klen, int slot, uint64_t id) {
    struct track_entry **pp = find(t, key, klen), *e;
    if (pp) {
        e = *pp;
        if (has_id(e, id)) return 0;
        if (e->nids == e->ids_cap) {
            uint32_t cap = e->ids_cap ? e->ids_cap * 2 : 2;
            uint64_t *ids = realloc(e->ids, sizeof(*ids) * cap);
            if (!ids) return -1;
            t->bytes += sizeof(*ids) * (cap - e->ids_cap);
            e->ids = ids;
            e->ids_cap = cap;
        }
        e->ids[e->nids++] = id;
        t->nitems++;
        return 0;
    }
    if (t->nkeys >= t->nbuckets && grow(t) < 0) return -1;
    if (!(e = malloc(sizeof(*e) + klen))) return -1;
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, klen);
    e->klen = (uint32_t)klen;
    e->slot = (uint16_t)slot;
    e->id0 = id;
    size_t i = hash_key(key, klen) & (t->nbuckets - 1);
    e->hnext = t->buckets[i];
    t->buckets[i] = e;
    e->older = t->newest;
    if (t->newest)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
    t->nkeys++;
    t->nitems++;
    t->bytes += entry_bytes(e);
    return 0;
}

static void unlink_entry(struct track_table *t, struct track_entry **pp) {
    struct track_entry *e = *pp;
    *pp = e->hnext;
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->hnext = e->older = e->newer = NULL;
    t->nkeys--;
    t->nitems -= 1 + e->nids;
}

struct track_entry *track_take(struct track_table *t, const char *key, size_t klen) {
    struct track_entry **pp = find(t, key, klen);
    if (!pp) return NULL;
    struct track_entry *e = *pp;
    unlink_entry(t, pp);
    return e;
}

struct track_entry *track_take_oldest(struct track_table *t) {
    return t->oldest ? track_take(t, t->oldest->key, t->oldest->klen) : NULL;
}

/* Removes the clients keep() refuses; 1 when the entry is left with none. */
static int drop_ids(struct track_table *t, struct track_entry *e, int (*keep)(uint64_t, void *), void *ctx) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->nids; i++) {
        if (keep(e->ids[i], ctx))
            e->ids[n++] = e->ids[i];
        else
            t->nitems--;
    }
    e->nids = n;
    if (!keep(e->id0, ctx)) {
        if (!e->nids) return 1;
        e->id0 = e->ids[--e->nids];
        t->nitems--;
    }
    return 0;
}

static int not_forgotten(uint64_t id, void *ctx) { return id != *(uint64_t *)ctx; }

void track_forget(struct track_table *t, const char *key, size_t klen, uint64_t id) {
    struct track_entry **pp = find(t, key, klen);
    if (!pp || !has_id(*pp, id)) return;
    if (drop_ids(t, *pp, not_forgotten, &id)) {
        struct track_entry *e = *pp;
        unlink_entry(t, pp); /* counts its last client out */
        track_entry_free(t, e);
    }
}

void track_sweep(struct track_table *t, int (*keep)(uint64_t id, void *ctx), void *ctx, size_t *cursor, size_t max) {
    size_t seen = 0, i = *cursor;
    for (; i < t->nbuckets && seen < max; i++) {
        for (struct track_entry **pp = &t->buckets[i]; *pp;) {
            seen++;
            if (drop_ids(t, *pp, keep, ctx)) {
                struct track_entry *e = *pp;
                unlink_entry(t, pp);
                track_entry_free(t, e);
            } else {
                pp = &(*pp)->hnext;
            }
        }
    }
    *cursor = i >= t->nbuckets ? 0 : i;
}

void track_take_slots(struct track_table *t, int (*in)(int slot, void *ctx), void *ctx,
                      void (*take)(struct track_entry *e, void *ctx2), void *ctx2) {
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct track_entry **pp = &t->buckets[i]; *pp;) {
            if (in((*pp)->slot, ctx)) {
                struct track_entry *e = *pp;
                unlink_entry(t, pp);
                take(e, ctx2);
            } else {
                pp = &(*pp)->hnext;
            }
        }
    }
}

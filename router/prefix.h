/* Routes by key prefix (issue 19's several backends in one slotgate): a key goes to the route with the
 * longest prefix it starts with, or to the default route. Lookup is on the request path, so it is cheap
 * whatever the number of routes: routes are bucketed by their prefix's first byte, each bucket longest
 * prefix first, so a key is compared with the few prefixes that start like it, and the empty prefix (the
 * default) needs no compare at all. Pure logic; the wiring to backends is still to come (see the
 * closing note of session 8). prefix.c. */
#ifndef SLOTGATE_PREFIX_H
#define SLOTGATE_PREFIX_H

#include <stddef.h>

#define PREFIX_MAX_ROUTES   256
#define PREFIX_MAX_BACKENDS 8 /* a route's backend index is below this (conf.h's CONF_MAX_BACKENDS) */

struct prefix_route {
    char *prefix;
    size_t len;
    int backend; /* the caller's index */
    int strip;   /* the prefix is taken off the key before it goes to the backend */
    /* Both below are a backend's index + 1, 0 for none (so a zeroed route neither mirrors nor migrates).
     * mirroring: a copy of the route's commands goes to backend mirror - 1, its answer discarded; writes
     * only unless mirror_all; mirror_percent of them (0 or 100: each) */
    int mirror, mirror_all, mirror_percent;
    /* migration: backend is the old one, migrate_to - 1 the new one: writes go to the old one and each
     * written key is copied to the new one; reads go to the new one, the old one on a miss */
    int migrate_to;
};

struct prefix_table {
    struct prefix_route *routes; /* as given */
    int n;
    int dflt;        /* the route with the empty prefix, or -1: keys matching none have no route */
    int migrating;   /* the route with migrate_to (one at most), or -1 */
    int *order;      /* route indexes, bucketed by first byte, longest first within a bucket */
    int bucket[257]; /* bucket b is order[bucket[b] .. bucket[b + 1]) */
};

/* Builds a table from n routes (prefixes copied). NULL with err on a repeated prefix or too many. */
struct prefix_table *prefix_table_new(const struct prefix_route *routes, int n, char *err, size_t errlen);
void prefix_table_free(struct prefix_table *t);

/* The route of a key: its index, or -1 when no route takes it (no default). */
static inline int prefix_route_of(const struct prefix_table *t, const char *key, size_t len);

/* What a multi-key request's keys make of the routes: all on one route (its index, or -1 for none), or
 * spread over several (PREFIX_SPREAD). */
#define PREFIX_SPREAD (-2)
int prefix_route_of_keys(const struct prefix_table *t, const char *const *keys, const size_t *lens, int nkeys);

/* ---- inline ---- */
int prefix_match_bucket(const struct prefix_table *t, const char *key, size_t len);
static inline int prefix_route_of(const struct prefix_table *t, const char *key, size_t len) {
    if (len > 0) {
        unsigned char b = (unsigned char)key[0];
        if (__builtin_expect(t->bucket[b] != t->bucket[b + 1], 0)) {
            int r = prefix_match_bucket(t, key, len);
            if (r >= 0) return r;
        }
    }
    return t->dflt;
}

#endif

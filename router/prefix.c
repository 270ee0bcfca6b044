/* See prefix.h. */
#include "prefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* x before y: by first byte, then the longer prefix first (the more specific route wins). */
static int before(const struct prefix_route *x, const struct prefix_route *y) {
    unsigned char bx = (unsigned char)x->prefix[0], by = (unsigned char)y->prefix[0];
    return bx != by ? bx < by : x->len > y->len;
}

void prefix_table_free(struct prefix_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) free(t->routes[i].prefix);
    free(t->routes);
    free(t->order);
    free(t);
}

struct prefix_table *prefix_table_new(const struct prefix_route *routes, int n, char *err, size_t errlen) {
    if (n < 0 || n > PREFIX_MAX_ROUTES) return snprintf(err, errlen, "at most %d routes", PREFIX_MAX_ROUTES), NULL;
    struct prefix_table *t = calloc(1, sizeof(*t));
    if (!t || !(t->routes = calloc((size_t)n + 1, sizeof(*t->routes))) ||
        !(t->order = calloc((size_t)n + 1, sizeof(int)))) {
        prefix_table_free(t);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    t->dflt = -1;
    t->migrating = -1;
    for (int i = 0; i < n; i++, t->n++) {
        t->routes[i] = routes[i];
        t->routes[i].len = routes[i].prefix ? strlen(routes[i].prefix) : 0;
        if (!(t->routes[i].prefix = strdup(routes[i].prefix ? routes[i].prefix : ""))) {
            prefix_table_free(t);
            return snprintf(err, errlen, "out of memory"), NULL;
        }
        for (int k = 0; k < i; k++)
            if (t->routes[k].len == t->routes[i].len &&
                !memcmp(t->routes[k].prefix, t->routes[i].prefix, t->routes[i].len)) {
                snprintf(err, errlen, "two routes for the prefix '%s'", t->routes[i].prefix);
                t->n++;
                prefix_table_free(t);
                return NULL;
            }
        if (t->routes[i].len == 0) t->dflt = i;
        if (t->routes[i].migrate_to) t->migrating = i;
    }
    int m = 0; /* every route but the default, bucketed by first byte, longest first */
    for (int i = 0; i < n; i++)
        if (t->routes[i].len) t->order[m++] = i;
    for (int i = 1; i < m; i++) /* insertion sort: a few hundred routes at most, once per configuration */
        for (int k = i; k > 0 && before(&t->routes[t->order[k]], &t->routes[t->order[k - 1]]); k--) {
            int x = t->order[k];
            t->order[k] = t->order[k - 1], t->order[k - 1] = x;
        }
    int at = 0;
    for (int b = 0; b < 256; b++) {
        t->bucket[b] = at;
        while (at < m && (unsigned char)t->routes[t->order[at]].prefix[0] == b) at++;
    }
    t->bucket[256] = at;
    return t;
}

int prefix_match_bucket(const struct prefix_table *t, const char *key, size_t len) {
    unsigned char b = (unsigned char)key[0];
    for (int i = t->bucket[b]; i < t->bucket[b + 1]; i++) {
        const struct prefix_route *r = &t->routes[t->order[i]];
        if (r->len > len) continue;
        size_t k = 1; /* the first byte is the bucket's; prefixes are short: a loop beats a call to memcmp */
        while (k < r->len && r->prefix[k] == key[k]) k++;
        if (k == r->len) return t->order[i];
    }
    return -1;
}

int prefix_route_of_keys(const struct prefix_table *t, const char *const *keys, const size_t *lens, int nkeys) {
    int route = nkeys > 0 ? prefix_route_of(t, keys[0], lens[0]) : t->dflt;
    for (int i = 1; i < nkeys; i++)
        if (prefix_route_of(t, keys[i], lens[i]) != route) return PREFIX_SPREAD;
    return route;
}

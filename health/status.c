/* See status.h. */
#include "status.h"

#include "../router/info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Node addresses with counters. Where pods come and go for weeks, addresses keep changing: past this
 * many, the row of an address no worker uses any more is given to the new one. */
#define MAX_ROWS 1024

struct counter_row {
    char addr[SM_HOST_LEN + 8];
    int refs;                    /* worker nodes pointing at its columns */
    struct node_counters cols[]; /* one per worker */
};

double status_wall_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

struct status *status_new(int nworkers) {
    struct status *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->nworkers = nworkers > 0 ? nworkers : 1;
    s->started = status_wall_now();
    return s;
}

void status_free(struct status *s) {
    if (!s) return;
    if (s->map) slotmap_unref(s->map);
    for (int b = 0; b < 8; b++)
        if (s->backend_maps[b]) slotmap_unref(s->backend_maps[b]);
    free(s->nodes);
    for (int i = 0; i < s->nrows; i++) free(s->rows[i]);
    free(s->rows);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void status_set_map(struct status *s, struct slotmap *m, const char *from) {
    slotmap_ref(m);
    pthread_mutex_lock(&s->lock);
    struct slotmap *old = s->map;
    s->map = m;
    s->refresh.changes++;
    /* a map comes from a refresh that worked: /slots must never show one with no refresh time (the
     * refresher records its result a moment later; test_admin once read between the two) */
    s->refresh.last_change = s->refresh.last_ok = status_wall_now();
    snprintf(s->refresh.from, sizeof(s->refresh.from), "%s", from ? from : "");
    pthread_mutex_unlock(&s->lock);
    if (old) slotmap_unref(old);
}

struct slotmap *status_map(struct status *s) {
    pthread_mutex_lock(&s->lock);
    struct slotmap *m = s->map ? slotmap_ref(s->map) : NULL;
    pthread_mutex_unlock(&s->lock);
    return m;
}

void status_refresh_result(struct status *s, int ok, const char *from, const char *error) {
    pthread_mutex_lock(&s->lock);
    if (ok) {
        s->refresh.ok++;
        s->refresh.last_ok = status_wall_now();
        if (from) snprintf(s->refresh.from, sizeof(s->refresh.from), "%s", from);
    } else {
        s->refresh.failed++;
        snprintf(s->refresh.last_error, sizeof(s->refresh.last_error), "%s", error ? error : "");
    }
    pthread_mutex_unlock(&s->lock);
}

void status_set_nodes(struct status *s, const struct node_status *nodes, int n) {
    struct node_status *copy = n > 0 ? malloc(sizeof(*copy) * (size_t)n) : NULL;
    if (n > 0 && !copy) return;
    if (n > 0) memcpy(copy, nodes, sizeof(*copy) * (size_t)n);
    pthread_mutex_lock(&s->lock);
    struct node_status *old = s->nodes;
    s->nodes = copy;
    s->nnodes = n;
    pthread_mutex_unlock(&s->lock);
    free(old);
}

void status_min_master_version(struct status *s, char *out, size_t len, const char *dflt) {
    snprintf(out, len, "%s", dflt);
    int found = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nnodes; i++) {
        const struct node_status *n = &s->nodes[i];
        if (!n->is_master || !n->version[0]) continue;
        if (!found || info_version_cmp(n->version, strlen(n->version), out, strlen(out)) < 0)
            snprintf(out, len, "%s", n->version);
        found = 1;
    }
    pthread_mutex_unlock(&s->lock);
}

void status_set_cluster(struct status *s, const struct cluster_status *c) {
    pthread_mutex_lock(&s->lock);
    s->cluster = *c;
    pthread_mutex_unlock(&s->lock);
}

void status_set_sentinels(struct status *s, const struct sentinel_status *x) {
    pthread_mutex_lock(&s->lock);
    s->sentinels = *x;
    pthread_mutex_unlock(&s->lock);
}

void status_set_backend_map(struct status *s, int b, struct slotmap *m) {
    if (b < 1 || b >= 8) return;
    slotmap_ref(m);
    pthread_mutex_lock(&s->lock);
    struct slotmap *old = s->backend_maps[b];
    s->backend_maps[b] = m;
    pthread_mutex_unlock(&s->lock);
    if (old) slotmap_unref(old);
}

struct slotmap *status_backend_map(struct status *s, int b) {
    if (b < 1 || b >= 8) return NULL;
    pthread_mutex_lock(&s->lock);
    struct slotmap *m = s->backend_maps[b] ? slotmap_ref(s->backend_maps[b]) : NULL;
    pthread_mutex_unlock(&s->lock);
    return m;
}

void status_sentinels(struct status *s, struct sentinel_status *out) {
    pthread_mutex_lock(&s->lock);
    *out = s->sentinels;
    pthread_mutex_unlock(&s->lock);
}

int status_ready(struct status *s, char *why, size_t len) {
    if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED)) return snprintf(why, len, "shutting down"), 0;
    if (!__atomic_load_n(&s->listening, __ATOMIC_RELAXED)) return snprintf(why, len, "not listening yet"), 0;
    pthread_mutex_lock(&s->lock);
    int ready = 0;
    if (!s->map)
        snprintf(why, len, "no slot map yet (no seed node has answered CLUSTER SLOTS)");
    else if (!slotmap_is_complete(s->map))
        snprintf(why, len, "slot map covers %u of 16384 slots", s->map->covered);
    else
        ready = 1, snprintf(why, len, "ok");
    pthread_mutex_unlock(&s->lock);
    return ready;
}

static struct counter_row *find_row(struct status *s, const char *addr) {
    for (int i = 0; i < s->nrows; i++)
        if (strcmp(s->rows[i]->addr, addr) == 0) return s->rows[i];
    return NULL;
}

static struct counter_row *unused_row(struct status *s) {
    for (int i = 0; i < s->nrows; i++)
        if (!s->rows[i]->refs) return s->rows[i];
    return NULL;
}

struct node_counters *status_node_counters(struct status *s, const char *addr, int worker) {
    pthread_mutex_lock(&s->lock);
    struct counter_row *row = find_row(s, addr);
    if (!row && s->nrows >= MAX_ROWS && (row = unused_row(s)) != NULL) {
        memset(row->cols, 0, sizeof(struct node_counters) * (size_t)s->nworkers); /* a departed address's */
        snprintf(row->addr, sizeof(row->addr), "%s", addr);
    }
    if (!row && s->nrows < MAX_ROWS) {
        if (s->nrows == s->cap_rows) {
            int cap = s->cap_rows ? s->cap_rows * 2 : 16;
            struct counter_row **rows = realloc(s->rows, sizeof(*rows) * (size_t)cap);
            if (rows) s->rows = rows, s->cap_rows = cap;
        }
        size_t size = sizeof(*row) + sizeof(struct node_counters) * (size_t)s->nworkers; /* a multiple of 64 */
        if (s->nrows < s->cap_rows && (row = aligned_alloc(_Alignof(struct counter_row), size))) {
            memset(row, 0, size);
            snprintf(row->addr, sizeof(row->addr), "%s", addr);
            s->rows[s->nrows++] = row;
        }
    }
    if (row) row->refs++;
    pthread_mutex_unlock(&s->lock);
    return row ? &row->cols[worker % s->nworkers] : NULL;
}

void status_node_counters_release(struct status *s, const struct node_counters *ctr) {
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nrows; i++) {
        struct counter_row *row = s->rows[i];
        if (ctr >= row->cols && ctr < row->cols + s->nworkers) {
            row->refs--;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void status_node_totals(struct status *s, const char *addr, struct node_totals *out) {
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    struct counter_row *row = find_row(s, addr);
    for (int w = 0; row && w < s->nworkers; w++) {
        out->requests += counter_get(&row->cols[w].requests);
        out->errors += counter_get(&row->cols[w].errors);
        out->connections += (int64_t)counter_get(&row->cols[w].connections);
    }
    pthread_mutex_unlock(&s->lock);
}

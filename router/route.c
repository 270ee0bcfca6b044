/* See route.h. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

int route_build(struct route_table *t, const struct slotmap *m, route_node_fn node_of, void *ctx) {
    int total = 0, k = 0, n = 0, ns = m->nshards;
    for (int i = 0; i < ns; i++) total += m->shards[i].nreplicas;
    void **masters = calloc((size_t)ns + 1, sizeof(*masters)),
         **replicas = calloc((size_t)total + 1, sizeof(*replicas));
    int *off = calloc((size_t)ns + 1, sizeof(*off));
    uint16_t *order = malloc(sizeof(*order) * ((size_t)ns + 1));
    char *seen = calloc((size_t)ns + 1, 1);
    if (!masters || !replicas || !off || !order || !seen) {
        free(masters), free(replicas), free(off), free(order), free(seen);
        return -1;
    }
    for (int i = 0; i < ns; i++) {
        const struct sm_shard *sh = &m->shards[i];
        masters[i] = node_of(ctx, m->nodes[sh->master].host, m->nodes[sh->master].port);
        off[i] = k;
        for (int r = 0; r < sh->nreplicas; r++) {
            void *rep = node_of(ctx, m->nodes[sh->replicas[r]].host, m->nodes[sh->replicas[r]].port);
            if (rep) replicas[k++] = rep;
        }
    }
    off[ns] = k;
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        uint16_t sh = m->slot_shard[s];
        t->slot_master[s] = sh == SM_NO_SHARD ? NULL : masters[sh];
        if (sh == SM_NO_SHARD || seen[sh]) continue;
        seen[sh] = 1;
        order[n++] = (uint16_t)s;
    }
    free(seen);
    free(t->shard_master), free(t->replicas), free(t->replica_off), free(t->shard_slot);
    t->map = m;
    t->shard_master = masters;
    t->replicas = replicas;
    t->replica_off = off;
    t->shard_slot = order;
    t->nshards = n;
    return 0;
}

void route_free(struct route_table *t) {
    free(t->shard_master), free(t->replicas), free(t->replica_off), free(t->shard_slot);
    memset(t, 0, sizeof(*t));
}

void *route_replica(struct route_table *t, int slot, int (*usable)(void *node, void *ctx), void *ctx) {
    uint16_t sh = t->map ? t->map->slot_shard[slot] : SM_NO_SHARD;
    if (sh == SM_NO_SHARD || !t->replica_off || t->shard_master[sh] != t->slot_master[slot]) return NULL;
    int from = t->replica_off[sh], count = t->replica_off[sh + 1] - from;
    for (int k = 0; k < count; k++) {
        void *n = t->replicas[from + (int)((t->rr + (unsigned)k) % (unsigned)count)];
        if (usable(n, ctx)) {
            t->rr++;
            return n;
        }
    }
    return NULL;
}

int route_any_slot(struct route_table *t) { return t->nshards ? t->shard_slot[t->rr++ % (unsigned)t->nshards] : -1; }

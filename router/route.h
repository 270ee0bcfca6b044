/* A worker's routing table, as pure logic over the worker's own node objects (opaque here): each slot's
 * master, built from a slot map and patched by MOVED until the next map; each shard's replicas for
 * replica reads, chosen round robin among those the caller says are usable; and the shards in slot
 * order, named by their first slot, for commands any master (or every master) can serve. */
#ifndef SLOTGATE_ROUTE_H
#define SLOTGATE_ROUTE_H

#include <stdint.h>

#include "slotmap.h"

struct route_table {
    void *slot_master[SLOT_COUNT];
    const struct slotmap *map; /* the map it was built from (the caller keeps it alive) */
    void **shard_master;       /* per map shard: its master as built */
    void **replicas;           /* per map shard, from replica_off[shard] to replica_off[shard + 1] */
    int *replica_off;
    uint16_t *shard_slot; /* the shards in slot order, each named by its first slot */
    int nshards;
    unsigned rr; /* round robin over shards and replicas */
};

/* The caller's node object for host:port (creating it if needed), or NULL when it cannot. */
typedef void *(*route_node_fn)(void *ctx, const char *host, int port);

/* Rebuilds t from m; on failure (memory) t is left as it was. 0 or -1. */
int route_build(struct route_table *t, const struct slotmap *m, route_node_fn node_of, void *ctx);
void route_free(struct route_table *t);
/* MOVED: slot's master is node from now until the next map. */
static inline void route_patch(struct route_table *t, int slot, void *node) { t->slot_master[slot] = node; }
/* A usable replica of slot's shard, round robin; NULL when there is none, or when slot's master is no
 * longer the map's (patched by MOVED: the map's replicas may belong to another master now). */
void *route_replica(struct route_table *t, int slot, int (*usable)(void *node, void *ctx), void *ctx);
/* A slot of the next shard, round robin: where a keyless command goes. -1 with no map. */
int route_any_slot(struct route_table *t);

#endif

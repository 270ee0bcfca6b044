/* When a slot map a node answered becomes the current one, as a pure rule (refresh.c carries it out):
 *  - the same as the current map: nothing changes;
 *  - different, and no other node asked yet: hold it and ask a second node, since one node may be
 *    ahead of or behind the cluster (mid-failover, mid-reshard);
 *  - a second opinion that agrees: take it;
 *  - two that disagree: the one from the node that has seen the newer configuration epoch, which is
 *    what the cluster converges to; at equal epochs (a failover has not bumped every node's yet) the
 *    one that leaves fewer slots without an owner, as a node mid-failover can omit a shard.
 * With no current map, the first answer is taken. */
#ifndef SLOTGATE_MAPACCEPT_H
#define SLOTGATE_MAPACCEPT_H

#include "../router/slotmap.h"

struct map_opinion {
    const struct slotmap *map;
    long long epoch; /* the answering node's cluster_current_epoch */
};

enum map_decision {
    MAP_TAKE,       /* the answer becomes current (the caller drops it if the same as current) */
    MAP_ASK_SECOND, /* hold the answer as the first opinion; ask another node */
    MAP_TAKE_FIRST, /* the held first opinion wins over this answer */
    MAP_TAKE_SECOND /* this answer wins over the held first opinion (or agrees with it) */
};

/* first: the opinion held from an earlier node in this refresh round, or NULL. */
enum map_decision mapaccept_decide(const struct slotmap *current, const struct map_opinion *first,
                                   const struct map_opinion *answer);

#endif

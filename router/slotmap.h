/* The cluster's slot map: which shard (master + replicas) serves each of the 16384 slots. Built from a
 * parsed CLUSTER SLOTS reply, immutable once built, versioned, shared between threads by reference
 * count (health/ builds and publishes, each proxy worker holds a reference to the one it routes by). */
#ifndef SLOTGATE_SLOTMAP_H
#define SLOTGATE_SLOTMAP_H

#include <stdint.h>

#include "slot.h"

struct redisReply;

#define SM_NO_SHARD     0xffff
#define SM_HOST_LEN     256
#define SM_ID_LEN       41
#define SM_MAX_REPLICAS 15

struct sm_node {
    char host[SM_HOST_LEN];
    int port;
    char id[SM_ID_LEN];
};

struct sm_shard {
    int master; /* index into nodes */
    int nreplicas;
    int replicas[SM_MAX_REPLICAS];
    unsigned nslots;
};

struct slotmap {
    int refs; /* atomic */
    uint64_t version;
    int nnodes, nshards;
    struct sm_node *nodes;
    struct sm_shard *shards;
    unsigned covered; /* slots with an owner */
    uint16_t slot_shard[SLOT_COUNT];
};

/* from_host stands in for an empty endpoint in the reply (Redis's "same host you asked"). NULL on a
 * reply that is not a CLUSTER SLOTS answer, with the reason in err. */
struct slotmap *slotmap_build(const struct redisReply *r, const char *from_host, char *err, int errlen);
/* The map of a backend that is one server (backend-kind standalone, or the master Sentinel names): every
 * slot on nodes[0], nodes[1..n-1] its replicas (host and port set; each id is made from the address, 40
 * hex digits, so CLUSTER NODES and SHARDS through slotgate name a node the same every time). */
struct slotmap *slotmap_single(const struct sm_node *nodes, int n, char *err, int errlen);
struct slotmap *slotmap_ref(struct slotmap *m);
void slotmap_unref(struct slotmap *m);
static inline const struct sm_shard *slotmap_shard(const struct slotmap *m, unsigned slot) {
    uint16_t s = m->slot_shard[slot];
    return s == SM_NO_SHARD ? 0 : &m->shards[s];
}
static inline int slotmap_is_complete(const struct slotmap *m) { return m->covered == SLOT_COUNT; }
/* Same owners and replicas for every slot (versions aside). */
int slotmap_same(const struct slotmap *a, const struct slotmap *b);

#endif

/* CLUSTER SLOTS reply -> struct slotmap. The reply is an array of
 *   [start, end, [host, port, id, {metadata}], [replica host, port, id, ...], ...]
 * where a master owning several ranges appears once per range (the metadata map, Redis 7, holds the
 * node's "ip" and "hostname" besides its preferred endpoint); nodes and shards are deduplicated by
 * address so each master is one shard however fragmented its slots are. */
#include "slotmap.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"

struct builder {
    struct slotmap *m;
    int node_cap, shard_cap;
};

/* The address a node entry says to use. Redis 7 answers with its preferred endpoint: an IP, a hostname
 * (cluster-preferred-endpoint-type hostname), "?" for a node with no hostname when hostnames are
 * preferred (its IP is then in the metadata map), and NULL or "" for an unknown endpoint, meaning
 * "the host you asked". */
static const char *endpoint(const redisReply *n, const char *from_host) {
    const redisReply *e = n->element[0];
    const char *asked = from_host ? from_host : "127.0.0.1";
    if (e->type == REDIS_REPLY_NIL || e->str[0] == '\0') return asked;
    if (strcmp(e->str, "?") != 0) return e->str;
    if (n->elements >= 4 && n->element[3]->type == REDIS_REPLY_ARRAY) {
        const redisReply *md = n->element[3];
        for (size_t i = 0; i + 1 < md->elements; i += 2) {
            const redisReply *k = md->element[i], *v = md->element[i + 1];
            if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && !strcmp(k->str, "ip") && v->str[0])
                return v->str;
        }
    }
    return asked;
}

static int node_index(struct builder *b, const redisReply *n, const char *from_host, char *err, int errlen) {
    if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
        (n->element[0]->type != REDIS_REPLY_STRING && n->element[0]->type != REDIS_REPLY_NIL) ||
        n->element[1]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "CLUSTER SLOTS: node entry is not [host, port, ...]");
        return -1;
    }
    const char *host = endpoint(n, from_host);
    long long port = n->element[1]->integer;
    if (strlen(host) >= SM_HOST_LEN || port <= 0 || port > 65535) {
        snprintf(err, errlen, "CLUSTER SLOTS: bad node address");
        return -1;
    }
    struct slotmap *m = b->m;
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0) return i;
    if (m->nnodes == b->node_cap) {
        int cap = b->node_cap ? b->node_cap * 2 : 8;
        struct sm_node *nn = realloc(m->nodes, sizeof(*nn) * (size_t)cap);
        if (!nn) return snprintf(err, errlen, "out of memory"), -1;
        m->nodes = nn;
        b->node_cap = cap;
    }
    struct sm_node *sn = &m->nodes[m->nnodes];
    memset(sn, 0, sizeof(*sn));
    snprintf(sn->host, sizeof(sn->host), "%s", host);
    sn->port = (int)port;
    if (n->elements >= 3 && n->element[2]->type == REDIS_REPLY_STRING)
        snprintf(sn->id, sizeof(sn->id), "%s", n->element[2]->str);
    return m->nnodes++;
}

static int shard_for_master(struct builder *b, int master, char *err, int errlen) {
    struct slotmap *m = b->m;
    for (int i = 0; i < m->nshards; i++)
        if (m->shards[i].master == master) return i;
    if (m->nshards == b->shard_cap) {
        int cap = b->shard_cap ? b->shard_cap * 2 : 4;
        struct sm_shard *ns = realloc(m->shards, sizeof(*ns) * (size_t)cap);
        if (!ns) return snprintf(err, errlen, "out of memory"), -1;
        m->shards = ns;
        b->shard_cap = cap;
    }
    struct sm_shard *s = &m->shards[m->nshards];
    memset(s, 0, sizeof(*s));
    s->master = master;
    return m->nshards++;
}

static int add_range(struct builder *b, const redisReply *e, const char *from_host, char *err, int errlen) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
        e->element[1]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "CLUSTER SLOTS: entry is not [start, end, master, ...]");
        return -1;
    }
    long long lo = e->element[0]->integer, hi = e->element[1]->integer;
    if (lo < 0 || hi >= SLOT_COUNT || lo > hi) {
        snprintf(err, errlen, "CLUSTER SLOTS: bad slot range %lld-%lld", lo, hi);
        return -1;
    }
    int master = node_index(b, e->element[2], from_host, err, errlen);
    if (master < 0) return -1;
    int si = shard_for_master(b, master, err, errlen);
    if (si < 0) return -1;
    for (size_t i = 3; i < e->elements; i++) {
        int r = node_index(b, e->element[i], from_host, err, errlen);
        if (r < 0) return -1;
        struct sm_shard *s = &b->m->shards[si];
        int known = 0;
        for (int k = 0; k < s->nreplicas; k++) known |= s->replicas[k] == r;
        if (!known && s->nreplicas < SM_MAX_REPLICAS) s->replicas[s->nreplicas++] = r;
    }
    for (long long slot = lo; slot <= hi; slot++) {
        if (b->m->slot_shard[slot] == SM_NO_SHARD) b->m->covered++, b->m->shards[si].nslots++;
        b->m->slot_shard[slot] = (uint16_t)si;
    }
    return 0;
}

struct slotmap *slotmap_build(const redisReply *r, const char *from_host, char *err, int errlen) {
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "reply is not an array");
        return NULL;
    }
    struct builder b = {0};
    b.m = calloc(1, sizeof(*b.m));
    if (!b.m) return snprintf(err, errlen, "out of memory"), NULL;
    b.m->refs = 1;
    for (int i = 0; i < SLOT_COUNT; i++) b.m->slot_shard[i] = SM_NO_SHARD;
    for (size_t i = 0; i < r->elements; i++) {
        if (add_range(&b, r->element[i], from_host, err, errlen) < 0) {
            slotmap_unref(b.m);
            return NULL;
        }
    }
    return b.m;
}

struct slotmap *slotmap_single(const struct sm_node *nodes, int n, char *err, int errlen) {
    if (n < 1 || nodes[0].port <= 0 || nodes[0].port > 65535 || !nodes[0].host[0])
        return snprintf(err, errlen, "no master"), NULL;
    struct slotmap *m = calloc(1, sizeof(*m));
    int nn = n > SM_MAX_REPLICAS + 1 ? SM_MAX_REPLICAS + 1 : n;
    if (m) m->nodes = calloc((size_t)nn, sizeof(*m->nodes)), m->shards = calloc(1, sizeof(*m->shards));
    if (!m || !m->nodes || !m->shards) {
        if (m) free(m->nodes), free(m->shards), free(m);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    m->refs = 1;
    for (int i = 0; i < nn; i++) {
        struct sm_node *d = &m->nodes[m->nnodes];
        int dup = 0;
        for (int k = 0; k < m->nnodes; k++)
            dup |= m->nodes[k].port == nodes[i].port && !strcmp(m->nodes[k].host, nodes[i].host);
        if (dup || nodes[i].port <= 0 || nodes[i].port > 65535 || !nodes[i].host[0]) continue;
        snprintf(d->host, sizeof(d->host), "%s", nodes[i].host);
        d->port = nodes[i].port;
        char addr[SM_HOST_LEN + 8];
        int len = snprintf(addr, sizeof(addr), "%s:%d", d->host, d->port);
        sha1_hex(addr, (size_t)len, d->id);
        if (m->nnodes > 0) m->shards[0].replicas[m->shards[0].nreplicas++] = m->nnodes;
        m->nnodes++;
    }
    m->nshards = 1;
    m->shards[0].master = 0;
    m->shards[0].nslots = SLOT_COUNT;
    m->covered = SLOT_COUNT;
    memset(m->slot_shard, 0, sizeof(m->slot_shard));
    return m;
}

struct slotmap *slotmap_ref(struct slotmap *m) {
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    return m;
}

void slotmap_unref(struct slotmap *m) {
    if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    free(m->nodes);
    free(m->shards);
    free(m);
}

static int same_node(const struct slotmap *a, int ia, const struct slotmap *b, int ib) {
    return a->nodes[ia].port == b->nodes[ib].port && strcmp(a->nodes[ia].host, b->nodes[ib].host) == 0;
}

int slotmap_same(const struct slotmap *a, const struct slotmap *b) {
    if (a->covered != b->covered || a->nshards != b->nshards || a->nnodes != b->nnodes) return 0;
    for (int s = 0; s < SLOT_COUNT; s++) {
        const struct sm_shard *x = slotmap_shard(a, (unsigned)s), *y = slotmap_shard(b, (unsigned)s);
        if (!x || !y) {
            if (x != y) return 0;
            continue;
        }
        if (!same_node(a, x->master, b, y->master) || x->nreplicas != y->nreplicas) return 0;
        for (int k = 0; k < x->nreplicas; k++)
            if (!same_node(a, x->replicas[k], b, y->replicas[k])) return 0;
    }
    return 1;
}

/* A request: one command from a client, from the moment it is parsed to the moment its reply is
 * written. It travels from its client's queue to a backend's in-flight FIFO (or the worker's parked
 * list while it waits to be sent again) and back; a split or fanned-out one has parts (parent/fan).
 * Requests come from, and go back to, their worker's free list (req_new/req_free in worker.c). */
#ifndef SLOTGATE_REQ_H
#define SLOTGATE_REQ_H

#include <stdint.h>

#include "../lib/buf.h"
#include "../lib/queue.h"

struct worker;
struct client;
struct fanout; /* fanout.h: a request split over slots or sent to every master */

enum req_state { REQ_NEW = 0, REQ_SENT, REQ_PARKED, REQ_DONE };
/* How a reply is changed for the client: SCAN's cursor, PUBLISH's receiver count (this slotgate's). */
enum req_xform { XFORM_NONE = 0, XFORM_SCAN, XFORM_EVALSHA, XFORM_UPLOAD, XFORM_PUBLISH, XFORM_MIGREAD };
struct migop;    /* migrate.h: a write during a migration, its keys copied before it is answered */
struct migbatch; /* migrate.c: the copies of a loop turn's writes on one old node to one new node */

struct req {
    struct req *qnext;     /* client's ordered queue, or the worker's free list */
    struct req *lnext;     /* backend in-flight FIFO, or the worker's park list */
    struct client *client; /* NULL once the client is gone: the reply is then dropped */
    struct req *parent;    /* a part of a split or fanned-out request: its reply goes to the parent */
    struct fanout *fan;    /* on a parent: the parts' replies until all have come */
    int child_idx;
    struct chain *cmd_chain; /* where the command bytes are pinned (a backend's output, or the park chain) */
    struct cref cmd;
    struct cref reply; /* a reply that came before the ones ahead of it, pinned in the client's early chain */
    uint64_t out_end;  /* backend stream offset just past this command: written once written >= out_end */
    double deadline;   /* ev_now seconds */
    double retry_at;
    double started;
    double sent_at; /* when written to its current backend: the stall deadline counts from here */
    double expires; /* sent_at + how long the node may take (a blocking command's own timeout added) */
    double timeout; /* seconds the node may take to answer; < 0: no limit (BLPOP k 0) */
    int slot;
    uint8_t state;
    uint8_t redirects;
    uint8_t retries;
    uint8_t asking; /* an ASKING reply precedes this request's reply on its backend connection */
    uint8_t xform;  /* enum req_xform: how the reply is handled for the client */
    uint16_t scan_shard;
    uint8_t dedicated;    /* DED_*: must go on the client's own connection, not the shared pool */
    uint8_t is_readonly;  /* safe to send again after its connection died after writing it */
    uint8_t family;       /* enum cmd_family, for the statistics */
    uint8_t group_retry;  /* a reply inside the group said MOVED/ASK/TRYAGAIN/CLUSTERDOWN: send it again */
    uint32_t group_n;     /* MULTI ... EXEC sent as one request: replies before the EXEC's one (0: none) */
    uint32_t group_skip;  /* of those, still to come on this attempt */
    uint32_t batch;       /* the client read it came in (client.read_seq when it was queued) */
    uint8_t is_blocked;   /* counted in INFO's blocked_clients until it is freed (1, or 2 with a timeout) */
    uint8_t noreply;      /* CLIENT REPLY OFF or SKIP: its reply is not written */
    uint8_t slow_noted;   /* in SLOWLOG already (a reply rewritten and delivered again) */
    uint8_t resp3;        /* its client speaks RESP3: sent on a RESP3 connection, answered in RESP3 */
    uint8_t load_counted; /* has keys in r->slot and was sampled: counted in the slot's load (slotload.h) */
    uint8_t backend;      /* routes by prefix: the backend its keys go to (0: the default one) */
    /* Mirroring and migration (migrate.c, which sees the reply first when hook is set): */
    uint8_t hook;
    uint8_t internal;          /* INT_*: slotgate's own request (a mirrored copy, a migration's key copy): no client */
    uint16_t alt_slot;         /* XFORM_MIGREAD: its slot on the old backend, where a miss is asked again */
    uint8_t alt_backend;       /* ... and that backend */
    struct req *owner;         /* INT_COPY, INT_DEL, INT_RECOPY: the migrating write whose key it copies */
    struct migop *mig;         /* a migrating write: the keys it copies, its reply held until they are */
    struct migbatch *batch_of; /* INT_BATCH: the keys its transaction copies (migrate.c) */
    /* Not cleared by req_new (written before it is read): */
    char sha[41];        /* XFORM_EVALSHA: the script, to load it where NOSCRIPT says it is missing */
    long long receivers; /* XFORM_PUBLISH: the subscribers this slotgate counts for the channel */
};

struct req_fifo FIFO_OF(struct req);

struct req *req_new(struct worker *w);
void req_free(struct worker *w, struct req *r);
/* A request is orphaned when nobody waits for its reply any more. */
static inline int req_is_orphan(const struct req *r) { return !r->client && !r->parent && !r->hook; }

#endif

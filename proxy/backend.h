/* Backend connections: pooled, pipelined connections from one worker to one cluster node (struct node,
 * this worker's view of a node and its pools), or dedicated to one client (DED_*). backend.c. */
#ifndef SLOTGATE_BACKEND_H
#define SLOTGATE_BACKEND_H

#include <ev.h>
#include <stdint.h>

#include "../health/status.h"
#include "../lib/buf.h"
#include "../router/merge.h"
#include "../router/resp.h"
#include "../router/slotmap.h"
#include "req.h"

/* Values this large are streamed instead of gathered whole (upload.c for arguments, backend.c for
 * bulk replies); a stream pauses while this much of it waits to be written. */
#define STREAM_MIN    (256 * 1024)
#define STREAM_BUFFER (1024 * 1024)

#define NODE_MAX_CONNS 64 /* backend-connections' maximum: pools are sized for it, SIGHUP may grow them */

enum { POOL_RESP2 = 0, POOL_RESP2_RO, POOL_RESP3, POOL_RESP3_RO, POOL_KINDS };
static inline int pool_kind(int resp3, int readonly) { return (resp3 ? POOL_RESP3 : POOL_RESP2) + (readonly ? 1 : 0); }

struct node {
    struct node *next;
    char host[SM_HOST_LEN];
    int port;
    char addr[SM_HOST_LEN + 8]; /* host:port, for errors and logs */
    /* The shared pools, NODE_MAX_CONNS places each (nconns used), opened on first use: by protocol (a
     * RESP3 client's requests go on connections that said HELLO 3, so every reply comes from the node
     * in the client's own protocol) and for replica reads (READONLY sent on connect). */
    struct backend **pools[POOL_KINDS];
    int nconns;
    struct node_counters *ctr; /* this worker's column of the node's counters (status.h) */
    unsigned rr;
    int nrefs;         /* backends pointing at this node (it is freed only at 0) */
    int backend;       /* routes by prefix: the backend whose map named it first (0: the default one) */
    int is_retired;    /* no longer in the slot map: its connections close once idle */
    double down_until; /* no connection attempts before this (backoff) */
    unsigned addr_rr;  /* which of its name's addresses the next connection tries */
    double backoff;
    char last_error[128];
    struct backend *listener; /* CLIENT TRACKING on BCAST, while clients of this worker track (tracking.c) */
    int listener_ready;
    int track_unwatched; /* a BCAST client read from it before its listener watched */
};

enum { BE_CONNECTING = 1, BE_READY, BE_CLOSED, BE_HANDSHAKE }; /* BE_HANDSHAKE: TCP is up, TLS is not yet */
/* A backend connection is shared by the worker's clients, or dedicated to one client: for a
 * transaction (WATCH/MULTI state lives on the connection), a blocking command, pub/sub (replies are
 * pushed, not answers to requests), or scripts and functions (one per node: a script that runs long
 * must not hold other clients' requests behind it on a shared connection, where Redis would answer
 * them -BUSY). */
/* DED_TRACK: not a client's, the worker's listener on a master for client-side caching (tracking.h). */
enum { DED_NONE = 0, DED_TXN, DED_BLOCKING, DED_PUBSUB, DED_SCRIPT, DED_TRACK };

struct backend {
    struct worker *w;
    struct node *node;
    struct backend **home; /* its place in one of node->pools; NULL when dedicated */
    int fd;
    int state;
    ev_io rio, wio;
    struct uconn *uc;              /* io-engine io_uring, plaintext: its socket on the worker's ring */
    struct backend *zprev, *znext; /* closed, waiting for the ring to let go of it (worker's zombies) */
    uint8_t free_when_gone, reprocess;
    ev_timer timer; /* connect timeout, then the deadline of the oldest request in flight */
    struct chain out;
    struct ibuf in;
    struct resp_scanner scan;
    struct req_fifo inflight; /* written or waiting to be, in send order (through lnext) */
    uint32_t ninflight;
    int setup_replies;     /* replies to AUTH etc. still expected before the first request's */
    int dedicated;         /* DED_*; DED_NONE for the shared pool */
    int resp3;             /* said HELLO 3: replies (and pushes) come in RESP3 */
    struct client *client; /* a dedicated connection's client */
    int close_when_idle;
    int is_resolving;        /* waiting for its node's name to resolve (on worker->resolving) */
    struct backend *rnext;   /* worker->resolving */
    long long subscriptions; /* pub/sub: channels + patterns subscribed on this connection */
    uint64_t appended, written;
    struct req *stream;   /* a large bulk reply being passed to its client as it arrives */
    uint64_t stream_left; /* bytes of it still to come */
    int is_dirty;
    struct backend *next_dirty;
    double last_used;   /* dedicated: when a request was last sent on it (idle ones are let go) */
    struct sbuf pushed; /* pub/sub: what the node pushed since the oldest command in flight was sent */
    struct ssl_st *ssl; /* tls-cluster: the connection's TLS (lib/tls.h) */
    int tls_read_wants_write;
    int ks_mirror; /* a client's mirror subscription on one master: only node-local messages pass (dedicated.c) */
};

/* Opens place i of n's pool of that kind (allocating the pool on first use). */
struct backend *backend_pool_open(struct worker *w, struct node *n, int kind, int i);
/* A connection of n's shared pool for RESP2 or RESP3 (resp3) requests, round robin, opened if need be. */
static inline struct backend *backend_for(struct worker *w, struct node *n, int resp3) {
    int kind = resp3 ? POOL_RESP3 : POOL_RESP2, i = (int)(n->rr++ % (unsigned)n->nconns);
    struct backend *b = n->pools[kind] ? n->pools[kind][i] : NULL;
    return __builtin_expect(b != NULL, 1) ? b : backend_pool_open(w, n, kind, i);
}
void backend_names_resolved(struct worker *w);
struct backend *backend_connect(struct worker *w, struct node *n, struct backend **home, struct client *client,
                                int dedicated, int readonly, int resp3);
static inline struct backend *backend_for_reads(struct worker *w, struct node *n, int resp3) { /* READONLY */
    int kind = resp3 ? POOL_RESP3_RO : POOL_RESP2_RO, i = (int)(n->rr++ % (unsigned)n->nconns);
    struct backend *b = n->pools[kind] ? n->pools[kind][i] : NULL;
    return b ? b : backend_pool_open(w, n, kind, i);
}
int backend_send_raw(struct backend *b, const char *p, size_t len);
struct req *backend_take_head(struct backend *b); /* pops the oldest request in flight, or NULL */
int backend_send(struct backend *b, struct req *r, const char *p, size_t len);
void backend_flush(struct backend *b);
void backend_close(struct backend *b, const char *why, int fail_written);
void backend_free(struct backend *b);
void backend_stream_resume(struct backend *b); /* its streamed reply's client has room again */
void backend_handle_reply(struct backend *b, const char *p, size_t len); /* one complete reply (backreply.c) */

/* Reading on or off (the readiness watcher, or the ring's receive). */
void backend_reading(struct backend *b, int on);

#endif

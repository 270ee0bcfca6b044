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

struct node {
    struct node *next;
    char host[SM_HOST_LEN];
    int port;
    char addr[SM_HOST_LEN + 8]; /* host:port, for errors and logs */
    struct backend **conns;     /* the shared pool (NODE_MAX_CONNS places, nconns used) */
    struct backend **ro_conns;  /* the shared pool for replica reads: READONLY sent on connect */
    int nconns;
    struct node_counters *ctr; /* this worker's column of the node's counters (status.h) */
    unsigned rr;
    int nrefs;         /* backends pointing at this node (it is freed only at 0) */
    int is_retired;    /* no longer in the slot map: its connections close once idle */
    double down_until; /* no connection attempts before this (backoff) */
    unsigned addr_rr;  /* which of its name's addresses the next connection tries */
    double backoff;
    char last_error[128];
};

enum { BE_CONNECTING = 1, BE_READY, BE_CLOSED };
/* A backend connection is shared by the worker's clients, or dedicated to one client: for a
 * transaction (WATCH/MULTI state lives on the connection), a blocking command, pub/sub (replies are
 * pushed, not answers to requests), or scripts and functions (one per node: a script that runs long
 * must not hold other clients' requests behind it on a shared connection, where Redis would answer
 * them -BUSY). */
enum { DED_NONE = 0, DED_TXN, DED_BLOCKING, DED_PUBSUB, DED_SCRIPT };

struct backend {
    struct worker *w;
    struct node *node;
    struct backend **home; /* its place in node->conns or node->ro_conns; NULL when dedicated */
    int fd;
    int state;
    ev_io rio, wio;
    ev_timer timer; /* connect timeout, then the deadline of the oldest request in flight */
    struct chain out;
    struct ibuf in;
    struct resp_scanner scan;
    struct req_fifo inflight; /* written or waiting to be, in send order (through lnext) */
    uint32_t ninflight;
    int setup_replies;     /* replies to AUTH etc. still expected before the first request's */
    int dedicated;         /* DED_*; DED_NONE for the shared pool */
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
};

struct backend *backend_for(struct worker *w, struct node *n);
void backend_names_resolved(struct worker *w);
struct backend *backend_connect(struct worker *w, struct node *n, struct backend **home, struct client *client,
                                int dedicated, int readonly);
struct backend *backend_for_reads(struct worker *w, struct node *n); /* a READONLY connection to a replica */
int backend_send_raw(struct backend *b, const char *p, size_t len);
struct req *backend_take_head(struct backend *b); /* pops the oldest request in flight, or NULL */
int backend_send(struct backend *b, struct req *r, const char *p, size_t len);
void backend_flush(struct backend *b);
void backend_close(struct backend *b, const char *why, int fail_written);
void backend_free(struct backend *b);
void backend_stream_resume(struct backend *b); /* its streamed reply's client has room again */

#endif

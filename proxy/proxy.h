/* The data path's objects and how they point at each other. A worker owns everything here: its
 * clients, its view of the cluster (nodes and a slot -> node table) and its backend connections; no
 * lock is taken on the request path. A request (struct req) travels from the client that parsed it,
 * to a backend's in-flight FIFO (or the worker's park list while it waits to be retried), and back. */
#ifndef SLOTGATE_PROXY_H
#define SLOTGATE_PROXY_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>

#include "../conf/conf.h"
#include "../health/status.h"
#include "../router/command.h"
#include "../router/hist.h"
#include "../router/merge.h"
#include "../router/resp.h"
#include "../router/slotmap.h"
#include "../lib/counter.h"
#include "../lib/buf.h"
#include "subs.h"

struct worker;
struct client;
struct backend;

enum req_state { REQ_NEW = 0, REQ_SENT, REQ_PARKED, REQ_DONE };
/* How a reply is changed for the client: SCAN's cursor, PUBLISH's receiver count (this slotgate's). */
enum req_xform { XFORM_NONE = 0, XFORM_SCAN, XFORM_EVALSHA, XFORM_UPLOAD, XFORM_PUBLISH };

struct fanout; /* fanout.c: a request split over slots or sent to every master */

struct req {
    struct req *qnext;     /* client's ordered queue, or the worker's free list */
    struct req *lnext;     /* backend in-flight FIFO, or the worker's park list */
    struct client *client; /* NULL once the client is gone: the reply is then dropped */
    struct req *parent;    /* a part of a split or fanned-out request: its reply goes to the parent */
    struct fanout *fan;    /* on a parent: the parts' replies until all have come */
    int child_idx;
    struct chain *cmd_chain; /* where the command bytes are pinned (a backend's output, or the park chain) */
    struct cref cmd;
    struct cref reply; /* a reply that came before the ones ahead of it, pinned in the client's hold chain */
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
    uint8_t dedicated;   /* DED_*: must go on the client's own connection, not the shared pool */
    uint8_t is_readonly; /* safe to send again after its connection died after writing it */
    uint8_t family;      /* enum cmd_family, for the statistics */
    uint8_t group_retry; /* a reply inside the group said MOVED/ASK/TRYAGAIN/CLUSTERDOWN: send it again */
    uint32_t group_n;    /* MULTI ... EXEC sent as one request: replies before the EXEC's one (0: none) */
    uint32_t group_skip; /* of those, still to come on this attempt */
    uint32_t batch;      /* the client read it came in (client.read_seq when it was queued) */
    uint8_t is_blocked;  /* counted in INFO's blocked_clients until it is freed (1, or 2 with a timeout) */
    uint8_t noreply;     /* CLIENT REPLY OFF or SKIP: its reply is not written */
    /* Not cleared by req_new (written before it is read): */
    char sha[41];        /* XFORM_EVALSHA: the script, to load it where NOSCRIPT says it is missing */
    long long receivers; /* XFORM_PUBLISH: the subscribers this slotgate counts for the channel */
};

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
    struct req *head, *tail; /* in flight (written or waiting to be) in send order */
    uint32_t ninflight;
    int setup_replies;    /* replies to AUTH etc. still expected before the first request's */
    int dedicated;        /* DED_*; DED_NONE for the shared pool */
    struct client *owner; /* of a dedicated connection */
    int close_when_idle;
    int is_resolving;        /* waiting for its node's name to resolve (on worker->resolving) */
    struct backend *rnext;   /* worker->resolving */
    long long subscriptions; /* pub/sub: channels + patterns subscribed on this connection */
    uint64_t appended, written;
    struct req *stream;   /* a large bulk reply being passed to its client as it arrives */
    uint64_t stream_left; /* bytes of it still to come */
    int is_dirty;
    struct backend *next_dirty;
    double last_used; /* dedicated: when a request was last sent on it (idle ones are let go) */
    struct sbuf pushed; /* pub/sub: what the node pushed since the oldest command in flight was sent */
};

struct client {
    struct worker *w;
    struct client *prev, *next; /* worker's client list */
    int fd;
    uint64_t id;
    ev_io rio, wio;
    struct ibuf in;
    struct resp_request parser;
    struct req *qhead, *qtail;
    uint32_t nqueued;
    struct chain out;
    struct chain hold;
    int is_dirty, is_closing, is_closed, is_paused;
    struct client *next_dirty;
    char addr[64];
    char laddr[64]; /* the address the client connected to: what CLUSTER SLOTS announces */
    char *name;     /* CLIENT SETNAME */
    char user[64];  /* authenticated as ("default" when no password is configured) */
    int is_authed, is_readonly;
    double created, last_cmd;
    /* Dedicated connections and their state (dedicated.c). */
    struct backend *txn, *blocking, *sub, *ssub;
    int in_multi, txn_slot, txn_dirty, is_watching;
    struct chain txn_held; /* commands queued after MULTI before its node is known (first key) */
    int txn_nheld;
    struct chain push;         /* pub/sub messages waiting for replies ahead of them */
    int sub_mode;              /* subscribed, as Redis sees it: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET */
    int reply_mode;            /* CLIENT REPLY: 0 on, REPLY_OFF, REPLY_SKIP_NEXT */
    struct sub_set subs;       /* its channels, patterns and shard channels (subs.h) */
    struct backend **scripts;  /* DED_SCRIPT connections, one per node used */
    int nscripts, scripts_cap;
    struct backend *streaming; /* streams a large reply to this client; paused while its output is full */
    /* A large last argument streamed to its node as it arrives (upload.c). */
    struct req *upload;         /* being sent */
    size_t upload_left;         /* bytes of it still to come from the client */
    struct req *upload_barrier; /* sent, not yet answered: the next command waits */
    struct req *sub_barrier;    /* a pub/sub command in flight: the next waits, as the mode may change */
    int upload_wait;            /* an upload waits for the earlier requests' replies */
    int upload_paused;          /* reading paused while the node takes the upload slower */
    int resume_parse;           /* a wait ended: parse what is buffered at the next flush */
    double obl_soft_since;      /* over its soft output limit since (client-output-buffer-limit), or 0 */
    uint32_t read_seq;          /* reads so far: requests carry the one they came in */
    uint32_t done_batch;        /* the read of the last request answered */
    int flush_now;              /* a request was parked: write what is ready without waiting */
};

enum { REPLY_OFF = 1, REPLY_SKIP_NEXT };

/* A worker's statistics, one list for both forms: struct worker_stats, the counters the worker writes
 * (lib/counter.h: its own thread only, read by others), and struct stat_sums, every worker's added up
 * by a reader (worker_totals). Gauges: live_reqs (requests not yet answered), blocked and
 * blocked_timeout (blocking commands waiting, those with a timeout), inst_* (the last second's
 * commands and bytes, set by the trim timer). */
#define WORKER_STATS(X)                                                                                                \
    X(commands) X(errors) X(moved) X(ask) X(tryagain) X(clusterdown) X(timeouts) X(connections) X(rejected)            \
    X(auth_failures) X(idle_closed) X(output_closed) X(latency_us) X(live_reqs) X(blocked) X(blocked_timeout)          \
    X(net_in) X(net_out) X(reads) X(writes) X(inst_ops) X(inst_in) X(inst_out)
/* replies and error replies by command family; request in to reply out, by hist.h bucket */
#define WORKER_STAT_ARRAYS(X) X(calls, FAM_COUNT) X(failed, FAM_COUNT) X(latency, HIST_BUCKETS)

#define STAT_COUNTER(name)          struct counter name;
#define STAT_COUNTER_ARRAY(name, n) struct counter name[n];
#define STAT_SUM(name)              uint64_t name;
#define STAT_SUM_ARRAY(name, n)     uint64_t name[n];
struct worker_stats {
    WORKER_STATS(STAT_COUNTER)
    WORKER_STAT_ARRAYS(STAT_COUNTER_ARRAY)
};
struct stat_sums {
    WORKER_STATS(STAT_SUM)
    WORKER_STAT_ARRAYS(STAT_SUM_ARRAY)
};

struct worker {
    int id;
    pthread_t thread;
    struct ev_loop *loop;
    const struct conf *conf;        /* = &conf_copy: this thread's own copy, see worker_publish_conf */
    struct conf conf_copy;          /* strings and lists point into main's struct conf, never changed */
    struct conf *conf_mailbox;      /* atomic: the settings SIGHUP changed */
    struct status *status;          /* the status board, for per-node counters */
    struct node_counters spare_ctr; /* when the board has no row to give */
    int draining;                   /* atomic: stop accepting, let requests finish */
    int is_drained;                 /* atomic: draining, and no request or reply is left */
    struct cmdtable *cmds;
    struct cmdtable *cmds_mailbox; /* atomic: a table built from a live COMMAND reply */
    struct plan plan;              /* scratch for the request being planned */
    int32_t *slot_child;           /* scratch for splitting: slot -> part, -1 when unused */
    int *split;                    /* more scratch for splitting (fanout.c), 4 x split_cap ints */
    int split_cap;
    struct sbuf split_cmd;    /* a part's command being built (fanout.c) */
    struct sbuf merge_out;    /* a merged reply being built (fanout.c) */
    uint16_t *shard_slot;     /* the current map's shards in slot order, as one slot each */
    struct node **map_master; /* per map shard: its master, and its replicas from replica_off[] */
    struct node **replicas;
    int *replica_off;
    int nshards;
    unsigned any_rr;
    double started;
    struct worker *all;      /* every worker, for process-wide figures (INFO) */
    struct scripts *scripts; /* shared by all workers, see scripts.h */
    struct subs *subs;       /* shared by all workers: who is subscribed to what (subs.h) */
    const char *run_id;      /* INFO's run_id: 40 hex digits, new at each start (main.c) */
    long long *mem_peak;     /* atomic, shared: the most heap INFO has seen in use */
    long long mem_startup;   /* heap in use when the workers started */
    uint64_t last_commands, last_net_in, last_net_out; /* for the inst_* rates */
    int nworkers;
    struct pool pool;
    int listen_fd;
    ev_io listen_io;
    ev_async wake;    /* a new slot map in the mailbox, or stop */
    ev_prepare flush; /* one write per socket per loop turn, just before the loop sleeps */
    ev_timer park_timer;
    ev_timer drain_timer;
    ev_timer trim_timer;     /* returns memory to the system after a burst (worker.c) */
    struct slotmap *mailbox; /* atomic: the next map, handed over by health/ */
    int stop;                /* atomic */
    struct slotmap *map;
    struct node *owner[SLOT_COUNT];
    struct node *nodes;
    struct backend *resolving; /* connections waiting for a name (dns.h) */
    ev_async dns_wake;         /* a name lookup finished */
    struct client *clients;
    uint32_t nclients;
    uint32_t clients_freed; /* since the last malloc_trim */
    double last_latency;    /* count_reply's cache of the last latency and its histogram bucket */
    int last_bucket;
    uint64_t next_client_id;
    struct req *free_reqs;
    struct req *park_head, *park_tail;
    struct chain park;
    struct backend *dirty_backends;
    struct client *dirty_clients;
    char *scratch; /* an inline command re-encoded as multibulk */
    size_t scratch_cap;
    struct shared_counter *total_clients; /* shared by all workers: maxclients is per process */
    int *node_timeout_ms; /* atomic: the cluster's cluster-node-timeout, once health/ has read it */
    double last_refresh_ask;
    double map_shrunk_at; /* when a map leaving slots unowned that the one before covered came in */
    void (*want_refresh)(void *ctx, const char *why);
    void *refresh_ctx;
    struct worker_stats stats __attribute__((aligned(64))); /* written per request: a cache line of its own */
} __attribute__((aligned(64)));                             /* so is each worker of the array (main.c) */

/* Process-wide figures: every worker's counters added up (read with relaxed atomics). */
struct stat_totals {
    struct stat_sums s;
    int workers;
};
void worker_totals(struct worker *all, int n, struct stat_totals *t);

/* worker.c */
int worker_init(struct worker *w, int id, const struct conf *conf, struct cmdtable *cmds, char *err, size_t errlen);
void worker_publish_cmds(struct worker *w, struct cmdtable *t); /* takes a reference for w */
int worker_check_port(const char *bind_addr, int port, char *err, size_t errlen);
int worker_start(struct worker *w);
void worker_publish_map(struct worker *w, struct slotmap *m); /* takes a reference for w */
void worker_stop(struct worker *w);
/* Hands the worker the settings a SIGHUP changed (copied; the caller keeps c). */
void worker_publish_conf(struct worker *w, const struct conf *c);
/* SIGTERM: close the listener; the worker sets is_drained once every client's requests are answered
 * and written (clients stay connected until worker_stop). */
void worker_drain(struct worker *w);
int worker_is_drained(struct worker *w);
void worker_destroy(struct worker *w);
struct req *req_new(struct worker *w);
void req_free(struct worker *w, struct req *r);
void worker_mark_client(struct worker *w, struct client *c);
void worker_mark_backend(struct worker *w, struct backend *b);
struct node *worker_node(struct worker *w, const char *host, int port);
void worker_node_release(struct worker *w, struct node *n); /* a backend let go of n */
/* Sends a request whose bytes are pinned at (chain, ref) or given as (p, len) to the owner of its
 * slot (or to `to`), parking it when that node is unreachable. */
void route_request(struct worker *w, struct req *r, struct node *to, const char *p, size_t len);
void park_request(struct worker *w, struct req *r, const char *p, size_t len, double retry_at);
void worker_request_refresh(struct worker *w, const char *why);

/* backend.c */
struct backend *backend_for(struct worker *w, struct node *n);
void backend_names_resolved(struct worker *w);
struct backend *backend_connect(struct worker *w, struct node *n, struct backend **home, struct client *owner,
                                int dedicated, int readonly);
struct backend *backend_for_reads(struct worker *w, struct node *n); /* a READONLY connection to a replica */
int backend_send_raw(struct backend *b, const char *p, size_t len);
struct req *backend_take_head(struct backend *b); /* pops the oldest request in flight, or NULL */
int backend_send(struct backend *b, struct req *r, const char *p, size_t len);
void backend_flush(struct backend *b);
void backend_close(struct backend *b, const char *why, int fail_written);
void backend_free(struct backend *b);
void backend_stream_resume(struct backend *b); /* its streamed reply's client has room again */

/* fanout.c */
void fanout_split(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd, const struct plan *p);
void fanout_all(struct worker *w, struct req *r, const char *bytes, size_t len, int policy, const char *prefix);
void fanout_scan(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd);
void fanout_child_done(struct worker *w, struct req *child, const char *reply, size_t len);
void fanout_free(struct fanout *f);
/* A request is orphaned when nobody waits for its reply any more. */
static inline int req_is_orphan(const struct req *r) { return !r->client && !r->parent; }

/* dedicated.c */
void dedicated_command(struct client *c, struct req *r, const struct plan *p, const char *cmd);
int dedicated_in_mode(const struct client *c); /* MULTI or subscribed: commands go to dedicated.c */
void dedicated_push(struct backend *b, const char *reply, size_t len);
void dedicated_detach(struct backend *b);
void dedicated_close_all(struct client *c);
/* Lets go of a client's dedicated connections unused for idle_s seconds (no subscription, nothing in flight). */
void dedicated_release_idle(struct client *c, double now, double idle_s);
void dedicated_flush_push(struct client *c);
int dedicated_send(struct req *r, struct node *n, const char *p, size_t len);

/* upload.c */
int upload_try_start(struct client *c); /* 1: the parser's current request is streamed (or waits to be) */
void upload_forward(struct client *c);
void upload_node_drained(struct backend *b); /* the dedicated connection's output went down */

/* procinfo.c: INFO's template (router/info.h) for the sections in mask. */
int info_template(struct worker *w, unsigned mask, struct sbuf *b);

/* local.c */
void local_run(struct client *c, struct req *r, const struct plan *p, const char *cmd);
void reply_bulk(struct worker *w, struct req *r, const char *p, size_t len);
const char *encode_command(struct worker *w, const struct resp_request *q, const char *cmd, size_t *len);

/* client.c */
void client_accept(struct worker *w, int fd, const char *addr);
void client_enqueue(struct client *c, struct req *r); /* the client's next reply will be r's */
void client_flush(struct client *c);
void client_free(struct client *c);
void client_close(struct client *c);
/* Delivers a request's reply (raw RESP bytes), keeping the client's replies in request order. */
void req_reply(struct worker *w, struct req *r, const char *reply, size_t len);
void req_reply_error(struct worker *w, struct req *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A large bulk reply passed on in pieces as it arrives (r at the head of its client's queue). */
void req_stream_begin(struct worker *w, struct req *r);
int req_stream_data(struct worker *w, struct req *r, const char *p, size_t len); /* -1: client closed */
void req_stream_end(struct worker *w, struct req *r);

static inline double worker_now(struct worker *w) { return ev_now(w->loop); }
/* How long a request may be held while its master is unreachable or the cluster is failing over. */
static inline double worker_hold(const struct worker *w) {
    int ms = w->conf->failover_hold_ms;
    if (!ms) {
        int nt = w->node_timeout_ms ? __atomic_load_n(w->node_timeout_ms, __ATOMIC_RELAXED) : 0;
        ms = nt > 0 ? nt + 3000 : 18000; /* Redis's default cluster-node-timeout is 15000 */
    }
    double cmd = w->conf->command_timeout_ms / 1000.0;
    return ms / 1000.0 > cmd ? ms / 1000.0 : cmd;
}
/* Counters are written by their worker only and read by others (INFO): see lib/counter.h. */
#define STAT_INC(w, field)      counter_inc(&(w)->stats.field)
#define STAT_ADD(w, field, n)   counter_add(&(w)->stats.field, (int64_t)(n))
#define STAT_READ(w, field)     counter_get(&(w)->stats.field)

#endif

/* The status board: what slotgate knows about the cluster and itself, published for readers on other
 * threads (the admin endpoint, INFO). health/ writes the slot map, the refresh history, each node's
 * probe results and the cluster's own CLUSTER INFO; workers own per-node request counters (one column
 * each, so no counter has two writers). Everything but the counters is behind one mutex, taken a few
 * times a second by writers and once per admin request by readers: never on the request path. */
#ifndef SLOTGATE_STATUS_H
#define SLOTGATE_STATUS_H

#include <pthread.h>
#include <stdint.h>

#include "../lib/counter.h"
#include "../router/slotmap.h"

struct node_status {
    char addr[SM_HOST_LEN + 8]; /* host:port as the slot map names it */
    char id[SM_ID_LEN];
    int is_master; /* serves slots in the current map */
    int in_map;    /* 0: left the map while down, still shown for a while */
    int state;     /* NODE_UP / NODE_SUSPECT / NODE_DOWN (probe.h) */
    int probed;    /* at least one probe answered */
    double latency_ms;
    double last_ok;                    /* wall-clock time of the last answered probe, 0 if none */
    char role[16];                     /* what the node says: master or replica */
    char master_addr[SM_HOST_LEN + 8]; /* a replica's master (INFO replication) */
    char link[16];                     /* a replica's master_link_status */
    long long repl_offset;             /* master_repl_offset, or slave_repl_offset on a replica */
    long long keys, expires, used_memory;
    char last_error[96];
    char version[16];  /* redis_version (INFO server) */
    double busy_since; /* wall clock: it answers -BUSY (a script or function past busy-reply-threshold), or 0 */
    char busy_error[96];
};

struct cluster_status {
    int known; /* a CLUSTER INFO has been read */
    char from[SM_HOST_LEN + 8];
    char state[8];
    int slots_assigned, slots_ok, slots_pfail, slots_fail, known_nodes, size;
    long long current_epoch;
};

struct refresh_status {
    uint64_t ok, failed, changes;
    double last_ok;     /* wall clock */
    double last_change; /* wall clock of the current map */
    char from[SM_HOST_LEN + 8];
    char last_error[128];
};

/* Counters one worker keeps for one node address: written by that worker only (lib/counter.h). */
struct node_counters {
    struct counter requests, errors, connections; /* connections: a gauge */
} __attribute__((aligned(64)));                   /* each worker writes its own per request: one cache line each */

/* backend-kind sentinel: the sentinels slotgate listens to, and whether a failover is being waited out. */
#define STATUS_MAX_SENTINELS 8
struct sentinel_status {
    int n;
    struct {
        char addr[SM_HOST_LEN + 8];
        int subscribed; /* its +switch-master subscription is live */
    } s[STATUS_MAX_SENTINELS];
    char holding_for[SM_HOST_LEN + 8]; /* a failover began: the old master, not used until it is over */
    double holding_since;              /* wall clock */
};

struct status {
    pthread_mutex_t lock;
    struct slotmap *map; /* the last map published */
    struct refresh_status refresh;
    struct cluster_status cluster;
    struct node_status *nodes;
    int nnodes;
    int listening, draining; /* atomic */
    double started;          /* wall clock */
    int nworkers;
    /* per-node counters: addresses ever routed to, each with one column per worker */
    struct counter_row **rows;
    int nrows, cap_rows;
    struct sentinel_status sentinels;
    struct slotmap *backend_maps[8]; /* routes by prefix: the other backends' maps ([0] unused: map) */
};

struct status *status_new(int nworkers);
void status_free(struct status *s);
double status_wall_now(void);

void status_set_map(struct status *s, struct slotmap *m, const char *from); /* takes a new reference */
/* The current map with a reference for the caller (slotmap_unref it), or NULL. */
struct slotmap *status_map(struct status *s);
void status_refresh_result(struct status *s, int ok, const char *from, const char *error);
void status_set_nodes(struct status *s, const struct node_status *nodes, int n);
void status_set_cluster(struct status *s, const struct cluster_status *c);
void status_set_sentinels(struct status *s, const struct sentinel_status *x);
/* routes by prefix: backend b's (1..7) current map (a new reference), or NULL. */
void status_set_backend_map(struct status *s, int b, struct slotmap *m);
struct slotmap *status_backend_map(struct status *s, int b);
void status_sentinels(struct status *s, struct sentinel_status *out);
/* The lowest redis_version of the masters (what a client may count on through slotgate), or dflt while
 * no master has told it. */
void status_min_master_version(struct status *s, char *out, size_t len, const char *dflt);

/* Ready to take clients: a full slot map, listeners accepting, not draining. Writes why not. */
int status_ready(struct status *s, char *why, size_t len);

/* Worker `worker`'s counters for the node at addr, until status_node_counters_release(). */
struct node_counters *status_node_counters(struct status *s, const char *addr, int worker);
/* The worker's node that held ctr is gone: once no worker holds its row, the row may be reused. */
void status_node_counters_release(struct status *s, const struct node_counters *ctr);
/* Sums over workers for addr (zeros for an address never routed to). */
struct node_totals {
    uint64_t requests, errors;
    int64_t connections;
};
void status_node_totals(struct status *s, const char *addr, struct node_totals *out);

#define CTR_INC(ctr, field)      counter_inc(&(ctr)->field)
#define CTR_ADD(ctr, field, val) counter_add(&(ctr)->field, (val))

#endif

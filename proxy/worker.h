/* A worker thread: its own libev loop, listener, clients, view of the cluster, backend connections,
 * parked requests and statistics; nothing here is locked on the request path. worker.c; the view of
 * the cluster and routing are in it too (route_request, park_request: dispatch.c). */
#ifndef SLOTGATE_WORKER_H
#define SLOTGATE_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>

#include "../conf/conf.h"
#include "../health/status.h"
#include "../lib/buf.h"
#include "../lib/counter.h"
#include "../lib/sample.h"
#include "../router/command.h"
#include "../router/encode.h"
#include "../router/hist.h"
#include "../router/prefix.h"
#include "hotkeys.h"
#include "slotload.h"
#include "../router/merge.h"
#include "../router/route.h"
#include "../router/slotmap.h"
#include "backend.h"
#include "client.h"
#include "req.h"
#include "subs.h"
#include "tracking.h"
#include "users.h"

/* A worker's statistics, one list for both forms: struct worker_stats, the counters the worker writes
 * (lib/counter.h: its own thread only, read by others), and struct stat_sums, every worker's added up
 * by a reader (worker_totals). Gauges: live_reqs (requests not yet answered), blocked and
 * blocked_timeout (blocking commands waiting, those with a timeout), inst_* (the last second's
 * commands and bytes, set by the trim timer). */
#define WORKER_STATS(X)                                                                                                \
    X(commands)                                                                                                        \
    X(errors)                                                                                                          \
    X(moved)                                                                                                           \
    X(ask)                                                                                                             \
    X(tryagain)                                                                                                        \
    X(clusterdown)                                                                                                     \
    X(timeouts)                                                                                                        \
    X(connections)                                                                                                     \
    X(rejected)                                                                                                        \
    X(auth_failures)                                                                                                   \
    X(idle_closed)                                                                                                     \
    X(output_closed)                                                                                                   \
    X(latency_us)                                                                                                      \
    X(live_reqs)                                                                                                       \
    X(blocked)                                                                                                         \
    X(blocked_timeout)                                                                                                 \
    X(net_in)                                                                                                          \
    X(net_out)                                                                                                         \
    X(reads)                                                                                                           \
    X(writes)                                                                                                          \
    X(inst_ops)                                                                                                        \
    X(inst_in)                                                                                                         \
    X(inst_out)                                                                                                        \
    X(invalidations)                                                                                                   \
    X(acl_denied_cmd)                                                                                                  \
    X(acl_denied_key)                                                                                                  \
    X(acl_denied_channel)                                                                                              \
    X(trk_clients)                                                                                                     \
    X(trk_keys)                                                                                                        \
    X(trk_items)                                                                                                       \
    X(trk_prefixes)                                                                                                    \
    X(trk_bytes)                                                                                                       \
    X(tls_handshakes)                                                                                                  \
    X(tls_handshake_failed)                                                                                            \
    X(tls_handshake_timeouts)                                                                                          \
    X(mirror_sent)                                                                                                     \
    X(mirror_replies)                                                                                                  \
    X(mirror_errors)                                                                                                   \
    X(mirror_dropped)                                                                                                  \
    X(mirror_latency_us)                                                                                               \
    X(mig_writes)                                                                                                      \
    X(mig_reads)                                                                                                       \
    X(mig_copies)                                                                                                      \
    X(mig_batches)                                                                                                     \
    X(mig_deletes)                                                                                                     \
    X(mig_copy_errors)                                                                                                 \
    X(mig_fallbacks)                                                                                                   \
    X(spin_hits)                                                                                                       \
    X(spin_misses)
/* replies and error replies by command family; request in to reply out, by hist.h bucket */
/* latency_fam: the latency histogram by command family, family * HIST_BUCKETS + bucket (/metrics); latency and
 * latency_us are not counted by the workers: worker_totals adds the families up into them */
#define WORKER_STAT_ARRAYS(X)                                                                                          \
    X(calls, FAM_COUNT)                                                                                                \
    X(failed, FAM_COUNT) X(latency, HIST_BUCKETS) X(latency_fam, FAM_COUNT *HIST_BUCKETS) X(latency_us_fam, FAM_COUNT)

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

/* What a worker shares with the rest of the process, wired by main.c before it starts. */
struct worker_shared {
    struct worker *all; /* every worker, for process-wide figures (INFO) */
    int nworkers;
    struct status *status;                /* the status board, for per-node counters */
    struct scripts *scripts;              /* the Lua scripts seen (scripts.h) */
    struct subs *subs;                    /* who is subscribed to what (subs.h) */
    struct shared_counter *total_clients; /* maxclients is per process */
    int *node_timeout_ms;                 /* atomic: the cluster's cluster-node-timeout, once health/ read it */
    const char *run_id;                   /* INFO's run_id: 40 hex digits, new at each start */
    long long *mem_peak;                  /* atomic: the most heap INFO has seen in use */
    long long mem_startup;                /* heap in use when the workers started */
    struct acllog *acllog;                /* ACL LOG: every worker's denials (users.h) */
    struct slowlog *slowlog;              /* SLOWLOG: every worker's slow requests (slowlog.h) */
    struct bigkeys *bigkeys;              /* big keys seen by every worker (bigkeys.h) */
    struct slotload *slotload;            /* per-slot load windows (slotload.h) */
    int *protected_mode;                  /* atomic: refuse clients not from 127.0.0.1 or ::1 (main.c) */
    void (*want_refresh)(void *ctx, int backend, const char *why);
    void *refresh_ctx;
    const struct prefix_table *prefixes; /* routes by prefix, or NULL (one backend) */
    const char *backend_names[PREFIX_MAX_BACKENDS];
};

/* What other threads hand the worker: each is swapped in atomically, then the wake-up (ev_async) makes
 * the worker take it (on_wake). */
struct worker_inbox {
    struct slotmap *map;                       /* the next map, from health/ */
    struct slotmap *bmap[PREFIX_MAX_BACKENDS]; /* ... of the other backends (routes by prefix), [0] unused */
    struct cmdtable *cmds;                     /* a table built from a live COMMAND reply */
    struct conf *conf;                         /* the settings SIGHUP changed */
    const struct prefix_table *prefixes;       /* the routes SIGHUP changed (prefixes_new set after it) */
    int prefixes_new;
    struct users *users; /* the users and ACL rules SIGHUP built */
    int stop;
    int draining; /* stop accepting, let requests finish */
};

/* The worker's view of the cluster: the map it routes by, each slot's master (patched after MOVED until
 * the next map), its nodes with their connection pools, and the command table it plans with. */
struct worker_view {
    struct slotmap *map;
    struct route_table routes; /* each slot's master, the replicas, the shards in slot order (router/route.h) */
    struct node *nodes;
    double map_shrunk_at; /* when a map leaving slots unowned that the one before covered came in */
    double last_refresh_ask;
    struct cmdtable *cmds;
    struct users *users; /* who clients may be and what each may do */
};

/* Scratch space reused request after request. */
struct worker_tmp {
    struct plan plan;      /* the request being planned */
    struct split split;    /* a multi-key command grouped by slot (router/encode.h) */
    struct sbuf split_cmd; /* a part's command being built (fanout.c) */
    struct sbuf merge_out; /* a merged reply being built (fanout.c) */
    struct sbuf encoded;   /* an inline command re-encoded as multibulk */
    struct sbuf mirror;    /* a mirrored command, a migration's copy (migrate.c) */
};

struct worker {
    int id;
    pthread_t thread;
    struct ev_loop *loop;
    const struct conf *conf; /* = &conf_copy: this thread's own copy, see worker_publish_conf */
    struct conf conf_copy;   /* strings and lists point into main's struct conf, never changed */
    double started;
    struct worker_shared shared;
    struct worker_inbox inbox;
    struct worker_view view;
    /* routes by prefix: the other backends' maps and routing tables (their nodes are in view.nodes,
     * cmds and users are view's); [0] unused: backend 0 is view */
    struct worker_view *bview[PREFIX_MAX_BACKENDS]; /* allocated for the configured backends only */
    struct worker_tmp tmp;
    struct worker_tracking trk; /* client-side caching (tracking.h) */
    /* ACL: whether a user may run a command, remembered (users and commands are immutable while a worker
     * holds them; cleared when either is replaced). */
    struct acl_cached {
        const void *user, *cmd;
        int allowed;
    } acl_cache[512];
    struct pool pool;
    /* Its clients and the connections that have something to write this loop turn. */
    struct client *clients;
    uint32_t nclients;
    uint32_t clients_freed; /* since the last malloc_trim */
    uint64_t next_client_id;
    struct client *dirty_clients;
    struct client *zombies; /* closed, freed once the ring lets go of them (io_uring) */
    struct backend *zombie_backends;
    struct backend *dirty_backends;
    struct backend *resolving; /* connections waiting for a name (lib/dns.h) */
    /* Requests: free ones, and parked ones waiting to be sent again (their bytes in park). */
    struct req *free_reqs;
    struct req_fifo parked; /* through lnext */
    struct chain park;
    /* The loop's watchers. */
    int listen_fd, tls_listen_fd; /* port, tls-port (-1: none) */
    ev_io listen_io, tls_listen_io;
    ev_async wake;                      /* something in the inbox, or stop */
    ev_async dns_wake;                  /* a name lookup finished */
    ev_prepare flush;                   /* one write per socket per loop turn, just before the loop sleeps */
    struct uring *uring;                /* io-engine io_uring: its ring (uring.h), or NULL: epoll readiness */
    int use_uring;                      /* io-engine allows it and the kernel does: the thread makes its ring */
    ev_io ring_io;                      /* the ring has completions */
    ev_idle ring_idle;                  /* something is left to submit: the loop polls without sleeping */
    unsigned spin_credit, spin_skipped; /* io-spin-us: whether watching the ring pays (worker_spin) */
    ev_timer park_timer;
    ev_timer drain_timer;
    ev_timer trim_timer;            /* returns memory to the system after a burst (worker.c) */
    int is_drained;                 /* atomic: draining, and no request or reply is left */
    struct node_counters spare_ctr; /* when the status board has no row to give */
    struct node *answering;         /* the node whose reply is being handled (backend.c), for SLOWLOG */
    struct worker_hotkeys hk;       /* hot keys (hotkeys.h) */
    double slow_after;              /* seconds: slowlog-log-slower-than (-1: never, as +inf) */
    unsigned one_node;              /* bit b: backend b is one server (struct plan's one_node) */
    long long big_reply_min;        /* a reply this long may be a big key (bigkeys-value-bytes, -elements) */
    long long big_request_min;      /* a request this long may be one (an argument takes 2 bytes at least, inline) */
    struct slot_ctr *load;          /* per-slot load counters, SLOT_COUNT (slotload.h) */
    struct sampler load_sample;     /* slot-load-sample: which requests they count */
    struct {                        /* a split request's parts, while its merged reply is delivered (fanout.c) */
        int parts, argc;
        char name[32], slow_node[SM_HOST_LEN + 8];
        double slow_node_s;
    } split;
    int mirror_acc;               /* mirror-percent: the share owed (migrate.c) */
    int mirror_inflight;          /* mirrored commands not answered yet */
    double mig_warned;            /* when migrate.c last warned */
    struct migbatch *mig_batches; /* copies waiting for the end of the loop turn (migrate.c) */
    double last_latency;          /* count_reply's cache of the last latency and its histogram bucket */
    int last_bucket;
    uint64_t last_commands, last_net_in, last_net_out;      /* for the inst_* rates */
    struct worker_stats stats __attribute__((aligned(64))); /* written per request: a cache line of its own */
} __attribute__((aligned(64)));
/* so is each worker of the array (main.c) */ /* so is each worker of the array (main.c) */

/* Process-wide figures: every worker's counters added up (read with relaxed atomics). */
struct stat_totals {
    struct stat_sums s;
    int workers;
};
void worker_totals(struct worker *all, int n, struct stat_totals *t);

int worker_init(struct worker *w, int id, const struct conf *conf, struct cmdtable *cmds, struct users *users,
                char *err, size_t errlen);
void worker_publish_cmds(struct worker *w, struct cmdtable *t); /* takes a reference for w */
void worker_publish_users(struct worker *w, struct users *u);   /* takes a reference for w */
int worker_check_port(const char *bind_addr, int port, char *err, size_t errlen);
int worker_start(struct worker *w);
void worker_publish_map(struct worker *w, int backend, struct slotmap *m); /* takes a reference for w */
void worker_stop(struct worker *w);
/* Hands the worker the settings a SIGHUP changed (copied; the caller keeps c). */
void worker_publish_conf(struct worker *w, const struct conf *c);
/* Hands the worker the routes a SIGHUP changed (t, or NULL for none, stays the caller's). */
void worker_publish_prefixes(struct worker *w, const struct prefix_table *t);
/* SIGTERM: close the listener; the worker sets is_drained once every client's requests are answered
 * and written (clients stay connected until worker_stop). */
void worker_drain(struct worker *w);
int worker_is_drained(struct worker *w);
void worker_destroy(struct worker *w);
void worker_mark_client(struct worker *w, struct client *c);
void worker_mark_backend(struct worker *w, struct backend *b);
struct node *worker_node(struct worker *w, const char *host, int port);
void worker_node_release(struct worker *w, struct node *n); /* a backend let go of n */
/* Sends a request whose bytes are pinned at (chain, ref) or given as (p, len) to the owner of its
 * slot (or to `to`), parking it when that node is unreachable. */
void route_request(struct worker *w, struct req *r, struct node *to, const char *p, size_t len);
void park_request(struct worker *w, struct req *r, const char *p, size_t len, double retry_at);
#define PARK_TICK 0.01                    /* s: how often parked requests are looked at */
void park_run(struct worker *w, int all); /* retries the parked requests due (all: every one) */
void park_on_timer(struct ev_loop *loop, ev_timer *t, int revents); /* w->park_timer */
void worker_request_refresh(struct worker *w, int backend, const char *why);
static inline struct worker_view *worker_view_of(struct worker *w, int backend) {
    return backend && w->bview[backend] ? w->bview[backend] : &w->view;
}

static inline double worker_now(struct worker *w) { return ev_now(w->loop); }
/* A connection's reading on or off: its receive on the ring (io_uring), or its readiness watcher. */
struct uconn;
void worker_reading(struct worker *w, struct uconn *uc, ev_io *rio, int on);
/* turn.c: the flush before the loop sleeps and the io-engine choice (worker_init; -1 with err when
 * io-engine io_uring is refused), and the ring of the worker's own thread, made as it starts. */
int worker_turn_init(struct worker *w, int id, const struct conf *conf, char *err, size_t errlen);
void worker_ring_start(struct worker *w);
/* The failover window: how long a request may stay parked while its master is unreachable or the
 * cluster is failing over. */
static inline double failover_window(const struct worker *w) {
    int ms = w->conf->failover_hold_ms;
    if (!ms) {
        int nt = w->shared.node_timeout_ms ? __atomic_load_n(w->shared.node_timeout_ms, __ATOMIC_RELAXED) : 0;
        ms = nt > 0 ? nt + 3000 : 18000; /* Redis's default cluster-node-timeout is 15000 */
    }
    double cmd = w->conf->command_timeout_ms / 1000.0;
    return ms / 1000.0 > cmd ? ms / 1000.0 : cmd;
}
/* Counters are written by their worker only and read by others (INFO): see lib/counter.h. */
#define STAT_INC(w, field)    counter_inc(&(w)->stats.field)
#define STAT_ADD(w, field, n) counter_add(&(w)->stats.field, (int64_t)(n))
#define STAT_READ(w, field)   counter_get(&(w)->stats.field)

#endif

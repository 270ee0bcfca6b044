/* A worker thread: its own libev loop, listener (SO_REUSEPORT, so the kernel spreads clients over
 * workers), clients, nodes and backend connections. It learns slot maps from health/ through a
 * one-slot exchange (next_map) and an ev_async; between maps it patches its own slot table after MOVED. */
#include "dedicated.h"
#include "worker.h"
#include "migrate.h"
#include "../lib/uring.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../lib/dns.h"
#include "../lib/log.h"
#include "../lib/tls.h"

struct req *req_new(struct worker *w) {
    struct req *r = w->free_reqs;
    if (r)
        w->free_reqs = r->qnext;
    else if (!(r = malloc(sizeof(*r))))
        return NULL;
    memset(r, 0, offsetof(struct req, sha)); /* sha is written before it is read */
    r->slot = -1;
    r->family = FAM_OTHER;
    STAT_INC(w, live_reqs);
    return r;
}

/* INFO's blocked_clients: a blocking command is no longer waiting. */
__attribute__((noinline, cold)) static void unblocked(struct worker *w, const struct req *r) {
    STAT_ADD(w, blocked, -1);
    if (r->is_blocked == 2) STAT_ADD(w, blocked_timeout, -1);
}

void req_free(struct worker *w, struct req *r) {
    if (__builtin_expect(r->is_blocked, 0)) unblocked(w, r);
    if (__builtin_expect(r->mig != NULL, 0)) migrate_free(r);
    r->qnext = w->free_reqs;
    w->free_reqs = r;
    STAT_ADD(w, live_reqs, -1);
}

struct node *worker_node(struct worker *w, const char *host, int port) {
    for (struct node *n = w->view.nodes; n; n = n->next) {
        if (n->port == port && strcmp(n->host, host) == 0) {
            n->is_retired = 0; /* named again (a map, a MOVED): it is back */
            return n;
        }
    }
    struct node *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->backend = -1; /* the map or the redirection that named it says */
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    n->nconns = w->conf->backend_connections;
    n->is_retired = 0;
    n->pools[POOL_RESP2] = calloc(NODE_MAX_CONNS, sizeof(*n->pools[POOL_RESP2]));
    if (!n->pools[POOL_RESP2]) {
        free(n);
        return NULL;
    }
    char key[SM_HOST_LEN + 8];
    snprintf(key, sizeof(key), "%s:%d", host, port); /* as health/ names it */
    n->ctr = w->shared.status ? status_node_counters(w->shared.status, key, w->id) : NULL;
    if (!n->ctr) n->ctr = &w->spare_ctr;
    n->next = w->view.nodes;
    w->view.nodes = n;
    return n;
}

static void node_free(struct worker *w, struct node *n) {
    for (struct node **pp = &w->view.nodes; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    if (w->shared.status && n->ctr != &w->spare_ctr) status_node_counters_release(w->shared.status, n->ctr);
    for (int k = 0; k < POOL_KINDS; k++) free(n->pools[k]);
    free(n);
}

void worker_node_release(struct worker *w, struct node *n) {
    if (--n->nrefs == 0 && n->is_retired) node_free(w, n);
}

/* A node that left the slot map (del-node, an address change) keeps nothing open: its idle
 * connections close now, busy ones as their replies come back, and the node goes with the last. */
static int in_map(const struct slotmap *m, const struct node *n) {
    for (int i = 0; m && i < m->nnodes; i++)
        if (m->nodes[i].port == n->port && !strcmp(m->nodes[i].host, n->host)) return 1;
    return 0;
}

static void retire_nodes(struct worker *w, const struct slotmap *m) {
    for (struct node *n = w->view.nodes; n; n = n->next) {
        int named = in_map(m, n); /* by the new map, or by another backend's (routes by prefix) */
        for (int b = 0; b < PREFIX_MAX_BACKENDS && !named; b++)
            named = in_map(b ? (w->bview[b] ? w->bview[b]->map : NULL) : w->view.map, n);
        n->is_retired = !named;
    }
    for (struct node *n = w->view.nodes, *next; n; n = next) {
        next = n->next;
        if (!n->is_retired) continue;
        n->nrefs++; /* keep it while its connections close */
        for (int k = 0; k < POOL_KINDS; k++) {
            for (int i = 0; n->pools[k] && i < NODE_MAX_CONNS; i++) {
                struct backend *b = n->pools[k][i];
                if (b && !b->inflight.head) b->close_when_idle = 1, backend_close(b, "left the cluster", 0);
            }
        }
        worker_node_release(w, n);
    }
}

struct node_of_ctx {
    struct worker *w;
    int backend;
};

static void *node_of(void *ctx, const char *host, int port) {
    struct node_of_ctx *x = ctx;
    struct node *n = worker_node(x->w, host, port);
    if (n && n->backend < 0) n->backend = x->backend;
    return n;
}

/* A new map: the routing table (router/route.c) is rebuilt from it, nodes that left it are let go, and
 * the masters it names are tried again at once. backend: routes by prefix, 0 for the default one. */
static void install_map(struct worker *w, int backend, struct slotmap *m) {
    struct worker_view *v = worker_view_of(w, backend);
    /* A node may answer CLUSTER SLOTS without a shard whose failover it is in the middle of: requests
     * for those slots wait for the next map (below, route_request) instead of failing at once. */
    if (v->map && m->covered < v->map->covered) v->map_shrunk_at = worker_now(w);
    void **before = !backend && tracking_active(&w->trk) ? malloc(sizeof(w->view.routes.slot_master)) : NULL;
    if (before) memcpy(before, w->view.routes.slot_master, sizeof(w->view.routes.slot_master));
    struct node_of_ctx ctx = {w, backend};
    if (route_build(&v->routes, m, node_of, &ctx) < 0) {
        free(before);
        log_warning("worker %d: out of memory installing slot map version %llu; keeping the one before", w->id,
                    (unsigned long long)m->version);
        slotmap_unref(m);
        return;
    }
    struct slotmap *old = v->map;
    v->map = m;
    retire_nodes(w, m); /* after the table no longer names them */
    if (old) slotmap_unref(old);
    if (before) tracking_map_changed(w, before);
    free(before);
    if (!backend) dedicated_masters_changed(w); /* keyspace subscribers' mirrors follow the masters */
    for (int i = 0; i < m->nshards; i++) {
        struct node *n = v->routes.shard_master[i];
        /* The map says this node serves slots now: whatever made us back off may be over. */
        if (n) n->down_until = 0;
    }
    log_verbose("worker %d: %s%sslot map version %llu installed (%u slots covered, %d masters)", w->id,
                backend ? w->shared.backend_names[backend] : "", backend ? ": " : "", (unsigned long long)m->version,
                m->covered, m->nshards);
}

static void apply_conf(struct worker *w, const struct conf *c);

static void on_wake(struct ev_loop *loop, ev_async *a, int revents) {
    (void)revents;
    struct worker *w = a->data;
    if (__atomic_load_n(&w->inbox.stop, __ATOMIC_ACQUIRE)) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    struct cmdtable *t = __atomic_exchange_n(&w->inbox.cmds, NULL, __ATOMIC_ACQ_REL);
    if (t) {
        cmdtable_unref(w->view.cmds);
        w->view.cmds = t;
        memset(w->acl_cache, 0, sizeof(w->acl_cache));
    }
    struct users *u = __atomic_exchange_n(&w->inbox.users, NULL, __ATOMIC_ACQ_REL);
    if (u) { /* each client takes its user, by name, from the new set; one whose user is gone is closed */
        for (struct client *c = w->clients, *next; c; c = next) {
            next = c->next;
            c->acl = users_find(u, c->acl->name, strlen(c->acl->name));
            if (!c->acl || !c->acl->on) {
                log_notice("worker %d: closing client %s: its user is gone or off after SIGHUP", w->id, c->addr);
                c->acl = users_find(u, "default", 7);
                client_close(c);
            }
        }
        users_unref(w->view.users);
        w->view.users = u;
        memset(w->acl_cache, 0, sizeof(w->acl_cache));
    }
    struct slotmap *m = __atomic_exchange_n(&w->inbox.map, NULL, __ATOMIC_ACQ_REL);
    if (m) {
        install_map(w, 0, m);
        park_run(w, 1);
    }
    for (int b = 1; b < PREFIX_MAX_BACKENDS; b++)
        if ((m = __atomic_exchange_n(&w->inbox.bmap[b], NULL, __ATOMIC_ACQ_REL))) {
            if (!w->bview[b]) { /* not a configured backend: nothing routes there */
                slotmap_unref(m);
                continue;
            }
            install_map(w, b, m);
            park_run(w, 1);
        }
    if (__atomic_exchange_n(&w->inbox.prefixes_new, 0, __ATOMIC_ACQ_REL)) /* routes: the next command on */
        w->shared.prefixes = w->tmp.plan.prefixes = __atomic_load_n(&w->inbox.prefixes, __ATOMIC_ACQUIRE);
    struct conf *c = __atomic_exchange_n(&w->inbox.conf, NULL, __ATOMIC_ACQ_REL);
    if (c) {
        apply_conf(w, c);
        free(c);
    }
    if (__atomic_load_n(&w->inbox.draining, __ATOMIC_ACQUIRE) && !ev_is_active(&w->drain_timer)) {
        for (int k = 0; k < 2; k++) {
            ev_io *io = k ? &w->tls_listen_io : &w->listen_io;
            int *fd = k ? &w->tls_listen_fd : &w->listen_fd;
            if (ev_is_active(io)) ev_io_stop(loop, io);
            if (*fd >= 0) close(*fd); /* new connections are refused from now on */
            *fd = -1;
        }
        ev_timer_start(loop, &w->drain_timer);
    }
}

/* What the request path derives from the settings (at start and after each SIGHUP). */
static void derive_conf(struct worker *w) {
    hotkeys_conf(w);
    w->one_node = w->conf->backend_kind != KIND_CLUSTER;
    for (int b = 0; b < w->conf->nbackends; b++)
        w->one_node |= (unsigned)(w->conf->backends[b].kind != KIND_CLUSTER) << (b + 1);
    w->tmp.plan.one_node = w->one_node; /* the worker's one plan, request after request */
    sampler_set(&w->load_sample, w->conf->slot_load_sample, 0xD1B54A32D192ED03ULL * (uint64_t)(w->id + 1));
    int slow = w->conf->slowlog_log_slower_than;
    w->slow_after = slow < 0 ? 1e300 : slow / 1e6;
    long long elements_bytes = (long long)w->conf->bigkeys_elements * 3;
    w->big_reply_min = elements_bytes < w->conf->bigkeys_value_bytes ? elements_bytes : w->conf->bigkeys_value_bytes;
    long long args_bytes = ((long long)w->conf->bigkeys_elements + 1) * 2; /* more arguments than elements */
    w->big_request_min = args_bytes < w->conf->bigkeys_value_bytes ? args_bytes : w->conf->bigkeys_value_bytes;
}

/* Settings a SIGHUP changed. A pool that shrinks closes its extra connections once they are idle. */
static void apply_conf(struct worker *w, const struct conf *c) {
    conf_copy_live(&w->conf_copy, c);
    derive_conf(w);
    for (struct node *n = w->view.nodes; n; n = n->next) {
        n->nconns = w->conf->backend_connections;
        for (int k = 0; k < POOL_KINDS; k++) {
            for (int i = n->nconns; n->pools[k] && i < NODE_MAX_CONNS; i++) {
                struct backend *b = n->pools[k][i];
                if (b) b->close_when_idle = 1;
                if (b && !b->inflight.head) backend_close(b, "pool size reduced", 0);
            }
        }
    }
}

void worker_publish_prefixes(struct worker *w, const struct prefix_table *t) {
    __atomic_store_n(&w->inbox.prefixes, t, __ATOMIC_RELEASE);
    __atomic_store_n(&w->inbox.prefixes_new, 1, __ATOMIC_RELEASE);
    ev_async_send(w->loop, &w->wake);
}

void worker_publish_conf(struct worker *w, const struct conf *c) {
    struct conf *copy = malloc(sizeof(*copy));
    if (!copy) return;
    memcpy(copy, c, sizeof(*copy)); /* only its scalars are read (conf_copy_live) */
    struct conf *old = __atomic_exchange_n(&w->inbox.conf, copy, __ATOMIC_ACQ_REL);
    free(old);
    ev_async_send(w->loop, &w->wake);
}

/* While draining: done once no client waits for a reply or has one unwritten. */
static void on_drain_check(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = t->data;
    for (struct client *c = w->clients; c; c = c->next)
        if (c->queue.head || c->out.pending) return;
    __atomic_store_n(&w->is_drained, 1, __ATOMIC_RELEASE);
}

void worker_totals(struct worker *all, int n, struct stat_totals *t) {
    memset(t, 0, sizeof(*t));
    t->workers = n;
    for (int i = 0; i < n; i++) {
        const struct worker_stats *s = &all[i].stats;
#define ADD_UP(name) t->s.name += counter_get(&s->name);
#define ADD_UP_ALL(name, k)                                                                                            \
    for (int j = 0; j < (k); j++) t->s.name[j] += counter_get(&s->name[j]);
        WORKER_STATS(ADD_UP)
        WORKER_STAT_ARRAYS(ADD_UP_ALL)
#undef ADD_UP
#undef ADD_UP_ALL
    }
    /* the whole latency histogram is the families' added up (a worker counts each request once, by family) */
    for (int f = 0; f < FAM_COUNT; f++) {
        for (int b = 0; b < HIST_BUCKETS; b++) t->s.latency[b] += t->s.latency_fam[f * HIST_BUCKETS + b];
        t->s.latency_us += t->s.latency_us_fam[f];
    }
}

void worker_drain(struct worker *w) {
    __atomic_store_n(&w->inbox.draining, 1, __ATOMIC_RELEASE);
    ev_async_send(w->loop, &w->wake);
}

int worker_is_drained(struct worker *w) { return __atomic_load_n(&w->is_drained, __ATOMIC_ACQUIRE); }

void worker_publish_cmds(struct worker *w, struct cmdtable *t) {
    struct cmdtable *old = __atomic_exchange_n(&w->inbox.cmds, cmdtable_ref(t), __ATOMIC_ACQ_REL);
    if (old) cmdtable_unref(old);
    ev_async_send(w->loop, &w->wake);
}

void worker_publish_users(struct worker *w, struct users *u) {
    struct users *old = __atomic_exchange_n(&w->inbox.users, users_ref(u), __ATOMIC_ACQ_REL);
    users_unref(old);
    ev_async_send(w->loop, &w->wake);
}

void worker_publish_map(struct worker *w, int backend, struct slotmap *m) {
    struct slotmap **slot = backend ? &w->inbox.bmap[backend] : &w->inbox.map;
    struct slotmap *old = __atomic_exchange_n(slot, slotmap_ref(m), __ATOMIC_ACQ_REL);
    if (old) slotmap_unref(old);
    ev_async_send(w->loop, &w->wake);
}

void worker_request_refresh(struct worker *w, int backend, const char *why) {
    if (w->shared.want_refresh) w->shared.want_refresh(w->shared.refresh_ctx, backend, why);
}

/* Once a second: free chunks beyond a small reserve go back to malloc, and after a burst (a large
 * value, a deep pipeline) malloc_trim returns the freed pages inside the heap to the system, which
 * free() alone does not. An idle worker thus goes back to about the memory it started with. */
#define POOL_KEEP          32
#define TRIM_AFTER_CHUNKS  16
#define TRIM_AFTER_CLIENTS 256 /* connections closed (their structs freed) */

/* timeout (Redis's): a client with nothing in flight, not subscribed, idle longer than that, goes. */
static void close_idle_clients(struct worker *w) {
    int limit = w->conf->timeout;
    double now = worker_now(w), hs_limit = w->conf->tls_handshake_timeout_ms / 1000.0;
    if (w->conf->tls_port) { /* a TLS client stalled in its handshake */
        for (struct client *c = w->clients, *next; c; c = next) {
            next = c->next;
            if (!c->tls_handshaking || now - c->created < hs_limit) continue;
            log_verbose("worker %d: closing TLS client %s: no handshake within %d ms (tls-handshake-timeout-ms)", w->id,
                        c->addr, w->conf->tls_handshake_timeout_ms);
            STAT_INC(w, tls_handshake_timeouts);
            client_close(c);
        }
    }
    if (limit <= 0) return;
    for (struct client *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (c->queue.head || c->sub_mode || c->upload || now - c->last_cmd <= limit) continue;
        log_verbose("worker %d: closing client %s: idle for %.0f s (timeout %d)", w->id, c->addr, now - c->last_cmd,
                    limit);
        STAT_INC(w, idle_closed);
        client_close(c);
    }
}

/* Dedicated connections a client no longer uses (a script connection idle this long, a pub/sub one
 * with no subscription left) are let go; the next command that needs one opens it again. */
#define DEDICATED_IDLE_S 10.0

static void on_trim_timer(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = t->data;
    close_idle_clients(w);
    double now = worker_now(w);
    /* INFO's instantaneous_ops_per_sec and _kbps: what the last second (this timer's period) saw */
    uint64_t cmds = STAT_READ(w, commands), in = STAT_READ(w, net_in), out = STAT_READ(w, net_out);
    STAT_ADD(w, inst_ops, (cmds - w->last_commands) - STAT_READ(w, inst_ops));
    STAT_ADD(w, inst_in, (in - w->last_net_in) - STAT_READ(w, inst_in));
    STAT_ADD(w, inst_out, (out - w->last_net_out) - STAT_READ(w, inst_out));
    w->last_commands = cmds, w->last_net_in = in, w->last_net_out = out;
    tracking_tick(w);
    dedicated_masters_changed(w); /* a mirror lost with no new map (a node restarted) comes back */
    hotkeys_tick(w);
    slotload_tick(w);
    for (struct client *c = w->clients; c; c = c->next) {
        if (c->nscripts || c->sub || c->ssub) dedicated_release_idle(c, now, DEDICATED_IDLE_S);
        /* TLS: a client quiet for a second gives back OpenSSL's record buffers (about 34 KiB; they come
         * back with its next request), so idle TLS clients cost what idle plaintext ones do, and busy
         * ones do not allocate and free them on every read and write */
        if (c->tls_buffers && !c->tls_handshaking && now - c->last_cmd >= 1.0 && !c->out.pending &&
            tls_release_buffers(c->ssl))
            c->tls_buffers = 0, w->pool.released += 2; /* as two chunks: enough of them and malloc_trim runs below */
    }
    if (w->pool.in_use > POOL_KEEP) return; /* busy: the chunks will be needed again */
    pool_shrink(&w->pool, POOL_KEEP);
    if (w->pool.released < TRIM_AFTER_CHUNKS && w->clients_freed < TRIM_AFTER_CLIENTS) return;
    w->pool.released = 0;
    w->clients_freed = 0;
    malloc_trim(0);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void on_accept(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = io->data;
    int tls = io == &w->tls_listen_io;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd =
            accept4(tls ? w->tls_listen_fd : w->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) log_warning("accept: %s", strerror(errno));
            return;
        }
        char host[INET6_ADDRSTRLEN] = "?", addr[64];
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
            port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            port = ntohs(s6->sin6_port);
        }
        snprintf(addr, sizeof(addr), "%s:%d", host, port);
        if (w->shared.protected_mode && __atomic_load_n(w->shared.protected_mode, __ATOMIC_RELAXED) &&
            strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0) {
            /* Redis's protected mode, and its words (slotgate's setting is protected-mode, not CONFIG SET) */
            static const char msg[] =
                "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set "
                "for the default user. In this mode connections are only accepted from the loopback interface. If "
                "you want to connect from external computers to Redis you may adopt one of the following solutions: "
                "1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback "
                "interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis "
                "is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change "
                "permanent. 2) Alternatively you can just disable the protected mode by editing the Redis "
                "configuration file, and setting the protected mode option to 'no', and then restarting the server. "
                "3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
                "option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one "
                "of the above things in order for the server to start accepting connections from the outside.\r\n";
            STAT_INC(w, rejected);
            if (tls) { /* said over TLS once the handshake is done */
                shared_counter_add(w->shared.total_clients, 1);
                client_accept(w, fd, addr, 1, msg);
                continue;
            }
            ssize_t wr = write(fd, msg, sizeof(msg) - 1);
            (void)wr;
            close(fd);
            continue;
        }
        if (shared_counter_add(w->shared.total_clients, 1) > w->conf->maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            if (tls) {
                STAT_INC(w, rejected);
                client_accept(w, fd, addr, 1, msg);
                continue;
            }
            ssize_t wr = write(fd, msg, sizeof(msg) - 1);
            (void)wr;
            close(fd);
            shared_counter_add(w->shared.total_clients, -1);
            STAT_INC(w, rejected);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        STAT_INC(w, connections);
        client_accept(w, fd, addr, tls, NULL);
    }
}

/* A socket bound to bind_addr:port (numeric address), SO_REUSEPORT when asked; -1 with err. */
static int bound_socket(const char *bind_addr, int port, int reuseport, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    int rc = getaddrinfo(bind_addr, ps, &hints, &res);
    if (rc != 0) return snprintf(err, errlen, "bind: '%s' is not an address (%s)", bind_addr, gai_strerror(rc)), -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", bind_addr, port, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Workers bind with SO_REUSEPORT, which would let a second slotgate (or anything else setting it)
 * share the port without a word and take half the connections. A plain bind first makes a port that
 * is already taken an error at start, as it is for Redis. */
int worker_check_port(const char *bind_addr, int port, char *err, size_t errlen) {
    int fd = bound_socket(bind_addr, port, 0, err, errlen);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int listen_on(const char *bind_addr, int port, char *err, size_t errlen) {
    int fd = bound_socket(bind_addr, port, 1, err, errlen);
    if (fd < 0) return -1;
    if (listen(fd, 511) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", bind_addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    set_nonblock(fd);
    return fd;
}

static void on_dns_wake(struct ev_loop *loop, ev_async *a, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = a->data;
    if (w->resolving) backend_names_resolved(w);
}

int worker_init(struct worker *w, int id, const struct conf *conf, struct cmdtable *cmds, struct users *users,
                char *err, size_t errlen) {
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->conf_copy = *conf;
    w->conf = &w->conf_copy;
    w->view.cmds = cmdtable_ref(cmds);
    w->view.users = users_ref(users);
    plan_init(&w->tmp.plan);
    if (split_init(&w->tmp.split) < 0) return snprintf(err, errlen, "out of memory"), -1;
    pool_init(&w->pool, 256);
    chain_init(&w->park);
    w->listen_fd = w->tls_listen_fd = -1;
    if (conf->port && (w->listen_fd = listen_on(conf->bind, conf->port, err, errlen)) < 0) return -1;
    if (conf->tls_port && (w->tls_listen_fd = listen_on(conf->bind, conf->tls_port, err, errlen)) < 0) {
        if (w->listen_fd >= 0) close(w->listen_fd);
        return -1;
    }
    if (!(w->load = calloc(SLOT_COUNT, sizeof(*w->load)))) return snprintf(err, errlen, "out of memory"), -1;
    for (int b = 1; b <= conf->nbackends && b < PREFIX_MAX_BACKENDS; b++) /* routes by prefix: their views */
        if (!(w->bview[b] = calloc(1, sizeof(*w->bview[b])))) return snprintf(err, errlen, "out of memory"), -1;
    w->loop = ev_loop_new(EVFLAG_AUTO);
    hotkeys_init(w);
    derive_conf(w);
    w->started = ev_now(w->loop);
    ev_io_init(&w->listen_io, on_accept, w->listen_fd, EV_READ);
    ev_io_init(&w->tls_listen_io, on_accept, w->tls_listen_fd, EV_READ);
    w->listen_io.data = w->tls_listen_io.data = w;
    if (w->listen_fd >= 0) ev_io_start(w->loop, &w->listen_io);
    if (w->tls_listen_fd >= 0) ev_io_start(w->loop, &w->tls_listen_io);
    ev_async_init(&w->wake, on_wake);
    w->wake.data = w;
    ev_async_start(w->loop, &w->wake);
    ev_async_init(&w->dns_wake, on_dns_wake);
    w->dns_wake.data = w;
    ev_async_start(w->loop, &w->dns_wake);
    dns_watch(w->loop, &w->dns_wake);
    if (worker_turn_init(w, id, conf, err, errlen) < 0) return -1;
    ev_init(&w->park_timer, park_on_timer);
    w->park_timer.repeat = PARK_TICK;
    w->park_timer.data = w;
    ev_timer_init(&w->drain_timer, on_drain_check, 0, 0.02);
    w->drain_timer.data = w;
    ev_timer_init(&w->trim_timer, on_trim_timer, 1.0, 1.0);
    w->trim_timer.data = w;
    ev_timer_start(w->loop, &w->trim_timer);
    tracking_init(w);
    return 0;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    worker_ring_start(w);
    ev_run(w->loop, 0);
    return NULL;
}

int worker_start(struct worker *w) { return pthread_create(&w->thread, NULL, worker_main, w); }

void worker_stop(struct worker *w) {
    __atomic_store_n(&w->inbox.stop, 1, __ATOMIC_RELEASE);
    ev_async_send(w->loop, &w->wake);
    pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w) {
    dns_unwatch(&w->dns_wake);
    hotkeys_destroy(w);
    free(w->load);
    w->load = NULL;
    uring_free(w->uring); /* the kernel lets go of every socket and buffer: what they belong to can go */
    w->uring = NULL;
    /* Clients closed in the loop's last turn are only in the dirty list (no longer in w->clients). */
    while (w->dirty_clients) {
        struct client *c = w->dirty_clients;
        w->dirty_clients = c->next_dirty;
        c->is_dirty = 0;
        if (c->is_closed) client_free(c);
    }
    while (w->zombies) client_free(w->zombies);
    while (w->zombie_backends) backend_free(w->zombie_backends);
    while (w->clients) client_free(w->clients);
    /* Connections closed above (clients' dedicated ones) wait in the dirty list for a flush that the
     * stopped loop will not run. Pooled connections still open are freed with their nodes below. */
    while (w->dirty_backends) {
        struct backend *b = w->dirty_backends;
        w->dirty_backends = b->next_dirty;
        b->is_dirty = 0;
        if (b->state == BE_CLOSED) backend_free(b);
    }
    for (struct node *n = w->view.nodes, *next; n; n = next) {
        next = n->next;
        n->nrefs++; /* freed here, not by the last backend */
        if (n->listener) backend_free(n->listener);
        for (int k = 0; k < POOL_KINDS; k++) {
            for (int i = 0; n->pools[k] && i < NODE_MAX_CONNS; i++)
                if (n->pools[k][i]) backend_free(n->pools[k][i]);
            free(n->pools[k]);
        }
        free(n);
    }
    for (struct req *r; (r = FIFO_POP(&w->parked, lnext));) {
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
        req_free(w, r);
    }
    chain_free(&w->pool, &w->park);
    while (w->free_reqs) {
        struct req *r = w->free_reqs;
        w->free_reqs = r->qnext;
        free(r);
    }
    if (w->view.map) slotmap_unref(w->view.map);
    for (int b = 1; b < PREFIX_MAX_BACKENDS; b++) {
        if (!w->bview[b]) continue;
        if (w->bview[b]->map) slotmap_unref(w->bview[b]->map);
        struct slotmap *m = __atomic_exchange_n(&w->inbox.bmap[b], NULL, __ATOMIC_ACQ_REL);
        if (m) slotmap_unref(m);
        route_free(&w->bview[b]->routes);
        free(w->bview[b]);
        w->bview[b] = NULL;
    }
    struct slotmap *m = __atomic_exchange_n(&w->inbox.map, NULL, __ATOMIC_ACQ_REL);
    if (m) slotmap_unref(m);
    struct cmdtable *t = __atomic_exchange_n(&w->inbox.cmds, NULL, __ATOMIC_ACQ_REL);
    if (t) cmdtable_unref(t);
    users_unref(__atomic_exchange_n(&w->inbox.users, NULL, __ATOMIC_ACQ_REL));
    users_unref(w->view.users);
    cmdtable_unref(w->view.cmds);
    tracking_destroy(w);
    plan_free(&w->tmp.plan);
    split_free(&w->tmp.split);
    sbuf_free(&w->tmp.split_cmd);
    sbuf_free(&w->tmp.merge_out);
    route_free(&w->view.routes);
    pool_drain(&w->pool);
    sbuf_free(&w->tmp.encoded);
    sbuf_free(&w->tmp.mirror);
    free(__atomic_exchange_n(&w->inbox.conf, NULL, __ATOMIC_ACQ_REL));
    if (w->listen_fd >= 0) close(w->listen_fd);
    if (w->tls_listen_fd >= 0) close(w->tls_listen_fd);
    ev_loop_destroy(w->loop);
}

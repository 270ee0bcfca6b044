/* See probe.h. One hiredis async context per node, reconnected on the next tick when it drops. */
#include "probe.h"

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/log.h"

#define PROBE_INTERVAL 1.0
#define DOWN_AFTER     3

struct pnode {
    struct prober *p;
    char host[SM_HOST_LEN];
    int port;
    char addr[SM_HOST_LEN + 8];
    redisAsyncContext *ac;
    int state, failures, in_flight, is_master;
    double sent, latency_ms;
    char role[16];         /* from INFO replication: master or slave */
    long long repl_offset; /* master_repl_offset, or slave_repl_offset on a replica */
    char why[96];
};

struct prober {
    struct ev_loop *loop;
    const struct conf *conf;
    struct refresher *refresher;
    ev_timer tick;
    struct pnode **nodes;
    int n;
    unsigned rr;
    unsigned long long topology; /* digest of the last CLUSTER NODES topology */
};

const char *node_state_name(int state) { return state == NODE_UP ? "up" : state == NODE_SUSPECT ? "suspect" : "down"; }

static void set_state(struct pnode *n, int state, const char *why) {
    if (n->state == state) return;
    if (why)
        log_notice("node %s: %s -> %s (%s)", n->addr, node_state_name(n->state), node_state_name(state), why);
    else
        log_notice("node %s: %s -> %s", n->addr, node_state_name(n->state), node_state_name(state));
    n->state = state;
}

static void probe_failed(struct pnode *n, const char *why) {
    snprintf(n->why, sizeof(n->why), "%s", why);
    n->failures++;
    int down_after = n->p->conf->probe_down_after;
    set_state(n, n->failures >= down_after ? NODE_DOWN : NODE_SUSPECT, n->why);
    if (n->failures == down_after) refresher_request(n->p->refresher, "a node stopped answering probes");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    struct pnode *n = ac->data;
    (void)status;
    if (n && n->ac == ac) {
        n->ac = NULL;
        n->in_flight = 0;
    }
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct pnode *n = ac->data;
    if (status != REDIS_OK && n && n->ac == ac) {
        n->ac = NULL; /* hiredis frees it */
        n->in_flight = 0;
        probe_failed(n, ac->errstr);
    }
}

static void on_pong(redisAsyncContext *ac, void *reply, void *priv) {
    struct pnode *n = priv;
    redisReply *r = reply;
    if (!n || n->ac != ac) return;
    n->in_flight = 0;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        probe_failed(n, r ? r->str : "no reply");
        return;
    }
    n->latency_ms = (ev_now(n->p->loop) - n->sent) * 1000;
    n->failures = 0;
    set_state(n, NODE_UP, NULL);
}

static long long info_field(const char *text, const char *name) {
    const char *at = strstr(text, name);
    return at ? atoll(at + strlen(name)) : 0;
}

/* Role and replication offset: a role that changes (promotion, demotion) is logged once and makes the
 * refresher look at the slot map at once. */
static void on_replication(redisAsyncContext *ac, void *reply, void *priv) {
    struct pnode *n = priv;
    redisReply *r = reply;
    if (!n || n->ac != ac || !r || r->type != REDIS_REPLY_STRING) return;
    const char *role = strstr(r->str, "role:");
    if (!role) return;
    char now[16] = "";
    sscanf(role + 5, "%15[a-z]", now);
    if (n->role[0] && strcmp(n->role, now) != 0) {
        log_notice("node %s: role %s -> %s", n->addr, n->role, now);
        refresher_request(n->p->refresher, "a node changed role");
    }
    snprintf(n->role, sizeof(n->role), "%s", now);
    n->repl_offset = strcmp(now, "master") == 0 ? info_field(r->str, "master_repl_offset:")
                                                : info_field(r->str, "slave_repl_offset:");
}

/* A digest of what makes up the topology: each node's id, flags that matter and config epoch. */
static unsigned long long topology_digest(const char *text) {
    unsigned long long h = 1469598103934665603ULL;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        /* fields: id addr flags master ping pong epoch link slots... (ping/pong times change always) */
        int field = 0;
        for (size_t i = 0; i < len; i++) {
            if (line[i] == ' ') {
                field++;
                continue;
            }
            if (field == 0 || field == 1 || field == 2 || field == 3 || field == 6 || field == 7 || field >= 8)
                h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
        }
        h = (h ^ '\n') * 1099511628211ULL;
        line = end ? end + 1 : NULL;
    }
    return h;
}

static void on_nodes(redisAsyncContext *ac, void *reply, void *priv) {
    struct pnode *n = priv;
    redisReply *r = reply;
    if (!n || n->ac != ac || !r || r->type != REDIS_REPLY_STRING) return;
    struct prober *p = n->p;
    unsigned long long d = topology_digest(r->str);
    if (p->topology && d != p->topology) {
        log_verbose("topology change seen in CLUSTER NODES of %s", n->addr);
        refresher_request(p->refresher, "topology change");
    }
    p->topology = d;
}

static void probe(struct pnode *n, int ask_nodes) {
    struct prober *p = n->p;
    if (n->in_flight) { /* the last probe is still unanswered */
        probe_failed(n, "probe timed out");
        if (n->ac) {
            redisAsyncContext *ac = n->ac;
            n->ac = NULL;
            redisAsyncFree(ac);
        }
        n->in_flight = 0;
        return;
    }
    if (!n->ac) {
        redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);
        if (!ac || ac->err) {
            probe_failed(n, ac ? ac->errstr : "out of memory");
            if (ac) redisAsyncFree(ac);
            return;
        }
        ac->data = n;
        redisLibevAttach(p->loop, ac);
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        if (p->conf->backend_password && p->conf->backend_user)
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", p->conf->backend_user, p->conf->backend_password);
        else if (p->conf->backend_password)
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", p->conf->backend_password);
        n->ac = ac;
    }
    n->sent = ev_now(p->loop);
    n->in_flight = 1;
    redisAsyncCommand(n->ac, on_pong, n, "PING");
    redisAsyncCommand(n->ac, on_replication, n, "INFO replication");
    if (ask_nodes) redisAsyncCommand(n->ac, on_nodes, n, "CLUSTER NODES");
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct prober *p = t->data;
    int asker = -1;
    for (int k = 0; k < p->n && asker < 0; k++) { /* CLUSTER NODES from the next master that is up */
        struct pnode *n = p->nodes[(p->rr + (unsigned)k) % (unsigned)p->n];
        if (n->is_master && n->state == NODE_UP) asker = (int)((p->rr + (unsigned)k) % (unsigned)p->n);
    }
    p->rr++;
    for (int i = 0; i < p->n; i++) probe(p->nodes[i], i == asker);
}

static void pnode_free(struct pnode *n) {
    if (n->ac) {
        redisAsyncContext *ac = n->ac;
        n->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    free(n);
}

void prober_set_map(struct prober *p, const struct slotmap *m) {
    struct pnode **next = calloc((size_t)m->nnodes + 1, sizeof(*next));
    if (!next) return;
    for (int i = 0; i < m->nnodes; i++) {
        const struct sm_node *sn = &m->nodes[i];
        struct pnode *n = NULL;
        for (int k = 0; k < p->n && !n; k++)
            if (p->nodes[k] && p->nodes[k]->port == sn->port && !strcmp(p->nodes[k]->host, sn->host))
                n = p->nodes[k], p->nodes[k] = NULL;
        if (!n && (n = calloc(1, sizeof(*n)))) {
            n->p = p;
            snprintf(n->host, sizeof(n->host), "%s", sn->host);
            n->port = sn->port;
            snprintf(n->addr, sizeof(n->addr), "%s:%d", sn->host, sn->port);
        }
        if (!n) continue;
        n->is_master = 0;
        for (int s = 0; s < m->nshards; s++) n->is_master |= m->shards[s].master == i;
        next[i] = n;
    }
    for (int k = 0; k < p->n; k++) { /* nodes gone from the map */
        if (!p->nodes[k]) continue;
        log_notice("node %s is no longer in the slot map (removed, or a replica the cluster marked failed)",
                   p->nodes[k]->addr);
        pnode_free(p->nodes[k]);
    }
    free(p->nodes);
    p->nodes = next;
    p->n = m->nnodes;
    for (int i = 0; i < p->n; i++)
        if (!p->nodes[i]) p->n = i; /* allocation failed: probe those we have */
}

struct prober *prober_new(struct ev_loop *loop, const struct conf *conf, struct refresher *refresher) {
    struct prober *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->loop = loop;
    p->conf = conf;
    p->refresher = refresher;
    ev_timer_init(&p->tick, on_tick, conf->probe_interval_ms / 1000.0, conf->probe_interval_ms / 1000.0);
    p->tick.data = p;
    ev_timer_start(loop, &p->tick);
    return p;
}

void prober_free(struct prober *p) {
    if (!p) return;
    ev_timer_stop(p->loop, &p->tick);
    for (int i = 0; i < p->n; i++) pnode_free(p->nodes[i]);
    free(p->nodes);
    free(p);
}

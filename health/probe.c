/* See probe.h. One control connection (ctl.h) per node, reconnected on the next tick when it drops. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dns.h"
#include "../lib/log.h"
#include "ctl.h"
#include "status.h"

#define PROBE_INTERVAL 1.0
#define DOWN_AFTER     3

struct pnode {
    struct prober *p;
    char host[SM_HOST_LEN];
    int port;
    char addr[SM_HOST_LEN + 8];
    struct ctl *ac;
    struct node_health health; /* nodestate.h */
    int in_flight, is_master;
    double sent;
    double departed;       /* when it left the slot map while down (kept on the board a while), else 0 */
    struct node_status ns; /* what the status board shows of it */
};

/* A node that left the map while down (a master that failed over, a replica the cluster marked failed)
 * stays on the board, still probed, for up to this long, so operators see it as down rather than
 * gone; it is in the map again if it comes back (as a replica of whoever took its slots). */
#define KEEP_DEPARTED 300.0

struct prober {
    struct ev_loop *loop;
    const struct conf *conf;
    struct refresher *refresher;
    ev_timer tick;
    struct pnode **nodes;
    int n;
    unsigned rr;
    unsigned long long topology; /* digest of the last CLUSTER NODES topology */
    struct status *status;
};

/* Copies every node's status to the board (a few times a second at most: after each reply). */
static void publish(struct prober *p) {
    if (!p->status) return;
    struct node_status *all = calloc((size_t)p->n + 1, sizeof(*all));
    if (!all) return;
    for (int i = 0; i < p->n; i++) {
        all[i] = p->nodes[i]->ns;
        all[i].state = p->nodes[i]->health.state;
    }
    status_set_nodes(p->status, all, p->n);
    free(all);
}

static void pnode_free(struct pnode *n);

/* Carries out what the state machine (nodestate.c) made of a probe's outcome. */
static void probe_outcome(struct pnode *n, enum probe_outcome o, const char *why) {
    struct node_change c = nodestate_next(&n->health, o, n->p->conf->probe_down_after);
    if (o == PROBE_FAILED) snprintf(n->ns.last_error, sizeof(n->ns.last_error), "%s", why);
    if (c.from != c.to && o == PROBE_FAILED)
        log_notice("node %s: %s -> %s (%s)", n->addr, node_state_name(c.from), node_state_name(c.to), why);
    else if (c.from != c.to)
        log_notice("node %s: %s -> %s", n->addr, node_state_name(c.from), node_state_name(c.to));
    if (c.busy_began) {
        /* Alive, but stuck in a script or function: every client gets -BUSY until it ends or is killed. */
        n->ns.busy_since = status_wall_now();
        snprintf(n->ns.busy_error, sizeof(n->ns.busy_error), "%s", why);
        log_warning("node %s answers -%s (SCRIPT KILL or FUNCTION KILL through slotgate ends it)", n->addr, why);
    }
    if (c.busy_ended) {
        log_notice("node %s is no longer BUSY (after %.1f s)", n->addr, status_wall_now() - n->ns.busy_since);
        n->ns.busy_since = 0;
        n->ns.busy_error[0] = '\0';
    }
    if (c.ask_refresh) refresher_request(n->p->refresher, "a node stopped answering probes");
    publish(n->p);
}

static void probe_failed(struct pnode *n, const char *why) { probe_outcome(n, PROBE_FAILED, why); }

static void on_disconnect(struct ctl *ac, int ok) {
    struct pnode *n = ac->data;
    (void)ok;
    if (n && n->ac == ac) {
        n->ac = NULL;
        n->in_flight = 0;
    }
}

static void on_connect(struct ctl *ac, int ok) {
    struct pnode *n = ac->data;
    if (!ok && n && n->ac == ac) {
        n->ac = NULL; /* freed after this call */
        n->in_flight = 0;
        dns_forget(n->host); /* a name may point at a new address now */
        probe_failed(n, ac->errstr);
    }
}

static void on_pong(struct ctl *ac, redisReply *r, void *priv) {
    struct pnode *n = priv;
    if (!n || n->ac != ac) return;
    n->in_flight = 0;
    int busy = r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSY", 4) == 0;
    if (!r || (r->type == REDIS_REPLY_ERROR && !busy)) {
        probe_failed(n, r ? r->str : "no reply");
        return;
    }
    ev_now_update(n->p->loop);
    n->ns.latency_ms = (ev_now(n->p->loop) - n->sent) * 1000;
    n->ns.last_ok = status_wall_now();
    n->ns.probed = 1;
    probe_outcome(n, busy ? PROBE_BUSY : PROBE_PONG, busy ? r->str : NULL);
}

static long long info_field(const char *text, const char *name) {
    const char *at = strstr(text, name);
    return at ? atoll(at + strlen(name)) : 0;
}

static void info_string(const char *text, const char *name, char *out, size_t len) {
    const char *at = strstr(text, name);
    size_t n = at ? strcspn(at + strlen(name), "\r\n") : 0;
    if (n >= len) n = len - 1;
    memcpy(out, at ? at + strlen(name) : "", n);
    out[n] = '\0';
}

/* INFO server, replication, keyspace and memory: version, role, replication offset, keys and memory. A role that
 * changes (promotion, demotion) is logged once and makes the refresher look at the slot map at once. */
static void on_info(struct ctl *ac, redisReply *r, void *priv) {
    struct pnode *n = priv;
    if (!n || n->ac != ac || !r || r->type != REDIS_REPLY_STRING) return;
    const char *role = strstr(r->str, "role:");
    if (!role) return;
    char now[16] = "";
    sscanf(role + 5, "%15[a-z]", now);
    if (strcmp(now, "slave") == 0) snprintf(now, sizeof(now), "replica");
    if (n->ns.role[0] && strcmp(n->ns.role, now) != 0) {
        log_notice("node %s: role %s -> %s", n->addr, n->ns.role, now);
        refresher_request(n->p->refresher, "a node changed role");
    }
    struct node_status *ns = &n->ns;
    snprintf(ns->role, sizeof(ns->role), "%s", now);
    info_string(r->str, "redis_version:", ns->version, sizeof(ns->version));
    int replica = strcmp(now, "replica") == 0;
    ns->repl_offset = replica ? info_field(r->str, "slave_repl_offset:") : info_field(r->str, "master_repl_offset:");
    ns->master_addr[0] = ns->link[0] = '\0';
    if (replica) {
        char host[SM_HOST_LEN];
        info_string(r->str, "master_host:", host, sizeof(host));
        snprintf(ns->master_addr, sizeof(ns->master_addr), "%s:%lld", host, info_field(r->str, "master_port:"));
        info_string(r->str, "master_link_status:", ns->link, sizeof(ns->link));
    }
    ns->used_memory = info_field(r->str, "used_memory:");
    ns->keys = ns->expires = 0;
    for (const char *db = strstr(r->str, "\ndb"); db; db = strstr(db + 1, "\ndb")) {
        const char *k = strstr(db, ":keys="), *e = strstr(db, ",expires=");
        if (k) ns->keys += atoll(k + 6);
        if (e) ns->expires += atoll(e + 9);
    }
    publish(n->p);
}

/* CLUSTER INFO of one master per interval: the cluster's own view, for /cluster. */
static void on_cluster_info(struct ctl *ac, redisReply *r, void *priv) {
    struct pnode *n = priv;
    if (!n || n->ac != ac || !r || r->type != REDIS_REPLY_STRING || !n->p->status) return;
    struct cluster_status c = {.known = 1};
    snprintf(c.from, sizeof(c.from), "%s", n->addr);
    info_string(r->str, "cluster_state:", c.state, sizeof(c.state));
    c.slots_assigned = (int)info_field(r->str, "cluster_slots_assigned:");
    c.slots_ok = (int)info_field(r->str, "cluster_slots_ok:");
    c.slots_pfail = (int)info_field(r->str, "cluster_slots_pfail:");
    c.slots_fail = (int)info_field(r->str, "cluster_slots_fail:");
    c.known_nodes = (int)info_field(r->str, "cluster_known_nodes:");
    c.size = (int)info_field(r->str, "cluster_size:");
    c.current_epoch = info_field(r->str, "cluster_current_epoch:");
    status_set_cluster(n->p->status, &c);
}

/* A digest of what makes up the topology: each node's id, address, flags that matter, master, epoch, link
 * and slots. The same cluster digests the same from any node: "myself" is left out of the flags and the
 * lines are summed, as each node lists them in its own order. */
static unsigned long long topology_digest(const char *text) {
    unsigned long long sum = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        unsigned long long h = 1469598103934665603ULL;
        /* fields: id addr flags master ping pong epoch link slots... (ping/pong times change always) */
        int field = 0;
        for (size_t i = 0; i < len; i++) {
            if (line[i] == ' ') {
                field++;
                continue;
            }
            if (field == 2 && !strncmp(line + i, "myself", 6)) {
                i += 5 + (i + 6 < len && line[i + 6] == ',');
                continue;
            }
            if (field == 0 || field == 1 || field == 2 || field == 3 || field == 6 || field == 7 || field >= 8)
                h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
        }
        sum += h * 0x9E3779B97F4A7C15ULL;
        line = end ? end + 1 : NULL;
    }
    return sum;
}

static void on_nodes(struct ctl *ac, redisReply *r, void *priv) {
    struct pnode *n = priv;
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
            struct ctl *ac = n->ac;
            n->ac = NULL;
            ctl_free(ac);
        }
        n->in_flight = 0;
        return;
    }
    if (!n->ac) {
        char ip[64] = "", err[96];
        struct dns_addrs a;
        int rc = dns_lookup(n->host, n->port, -1, &a, err, sizeof(err));
        if (rc == DNS_PENDING) return; /* probed at the next tick, with the answer cached */
        if (rc == DNS_FAILED) {
            char why[128];
            snprintf(why, sizeof(why), "cannot resolve host name: %s", err);
            probe_failed(n, why);
            return;
        }
        dns_addr_string(&a.addr[n->health.failures % a.n], ip, sizeof(ip)); /* each address in turn while failing */
        char cerr[160];
        struct ctl *ac = ctl_connect(p->loop, ip, n->port, p->conf->tls_cluster, n->host, on_connect, on_disconnect, n,
                                     cerr, sizeof(cerr));
        if (!ac) {
            probe_failed(n, cerr);
            return;
        }
        if (p->conf->backend_password && p->conf->backend_user)
            ctl_command(ac, NULL, NULL, "AUTH %s %s", p->conf->backend_user, p->conf->backend_password);
        else if (p->conf->backend_password)
            ctl_command(ac, NULL, NULL, "AUTH %s", p->conf->backend_password);
        n->ac = ac;
    }
    n->sent = ev_now(p->loop);
    n->in_flight = 1;
    ctl_command(n->ac, on_pong, n, "PING");
    ctl_command(n->ac, on_info, n, "INFO server replication keyspace memory");
    if (ask_nodes) {
        ctl_command(n->ac, on_nodes, n, "CLUSTER NODES");
        ctl_command(n->ac, on_cluster_info, n, "CLUSTER INFO");
    }
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct prober *p = t->data;
    int asker = -1;
    for (int k = 0; k < p->n && asker < 0; k++) { /* CLUSTER NODES from the next master that is up */
        struct pnode *n = p->nodes[(p->rr + (unsigned)k) % (unsigned)p->n];
        if (n->is_master && n->health.state == NODE_UP) asker = (int)((p->rr + (unsigned)k) % (unsigned)p->n);
    }
    p->rr++;
    if (p->conf->backend_kind != KIND_CLUSTER) { /* no CLUSTER INFO to ask: one master, up or not */
        struct cluster_status c = {.known = 1, .size = 1, .known_nodes = p->n};
        snprintf(c.state, sizeof(c.state), "%s", asker >= 0 ? "ok" : "fail");
        c.slots_assigned = SLOT_COUNT;
        c.slots_ok = asker >= 0 ? SLOT_COUNT : 0;
        c.slots_fail = SLOT_COUNT - c.slots_ok;
        snprintf(c.from, sizeof(c.from), "%s", asker >= 0 ? p->nodes[asker]->addr : "");
        status_set_cluster(p->status, &c);
        asker = -1;
    }
    for (int i = 0; i < p->n; i++) {
        struct pnode *n = p->nodes[i];
        if (n->departed && ev_now(p->loop) - n->departed >= KEEP_DEPARTED) {
            log_notice("node %s: out of the slot map for %.0f s, no longer shown", n->addr, KEEP_DEPARTED);
            pnode_free(n);
            p->nodes[i--] = p->nodes[--p->n];
            continue;
        }
        probe(n, i == asker);
    }
    publish(p);
}

static void pnode_free(struct pnode *n) {
    if (n->ac) {
        struct ctl *ac = n->ac;
        n->ac = NULL;
        ac->data = NULL;
        ctl_free(ac);
    }
    free(n);
}

void prober_set_map(struct prober *p, const struct slotmap *m) {
    /* backend-kind sentinel's map during a failover has no node at all (requests wait): the nodes are
     * still there and still probed, only none is a master for the moment */
    if (m->nnodes == 0 && p->conf->backend_kind == KIND_SENTINEL) {
        for (int k = 0; k < p->n; k++) p->nodes[k]->is_master = p->nodes[k]->ns.is_master = 0;
        publish(p);
        return;
    }
    struct pnode **next = calloc((size_t)m->nnodes + (size_t)p->n + 1, sizeof(*next));
    if (!next) return;
    int count = 0;
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
        snprintf(n->ns.addr, sizeof(n->ns.addr), "%s", n->addr);
        snprintf(n->ns.id, sizeof(n->ns.id), "%s", sn->id);
        n->ns.is_master = n->is_master;
        n->ns.in_map = 1;
        n->departed = 0;
        next[count++] = n;
    }
    double now = ev_now(p->loop);
    for (int k = 0; k < p->n; k++) { /* nodes gone from the map */
        struct pnode *n = p->nodes[k];
        if (!n) continue;
        if (n->health.state != NODE_UP && (!n->departed || now - n->departed < KEEP_DEPARTED)) {
            if (!n->departed)
                log_notice("node %s left the slot map while %s", n->addr, node_state_name(n->health.state));
            n->departed = n->departed ? n->departed : now;
            n->is_master = n->ns.is_master = n->ns.in_map = 0;
            next[count++] = n;
            continue;
        }
        log_notice("node %s is no longer in the slot map (removed, or a replica the cluster marked failed)", n->addr);
        pnode_free(n);
    }
    free(p->nodes);
    p->nodes = next;
    p->n = count;
    publish(p);
}

void prober_set_status(struct prober *p, struct status *s) { p->status = s; }

void prober_conf_changed(struct prober *p) {
    p->tick.repeat = p->conf->probe_interval_ms / 1000.0;
    ev_timer_again(p->loop, &p->tick);
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

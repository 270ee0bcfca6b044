/* backend-kind standalone and sentinel for the refresher (refresh_priv.h): the map of one master (and
 * its replicas) from ROLE or from a sentinel's SENTINEL get-master-addr-by-name/master/replicas; every
 * sentinel's +switch-master and +failover-state-send-slaveof-noone; and the failover hold: from the
 * start of a failover the map has no master, so requests wait, until the sentinels name the new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dns.h"
#include "../lib/log.h"
#include "refresh_priv.h"
#include "status.h"

static void publish_sentinels(struct refresher *h);

/* ---- backend-kind standalone and sentinel: a map of one master (and its replicas) ---- */

static void take_single(struct refresher *h, struct sm_node *nodes, int n) {
    char err[128], addr[SM_HOST_LEN + 8];
    snprintf(addr, sizeof(addr), "%s:%d", nodes[0].host, nodes[0].port);
    if (h->hold_master[0]) {
        if (!strcmp(addr, h->hold_master) && ev_now(h->loop) < h->hold_until) { /* not yet: ask again soon */
            refresh_drop_ac(h);
            h->again = 1;
            refresh_finish(h, 1);
            return;
        }
        log_notice("sentinel: %s %s %s", h->conf->sentinel_master,
                   strcmp(addr, h->hold_master) ? "now has its master at" : "failover did not finish: back to", addr);
        h->hold_master[0] = '\0';
        publish_sentinels(h);
    }
    struct slotmap *m = slotmap_single(nodes, n, err, sizeof(err));
    if (!m) {
        refresh_drop_ac(h);
        refresh_attempt_failed(h, err);
        return;
    }
    snprintf(h->last_good, sizeof(h->last_good), "%s", h->asked);
    refresh_accept_map(h, m, h->asked);
    refresh_drop_ac(h);
    refresh_finish(h, 1);
}

static int node_from(struct sm_node *n, const char *host, long long port) {
    if (!host || !*host || strlen(host) >= sizeof(n->host) || port <= 0 || port > 65535) return -1;
    memset(n, 0, sizeof(*n));
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = (int)port;
    return 0;
}

/* standalone: ROLE of the server. A master names its replicas; a replica names its master. */
static void on_role(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    redisReply *r = reply;
    if (ac != h->ac || !r) return;
    struct sm_node nodes[SM_MAX_REPLICAS + 1];
    int n = 0, port = atoi(strrchr(h->asked, ':') + 1);
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING &&
        !strcmp(r->element[0]->str, "master")) {
        node_from(&nodes[n++], h->asked_host, port);
        const redisReply *reps = r->element[2];
        for (size_t i = 0; reps->type == REDIS_REPLY_ARRAY && i < reps->elements && n <= SM_MAX_REPLICAS; i++) {
            const redisReply *x = reps->element[i];
            if (x->type == REDIS_REPLY_ARRAY && x->elements >= 2 && x->element[0]->type == REDIS_REPLY_STRING &&
                x->element[1]->type == REDIS_REPLY_STRING &&
                node_from(&nodes[n], x->element[0]->str, atoll(x->element[1]->str)) == 0)
                n++;
        }
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING &&
               !strcmp(r->element[0]->str, "slave") && r->element[1]->type == REDIS_REPLY_STRING &&
               r->element[2]->type == REDIS_REPLY_INTEGER &&
               node_from(&nodes[0], r->element[1]->str, r->element[2]->integer) == 0) {
        n = 1 + (node_from(&nodes[1], h->asked_host, port) == 0);
    } else {
        refresh_drop_ac(h);
        refresh_attempt_failed(h, r->type == REDIS_REPLY_ERROR ? r->str : "ROLE: not a master or a replica");
        return;
    }
    take_single(h, nodes, n);
}

/* sentinel: the master's address, then its replicas (those not down). */
static void on_sentinel_master(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    redisReply *r = reply;
    if (ac != h->ac || !r) return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        node_from(&h->sentinel_nodes[0], r->element[0]->str, atoll(r->element[1]->str)) < 0) {
        char why[160];
        snprintf(why, sizeof(why), "SENTINEL get-master-addr-by-name %s: %s", h->conf->sentinel_master,
                 r->type == REDIS_REPLY_ERROR ? r->str : "no such master");
        refresh_drop_ac(h);
        refresh_attempt_failed(h, why);
        return;
    }
    h->sentinel_n = 1;
}

static const char *field_of(const redisReply *x, const char *name) {
    for (size_t i = 0; x->type == REDIS_REPLY_ARRAY && i + 1 < x->elements; i += 2)
        if (x->element[i]->type == REDIS_REPLY_STRING && !strcmp(x->element[i]->str, name) &&
            x->element[i + 1]->type == REDIS_REPLY_STRING)
            return x->element[i + 1]->str;
    return NULL;
}

/* SENTINEL master <name>: how long the sentinels wait before calling the master down, the counterpart
 * of cluster-node-timeout for how long requests are held (failover-hold-ms unset). */
static void on_sentinel_info(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    if (ac != h->ac || !reply || !h->node_timeout_ms) return;
    const char *v = field_of(reply, "down-after-milliseconds");
    if (v && atoi(v) > 0) __atomic_store_n(h->node_timeout_ms, atoi(v), __ATOMIC_RELAXED);
}

static void on_sentinel_replicas(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    redisReply *r = reply;
    if (ac != h->ac || !r || h->sentinel_n < 1) return;
    int n = 1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n <= SM_MAX_REPLICAS; i++) {
        const redisReply *x = r->element[i];
        const char *flags = field_of(x, "flags"), *ip = field_of(x, "ip"), *port = field_of(x, "port"),
                   *link = field_of(x, "master-link-status");
        if (!flags || strstr(flags, "s_down") || strstr(flags, "o_down") || strstr(flags, "disconnected")) continue;
        if (link && strcmp(link, "ok") != 0) continue; /* not in sync (being reconfigured, resyncing): no reads */
        if (ip && port && node_from(&h->sentinel_nodes[n], ip, atoll(port)) == 0) n++;
    }
    take_single(h, h->sentinel_nodes, n);
}

void onemaster_ask(struct refresher *h, struct ctl *ac) {
    const struct conf *c = h->conf;
    if (c->backend_kind == KIND_SENTINEL) { /* a sentinel: its own credentials, its own questions */
        if (c->sentinel_password && c->sentinel_user)
            ctl_command(ac, NULL, NULL, "AUTH %s %s", c->sentinel_user, c->sentinel_password);
        else if (c->sentinel_password)
            ctl_command(ac, NULL, NULL, "AUTH %s", c->sentinel_password);
        h->sentinel_n = 0;
        ctl_command(ac, on_sentinel_master, h, "SENTINEL get-master-addr-by-name %s", c->sentinel_master);
        ctl_command(ac, on_sentinel_info, h, "SENTINEL master %s", c->sentinel_master);
        ctl_command(ac, on_sentinel_replicas, h, "SENTINEL replicas %s", c->sentinel_master);
        return;
    }
    if (c->backend_password && c->backend_user) /* standalone: the server itself */
        ctl_command(ac, NULL, NULL, "AUTH %s %s", c->backend_user, c->backend_password);
    else if (c->backend_password)
        ctl_command(ac, NULL, NULL, "AUTH %s", c->backend_password);
    ctl_command(ac, on_role, h, "ROLE");
}

/* ---- backend-kind sentinel: +switch-master, from one sentinel at a time (the next seed when it goes) ---- */

static void publish_sentinels(struct refresher *h) {
    if (!h->status || h->conf->backend_kind != KIND_SENTINEL) return;
    struct sentinel_status x = {0};
    for (int i = 0; i < h->conf->nseeds && i < STATUS_MAX_SENTINELS; i++, x.n++) {
        snprintf(x.s[i].addr, sizeof(x.s[i].addr), "%s", h->conf->seeds[i]);
        x.s[i].subscribed = h->watch[i] && h->watch_ok[i];
    }
    snprintf(x.holding_for, sizeof(x.holding_for), "%s", h->hold_master);
    x.holding_since = h->hold_master[0] ? h->hold_since : 0;
    status_set_sentinels(h->status, &x);
}

/* The leader is about to promote a replica: from now on the old master's writes would be lost when it is
 * made a replica, so nothing more goes to it. A map with no master makes the workers hold requests (as
 * for a cluster's failover) until the sentinels name the new one. */
static void failover_begins(struct refresher *h, const char *msg) {
    if (!h->current || h->current->nshards == 0 || h->hold_master[0]) return;
    const struct sm_node *m = &h->current->nodes[h->current->shards[0].master];
    snprintf(h->hold_master, sizeof(h->hold_master), "%s:%d", m->host, m->port);
    int ms = h->conf->failover_hold_ms ? h->conf->failover_hold_ms : 15000;
    h->hold_until = ev_now(h->loop) + ms / 1000.0;
    h->hold_since = status_wall_now();
    publish_sentinels(h);
    log_notice("sentinel: %s fails over (%s): requests wait for the new master", h->conf->sentinel_master, msg);
    struct slotmap *none = calloc(1, sizeof(*none));
    if (!none) return;
    none->refs = 1;
    for (int s = 0; s < SLOT_COUNT; s++) none->slot_shard[s] = SM_NO_SHARD;
    refresh_accept_map(h, none, "sentinel failover");
    refresher_request(h, "sentinel failover");
}

static void on_switch(struct ctl *ac, redisReply *r, void *priv) {
    struct refresher *h = priv;
    (void)ac;
    /* ["message", channel, text]: "+switch-master" "<name> <old-ip> <old-port> <new-ip> <new-port>";
     * "+failover-state-send-slaveof-noone" "slave <ip:port> <ip> <port> @ <name> <ip> <port>" */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *msg = r->element[2]->str, *name = h->conf->sentinel_master;
    size_t n = strlen(name);
    if (!strcmp(r->element[1]->str, "+failover-state-send-slaveof-noone")) {
        const char *at = strstr(msg, " @ ");
        if (at && !strncmp(at + 3, name, n) && at[3 + n] == ' ') failover_begins(h, msg);
        return;
    }
    if (strncmp(msg, name, n) != 0 || msg[n] != ' ' || !strncmp(h->last_switch, msg, sizeof(h->last_switch) - 1))
        return;
    snprintf(h->last_switch, sizeof(h->last_switch), "%s", msg);
    log_notice("sentinel: +switch-master %s", msg);
    refresher_request(h, "sentinel +switch-master");
}

static void watch_retry(struct refresher *h, double after) {
    if (ev_is_active(&h->watch_timer)) return;
    ev_timer_set(&h->watch_timer, after, 0);
    ev_timer_start(h->loop, &h->watch_timer);
}

static void on_watch_gone(struct ctl *ac, int ok) {
    struct refresher *h = ac->data;
    (void)ok;
    if (!h) return;
    for (int i = 0; i < 8; i++)
        if (h->watch[i] == ac) {
            h->watch[i] = NULL;
            h->watch_ok[i] = 0;
            publish_sentinels(h);
            log_verbose("sentinel %s: +switch-master subscription lost (%s); again in a second", h->conf->seeds[i],
                        ac->errstr);
            watch_retry(h, 1.0);
        }
}

static void on_watch_connected(struct ctl *ac, int ok) {
    if (!ok) on_watch_gone(ac, 0);
}

static void on_subscribed(struct ctl *ac, redisReply *r, void *priv) {
    struct refresher *h = priv;
    if (!r || r->type != REDIS_REPLY_ARRAY) return; /* an error (a wrong password): it stays unsubscribed */
    for (int i = 0; i < 8; i++)
        if (h->watch[i] == ac) h->watch_ok[i] = 1;
    publish_sentinels(h);
}

/* Every sentinel's word: the first to announce the new master wins (each announces it when it learns it,
 * and the one that ran the failover may do so last). */
static void watch_start(struct refresher *h) {
    const struct conf *c = h->conf;
    if (c->backend_kind != KIND_SENTINEL) return;
    for (int i = 0; i < c->nseeds && i < 8; i++) {
        if (h->watch[i]) continue;
        const char *seed = c->seeds[i], *colon = strrchr(seed, ':');
        char host[SM_HOST_LEN], ip[SM_HOST_LEN], err[160];
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - seed) : 0, seed);
        int port = colon ? atoi(colon + 1) : 0;
        struct dns_addrs a;
        int rc = dns_is_literal(host) ? DNS_OK : dns_lookup(host, port, SEED_MAX_AGE, &a, err, sizeof(err));
        if (rc != DNS_OK) { /* asked again shortly (the answer is then cached) */
            watch_retry(h, rc == DNS_PENDING ? 0.2 : 1.0);
            continue;
        }
        if (dns_is_literal(host))
            snprintf(ip, sizeof(ip), "%s", host);
        else
            dns_addr_string(&a.addr[0], ip, sizeof(ip));
        struct ctl *ac = ctl_connect(h->loop, ip, port, c->tls_cluster, host, on_watch_connected, on_watch_gone, h, err,
                                     sizeof(err));
        if (!ac) {
            watch_retry(h, 1.0);
            continue;
        }
        h->watch[i] = ac;
        if (c->sentinel_password && c->sentinel_user)
            ctl_command(ac, NULL, NULL, "AUTH %s %s", c->sentinel_user, c->sentinel_password);
        else if (c->sentinel_password)
            ctl_command(ac, NULL, NULL, "AUTH %s", c->sentinel_password);
        h->watch_ok[i] = 0;
        ctl_command(ac, on_subscribed, h, "SUBSCRIBE +switch-master +failover-state-send-slaveof-noone");
        ctl_on_push(ac, on_switch, h);
    }
    publish_sentinels(h);
}

static void on_watch_timer(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    watch_start(t->data);
}

void sentinel_watch_init(struct refresher *h) {
    ev_init(&h->watch_timer, on_watch_timer);
    h->watch_timer.data = h;
}

void sentinel_watch_start(struct refresher *h) { watch_start(h); }

void sentinel_watch_free(struct refresher *h) {
    for (int i = 0; i < 8; i++) {
        struct ctl *ac = h->watch[i];
        if (!ac) continue;
        h->watch[i] = NULL;
        ac->data = NULL;
        ctl_forget(ac);
        ctl_free(ac);
    }
    ev_timer_stop(h->loop, &h->watch_timer);
}

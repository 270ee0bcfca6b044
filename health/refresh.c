/* See refresh.h. One attempt at a time: connect, (AUTH), CLUSTER SLOTS, build, publish, disconnect. */
#include "refresh.h"

#include "mapaccept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dns.h"
#include "../lib/log.h"
#include "../router/command.h"
#include "ctl.h"
#include "refresh_priv.h"
#include "status.h"

#define MIN_INTERVAL 0.2 /* seconds between two refreshes, however many are asked for */

static void try_next(struct refresher *h);

static void track(struct refresher *h, struct ctl *ac, int add) {
    for (int i = 0; i < 16; i++) {
        if (add ? h->live[i] == NULL : h->live[i] == ac) {
            h->live[i] = add ? ac : NULL;
            return;
        }
    }
}

static void clear_candidates(struct refresher *h) {
    for (int i = 0; i < h->ncand; i++) free(h->cand[i]);
    h->ncand = 0;
}

/* Inserts host:port at position at (the end: ncand) unless it is in the list already. 1 if inserted. */
static int insert_candidate(struct refresher *h, int at, const char *host, int port, int is_seed) {
    char buf[SM_HOST_LEN + 8];
    snprintf(buf, sizeof(buf), "%s:%d", host, port);
    for (int i = 0; i < h->ncand; i++)
        if (strcmp(h->cand[i], buf) == 0) return 0;
    char *copy = h->ncand < MAX_CANDIDATES ? strdup(buf) : NULL;
    if (!copy) return 0;
    memmove(&h->cand[at + 1], &h->cand[at], sizeof(h->cand[0]) * (size_t)(h->ncand - at));
    memmove(&h->is_seed[at + 1], &h->is_seed[at], (size_t)(h->ncand - at));
    h->cand[at] = copy;
    h->is_seed[at] = (char)is_seed;
    h->ncand++;
    return 1;
}

static void add_candidate(struct refresher *h, const char *host, int port) {
    insert_candidate(h, h->ncand, host, port, 0);
}

/* Candidate idx is a name: it is replaced by every address the name has now (those not already in the
 * list), so each is asked in turn. */
static void expand_name(struct refresher *h, const struct dns_addrs *a, const char *host, int port) {
    int at = h->idx, seed = h->is_seed[at], added = 0;
    char *name = h->cand[at];
    memmove(&h->cand[at], &h->cand[at + 1], sizeof(h->cand[0]) * (size_t)(h->ncand - at - 1));
    memmove(&h->is_seed[at], &h->is_seed[at + 1], (size_t)(h->ncand - at - 1));
    h->ncand--;
    char list[512] = "";
    for (int i = 0; i < a->n; i++) {
        char ip[64];
        dns_addr_string(&a->addr[i], ip, sizeof(ip));
        added += insert_candidate(h, at + added, ip, port, seed);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", ip);
    }
    log_verbose("slot map refresh: %s resolves to %s", host, list);
    free(name);
}

/* A "host:port" string (a seed, the node that answered last) as a candidate at the end of the list. */
static void add_host_port(struct refresher *h, const char *seed, int is_seed) {
    char host[SM_HOST_LEN];
    const char *colon = strrchr(seed, ':');
    size_t n = (size_t)(colon - seed);
    if (n >= sizeof(host)) return;
    memcpy(host, seed, n);
    host[n] = '\0';
    insert_candidate(h, h->ncand, host, atoi(colon + 1), is_seed);
}

static void log_change(struct refresher *h, const struct slotmap *m, const char *from);

/* A new map becomes the current one and goes to the workers (an unchanged one is dropped). */
void refresh_accept_map(struct refresher *h, struct slotmap *m, const char *from) {
    if (h->current && slotmap_same(h->current, m)) {
        slotmap_unref(m);
        return;
    }
    m->version = ++h->version;
    log_change(h, m, from);
    if (h->current) slotmap_unref(h->current);
    h->current = m;
    if (h->status) status_set_map(h->status, m, from);
    h->publish(h->ctx, m);
}

static const char *nobody_answered(const struct refresher *h) {
    switch (h->conf->backend_kind) {
    case KIND_SENTINEL: return "no sentinel named the master (SENTINEL get-master-addr-by-name)";
    case KIND_STANDALONE: return "no seed answered ROLE";
    default: return "no known node or seed answered CLUSTER SLOTS";
    }
}

void refresh_finish(struct refresher *h, int ok) {
    if (h->first) { /* no second node answered: the one answer we have is the best we know */
        struct slotmap *m = h->first;
        h->first = NULL;
        refresh_accept_map(h, m, h->first_from);
        ok = 1;
    }
    h->running = 0;
    ev_timer_stop(h->loop, &h->attempt_timeout);
    if (h->status) status_refresh_result(h->status, ok, h->asked, ok ? NULL : nobody_answered(h));
    if (ok) {
        if (h->failures) log_notice("slot map refresh works again (from %s)", h->asked);
        h->failures = 0;
        h->retry_delay = 0;
    } else {
        if (h->failures++ == 0) log_warning("slot map refresh failed: %s; retrying", nobody_answered(h));
        /* Nobody answered: try again after a growing pause, whatever asks for it meanwhile. */
        h->retry_delay = h->retry_delay ? h->retry_delay * 2 : MIN_INTERVAL;
        if (h->retry_delay > 5.0) h->retry_delay = 5.0;
        h->last_start = ev_now(h->loop) + h->retry_delay - MIN_INTERVAL;
        h->again = 1;
    }
    if (h->again || !h->current) {
        h->again = 0;
        refresher_request(h, "retry");
    }
}

void refresh_drop_ac(struct refresher *h) {
    struct ctl *ac = h->ac;
    h->ac = NULL;
    if (ac) ctl_disconnect(ac);
}

void refresh_attempt_failed(struct refresher *h, const char *why) {
    if (h->answer) {
        slotmap_unref(h->answer);
        h->answer = NULL;
    }
    log_verbose("slot map refresh: %s: %s", h->asked, why);
    h->dns_wait = 0;
    ev_timer_stop(h->loop, &h->attempt_timeout);
    h->idx++;
    ev_timer_set(&h->kick, 0, 0);
    ev_timer_start(h->loop, &h->kick); /* next candidate outside the connection's callback */
}

static void log_change(struct refresher *h, const struct slotmap *m, const char *from) {
    log_notice("%s%sslot map version %llu from %s: %u/%d slots covered by %d masters, %d nodes", h->name,
               h->name[0] ? ": " : "", (unsigned long long)m->version, from, m->covered, SLOT_COUNT, m->nshards,
               m->nnodes);
    for (int i = 0; i < m->nshards; i++) {
        const struct sm_node *n = &m->nodes[m->shards[i].master];
        log_verbose("  master %s:%d (%u slots, %d replicas)", n->host, n->port, m->shards[i].nslots,
                    m->shards[i].nreplicas);
    }
}

static void on_command(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    if (ac != h->ac || !reply) return;
    char err[256];
    struct cmdtable *t =
        cmdtable_new_from_reply(reply, h->conf->allow_commands, h->conf->nallow_commands, err, sizeof(err));
    h->have_cmds = 1; /* once: a reply we cannot use would not get better by asking again */
    if (t) {
        log_verbose("command table of %zu commands and subcommands read from %s", cmdtable_count(t), h->asked);
        h->publish_cmds(h->ctx, t);
        cmdtable_unref(t);
    } else {
        log_notice("keeping the built-in command table: %s answered COMMAND with something else (%s)", h->asked, err);
    }
    /* the CONFIG GET sent with COMMAND finishes this attempt */
}

static void on_node_timeout(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    redisReply *r = reply;
    if (ac != h->ac || !reply) return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING &&
        h->node_timeout_ms) {
        int ms = atoi(r->element[1]->str);
        __atomic_store_n(h->node_timeout_ms, ms, __ATOMIC_RELAXED);
        log_verbose("cluster-node-timeout is %d ms: requests for an unreachable master are held up to %d ms", ms,
                    h->conf->failover_hold_ms ? h->conf->failover_hold_ms : ms + 3000);
    }
    refresh_drop_ac(h);
    refresh_finish(h, 1);
}

static void on_slots(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    if (ac != h->ac) return; /* an attempt we gave up on */
    char err[256];
    if (!reply) return; /* the disconnect callback reports it */
    struct slotmap *m = slotmap_build(reply, h->asked_host, err, sizeof(err));
    if (!m || m->covered == 0) {
        refresh_drop_ac(h);
        if (m) slotmap_unref(m);
        refresh_attempt_failed(h, m ? "the node serves no slots" : err);
        return;
    }
    h->answer = m; /* decided with the node's config epoch, in on_info */
}

/* The node's epoch came with its map: mapaccept.c decides whether it becomes the current one (now, after
 * a second opinion, or not at all). */
static void on_info(struct ctl *ac, redisReply *reply, void *priv) {
    struct refresher *h = priv;
    redisReply *r = reply;
    if (ac != h->ac || !r || !h->answer) return;
    const char *at = r->type == REDIS_REPLY_STRING ? strstr(r->str, "cluster_current_epoch:") : NULL;
    long long epoch = at ? atoll(at + 22) : 0;
    struct slotmap *m = h->answer;
    h->answer = NULL;
    snprintf(h->last_good, sizeof(h->last_good), "%s", h->asked);
    struct map_opinion first = {h->first, h->first_epoch}, answer = {m, epoch};
    enum map_decision d = mapaccept_decide(h->current, h->first ? &first : NULL, &answer);
    if (d == MAP_ASK_SECOND) {
        h->first = m;
        h->first_epoch = epoch;
        snprintf(h->first_from, sizeof(h->first_from), "%s", h->asked);
        refresh_drop_ac(h);
        h->idx++;
        try_next(h); /* a second opinion */
        return;
    }
    if (d == MAP_TAKE) {
        refresh_accept_map(h, m, h->asked);
    } else {
        if (!slotmap_same(h->first, m))
            log_notice("nodes disagree about the slot map: %s (epoch %lld) and %s (epoch %lld); taking %s's",
                       h->first_from, h->first_epoch, h->asked, epoch, d == MAP_TAKE_FIRST ? h->first_from : h->asked);
        struct slotmap *keep = d == MAP_TAKE_FIRST ? h->first : m;
        slotmap_unref(d == MAP_TAKE_FIRST ? m : h->first);
        h->first = NULL;
        refresh_accept_map(h, keep, h->asked);
    }
    if (!h->have_cmds) {
        ctl_command(ac, on_command, h, "COMMAND");
        ctl_command(ac, on_node_timeout, h, "CONFIG GET cluster-node-timeout");
        return;
    }
    refresh_drop_ac(h);
    refresh_finish(h, 1);
}

static void on_disconnect(struct ctl *ac, int ok) {
    struct refresher *h = ac->data;
    if (!h) return;  /* freed at shutdown */
    track(h, ac, 0); /* freed after this callback */
    if (ac != h->ac) return;
    h->ac = NULL;
    refresh_attempt_failed(h, ok ? "disconnected" : ac->errstr);
}

static void on_connect(struct ctl *ac, int ok) {
    struct refresher *h = ac->data;
    if (!h) return; /* freed at shutdown */
    if (!ok) track(h, ac, 0);
    if (ok || ac != h->ac) return;
    h->ac = NULL; /* freed after this callback */
    refresh_attempt_failed(h, ac->errstr);
}

void refresh_arm_attempt_timeout(struct refresher *h) {
    ev_timer_set(&h->attempt_timeout, (h->conf->connect_timeout_ms + 1000) / 1000.0, 0);
    ev_timer_start(h->loop, &h->attempt_timeout);
}

static void try_next(struct refresher *h) {
    if (h->idx >= h->ncand) {
        refresh_finish(h, 0);
        return;
    }
    snprintf(h->asked, sizeof(h->asked), "%s", h->cand[h->idx]);
    char *colon = strrchr(h->cand[h->idx], ':');
    size_t n = (size_t)(colon - h->cand[h->idx]);
    memcpy(h->asked_host, h->cand[h->idx], n);
    h->asked_host[n] = '\0';
    int port = atoi(colon + 1);
    if (!dns_is_literal(h->asked_host)) { /* resolved off this loop (lib/dns.h), never blocking it */
        struct dns_addrs a;
        char err[96];
        int rc = dns_lookup(h->asked_host, port, h->is_seed[h->idx] ? SEED_MAX_AGE : -1, &a, err, sizeof(err));
        if (rc == DNS_PENDING) { /* on_dns_wake asks again; the attempt's timer bounds the wait */
            h->dns_wait = 1;
            refresh_arm_attempt_timeout(h);
            return;
        }
        if (rc == DNS_FAILED)
            log_verbose("slot map refresh: cannot resolve %s: %s", h->asked_host, err), h->idx++;
        else
            expand_name(h, &a, h->asked_host, port); /* candidate idx is now the name's first address */
        try_next(h);
        return;
    }
    char cerr[160];
    struct ctl *ac = ctl_connect(h->loop, h->asked_host, port, h->conf->tls_cluster, NULL, on_connect, on_disconnect, h,
                                 cerr, sizeof(cerr));
    if (!ac) {
        log_verbose("slot map refresh: %s: %s", h->asked, cerr);
        h->idx++;
        try_next(h);
        return;
    }
    h->ac = ac;
    track(h, ac, 1);
    const struct conf *c = h->conf;
    if (c->backend_kind != KIND_CLUSTER) { /* a sentinel, or the server: onemaster.c asks */
        onemaster_ask(h, ac);
        refresh_arm_attempt_timeout(h);
        return;
    }
    if (c->backend_password && c->backend_user)
        ctl_command(ac, NULL, NULL, "AUTH %s %s", c->backend_user, c->backend_password);
    else if (c->backend_password)
        ctl_command(ac, NULL, NULL, "AUTH %s", c->backend_password);
    ctl_command(ac, on_slots, h, "CLUSTER SLOTS");
    ctl_command(ac, on_info, h, "CLUSTER INFO");
    /* CLUSTER SLOTS answers in microseconds: a node that takes a second is stalled (SIGSTOP, overload),
     * and the next candidate is a better bet than waiting out the command timeout. */
    refresh_arm_attempt_timeout(h);
}

static void start(struct refresher *h) {
    double now = ev_now(h->loop);
    if (h->running) {
        h->again = 1;
        return;
    }
    if (now - h->last_start < MIN_INTERVAL) {
        if (!ev_is_active(&h->kick)) {
            ev_timer_set(&h->kick, h->last_start + MIN_INTERVAL - now, 0);
            ev_timer_start(h->loop, &h->kick);
        }
        __atomic_store_n(&h->wanted, 1, __ATOMIC_RELEASE);
        return;
    }
    h->running = 1;
    h->last_start = now;
    clear_candidates(h);
    /* The node that answered last, then known masters (most likely up and current), replicas, seeds.
     * Sentinel: the sentinels only (the seeds), the last that answered first. */
    if (h->last_good[0]) add_host_port(h, h->last_good, 0);
    if (h->current && h->conf->backend_kind != KIND_SENTINEL) {
        for (int i = 0; i < h->current->nshards; i++) {
            const struct sm_node *n = &h->current->nodes[h->current->shards[i].master];
            add_candidate(h, n->host, n->port);
        }
        for (int i = 0; i < h->current->nnodes; i++)
            add_candidate(h, h->current->nodes[i].host, h->current->nodes[i].port);
    }
    for (int i = 0; i < h->conf->nseeds; i++) add_host_port(h, h->conf->seeds[i], 1);
    h->idx = 0;
    try_next(h);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct refresher *h = t->data;
    if (h->running)
        try_next(h);
    else if (__atomic_exchange_n(&h->wanted, 0, __ATOMIC_ACQ_REL))
        start(h);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents) {
    (void)loop;
    (void)revents;
    struct refresher *h = a->data;
    if (__atomic_exchange_n(&h->wanted, 0, __ATOMIC_ACQ_REL)) start(h);
}

static void on_dns_wake(struct ev_loop *loop, ev_async *a, int revents) {
    (void)loop;
    (void)revents;
    struct refresher *h = a->data;
    if (!h->dns_wait) return;
    h->dns_wait = 0;
    ev_timer_stop(h->loop, &h->attempt_timeout);
    try_next(h);
}

static void on_periodic(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    start(t->data);
}

static void on_attempt_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct refresher *h = t->data;
    struct ctl *ac = h->ac;
    h->ac = NULL;
    if (ac) {
        track(h, ac, 0);
        ctl_free(ac); /* not ctl_disconnect: that would wait for the reply that never comes */
    }
    refresh_attempt_failed(h, "timed out");
}

void refresher_set_node_timeout_sink(struct refresher *h, int *ms) { h->node_timeout_ms = ms; }
void refresher_set_status(struct refresher *h, struct status *s) { h->status = s; }
void refresher_set_name(struct refresher *h, const char *name) { snprintf(h->name, sizeof(h->name), "%s", name); }

void refresher_conf_changed(struct refresher *h) {
    h->periodic.repeat = h->conf->refresh_interval_ms / 1000.0;
    ev_timer_again(h->loop, &h->periodic);
}

struct refresher *refresher_new(struct ev_loop *loop, const struct conf *conf, refresh_publish_fn publish,
                                refresh_publish_cmds_fn publish_cmds, void *ctx) {
    struct refresher *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->loop = loop;
    h->conf = conf;
    h->publish = publish;
    h->publish_cmds = publish_cmds;
    h->ctx = ctx;
    h->last_start = -1e9;
    ev_timer_init(&h->periodic, on_periodic, conf->refresh_interval_ms / 1000.0, conf->refresh_interval_ms / 1000.0);
    ev_init(&h->attempt_timeout, on_attempt_timeout);
    ev_init(&h->kick, on_kick);
    ev_async_init(&h->wake, on_wake);
    ev_async_init(&h->dns_wake, on_dns_wake);
    h->periodic.data = h->attempt_timeout.data = h->kick.data = h->wake.data = h->dns_wake.data = h;
    sentinel_watch_init(h);
    return h;
}

void refresher_start(struct refresher *h) {
    ev_async_start(h->loop, &h->wake);
    ev_async_start(h->loop, &h->dns_wake);
    dns_watch(h->loop, &h->dns_wake);
    ev_timer_start(h->loop, &h->periodic);
    start(h);
    sentinel_watch_start(h);
}

void refresher_request(struct refresher *h, const char *why) {
    log_debug("slot map refresh asked for: %s", why);
    __atomic_store_n(&h->wanted, 1, __ATOMIC_RELEASE);
    ev_async_send(h->loop, &h->wake);
}

struct slotmap *refresher_current(struct refresher *h) {
    return h->current ? slotmap_ref(h->current) : NULL;
}

void refresher_free(struct refresher *h) {
    if (!h) return;
    h->ac = NULL;
    for (int i = 0; i < 16; i++) {
        struct ctl *ac = h->live[i];
        if (!ac) continue;
        h->live[i] = NULL;
        ac->data = NULL;
        ctl_forget(ac);
        ctl_free(ac);
    }
    sentinel_watch_free(h);
    ev_timer_stop(h->loop, &h->periodic);
    ev_timer_stop(h->loop, &h->attempt_timeout);
    ev_timer_stop(h->loop, &h->kick);
    ev_async_stop(h->loop, &h->wake);
    dns_unwatch(&h->dns_wake);
    ev_async_stop(h->loop, &h->dns_wake);
    clear_candidates(h);
    if (h->current) slotmap_unref(h->current);
    if (h->answer) slotmap_unref(h->answer);
    if (h->first) slotmap_unref(h->first);
    free(h);
}

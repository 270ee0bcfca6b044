/* Commands that need a backend connection of their own, because Redis keeps state on the connection:
 *  - transactions: WATCH pins the client to the node of the watched key; MULTI is answered here and the
 *    transaction is opened on the node of its first key (keyless commands queued before that are kept
 *    and replayed), every later key must be in the same slot or the command gets CROSSSLOT and EXEC
 *    then EXECABORT, as Redis does for a command refused while queueing; EXEC/DISCARD/UNWATCH release
 *    the connection once it answered.
 *  - blocking commands (BLPOP, XREAD BLOCK, WAIT, ...): one connection per client, so a blocked client
 *    never delays other clients' pipelines; its deadline is the command's own timeout plus
 *    command-timeout-ms (none for a timeout of 0).
 *  - pub/sub: replies are pushed, not answers to requests; they reach the client after the replies to
 *    its earlier requests, and a subscriber that falls behind by more than client-max-pending-bytes is
 *    disconnected, as Redis does with its pubsub output limit. The nodes' (un)subscribe confirmations
 *    keep the process-wide registry (subs.h) that PUBLISH and PUBSUB count from; an UNSUBSCRIBE with
 *    no connection to send it on is answered here, as Redis answers one from an unsubscribed client.
 *  - scripts and functions (EVAL, EVALSHA, FCALL and their _RO forms): one connection per client and
 *    node, with no deadline of slotgate's (Redis has none for a script). A script that runs long then
 *    holds only its own client, as on a single server; other clients' requests reach the node and get
 *    its answer or -BUSY, and SCRIPT KILL / FUNCTION KILL reach it on the shared connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../router/txn.h"
#include "dedicated.h"
#include "local.h"
#include "worker.h"

#define REPLY_LIT(w, r, lit) req_reply(w, r, lit, sizeof(lit) - 1)

static const char MULTI_CMD[] = "*1\r\n$5\r\nMULTI\r\n";
static const char DISCARD_CMD[] = "*1\r\n$7\r\nDISCARD\r\n";

int dedicated_in_mode(const struct client *c) { return c->txn_state.in_multi || c->sub_mode; }

static int is_name(const struct plan *p, const char *name) { return p->cmd && strcmp(p->cmd->name, name) == 0; }

/* A request whose reply nobody waits for (MULTI and queued commands replayed on the pinned connection,
 * whose replies slotgate already gave): it keeps the connection's replies matched to requests. */
static int send_internal(struct worker *w, struct backend *b, const char *p, size_t len) {
    struct req *r = req_new(w);
    if (!r) return -1;
    r->dedicated = DED_TXN;
    r->started = worker_now(w);
    if (backend_send(b, r, p, len) < 0) {
        req_free(w, r);
        return -1;
    }
    return 0;
}

static void forget_script_conn(struct client *c, struct backend *b) {
    for (int i = 0; i < c->nscripts; i++) {
        if (c->scripts[i] == b) {
            c->scripts[i] = c->scripts[--c->nscripts];
            return;
        }
    }
}

static void ks_close_all(struct client *c);

/* Lets go of a dedicated connection once it has answered everything sent on it. */
static void release(struct backend *b) {
    if (!b) return;
    b->close_when_idle = 1;
    if (b->client) {
        struct client *c = b->client;
        if (c->txn == b) c->txn = NULL;
        if (c->blocking == b) c->blocking = NULL;
        if (c->sub == b) c->sub = NULL;
        if (c->ssub == b) c->ssub = NULL;
        forget_script_conn(c, b);
        b->client = NULL;
    }
    if (!b->inflight.head) backend_close(b, "released", 0);
}

/* HELLO changed the client's protocol: the connections of its own that it is not using for anything
 * that must last (scripts, a blocking command's, pub/sub ones with no subscription) go, so the next
 * open in the new protocol; a subscribed connection stays and its pushes are turned into arrays for a
 * client back in RESP2 (dedicated_push). */
void dedicated_protocol_changed(struct client *c) {
    while (c->nscripts > 0) release(c->scripts[c->nscripts - 1]);
    if (c->blocking) release(c->blocking);
    if (c->sub && c->sub->subscriptions == 0) release(c->sub);
    if (c->ssub && c->ssub->subscriptions == 0) release(c->ssub);
}

/* A script connection not used for a while, or a pub/sub one left with no subscription, goes (the
 * trim timer calls this once a second); the next script or SUBSCRIBE opens a new one. */
void dedicated_release_idle(struct client *c, double now, double idle_s) {
    for (int i = c->nscripts - 1; i >= 0; i--) {
        struct backend *b = c->scripts[i];
        if (!b->inflight.head && now - b->last_used > idle_s) release(b);
    }
    if (c->ks_mode && !c->sub_mode) ks_close_all(c); /* nothing subscribed any more */
    if (c->sub_mode || c->push.pending) return;
    struct backend *subs[2] = {c->sub, c->ssub};
    for (int i = 0; i < 2; i++)
        if (subs[i] && subs[i]->subscriptions == 0 && !subs[i]->out.pending && now - subs[i]->last_used > idle_s)
            release(subs[i]);
}

static void ks_forget(struct client *c, struct backend *b) {
    for (int i = 0; i < c->nks; i++)
        if (c->ks[i] == b) c->ks[i] = c->ks[--c->nks];
}

void dedicated_detach(struct backend *b) {
    struct client *c = b->client;
    b->client = NULL;
    if (!c) return;
    if (b->ks_mirror) { /* a master's mirror: the next sync opens one again where a master is */
        ks_forget(c, b);
        return;
    }
    if (c->txn == b) {
        c->txn = NULL;
        txn_conn_lost(&c->txn_state); /* the transaction's state is gone with it */
    }
    if (c->blocking == b) c->blocking = NULL;
    forget_script_conn(c, b);
    if (c->sub == b || c->ssub == b) {
        unsigned kinds = c->sub == b ? (1u << SUB_CHANNEL) | (1u << SUB_PATTERN) : 1u << SUB_SHARD;
        if (c->sub == b) c->sub = NULL;
        if (c->ssub == b) c->ssub = NULL;
        sub_set_clear(&c->subs, c->w->shared.subs, kinds);
        /* Its subscriptions are gone; a client that thinks it is subscribed must learn it: like a lost
         * Redis connection, it is closed so it reconnects and subscribes again. */
        if (!b->close_when_idle && (b->subscriptions > 0 || c->sub_mode)) client_close(c);
    }
}

static void close_owned(struct backend *b) {
    if (!b) return;
    b->client = NULL;
    b->close_when_idle = 1;
    backend_close(b, "client closed", 0);
}

static void ks_close_all(struct client *c) {
    while (c->nks > 0) close_owned(c->ks[--c->nks]);
    free(c->ks);
    c->ks = NULL;
    c->ks_mode = 0;
}

void dedicated_close_all(struct client *c) {
    struct backend *all[4] = {c->txn, c->blocking, c->sub, c->ssub};
    for (int i = 0; i < 4; i++) close_owned(all[i]);
    ks_close_all(c);
    while (c->nscripts > 0) close_owned(c->scripts[--c->nscripts]);
    free(c->scripts);
    c->scripts = NULL;
    c->scripts_cap = 0;
    sub_set_clear(&c->subs, c->w->shared.subs, ~0u);
    c->sub_mode = 0;
    c->txn = c->blocking = c->sub = c->ssub = NULL;
    chain_free(&c->w->pool, &c->txn_queued);
    chain_free(&c->w->pool, &c->push);
}

static struct backend *connect_for(struct client *c, struct node *n, int kind) {
    return n ? backend_connect(c->w, n, NULL, c, kind, 0, c->resp3) : NULL;
}

static struct node *node_of_slot(struct worker *w, int slot) {
    if (!w->view.map || w->view.routes.nshards == 0) return NULL;
    if (slot < 0) slot = route_any_slot(&w->view.routes);
    return w->view.routes.slot_master[slot];
}

/* --- transactions --- */

static void txn_reset(struct client *c) {
    txn_init(&c->txn_state);
    chain_free(&c->w->pool, &c->txn_queued);
}

static void send_on_txn(struct client *c, struct req *r, const char *p, size_t len) {
    r->dedicated = DED_TXN;
    if (!c->txn || backend_send(c->txn, r, p, len) < 0)
        req_reply_error(c->w, r, "ERR slotgate: the transaction's connection is gone");
}

static void queue_in_txn(struct client *c, struct req *r, const char *p, size_t len) {
    struct worker *w = c->w;
    char hdr[24];
    int n = snprintf(hdr, sizeof(hdr), "%zu\n", len); /* length-prefixed, replayed by exec_group() */
    if (chain_append(&w->pool, &c->txn_queued, hdr, (size_t)n) < 0 ||
        chain_append(&w->pool, &c->txn_queued, p, len) < 0) {
        c->txn_state.dirty = 1; /* the transaction cannot run whole: EXEC aborts */
        return req_reply_error(w, r, "ERR slotgate: out of memory");
    }
    REPLY_LIT(w, r, "+QUEUED\r\n");
}

/* EXEC of a transaction with no WATCH: MULTI, the commands queued since, and EXEC go to the slot's master
 * as one request on the shared connections, written together so nothing comes between them. Only the
 * EXEC's reply goes to the client (backend.c skips the +OK and +QUEUED before it). Like any request it
 * is parked while its master is unreachable and sent again when a queued command was refused with MOVED,
 * ASK, TRYAGAIN or CLUSTERDOWN (EXEC then aborts, so nothing ran), which lets a transaction ride
 * through a failover or a reshard. */
static void exec_group(struct client *c, struct req *r, const char *exec, size_t exec_len) {
    struct worker *w = c->w;
    size_t total = sizeof(MULTI_CMD) - 1 + exec_len;
    for (struct chunk *k = c->txn_queued.head; k; k = k->next) total += k->wpos - k->rpos;
    char *queued = malloc(total + 1), *all = malloc(total + 1);
    if (!queued || !all) {
        free(queued);
        free(all);
        return req_reply_error(w, r, "ERR slotgate: out of memory");
    }
    size_t hn = 0, n = 0;
    for (struct chunk *k = c->txn_queued.head; k; k = k->next) {
        memcpy(queued + hn, k->data + k->rpos, k->wpos - k->rpos);
        hn += k->wpos - k->rpos;
    }
    memcpy(all, MULTI_CMD, sizeof(MULTI_CMD) - 1);
    n = sizeof(MULTI_CMD) - 1;
    for (size_t off = 0; off < hn;) { /* kept as "length\n" then the command's bytes */
        char *end;
        size_t len = strtoul(queued + off, &end, 10);
        off = (size_t)(end - queued) + 1;
        memcpy(all + n, queued + off, len);
        n += len;
        off += len;
    }
    memcpy(all + n, exec, exec_len);
    n += exec_len;
    free(queued);
    if (c->txn_state.slot < 0 && w->view.routes.nshards == 0) {
        free(all);
        return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    }
    r->slot = c->txn_state.slot >= 0 ? c->txn_state.slot : route_any_slot(&w->view.routes);
    r->group_n = (uint32_t)c->txn_state.nqueued + 1;
    r->is_readonly = 0;
    route_request(w, r, NULL, all, n);
    free(all);
}

/* Commands that change the state of the connection they run on. Queued in a transaction they would run
 * on the node's connection, which slotgate shares between clients (HELLO 3, CLIENT REPLY OFF or
 * SUBSCRIBE there would break every client on it), not on the client's connection to slotgate: so
 * they are refused while queueing, as Redis refuses its no-multi commands. */
static int changes_connection(const struct plan *p) {
    switch (p->cmd->local) {
    case LOCAL_HELLO:
    case LOCAL_AUTH:
    case LOCAL_QUIT:
    case LOCAL_RESET:
    case LOCAL_READONLY:
    case LOCAL_READWRITE:
    case LOCAL_ASKING:
    case LOCAL_CLIENT_SETNAME:
    case LOCAL_CLIENT_REPLY:
    case LOCAL_CLIENT_NO_EVICT: return 1;
    default: return p->route == ROUTE_PUBSUB;
    }
}

static int txn_command_of(const struct plan *p) {
    if (is_name(p, "multi")) return TXN_MULTI;
    if (is_name(p, "exec")) return TXN_EXEC;
    if (is_name(p, "discard")) return TXN_DISCARD;
    if (is_name(p, "watch")) return TXN_WATCH;
    if (is_name(p, "unwatch")) return TXN_UNWATCH;
    return TXN_OTHER;
}

/* A command of a transaction, or any command while in one: router/txn.c decides, this carries it out. */
static void txn_command(struct client *c, struct req *r, const struct plan *p, const char *bytes, size_t len) {
    struct worker *w = c->w;
    struct txn_input in = {.command = p->cmd ? txn_command_of(p) : TXN_OTHER,
                           .has_conn = c->txn != NULL,
                           .is_error = p->is_error,
                           .error = p->err,
                           .not_allowed = !p->is_error && ((p->cmd->flags & CMD_NO_MULTI) || changes_connection(p)),
                           .is_split = p->route == ROUTE_SPLIT,
                           .slot = p->nkeys > 0 ? p->slot : -1};
    struct txn_decision d = txn_next(&c->txn_state, &in);
    struct backend *b = c->txn;
    switch (d.action) {
    case TXN_REPLY_OK: REPLY_LIT(w, r, "+OK\r\n"); break;
    case TXN_REPLY_EMPTY: REPLY_LIT(w, r, "*0\r\n"); break;
    case TXN_QUEUE: queue_in_txn(c, r, bytes, len); break;
    case TXN_ERROR: req_reply_error(w, r, "%s", d.error); break;
    case TXN_OPEN: /* WATCH: pins the client to the watched keys' node */
        if (!(c->txn = connect_for(c, node_of_slot(w, p->slot), DED_TXN))) {
            req_reply_error(w, r, "CLUSTERDOWN The cluster is down: no node serves the slot");
            break;
        }
        txn_watched(&c->txn_state, p->slot);
        send_on_txn(c, r, bytes, len);
        break;
    case TXN_SEND: send_on_txn(c, r, bytes, len); break;
    case TXN_SEND_RELEASE:
        send_on_txn(c, r, bytes, len);
        release(b);
        break;
    case TXN_EXEC_GROUP: exec_group(c, r, bytes, len); break;
    case TXN_ABORT:
        if (b) send_internal(w, b, DISCARD_CMD, sizeof(DISCARD_CMD) - 1);
        release(b);
        req_reply_error(w, r, "%s", d.error);
        break;
    }
    if (d.reset) txn_reset(c);
}

/* --- blocking commands --- */

static double parse_seconds(const char *p, size_t len, double scale) {
    char buf[32];
    if (len >= sizeof(buf)) return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    return (*end || v < 0) ? -1 : v * scale;
}

/* The command's own timeout in seconds (0: forever), by where each blocking command keeps it. */
static double blocking_timeout(const struct resp_request *q, const char *cmd, const char *name) {
    uint32_t last = q->argc - 1;
    if (!strcmp(name, "blmpop") || !strcmp(name, "bzmpop"))
        return parse_seconds(resp_request_arg(q, cmd, 1), q->argv[1].len, 1);
    if (!strcmp(name, "wait")) return parse_seconds(resp_request_arg(q, cmd, last), q->argv[last].len, 0.001);
    if (!strcmp(name, "xread") || !strcmp(name, "xreadgroup")) {
        for (uint32_t i = 1; i + 1 < q->argc; i++)
            if (q->argv[i].len == 5 && !strncasecmp(resp_request_arg(q, cmd, i), "block", 5))
                return parse_seconds(resp_request_arg(q, cmd, i + 1), q->argv[i + 1].len, 0.001);
        return 0;
    }
    return parse_seconds(resp_request_arg(q, cmd, last), q->argv[last].len, 1);
}

/* The client's script connection to n (a replica's is READONLY), opened on first use. */
static struct backend *script_conn(struct client *c, struct node *n, int readonly) {
    for (int i = 0; i < c->nscripts; i++)
        if (c->scripts[i]->node == n) return c->scripts[i];
    if (c->nscripts == c->scripts_cap) {
        int cap = c->scripts_cap ? c->scripts_cap * 2 : 4;
        struct backend **s = realloc(c->scripts, sizeof(*s) * (size_t)cap);
        if (!s) return NULL;
        c->scripts = s;
        c->scripts_cap = cap;
    }
    struct backend *b = backend_connect(c->w, n, NULL, c, DED_SCRIPT, readonly, c->resp3);
    if (b) c->scripts[c->nscripts++] = b;
    return b;
}

int dedicated_send(struct req *r, struct node *n, const char *p, size_t len) {
    struct client *c = r->client;
    struct backend *b;
    if (!c) return -1;
    if (r->dedicated == DED_SCRIPT) {
        int is_replica = r->slot >= 0 && c->w->view.routes.slot_master[r->slot] != n;
        if (!(b = script_conn(c, n, is_replica))) return -1;
    } else {
        if (c->blocking && c->blocking->node != n) release(c->blocking);
        if (!c->blocking && !(c->blocking = connect_for(c, n, DED_BLOCKING))) return -1;
        b = c->blocking;
    }
    b->last_used = worker_now(c->w);
    return backend_send(b, r, p, len);
}

static void blocking_command(struct client *c, struct req *r, const struct plan *p, const char *cmd, const char *bytes,
                             size_t len) {
    struct worker *w = c->w;
    double t = blocking_timeout(&c->parser, cmd, p->cmd->name);
    if (t < 0) return req_reply_error(w, r, "ERR timeout is not a float or out of range");
    r->timeout = t == 0 ? -1 : t + w->conf->command_timeout_ms / 1000.0;
    r->dedicated = DED_BLOCKING;
    r->is_blocked = t == 0 ? 1 : 2; /* INFO's blocked_clients and clients_in_timeout_table, until freed */
    STAT_INC(w, blocked);
    if (t != 0) STAT_INC(w, blocked_timeout);
    r->slot = p->nkeys > 0 ? p->slot : -1;
    struct node *n = node_of_slot(w, r->slot);
    if (!n) return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    if (dedicated_send(r, n, bytes, len) < 0) req_reply_error(w, r, "ERR slotgate: node %s is unreachable", n->addr);
}

/* --- pub/sub --- */

/* Keyspace and keyevent notifications are published by each master to its own subscribers only (and
 * replicas publish again what they replay). A client subscribed to such a channel, or to a pattern that
 * may match one, gets a mirror connection on every master, subscribed to what its own pub/sub
 * connection is; the mirrors pass on only node-local messages, the client's connection passes on the
 * rest: each event once, from every master, following masters as the slot map changes. */
static int is_node_local(const char *ch, size_t n) {
    return n >= 11 && (!memcmp(ch, "__keyspace@", 11) || !memcmp(ch, "__keyevent@", 11));
}

static int pattern_may_be_node_local(const char *p, size_t n) {
    size_t lit = 0;
    while (lit < n && !strchr("*?[\\", p[lit])) lit++;
    size_t m = lit < 11 ? lit : 11;
    return !memcmp(p, "__keyspace@", m) || !memcmp(p, "__keyevent@", m);
}

/* A message's or pmessage's channel (RESP2 array or RESP3 push); 0 for anything else. */
static int pushed_channel(const char *p, size_t len, const char **ch, size_t *chlen) {
    const char *end = p + len;
    if (len < 20 || (p[0] != '*' && p[0] != '>')) return 0;
    int pm = !memcmp(p + 1, "4\r\n$8\r\npmessage\r\n", 17);
    if (!pm && memcmp(p + 1, "3\r\n$7\r\nmessage\r\n", 16)) return 0;
    const char *at = p + (pm ? 18 : 17);
    for (int skip = pm; skip >= 0; skip--) {
        if (at >= end || *at != '$') return 0;
        long l = strtol(at + 1, NULL, 10);
        const char *v = memchr(at, '\n', (size_t)(end - at));
        if (!v || l < 0 || end - v - 1 < l) return 0;
        if (!skip) return *ch = v + 1, *chlen = (size_t)l, 1;
        at = v + 1 + l + 2;
    }
    return 0;
}

/* One mirror on each master, subscribed to the client's channels and patterns; mirrors on nodes that
 * are no longer masters go. */
static void ks_sync(struct client *c) {
    struct worker *w = c->w;
    int n = w->view.routes.nshards;
    struct backend **next = calloc((size_t)(n ? n : 1), sizeof(*next));
    if (!next) return;
    for (int i = 0; i < n; i++) {
        struct node *m = w->view.routes.shard_master[i];
        for (int k = 0; m && k < c->nks && !next[i]; k++)
            if (c->ks[k] && c->ks[k]->node == m && c->ks[k]->state != BE_CLOSED) next[i] = c->ks[k], c->ks[k] = NULL;
        if (next[i] || !m || m->down_until > worker_now(w)) continue;
        struct backend *b = connect_for(c, m, DED_PUBSUB);
        if (!b) continue;
        b->ks_mirror = 1;
        struct sbuf cmd = {0};
        int rc = sub_set_encode(&c->subs, SUB_CHANNEL, "SUBSCRIBE", &cmd);
        if (rc >= 0) rc = sub_set_encode(&c->subs, SUB_PATTERN, "PSUBSCRIBE", &cmd);
        if (rc >= 0 && cmd.len) backend_send_raw(b, cmd.p, cmd.len);
        sbuf_free(&cmd);
        next[i] = b;
    }
    for (int k = 0; k < c->nks; k++) close_owned(c->ks[k]); /* (close_owned detaches before closing) */
    free(c->ks);
    c->ks = next;
    c->nks = 0;
    for (int i = 0; i < n; i++)
        if (next[i]) c->ks[c->nks++] = next[i];
}

void dedicated_masters_changed(struct worker *w) {
    for (struct client *c = w->clients; c; c = c->next)
        if (c->ks_mode && !c->is_closed) ks_sync(c);
}

void dedicated_flush_push(struct client *c) {
    if (!c->push.head) return;
    if (c->out.tail)
        c->out.tail->next = c->push.head;
    else
        c->out.head = c->push.head;
    c->out.tail = c->push.tail;
    c->out.pending += c->push.pending;
    chain_init(&c->push);
    worker_mark_client(c->w, c);
}

static int total_subscriptions(const struct client *c) {
    return (int)((c->sub ? c->sub->subscriptions : 0) + (c->ssub ? c->ssub->subscriptions : 0));
}

/* A confirmation changes the count on its connection: up, a new subscription; down, one gone. The
 * client's set and the registry follow, and the client is subscribed while any count is above zero. */
static void track_confirmation(struct client *c, struct backend *b, int k, const char *name, size_t nlen,
                               long long count) {
    static const int kind_of[] = {SUB_CHANNEL, SUB_PATTERN, SUB_SHARD,
                                  SUB_CHANNEL, SUB_PATTERN, SUB_SHARD}; /* resp.h */
    int kind = kind_of[k];
    if (k < 3 && count > b->subscriptions && name) {
        if (sub_set_add(&c->subs, kind, name, nlen) == 0) subs_add(c->w->shared.subs, kind, name, nlen);
    } else if (k >= 3 && count < b->subscriptions && name) {
        if (sub_set_remove(&c->subs, kind, name, nlen)) subs_remove(c->w->shared.subs, kind, name, nlen);
    }
    b->subscriptions = count;
    c->sub_mode = total_subscriptions(c) > 0;
}

/* Each command sent on a pub/sub connection is followed by this PING: its answer (a pong push while
 * subscribed, a bulk string once not) marks the end of what the node pushed for that command, which
 * becomes the command's reply. So a client's replies and pushes keep Redis's order even around a
 * command slotgate answers itself (an error, an UNSUBSCRIBE with nothing to unsubscribe). */
#define FENCE_ARG "slotgate:pubsub-fence"
static const char FENCE_CMD[] = "*2\r\n$4\r\nPING\r\n$21\r\n" FENCE_ARG "\r\n";

static int is_fence(const char *p, size_t len) {
    static const char sub[] = "*2\r\n$4\r\npong\r\n$21\r\n" FENCE_ARG "\r\n", plain[] = "$21\r\n" FENCE_ARG "\r\n";
    return (len == sizeof(sub) - 1 && memcmp(p, sub, len) == 0) ||
           (len == sizeof(plain) - 1 && memcmp(p, plain, len) == 0);
}

void dedicated_push(struct backend *b, const char *reply, size_t len) {
    struct client *c = b->client;
    struct worker *w = b->w;
    if (is_fence(reply, len)) { /* everything the command caused is in: it is answered with that */
        struct req *r = backend_take_head(b);
        if (r) req_reply(w, r, b->pushed.p ? b->pushed.p : "", b->pushed.len);
        b->pushed.len = 0;
        if (b->pushed.cap > 64 * 1024) sbuf_free(&b->pushed);
        return;
    }
    if (!c) return;
    char *copy = NULL;
    if (reply[0] == '>' && !c->resp3) { /* a RESP3 subscriber that said HELLO 2 since: an array again */
        if (!(copy = malloc(len))) return client_close(c);
        memcpy(copy, reply, len);
        copy[0] = '*';
        reply = copy;
    }
    const char *ch;
    size_t chlen;
    if (b->ks_mirror || c->ks_mode) {
        int local = pushed_channel(reply, len, &ch, &chlen) && is_node_local(ch, chlen);
        /* a mirror passes node-local messages only (its confirmations are the client connection's twins);
         * the client's own connection leaves those to the mirrors */
        if (b->ks_mirror ? !local : local) {
            free(copy);
            return;
        }
        if (b->ks_mirror) {
            if (client_push(c, reply, len) < 0) client_close(c);
            free(copy);
            return;
        }
    }
    const char *name;
    size_t nlen;
    long long count;
    int k = resp_parse_confirmation(reply, len, &name, &nlen, &count);
    if (k >= 0) track_confirmation(c, b, k, name, nlen, count);
    if (b->inflight.head) { /* part of the answer to the command in flight */
        if (sbuf_add(&b->pushed, reply, len) < 0) client_close(c);
    } else if (client_push(c, reply, len) < 0) { /* its flush applies the pubsub output limit */
        client_close(c);
    }
    free(copy);
}

/* A command on a pub/sub connection: its reply is what the node pushes until the fence after it. */
static void send_pubsub(struct client *c, struct req *r, struct backend *b, const char *bytes, size_t len) {
    r->dedicated = DED_PUBSUB;
    r->timeout = -1; /* the fence answers at once unless the node is gone, which closes the connection */
    if (backend_send(b, r, bytes, len) < 0 || backend_send_raw(b, FENCE_CMD, sizeof(FENCE_CMD) - 1) < 0)
        return req_reply_error(c->w, r, "ERR slotgate: out of memory");
    b->last_used = worker_now(c->w);
    c->sub_barrier = r; /* whether the next command is allowed depends on what this one does */
}

/* (P|S)UNSUBSCRIBE with no connection of its kind: nothing of that kind is subscribed, and Redis answers
 * one confirmation per channel named (or one with a nil channel) with a count of 0 (the count is per
 * kind: channels and patterns together, shard channels apart). */
static void unsubscribe_here(struct client *c, struct req *r, const char *cmd, const char *kind) {
    const struct resp_request *q = &c->parser;
    struct sbuf b = {0};
    int rc = 0;
    size_t klen = strlen(kind);
    for (uint32_t i = 1; i < q->argc || (i == 1 && q->argc == 1); i++) {
        rc |= sbuf_add_push(&b, 3, c->resp3) | sbuf_add_bulk(&b, kind, klen);
        rc |=
            q->argc == 1 ? sbuf_add_null(&b, c->resp3) : sbuf_add_bulk(&b, resp_request_arg(q, cmd, i), q->argv[i].len);
        rc |= sbuf_add(&b, ":0\r\n", 4);
    }
    if (rc < 0)
        req_reply_error(c->w, r, "ERR slotgate: out of memory");
    else
        req_reply(c->w, r, b.p, b.len);
    sbuf_free(&b);
}

static void pubsub_command(struct client *c, struct req *r, const struct plan *p, const char *cmd, const char *bytes,
                           size_t len) {
    struct worker *w = c->w;
    const char *name = p->cmd->name;
    int shard = !strcmp(name, "ssubscribe") || !strcmp(name, "sunsubscribe");
    int unsub = !strcmp(name, "unsubscribe") || !strcmp(name, "punsubscribe") || !strcmp(name, "sunsubscribe");
    struct backend **slotp = shard ? &c->ssub : &c->sub;
    if (shard && p->nkeys > 0 && *slotp && (*slotp)->node != node_of_slot(w, p->slot))
        return req_reply_error(
            w, r, "ERR slotgate: shard channels on more than one node in one connection are not supported");
    /* Nothing of that kind is subscribed; every earlier pub/sub command has been answered (sub_barrier),
     * so this answer takes its place in order. */
    if (unsub && !*slotp) return unsubscribe_here(c, r, cmd, name);
    if (!*slotp) {
        struct node *n = node_of_slot(w, shard && p->nkeys > 0 ? p->slot : -1);
        if (!n || !(*slotp = connect_for(c, n, DED_PUBSUB)))
            return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    }
    if (!unsub) c->sub_mode = 1; /* from now on, as for Redis, even before the node confirms */
    send_pubsub(c, r, *slotp, bytes, len);
    if (shard) return;
    if (!unsub && !c->ks_mode) {
        const struct resp_request *q = &c->parser;
        int pattern = !strcmp(name, "psubscribe"), local = 0;
        for (uint32_t i = 1; i < q->argc && !local; i++) {
            const char *a = resp_request_arg(q, cmd, i);
            local = pattern ? pattern_may_be_node_local(a, q->argv[i].len) : is_node_local(a, q->argv[i].len);
        }
        if (local) c->ks_mode = 1, ks_sync(c); /* the mirrors start with what is subscribed so far */
    }
    for (int i = 0; c->ks_mode && i < c->nks; i++) /* and follow each (un)subscription */
        if (backend_send_raw(c->ks[i], bytes, len) < 0) return client_close(c);
}

static const char *allowed_when_subscribed[] = {
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "ping", "quit", "reset"};

void dedicated_command(struct client *c, struct req *r, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    size_t len;
    const char *bytes = encode_command(w, &c->parser, cmd, &len);
    if (!bytes) return req_reply_error(w, r, "ERR slotgate: out of memory");
    if (p->cmd && (p->cmd->local == LOCAL_QUIT || p->cmd->local == LOCAL_RESET)) {
        if (p->cmd->local == LOCAL_RESET) {
            dedicated_close_all(c);
            txn_reset(c);
        }
        return local_run(c, r, p, cmd);
    }
    if (c->sub_mode && !c->resp3) {
        int ok = 0;
        for (size_t i = 0; p->cmd && i < sizeof(allowed_when_subscribed) / sizeof(*allowed_when_subscribed); i++)
            ok |= strcmp(p->cmd->name, allowed_when_subscribed[i]) == 0;
        if (!ok)
            return req_reply_error(
                w, r,
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                "are allowed in this context",
                p->cmd ? p->cmd->name : "?");
        if (p->is_error) return req_reply_error(w, r, "%s", p->err);
        if (p->cmd->local == LOCAL_PING) { /* answered by the subscribed connection, in its push format */
            struct backend *b = c->sub && (c->sub->subscriptions > 0 || !c->ssub) ? c->sub : c->ssub;
            if (!b) return req_reply_error(w, r, "ERR slotgate: the subscription's connection is gone");
            return send_pubsub(c, r, b, bytes, len);
        }
        return pubsub_command(c, r, p, cmd, bytes, len);
    }
    if (c->txn_state.in_multi || p->route == ROUTE_TXN) return txn_command(c, r, p, bytes, len);
    if (p->is_error) return req_reply_error(w, r, "%s", p->err);
    if (p->route == ROUTE_PUBSUB) return pubsub_command(c, r, p, cmd, bytes, len);
    blocking_command(c, r, p, cmd, bytes, len);
}

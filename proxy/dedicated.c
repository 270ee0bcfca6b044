/* Commands that need a backend connection of their own, because Redis keeps state on the connection:
 *  - transactions: WATCH pins the client to the node of the watched key; MULTI is answered here and the
 *    transaction is opened on the node of its first key (keyless commands queued before that are held
 *    and replayed), every later key must be in the same slot or the command gets CROSSSLOT and EXEC
 *    then EXECABORT, as Redis does for a command refused while queueing; EXEC/DISCARD/UNWATCH release
 *    the connection once it answered.
 *  - blocking commands (BLPOP, XREAD BLOCK, WAIT, ...): one connection per client, so a blocked client
 *    never delays other clients' pipelines; its deadline is the command's own timeout plus
 *    command-timeout-ms (none for a timeout of 0).
 *  - pub/sub: replies are pushed, not answers to requests; they reach the client after the replies to
 *    its earlier requests, and a subscriber that falls behind by more than client-max-pending-bytes is
 *    disconnected, as Redis does with its pubsub output limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "proxy.h"

#define REPLY_LIT(w, r, lit) req_reply(w, r, lit, sizeof(lit) - 1)

static const char MULTI_CMD[] = "*1\r\n$5\r\nMULTI\r\n";
static const char DISCARD_CMD[] = "*1\r\n$7\r\nDISCARD\r\n";

int dedicated_in_mode(const struct client *c) { return c->in_multi || c->sub || c->ssub; }

static int is_name(const struct plan *p, const char *name) { return p->cmd && strcmp(p->cmd->name, name) == 0; }

/* A request whose reply nobody waits for (MULTI and held commands replayed on the pinned connection,
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

/* Lets a dedicated connection go once it has answered everything sent on it. */
static void release(struct backend *b) {
    if (!b) return;
    b->close_when_idle = 1;
    if (b->owner) {
        struct client *c = b->owner;
        if (c->txn == b) c->txn = NULL;
        if (c->blocking == b) c->blocking = NULL;
        if (c->sub == b) c->sub = NULL;
        if (c->ssub == b) c->ssub = NULL;
        b->owner = NULL;
    }
    if (!b->head) backend_close(b, "released", 0);
}

void dedicated_detach(struct backend *b) {
    struct client *c = b->owner;
    b->owner = NULL;
    if (!c) return;
    if (c->txn == b) {
        c->txn = NULL;
        if (c->in_multi || c->is_watching) c->txn_dirty = 1; /* the transaction's state is gone with it */
    }
    if (c->blocking == b) c->blocking = NULL;
    if (c->sub == b || c->ssub == b) {
        if (c->sub == b) c->sub = NULL;
        if (c->ssub == b) c->ssub = NULL;
        /* Its subscriptions are gone; a client that thinks it is subscribed must learn it: like a lost
         * Redis connection, it is closed so it reconnects and subscribes again. */
        if (!b->close_when_idle) client_close(c);
    }
}

void dedicated_close_all(struct client *c) {
    struct backend *all[4] = {c->txn, c->blocking, c->sub, c->ssub};
    for (int i = 0; i < 4; i++) {
        if (!all[i]) continue;
        all[i]->owner = NULL;
        all[i]->close_when_idle = 1;
        backend_close(all[i], "client closed", 0);
    }
    c->txn = c->blocking = c->sub = c->ssub = NULL;
    chain_free(&c->w->pool, &c->txn_held);
    chain_free(&c->w->pool, &c->push);
}

static struct backend *connect_for(struct client *c, struct node *n, int kind) {
    return n ? backend_connect(c->w, n, NULL, c, kind, 0) : NULL;
}

static struct node *node_of_slot(struct worker *w, int slot) {
    if (!w->map || w->nshards == 0) return NULL;
    if (slot < 0) slot = w->shard_slot[w->any_rr++ % (unsigned)w->nshards];
    return w->owner[slot];
}

/* --- transactions --- */

static void txn_reset(struct client *c) {
    c->in_multi = 0;
    c->txn_dirty = 0;
    c->is_watching = 0;
    c->txn_slot = -1;
    c->txn_nheld = 0;
    chain_free(&c->w->pool, &c->txn_held);
}

static void send_on_txn(struct client *c, struct req *r, const char *p, size_t len) {
    r->dedicated = DED_TXN;
    if (!c->txn || backend_send(c->txn, r, p, len) < 0)
        req_reply_error(c->w, r, "ERR slotgate: the transaction's connection is gone");
}

static void hold(struct client *c, struct req *r, const char *p, size_t len) {
    struct worker *w = c->w;
    char hdr[24];
    int n = snprintf(hdr, sizeof(hdr), "%zu\n", len); /* length-prefixed, replayed by replay_held() */
    if (chain_append(&w->pool, &c->txn_held, hdr, (size_t)n) < 0 || chain_append(&w->pool, &c->txn_held, p, len) < 0)
        return req_reply_error(w, r, "ERR slotgate: out of memory");
    c->txn_nheld++;
    REPLY_LIT(w, r, "+QUEUED\r\n");
}

/* EXEC of a transaction with no WATCH: MULTI, the commands held since, and EXEC go to the slot's master
 * as one request on the shared connections, written together so nothing comes between them. Only the
 * EXEC's reply goes to the client (backend.c skips the +OK and +QUEUED before it). Like any request it
 * is held while its master is unreachable and sent again when a queued command was refused with MOVED,
 * ASK, TRYAGAIN or CLUSTERDOWN (EXEC then aborts, so nothing ran), which lets a transaction ride
 * through a failover or a reshard. */
static void exec_group(struct client *c, struct req *r, const char *exec, size_t exec_len) {
    struct worker *w = c->w;
    size_t total = sizeof(MULTI_CMD) - 1 + exec_len;
    for (struct chunk *k = c->txn_held.head; k; k = k->next) total += k->wpos - k->rpos;
    char *held = malloc(total + 1), *all = malloc(total + 1);
    if (!held || !all) {
        free(held);
        free(all);
        return req_reply_error(w, r, "ERR slotgate: out of memory");
    }
    size_t hn = 0, n = 0;
    for (struct chunk *k = c->txn_held.head; k; k = k->next) {
        memcpy(held + hn, k->data + k->rpos, k->wpos - k->rpos);
        hn += k->wpos - k->rpos;
    }
    memcpy(all, MULTI_CMD, sizeof(MULTI_CMD) - 1);
    n = sizeof(MULTI_CMD) - 1;
    for (size_t off = 0; off < hn;) { /* held as "length\n" then the command's bytes */
        char *end;
        size_t len = strtoul(held + off, &end, 10);
        off = (size_t)(end - held) + 1;
        memcpy(all + n, held + off, len);
        n += len;
        off += len;
    }
    memcpy(all + n, exec, exec_len);
    n += exec_len;
    free(held);
    if (c->txn_slot < 0 && w->nshards == 0) {
        free(all);
        return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    }
    r->slot = c->txn_slot >= 0 ? c->txn_slot : w->shard_slot[w->any_rr++ % (unsigned)w->nshards];
    r->group_n = (uint32_t)c->txn_nheld + 1;
    r->is_readonly = 0;
    route_request(w, r, NULL, all, n);
    free(all);
}

static void txn_exec_or_discard(struct client *c, struct req *r, const char *p, size_t len, int is_exec) {
    struct worker *w = c->w;
    if (is_exec && c->txn_dirty) {
        if (c->txn) send_internal(w, c->txn, DISCARD_CMD, sizeof(DISCARD_CMD) - 1);
        release(c->txn);
        txn_reset(c);
        return req_reply_error(w, r, "EXECABORT Transaction discarded because of previous errors.");
    }
    if (!c->txn) { /* no WATCH: everything was held here */
        if (is_exec && c->txn_nheld > 0)
            exec_group(c, r, p, len);
        else if (is_exec)
            REPLY_LIT(w, r, "*0\r\n");
        else
            REPLY_LIT(w, r, "+OK\r\n");
        txn_reset(c);
        return;
    }
    struct backend *b = c->txn;
    send_on_txn(c, r, p, len);
    release(b);
    txn_reset(c);
}

static void txn_command(struct client *c, struct req *r, const struct plan *p, const char *bytes, size_t len) {
    struct worker *w = c->w;
    if (!c->in_multi) {
        if (is_name(p, "multi")) {
            c->in_multi = 1;
            c->txn_dirty = c->txn_dirty && c->is_watching;
            if (c->txn) return send_on_txn(c, r, bytes, len);
            c->txn_slot = -1;
            return (void)REPLY_LIT(w, r, "+OK\r\n");
        }
        if (is_name(p, "exec")) return req_reply_error(w, r, "ERR EXEC without MULTI");
        if (is_name(p, "discard")) return req_reply_error(w, r, "ERR DISCARD without MULTI");
        if (is_name(p, "unwatch")) {
            if (!c->txn) return (void)REPLY_LIT(w, r, "+OK\r\n");
            struct backend *b = c->txn;
            send_on_txn(c, r, bytes, len);
            release(b);
            txn_reset(c);
            return;
        }
        /* WATCH: pins the client to the watched keys' node. */
        if (c->txn && p->slot != c->txn_slot)
            return req_reply_error(w, r, "CROSSSLOT Keys in request don't hash to the same slot");
        if (!c->txn && !(c->txn = connect_for(c, node_of_slot(w, p->slot), DED_TXN)))
            return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: no node serves the slot");
        c->txn_slot = p->slot;
        c->is_watching = 1;
        return send_on_txn(c, r, bytes, len);
    }
    /* Inside MULTI. */
    if (p->is_error) {
        c->txn_dirty = 1;
        return req_reply_error(w, r, "%s", p->err);
    }
    if (is_name(p, "exec") || is_name(p, "discard")) return txn_exec_or_discard(c, r, bytes, len, is_name(p, "exec"));
    if (is_name(p, "multi")) return req_reply_error(w, r, "ERR MULTI calls can not be nested");
    if (is_name(p, "watch")) return req_reply_error(w, r, "ERR WATCH inside MULTI is not allowed");
    if (p->cmd->flags & CMD_NO_MULTI) {
        c->txn_dirty = 1;
        return req_reply_error(w, r, "ERR Command not allowed inside a transaction");
    }
    int slot = p->nkeys > 0 ? p->slot : -1;
    if (p->route == ROUTE_SPLIT || (slot >= 0 && c->txn_slot >= 0 && slot != c->txn_slot)) {
        c->txn_dirty = 1;
        return req_reply_error(w, r, "CROSSSLOT Keys in request don't hash to the same slot");
    }
    if (!c->txn) { /* no WATCH: held until EXEC, then sent as one group (exec_group) */
        if (slot >= 0) c->txn_slot = slot;
        return hold(c, r, bytes, len);
    }
    if (c->txn_slot < 0) c->txn_slot = slot;
    send_on_txn(c, r, bytes, len);
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

int dedicated_send(struct req *r, struct node *n, const char *p, size_t len) {
    struct client *c = r->client;
    if (!c) return -1;
    if (c->blocking && c->blocking->node != n) release(c->blocking);
    if (!c->blocking && !(c->blocking = connect_for(c, n, DED_BLOCKING))) return -1;
    return backend_send(c->blocking, r, p, len);
}

static void blocking_command(struct client *c, struct req *r, const struct plan *p, const char *cmd, const char *bytes,
                             size_t len) {
    struct worker *w = c->w;
    double t = blocking_timeout(&c->parser, cmd, p->cmd->name);
    if (t < 0) return req_reply_error(w, r, "ERR timeout is not a float or out of range");
    r->timeout = t == 0 ? -1 : t + w->conf->command_timeout_ms / 1000.0;
    r->dedicated = DED_BLOCKING;
    r->slot = p->nkeys > 0 ? p->slot : -1;
    struct node *n = node_of_slot(w, r->slot);
    if (!n) return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    if (dedicated_send(r, n, bytes, len) < 0) req_reply_error(w, r, "ERR slotgate: node %s is unreachable", n->addr);
}

/* --- pub/sub --- */

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

/* The subscription count a (un)subscribe confirmation carries: [kind, channel, count]. */
static long long subscription_count(const char *p, size_t len) {
    static const char *kinds[] = {"subscribe",    "unsubscribe", "psubscribe",
                                  "punsubscribe", "ssubscribe",  "sunsubscribe"};
    if (len < 8 || memcmp(p, "*3\r\n$", 5) != 0) return -1;
    const char *cr = memchr(p + 5, '\r', len - 5);
    if (!cr) return -1;
    size_t klen = strtoul(p + 5, NULL, 10);
    const char *kind = cr + 2;
    if (kind + klen > p + len) return -1;
    int known = 0;
    for (size_t i = 0; i < 6; i++) known |= strlen(kinds[i]) == klen && memcmp(kinds[i], kind, klen) == 0;
    if (!known) return -1;
    const char *colon = p + len - 3;
    while (colon > kind && *colon != ':') colon--;
    return *colon == ':' ? strtoll(colon + 1, NULL, 10) : -1;
}

void dedicated_push(struct backend *b, const char *reply, size_t len) {
    struct client *c = b->owner;
    if (!c) return;
    struct worker *w = c->w;
    long long count = subscription_count(reply, len);
    if (count >= 0) b->subscriptions = count;
    if (chain_append(&w->pool, c->qhead ? &c->push : &c->out, reply, len) < 0) return client_close(c);
    worker_mark_client(w, c);   /* its flush applies client-output-buffer-limit pubsub */
    if (count == 0) release(b); /* no subscription left: back to normal mode */
}

static void pubsub_command(struct client *c, struct req *r, const struct plan *p, const char *bytes, size_t len) {
    struct worker *w = c->w;
    int shard = !strcmp(p->cmd->name, "ssubscribe") || !strcmp(p->cmd->name, "sunsubscribe");
    struct backend **slotp = shard ? &c->ssub : &c->sub;
    if (shard && p->nkeys > 0 && *slotp && (*slotp)->node != node_of_slot(w, p->slot))
        return req_reply_error(
            w, r, "ERR slotgate: shard channels on more than one node in one connection are not supported");
    if (!*slotp) {
        struct node *n = node_of_slot(w, shard && p->nkeys > 0 ? p->slot : -1);
        if (!n || !(*slotp = connect_for(c, n, DED_PUBSUB)))
            return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
    }
    if (backend_send_raw(*slotp, bytes, len) < 0) return req_reply_error(w, r, "ERR slotgate: out of memory");
    req_reply(w, r, "", 0); /* its answers are pushed by the connection */
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
    if (c->sub || c->ssub) {
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
            struct backend *b = c->sub ? c->sub : c->ssub;
            if (backend_send_raw(b, bytes, len) < 0) return req_reply_error(w, r, "ERR slotgate: out of memory");
            return req_reply(w, r, "", 0);
        }
        return pubsub_command(c, r, p, bytes, len);
    }
    if (c->in_multi || p->route == ROUTE_TXN) return txn_command(c, r, p, bytes, len);
    if (p->is_error) return req_reply_error(w, r, "%s", p->err);
    if (p->route == ROUTE_PUBSUB) return pubsub_command(c, r, p, bytes, len);
    blocking_command(c, r, p, cmd, bytes, len);
}

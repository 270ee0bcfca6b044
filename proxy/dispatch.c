/* Where a request goes: the read policy (a replica for reads where it allows), the owner of its slot
 * and that node's pooled connection (or the client's own for a dedicated command), or, while the node
 * is unreachable or the slot has no owner during a failover, parked (its bytes kept in the worker's park
 * chain) and sent again when its time comes or a new map arrives. */
#include <string.h>

#include "backend.h"
#include "client.h"
#include "dedicated.h"
#include "worker.h"

static void fail_request(struct worker *w, struct req *r, const char *msg) { req_reply_error(w, r, "%s", msg); }

void park_request(struct worker *w, struct req *r, const char *p, size_t len, double retry_at) {
    if (p) {
        if (chain_append_pinned(&w->pool, &w->park, p, len, &r->cmd) < 0) {
            fail_request(w, r, "ERR slotgate: out of memory");
            return;
        }
        r->cmd_chain = &w->park;
    } else if (r->cmd_chain != &w->park) {
        struct cref moved;
        if (chain_copy(&w->pool, &w->park, &r->cmd, &moved) < 0) {
            fail_request(w, r, "ERR slotgate: out of memory");
            return;
        }
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
        r->cmd = moved;
        r->cmd_chain = &w->park;
    }
    chain_mark_written(&w->pool, &w->park);
    r->state = REQ_PARKED;
    r->retry_at = retry_at;
    FIFO_PUSH(&w->parked, r, lnext);
    if (!ev_is_active(&w->park_timer)) ev_timer_again(w->loop, &w->park_timer);
    struct client *c = r->client ? r->client : r->parent ? r->parent->client : NULL;
    if (c && c->out.pending) { /* replies waiting for it go now (client_flush) */
        c->flush_now = 1;
        worker_mark_client(w, c);
    }
}

/* Retries parked requests whose time has come (all of them after a new map). */
void park_run(struct worker *w, int all) {
    struct req_fifo due = w->parked; /* taken whole: a request sent on may be parked again */
    w->parked = (struct req_fifo){0};
    double now = worker_now(w);
    for (struct req *r; (r = FIFO_POP(&due, lnext));) {
        if (req_is_orphan(r)) {
            chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
            req_free(w, r);
        } else if (!all && now < r->retry_at) {
            FIFO_PUSH(&w->parked, r, lnext); /* not yet */
        } else {
            r->state = REQ_NEW;
            route_request(w, r, NULL, NULL, 0);
        }
    }
    if (!w->parked.head) ev_timer_stop(w->loop, &w->park_timer);
}

void park_on_timer(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    park_run(t->data, 0);
}

/* The read policy for this request: replicas for read-only commands when the configuration says so or
 * the client sent READONLY. */
static int read_policy(const struct worker *w, const struct req *r) {
    if (!r->is_readonly || (r->dedicated && r->dedicated != DED_SCRIPT)) return READ_MASTER;
    const struct client *c = r->client ? r->client : r->parent ? r->parent->client : NULL;
    /* A tracking client reads from masters: a replica could still hold the value an invalidation it was
     * just sent is about, and the client would cache it with nothing left to tell it otherwise. */
    if (c && c->trk) return READ_MASTER;
    if (c && c->is_readonly && w->conf->read_policy == READ_MASTER) return READ_PREFER_REPLICA;
    return w->conf->read_policy;
}

static int not_backing_off(void *node, void *ctx) { return ((struct node *)node)->down_until <= *(double *)ctx; }

/* A replica of the slot's master that is not backing off, round robin; NULL when there is none (or
 * this worker's view of the slot was patched by MOVED since the map, when replicas may not match). */
static struct node *pick_replica(struct worker_view *v, int slot, double now) {
    return route_replica(&v->routes, slot, not_backing_off, &now);
}

/* Parks r until retry_at and asks for a refresh (at most every 100 ms): the new map names the owner as
 * soon as the cluster has one, and retries every parked request at once. */
static void park_and_refresh(struct worker *w, struct req *r, const char *p, size_t len, double retry_at,
                             const char *why) {
    double now = worker_now(w);
    struct worker_view *v = worker_view_of(w, r->backend);
    park_request(w, r, p, len, retry_at);
    if (now - v->last_refresh_ask > 0.1) {
        v->last_refresh_ask = now;
        worker_request_refresh(w, r->backend, why);
    }
}

void route_request(struct worker *w, struct req *r, struct node *to, const char *p, size_t len) {
    double now = worker_now(w);
    struct node *n = to;
    struct worker_view *v = worker_view_of(w, r->backend);
    int policy = to ? READ_MASTER : read_policy(w, r);
    if (policy != READ_MASTER && v->map && v->routes.slot_master[r->slot]) {
        struct node *rep = pick_replica(v, r->slot, now);
        if (rep && r->dedicated) { /* EVAL_RO, FCALL_RO: the client's READONLY script connection to it */
            if (dedicated_send(r, rep, p, len) < 0) fail_request(w, r, "ERR slotgate: out of memory");
            return;
        }
        struct backend *rb = rep ? backend_for_reads(w, rep, r->resp3) : NULL;
        if (rb) {
            if (backend_send(rb, r, p, len) < 0) fail_request(w, r, "ERR slotgate: out of memory");
            return;
        }
        if (policy == READ_REPLICA_ONLY) {
            req_reply_error(w, r, "CLUSTERDOWN No healthy replica serves slot %d (read-policy replica-only)", r->slot);
            return;
        }
    }
    if (!n) {
        if (!v->map) {
            fail_request(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
            return;
        }
        n = v->routes.slot_master[r->slot];
        if (!n) {
            if (now - v->map_shrunk_at < failover_window(w) && now < r->deadline)
                return park_and_refresh(w, r, p, len, now + PARK_TICK, "slot without an owner");
            fail_request(w, r, "CLUSTERDOWN Hash slot not served");
            return;
        }
    }
    if (r->dedicated) { /* a blocking command moved by MOVED/ASK: still on its own connection */
        if (dedicated_send(r, n, p, len) < 0)
            req_reply_error(w, r, "ERR slotgate: node %s is unreachable (%s)", n->addr,
                            n->last_error[0] ? n->last_error : "no connection");
        return;
    }
    struct backend *b = n->down_until > now ? NULL : backend_for(w, n, r->resp3);
    if (!b) {
        /* Hold the request while the node is backing off: a failover or restart may be under way, and
         * the refresh that reveals it will retry every parked request at once. */
        if (now < r->deadline)
            return park_and_refresh(w, r, p, len, n->down_until > now ? n->down_until : now + PARK_TICK,
                                    "master unreachable");
        req_reply_error(w, r, "ERR slotgate: node %s is unreachable (%s)", n->addr,
                        n->last_error[0] ? n->last_error : "no connection");
        return;
    }
    if (backend_send(b, r, p, len) < 0) fail_request(w, r, "ERR slotgate: out of memory");
}

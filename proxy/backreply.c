/* A node's replies, one complete reply at a time for the head of a connection's in-flight FIFO: the
 * connection's own bookkeeping (setup replies, pushes, ASKING's +OK), then router/reply.c decides what
 * the reply means for its request and this carries it out, so that clients never see MOVED, ASK,
 * TRYAGAIN or a passing CLUSTERDOWN: follow a redirection (patching this worker's table for MOVED),
 * park for a retry, load a script again, or deliver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../router/reply.h"
#include "backend.h"
#include "client.h"
#include "dedicated.h"
#include "scripts.h"
#include "worker.h"

#define MAX_CLUSTER_RETRIES 100 /* bounded in time by the request's deadline */

/* NOSCRIPT for a script slotgate has seen: SCRIPT LOAD it on this same connection (so it is there
 * before the retry, whatever the pool size), then send the EVALSHA again, once. */
static int reload_script(struct backend *b, struct req *r) {
    struct worker *w = b->w;
    size_t blen;
    r->xform = XFORM_NONE; /* once */
    char *body = scripts_lookup(w->shared.scripts, r->sha, &blen);
    if (!body) return 0;
    struct req *load = req_new(w);
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$%zu\r\n", blen);
    char *cmd = malloc((size_t)n + blen + 2);
    int ok = load && cmd;
    if (ok) {
        memcpy(cmd, hdr, (size_t)n);
        memcpy(cmd + n, body, blen);
        memcpy(cmd + n + blen, "\r\n", 2);
        load->started = worker_now(w);
        ok = backend_send(b, load, cmd, (size_t)n + blen + 2) == 0 && backend_send(b, r, NULL, 0) == 0;
        if (!ok) req_free(w, load);
    } else if (load) {
        req_free(w, load);
    }
    free(cmd);
    free(body);
    log_verbose("worker %d: script %.12s... missing on %s: loaded it again", w->id, r->sha, b->node->addr);
    return ok;
}

/* MOVED: the slot's owner changed for good. This worker's table is patched at once so the retry and the
 * requests after it go to the right node (reply.c asks for the refresh). Returns the slot's new master. */
static struct node *follow_moved(struct worker *w, int backend, const struct redirect *rd) {
    struct node *to = worker_node(w, rd->host, rd->port);
    struct worker_view *v = worker_view_of(w, backend);
    STAT_INC(w, moved);
    if (to && to->backend < 0) to->backend = backend;
    int changed = v->routes.slot_master[rd->slot] != to;
    route_patch(&v->routes, rd->slot, to);
    if (changed && !backend) tracking_slot_moved(w, (int)rd->slot); /* cached values of the slot may be stale */
    return to;
}

/* What reply.c needs to know of r to decide. */
static void describe(const struct backend *b, const struct req *r, int path, struct reply_req *q) {
    struct worker *w = b->w;
    *q = (struct reply_req){.path = path,
                            .node_host = b->node->host,
                            .slot = r->slot,
                            .redirects = r->redirects,
                            .max_redirects = w->conf->max_redirects,
                            .retries = r->retries,
                            .max_retries = MAX_CLUSTER_RETRIES,
                            .now = worker_now(w),
                            .deadline = r->deadline,
                            .can_reload_script = r->xform == XFORM_EVALSHA,
                            .group_retry = r->group_retry};
}

static void carry_out(struct backend *b, struct req *r, const struct reply_decision *d, const char *p, size_t len);

/* One complete reply for the head of the FIFO: the connection's own bookkeeping here (setup replies,
 * pushes, ASKING's +OK), then reply.c decides what it means for the request and this carries it out. */
void backend_handle_reply(struct backend *b, const char *p, size_t len) {
    struct worker *w = b->w;
    if (b->setup_replies > 0) {
        b->setup_replies--;
        if (p[0] == '-') {
            char why[96];
            snprintf(why, sizeof(why), "authentication failed: %.*s", (int)(len > 70 ? 70 : len - 2), p + 1);
            backend_close(b, why, 1);
        } else if (b->setup_replies == 0 && b->dedicated == DED_TRACK) {
            tracking_listener_ready(b);
        }
        return;
    }
    if (__builtin_expect(p[0] == '>', 0) && b->dedicated != DED_PUBSUB) { /* a push answers no request */
        if (b->dedicated == DED_TRACK) tracking_listener_push(b, p, len);
        return;
    }
    if (b->dedicated == DED_PUBSUB) {
        dedicated_push(b, p, len);
        return;
    }
    struct req *r = b->inflight.head;
    if (!r) {
        backend_close(b, "reply with no request in flight", 1);
        return;
    }
    if (r->asking) { /* the +OK of ASKING: ASK is one-shot, the map stays as it is */
        r->asking = 0;
        return;
    }
    struct reply_req q;
    struct reply_decision d;
    if (r->group_skip) { /* +OK of MULTI, +QUEUED of each command: the EXEC's reply is the one to keep */
        r->group_skip--;
        describe(b, r, RP_GROUP_QUEUED, &q);
        reply_decide(p, len, &q, &d);
        if (d.patch_moved) follow_moved(w, r->backend, &d.rd);
        if (d.refresh_why) worker_request_refresh(w, r->backend, d.refresh_why);
        if (d.group_retry) r->group_retry = 1; /* EXEC will answer EXECABORT: nothing ran, the group goes again */
        return;
    }
    backend_take_head(b);
    CTR_INC(b->node->ctr, requests);
    if (r->load_counted) /* the command's bytes are pinned still */
        slotload_reply(w->load, r->slot, w->load_sample.every, r->cmd.len, len);
    /* A released dedicated connection goes once its last reply is in (the cmd bytes stay readable
     * until the deferred free). */
    if (b->close_when_idle && !b->inflight.head) backend_close(b, "released", 0);
    if (req_is_orphan(r)) {
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
        req_free(w, r);
        return;
    }
    if (!reply_needs_decision(p, len, r->group_retry)) { /* the common case: the reply is the client's */
        req_reply(w, r, p, len);
        return;
    }
    int path = r->xform == XFORM_UPLOAD ? RP_UPLOAD : r->dedicated == DED_TXN ? RP_TXN : RP_PLAIN;
    describe(b, r, path, &q);
    r->group_retry = 0;
    reply_decide(p, len, &q, &d);
    carry_out(b, r, &d, p, len);
}

/* Does what reply.c decided for r's reply p. */
static void carry_out(struct backend *b, struct req *r, const struct reply_decision *d, const char *p, size_t len) {
    struct worker *w = b->w;
    if (d->refresh_why) worker_request_refresh(w, r->backend, d->refresh_why);
    switch (d->action) {
    case REPLY_MOVED:
    case REPLY_ASK: {
        struct node *to;
        r->redirects++;
        if (d->action == REPLY_MOVED) {
            to = follow_moved(w, r->backend, &d->rd);
        } else {
            /* ASK is one-shot: the map is not changed, ASKING must precede the command on the same
             * connection. */
            to = worker_node(w, d->rd.host, d->rd.port);
            STAT_INC(w, ask);
            r->asking = 1;
        }
        r->state = REQ_NEW;
        route_request(w, r, to, NULL, 0);
        return;
    }
    case REPLY_RETRY:
        if (d->is_tryagain) STAT_INC(w, tryagain);
        if (d->is_clusterdown) STAT_INC(w, clusterdown);
        park_request(w, r, NULL, 0, d->retry_at);
        r->retries++;
        return;
    case REPLY_RELOAD_SCRIPT:
        if (reload_script(b, r)) return;
        __attribute__((fallthrough)); /* the client sees the NOSCRIPT */
    case REPLY_DELIVER_ERROR:
        CTR_INC(b->node->ctr, errors); /* an error the client sees (redirections and retries are not) */
        break;
    case REPLY_FAIL: return req_reply_error(w, r, "%s", d->text);
    default: break;
    }
    req_reply(w, r, p, len);
}

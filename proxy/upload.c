/* Large values on their way in: a command whose last argument is a bulk of STREAM_MIN bytes or more
 * (SET key <64 MiB>, RPUSH key <blob>, ...) is sent to its node while it is still arriving, on the
 * client's dedicated connection, instead of being gathered whole first; slotgate holds about one read
 * buffer of it, and reading from the client pauses while the node is slower than the client.
 *
 * Order is kept as Redis would: the upload starts only once every earlier request of the client is
 * answered, and the client's next command is read only once the upload is answered. A MOVED or ASK for
 * it cannot be followed (the value was not kept): the client gets TRYAGAIN and sends it again. */
#include <string.h>

#include "../lib/log.h"
#include "bigkeys.h"
#include "dedicated.h"
#include "upload.h"
#include "worker.h"

/* The slot of the one key of a command that has exactly one key at a fixed position (Redis 7 key
 * spec: index + range with lastkey 0), when that key is among the arguments parsed so far. */
static int single_key_slot(const struct command *cmd, const struct resp_request *q, const char *bytes) {
    if (cmd->nspecs != 1) return -1;
    const struct keyspec *ks = &cmd->specs[0];
    if (ks->bs != KS_BS_INDEX || ks->fk != KS_FK_RANGE || ks->a != 0 || ks->incomplete) return -1;
    int at = ks->bs_arg;
    if (at < 1 || (uint32_t)at >= q->argc) return -1;
    return (int)slot_for_key(resp_request_arg(q, bytes, (uint32_t)at), q->argv[at].len);
}

int upload_try_start(struct client *c) {
    struct worker *w = c->w;
    struct resp_request *q = &c->parser;
    if (q->is_inline || q->state != RESP_ST_BULK_DATA || q->bulk < STREAM_MIN || (long long)q->argc + 1 != q->nargs ||
        q->argc < 2 || !c->is_authed || dedicated_in_mode(c) || c->is_closing)
        return 0;
    const char *bytes = c->in.data + c->in.start;
    const struct command *cmd = cmdtable_lookup(w->view.cmds, resp_request_arg(q, bytes, 0), q->argv[0].len);
    if (!cmd || cmd->route != ROUTE_KEYS || cmd->has_subcommands || (cmd->flags & CMD_BLOCKING) ||
        (cmd->arity > 0 ? q->nargs != cmd->arity : q->nargs < -cmd->arity))
        return 0;
    int slot = single_key_slot(cmd, q, bytes);
    if (slot >= 0 && w->shared.prefixes) { /* routes by prefix: only the default backend's keys stream up */
        uint32_t at = (uint32_t)cmd->specs[0].bs_arg;
        int rt = prefix_route_of(w->shared.prefixes, resp_request_arg(q, bytes, at), q->argv[at].len);
        if (rt >= 0 && (w->shared.prefixes->routes[rt].backend != 0 || w->shared.prefixes->routes[rt].strip)) return 0;
    }
    struct node *n = slot >= 0 && w->view.map ? w->view.routes.slot_master[slot] : NULL;
    if (!n) return 0;
    if (!c->queue.head) { /* (once: not again when it waited for the requests before it) */
        uint32_t at = (uint32_t)cmd->specs[0].bs_arg;
        bigkeys_upload(w, c, resp_request_arg(q, bytes, 0), q->argv[0].len, resp_request_arg(q, bytes, at),
                       q->argv[at].len, q->bulk);
    }
    if (c->queue.head) { /* earlier requests first: wait, without reading (or buffering) more */
        c->upload_wait = 1;
        client_reading(c, 0);
        return 1;
    }
    struct req *r = req_new(w);
    if (!r) return 0;
    double now = worker_now(w);
    r->started = r->sent_at = now;
    r->deadline = now + failover_window(w);
    r->family = (uint8_t)cmd->family;
    r->slot = slot;
    r->dedicated = DED_BLOCKING;
    r->xform = XFORM_UPLOAD;
    client_enqueue(c, r);
    c->last_cmd = now;
    size_t total = q->pos + (size_t)q->bulk + 2, first = ibuf_len(&c->in) < total ? ibuf_len(&c->in) : total;
    if (dedicated_send(r, n, bytes, first) < 0) { /* no connection: the usual path (park, retry) takes it */
        c->queue = (struct req_fifo){0};          /* it was the only one (upload_try_start waits for an empty queue) */
        c->nqueued = 0;
        req_free(w, r);
        return 0;
    }
    STAT_INC(w, commands);
    log_verbose("worker %d: client %s: streaming a %lld-byte argument to %s", w->id, c->addr, q->bulk, n->addr);
    ibuf_consume(&w->pool, &c->in, first);
    resp_request_reset(q);
    c->upload = r;
    c->upload_left = total - first;
    if (!c->upload_left) upload_forward(c);
    return 1;
}

void upload_forward(struct client *c) {
    struct worker *w = c->w;
    struct req *r = c->upload;
    struct backend *b = c->blocking;
    if (!b) return; /* the connection failed: client_close follows */
    size_t n = ibuf_len(&c->in) < c->upload_left ? ibuf_len(&c->in) : c->upload_left;
    if (n) {
        if (backend_send_raw(b, c->in.data + c->in.start, n) < 0) {
            client_close(c);
            return;
        }
        ibuf_consume(&w->pool, &c->in, n);
        c->upload_left -= n;
        r->sent_at = worker_now(w); /* the node's deadline counts from the last byte */
    }
    if (c->upload_left) {
        if (b->out.pending > STREAM_BUFFER) { /* the node takes it slower than the client sends */
            c->upload_paused = 1;
            client_reading(c, 0);
        }
        return;
    }
    r->out_end = b->appended;
    c->upload = NULL;
    c->upload_barrier = r; /* nothing more is read until the node has answered */
}

void upload_node_drained(struct backend *b) {
    struct client *c = b->client;
    if (!c || !c->upload_paused || b->out.pending > STREAM_BUFFER / 4) return;
    c->upload_paused = 0;
    client_reading(c, 1);
    if (c->uc) c->resume_parse = 1, worker_mark_client(c->w, c); /* io_uring: what came while it was paused */
}

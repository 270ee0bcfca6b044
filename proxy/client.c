/* Client connections: read, parse (router/resp), plan (router/command), send, and return replies in
 * request order. A reply that arrives before the ones ahead of it waits in the client's hold chain;
 * the in-order common case goes straight to the output chain. Reading pauses while a client has too
 * many requests or reply bytes pending (backpressure) and resumes as its output drains. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

#define MAX_QUEUED 8192 /* requests in flight for one client before its reads pause */

static void on_client_io(struct ev_loop *loop, ev_io *io, int revents);
static void client_process(struct client *c);

void client_accept(struct worker *w, int fd, const char *addr) {
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        __atomic_sub_fetch(w->total_clients, 1, __ATOMIC_RELAXED);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->id = ++w->next_client_id * 256 + (uint64_t)w->id;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    resp_request_init(&c->parser, w->conf->proto_max_bulk_len, w->conf->max_multibulk_len);
    chain_init(&c->out);
    chain_init(&c->hold);
    ev_io_init(&c->rio, on_client_io, fd, EV_READ);
    ev_io_init(&c->wio, on_client_io, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    ev_io_start(w->loop, &c->rio);
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    log_debug("worker %d: client %s connected", w->id, addr);
}

void client_close(struct client *c) {
    struct worker *w = c->w;
    if (c->is_closed) return;
    c->is_closed = 1;
    ev_io_stop(w->loop, &c->rio);
    ev_io_stop(w->loop, &c->wio);
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nclients--;
    __atomic_sub_fetch(w->total_clients, 1, __ATOMIC_RELAXED);
    /* Requests still at a backend or parked stay there until their reply comes; it is then dropped. */
    for (struct req *r = c->qhead, *next; r; r = next) {
        next = r->qnext;
        if (r->state == REQ_DONE) req_free(w, r);
        else r->client = NULL;
    }
    c->qhead = c->qtail = NULL;
    chain_free(&w->pool, &c->out);
    chain_free(&w->pool, &c->hold);
    ibuf_free(&w->pool, &c->in);
    resp_request_free(&c->parser);
    log_debug("worker %d: client %s closed", w->id, c->addr);
    worker_mark_client(w, c); /* freed at the next flush, once no caller holds it */
}

void client_free(struct client *c) {
    if (!c->is_closed) {
        c->is_dirty = 1; /* freed right here, not from the dirty list */
        client_close(c);
    }
    free(c);
}

static void pop_head(struct worker *w, struct client *c) {
    struct req *r = c->qhead;
    c->qhead = r->qnext;
    if (!c->qhead) c->qtail = NULL;
    c->nqueued--;
    req_free(w, r);
}

void req_reply(struct worker *w, struct req *r, const char *reply, size_t len) {
    struct client *c = r->client;
    if (r->cmd_chain) {
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
        r->cmd_chain = NULL;
    }
    if (!c) {
        req_free(w, r);
        return;
    }
    if (reply[0] == '-') w->stats.errors++;
    if (c->qhead != r) { /* replies ahead of this one are still missing: hold it */
        if (chain_append_pinned(&w->pool, &c->hold, reply, len, &r->reply) < 0) {
            client_close(c);
            return;
        }
        chain_mark_written(&w->pool, &c->hold);
        r->state = REQ_DONE;
        return;
    }
    if (chain_append(&w->pool, &c->out, reply, len) < 0) {
        client_close(c);
        return;
    }
    pop_head(w, c);
    while (c->qhead && c->qhead->state == REQ_DONE) {
        struct req *h = c->qhead;
        if (chain_copy(&w->pool, &c->out, &h->reply, NULL) < 0) {
            client_close(c);
            return;
        }
        chain_unpin(&w->pool, &c->hold, &h->reply);
        pop_head(w, c);
    }
    worker_mark_client(w, c);
}

void req_reply_error(struct worker *w, struct req *r, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + 1, sizeof(buf) - 3, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof(buf) - 4) n = (int)sizeof(buf) - 4;
    buf[0] = '-';
    for (int i = 1; i <= n; i++)
        if (buf[i] == '\r' || buf[i] == '\n') buf[i] = ' ';
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    req_reply(w, r, buf, (size_t)n + 3);
}

static char *scratch(struct worker *w, size_t need) {
    if (w->scratch_cap < need) {
        char *s = realloc(w->scratch, need);
        if (!s) return NULL;
        w->scratch = s;
        w->scratch_cap = need;
    }
    return w->scratch;
}

static void reply_bulk(struct worker *w, struct req *r, const char *p, size_t len) {
    char *s = scratch(w, len + 32);
    if (!s) return req_reply_error(w, r, "ERR slotgate: out of memory");
    int h = snprintf(s, 32, "$%zu\r\n", len);
    memcpy(s + h, p, len);
    memcpy(s + h + len, "\r\n", 2);
    req_reply(w, r, s, (size_t)h + len + 2);
}

#define REPLY_LIT(w, r, lit) req_reply(w, r, lit, sizeof(lit) - 1)

static void run_local(struct client *c, struct req *r, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    const struct resp_request *q = &c->parser;
    switch (p->cmd->local) {
    case LOCAL_PING:
        if (q->argc == 1) REPLY_LIT(w, r, "+PONG\r\n");
        else if (q->argc == 2) reply_bulk(w, r, resp_request_arg(q, cmd, 1), q->argv[1].len);
        else req_reply_error(w, r, "ERR wrong number of arguments for 'ping' command");
        return;
    case LOCAL_ECHO:
        reply_bulk(w, r, resp_request_arg(q, cmd, 1), q->argv[1].len);
        return;
    case LOCAL_SELECT: {
        long long db;
        if (resp_parse_ll(resp_request_arg(q, cmd, 1), q->argv[1].len, &db) < 0)
            req_reply_error(w, r, "ERR value is not an integer or out of range");
        else if (db != 0)
            req_reply_error(w, r, "ERR SELECT is not allowed in cluster mode");
        else
            REPLY_LIT(w, r, "+OK\r\n");
        return;
    }
    case LOCAL_QUIT:
        c->is_closing = 1;
        REPLY_LIT(w, r, "+OK\r\n");
        return;
    }
    req_reply_error(w, r, "ERR slotgate: internal error (no local handler)");
}

/* Inline commands are re-encoded as multibulk for the backend; multibulk ones go byte for byte. */
static const char *encode_inline(struct worker *w, const struct resp_request *q, size_t *len) {
    size_t need = 32;
    for (uint32_t i = 0; i < q->argc; i++) need += q->argv[i].len + 32;
    char *s = scratch(w, need);
    if (!s) return NULL;
    size_t n = (size_t)sprintf(s, "*%u\r\n", q->argc);
    for (uint32_t i = 0; i < q->argc; i++) {
        n += (size_t)sprintf(s + n, "$%u\r\n", q->argv[i].len);
        memcpy(s + n, q->scratch + q->argv[i].off, q->argv[i].len);
        n += q->argv[i].len;
        s[n++] = '\r';
        s[n++] = '\n';
    }
    *len = n;
    return s;
}

static void handle_command(struct client *c, const char *cmd) {
    struct worker *w = c->w;
    struct plan plan;
    struct req *r = req_new(w);
    if (!r) {
        client_close(c);
        return;
    }
    double now = worker_now(w);
    r->client = c;
    r->started = now;
    r->deadline = now + w->conf->command_timeout_ms / 1000.0;
    if (c->qtail) c->qtail->qnext = r;
    else c->qhead = r;
    c->qtail = r;
    c->nqueued++;
    w->stats.commands++;
    plan_request(w->cmds, &c->parser, cmd, &plan);
    if (plan.is_error) return req_reply_error(w, r, "%s", plan.err);
    if (plan.route == ROUTE_LOCAL) return run_local(c, r, &plan, cmd);
    r->slot = plan.slot;
    size_t len = c->parser.cmd_len;
    const char *bytes = c->parser.is_inline ? encode_inline(w, &c->parser, &len) : cmd;
    if (!bytes) return req_reply_error(w, r, "ERR slotgate: out of memory");
    route_request(w, r, NULL, bytes, len);
}

static int over_limits(const struct client *c) {
    return c->nqueued >= MAX_QUEUED || (long long)(c->out.pending) > c->w->conf->client_max_pending_bytes;
}

static void pause_reading(struct client *c) {
    c->is_paused = 1;
    ev_io_stop(c->w->loop, &c->rio);
}

static void protocol_error(struct client *c, const char *err) {
    struct req *r = req_new(c->w);
    log_verbose("worker %d: client %s: %s; closing it after the error is written", c->w->id, c->addr, err);
    c->is_closing = 1;
    ev_io_stop(c->w->loop, &c->rio);
    if (!r) return client_close(c);
    r->client = c;
    if (c->qtail) c->qtail->qnext = r;
    else c->qhead = r;
    c->qtail = r;
    c->nqueued++;
    req_reply_error(c->w, r, "ERR %s", err);
}

static void client_process(struct client *c) {
    struct worker *w = c->w;
    while (!c->is_closing && !c->is_closed && ibuf_len(&c->in) > 0) {
        if (over_limits(c)) {
            pause_reading(c);
            break;
        }
        char err[RESP_ERR_LEN];
        const char *cmd = c->in.data + c->in.start;
        int rc = resp_request_parse(&c->parser, cmd, ibuf_len(&c->in), err, sizeof(err));
        if (rc == RESP_AGAIN) {
            if ((long long)ibuf_len(&c->in) > w->conf->client_query_buffer_limit ||
                (long long)c->parser.need > w->conf->client_query_buffer_limit) {
                log_notice("worker %d: closing client %s that reached max query buffer length", w->id, c->addr);
                client_close(c);
                return;
            }
            break;
        }
        if (rc == RESP_ERROR) {
            protocol_error(c, err);
            break;
        }
        size_t used = c->parser.cmd_len;
        if (c->parser.argc > 0) handle_command(c, cmd);
        if (c->is_closed) return;
        ibuf_consume(&w->pool, &c->in, used);
        resp_request_reset(&c->parser);
    }
    if (c->is_closed) return;
    if (ibuf_len(&c->in) == 0) {
        ibuf_free(&w->pool, &c->in);
        if (c->parser.argv_cap > 1024) resp_request_shrink(&c->parser);
    }
}

static void client_read(struct client *c) {
    struct worker *w = c->w;
    size_t frame = c->parser.need ? c->parser.need : 0;
    if (ibuf_reserve(&w->pool, &c->in, 16 * 1024, frame) < 0) {
        client_close(c);
        return;
    }
    ssize_t n = read(c->fd, c->in.data + c->in.end, c->in.cap - c->in.end);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(c);
        return;
    }
    if (n < 0) {
        if (ibuf_len(&c->in) == 0) ibuf_free(&w->pool, &c->in);
        return;
    }
    c->in.end += (size_t)n;
    client_process(c);
}

void client_flush(struct client *c) {
    struct worker *w = c->w;
    if (c->out.pending) {
        ssize_t n = chain_write(&w->pool, &c->out, c->fd);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            client_close(c);
            return;
        }
    }
    if (c->out.pending) {
        if (!ev_is_active(&c->wio)) ev_io_start(w->loop, &c->wio);
        return;
    }
    if (ev_is_active(&c->wio)) ev_io_stop(w->loop, &c->wio);
    if (c->is_closing && !c->qhead) {
        client_close(c);
        return;
    }
    if (c->is_paused && !c->is_closing && c->nqueued < MAX_QUEUED / 2) {
        c->is_paused = 0;
        ev_io_start(w->loop, &c->rio);
        client_process(c);
    }
}

static void on_client_io(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    struct client *c = io->data;
    if (revents & EV_WRITE) {
        client_flush(c);
        if (c->is_closed) return;
    }
    if (revents & EV_READ) client_read(c);
}

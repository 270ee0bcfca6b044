/* Replies back to their client in request order: req_reply puts a node's (or slotgate's own) reply in
 * place, straight into the output when it is the client's oldest request, else in the early chain until
 * the ones ahead are in (release_early: then linked into the output when large, copied when small);
 * large bulk replies streamed as they arrive; the statistics, SLOWLOG and big-key log of each reply. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "bigkeys.h"
#include "client.h"
#include "dedicated.h"
#include "fanout.h"
#include "migrate.h"
#include "slowlog.h"
#include "worker.h"

#define LINK_MIN_BYTES 4096 /* early replies from this size on are linked into the output, not copied */

static void pop_head(struct worker *w, struct client *c) {
    struct req *r = FIFO_POP(&c->queue, qnext);
    c->nqueued--;
    c->done_batch = r->batch;
    if (c->upload_barrier == r) c->upload_barrier = NULL, c->resume_parse = 1; /* upload.c */
    if (c->sub_barrier == r) c->sub_barrier = NULL, c->resume_parse = 1;       /* dedicated.c */
    if (c->push_after == r) c->push_after = NULL;                              /* its pushes may go */
    if (!c->queue.head && c->upload_wait) c->upload_wait = 0, c->resume_parse = 1;
    req_free(w, r);
}

static void release_early(struct worker *w, struct client *c);

/* The command's bytes are no longer needed once its reply is in. */
static void release_cmd(struct worker *w, struct req *r) {
    if (!r->cmd_chain) return;
    chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
    r->cmd_chain = NULL;
}

void client_enqueue(struct client *c, struct req *r) {
    r->client = c;
    r->batch = c->read_seq;
    FIFO_PUSH(&c->queue, r, qnext);
    c->nqueued++;
}

/* Replies by command family, and the time from the loop turn that read the request to the one that
 * answers it (ev_now: no clock read per request). */
static void count_reply(struct worker *w, const struct req *r, int is_error, double now) {
    int f = r->family < FAM_COUNT ? r->family : FAM_OTHER;
    STAT_INC(w, calls[f]);
    if (is_error) STAT_INC(w, failed[f]);
    double us = (now - r->started) * 1e6;
    if (!(us > 0)) us = 0;
    if (us != w->last_latency) { /* replies in one loop turn to requests of one turn share the value */
        w->last_latency = us;
        w->last_bucket = hist_bucket(us);
    }
    STAT_INC(w, latency_fam[f * HIST_BUCKETS + w->last_bucket]); /* latency and latency_us: their sums */
    STAT_ADD(w, latency_us_fam[f], us);
}

/* SLOWLOG (slowlog.h): a request slower than slowlog-log-slower-than. Its arguments from its command's
 * bytes (still pinned), or for a split one its name; where the time went from the node that answered. */
static void slowlog_note(struct worker *w, struct req *r) {
    struct client *c = r->client;
    struct slowlog_entry e = {0};
    double now = worker_now(w), total = now - r->started, node_s = 0;
    e.duration = (long long)(total * 1e6);
    e.time = (long long)(ev_time() - total);
    const char *node = "-";
    if (w->split.parts) {
        slowlog_set_name(&e, w->split.name, w->split.argc);
        node = w->split.slow_node;
        node_s = w->split.slow_node_s;
    } else {
        if (r->cmd_chain && r->cmd.len) {
            char *copy = malloc(r->cmd.len);
            if (copy) slowlog_set_args(&e, copy, cref_copy(&r->cmd, copy, r->cmd.len));
            free(copy);
        }
        if (w->answering) node = w->answering->addr, node_s = now - r->sent_at;
    }
    snprintf(e.addr, sizeof(e.addr), "%s", c ? c->addr : "");
    snprintf(e.name, sizeof(e.name), "%s", c && c->name ? c->name : "");
    if (w->split.parts)
        snprintf(e.detail, sizeof(e.detail), "parts=%d slowest_part_node=%s node_us=%lld slotgate_us=%lld",
                 w->split.parts, node, (long long)(node_s * 1e6), (long long)((total - node_s) * 1e6));
    else
        snprintf(e.detail, sizeof(e.detail), "node=%s node_us=%lld slotgate_us=%lld redirects=%d retries=%d", node,
                 (long long)(node_s * 1e6), (long long)((total - node_s) * 1e6), r->redirects, r->retries);
    slowlog_add(w->shared.slowlog, w->conf->slowlog_max_len, &e);
}

/* Blocked time is not execution time (Redis logs a BLPOP by the work it did, not the wait). */
static inline void maybe_slow(struct worker *w, struct req *r, double now) {
    if (__builtin_expect(now - r->started < w->slow_after, 1)) return; /* the common case: fast enough */
    if (r->parent || r->slow_noted || r->dedicated == DED_BLOCKING || r->is_blocked) return;
    r->slow_noted = 1;
    slowlog_note(w, r);
}

void req_reply(struct worker *w, struct req *r, const char *reply, size_t len) {
    if (__builtin_expect(r->hook, 0) && migrate_hook(w, r, reply, len)) return; /* mirroring, migration */
    struct client *c = r->client;
    double now = worker_now(w);
    maybe_slow(w, r, now);
    /* a big reply: large, or an aggregate of that many elements (each takes 3 bytes at least);
     * big_reply_min is the smaller of the two sizes */
    if (__builtin_expect((long long)len >= w->big_reply_min, 0) &&
        ((long long)len >= w->conf->bigkeys_value_bytes ||
         (len >= (size_t)w->conf->bigkeys_elements * 3 && strchr("*%~", reply[0]))) &&
        !r->parent && r->xform == XFORM_NONE)
        bigkeys_reply(w, r, reply, len, -1);
    release_cmd(w, r);
    if (r->parent) {
        fanout_child_done(w, r, reply, len);
        return;
    }
    if (__builtin_expect(r->xform == XFORM_SCAN, 0)) {
        struct sbuf b = {0};
        r->xform = XFORM_NONE;
        if (scan_reply_rewrite(reply, len, r->scan_shard, (unsigned)w->view.routes.nshards, &b) < 0)
            req_reply_error(w, r, "ERR slotgate: out of memory");
        else
            req_reply(w, r, b.p, b.len);
        sbuf_free(&b);
        return;
    }
    if (__builtin_expect(r->xform == XFORM_PUBLISH, 0) && reply[0] == ':') { /* the node counted its own */
        char num[32];
        r->xform = XFORM_NONE;
        int n = snprintf(num, sizeof(num), ":%lld\r\n", r->receivers);
        return req_reply(w, r, num, (size_t)n);
    }
    count_reply(w, r, reply[0] == '-', now);
    if (!c) {
        req_free(w, r);
        return;
    }
    if (r->noreply) len = 0; /* CLIENT REPLY OFF/SKIP: it keeps its place in the order, with nothing to write */
    if (reply[0] == '-') STAT_INC(w, errors);
    if (c->queue.head != r) { /* replies ahead of this one are still missing: it waits with the early ones */
        if (chain_append_pinned(&w->pool, &c->early, reply, len, &r->reply) < 0) {
            client_close(c);
            return;
        }
        chain_mark_written(&w->pool, &c->early);
        r->state = REQ_DONE;
        return;
    }
    if (chain_append(&w->pool, &c->out, reply, len) < 0) {
        client_close(c);
        return;
    }
    pop_head(w, c);
    release_early(w, c);
}

/* After the head request's reply went out: the replies that were waiting behind it follow. */
static void release_early(struct worker *w, struct client *c) {
    while (c->queue.head && c->queue.head->state == REQ_DONE) {
        struct req *h = c->queue.head;
        /* a large reply is written out from where it lies (its pin moves to the output); a small one is
         * copied, which costs less than the link */
        if (h->reply.len >= LINK_MIN_BYTES ? chain_link(&w->pool, &c->out, &c->early, &h->reply) < 0
                                           : chain_copy_unpin(&w->pool, &c->out, &h->reply) < 0) {
            client_close(c);
            return;
        }
        pop_head(w, c);
    }
    chain_trim(&w->pool, &c->early); /* once for all those released */
    if (c->push.head && !c->push_after) dedicated_flush_push(c);
    worker_mark_client(w, c);
}

int client_push(struct client *c, const char *p, size_t len) {
    struct worker *w = c->w;
    if (!c->queue.head && !c->push.head) {
        if (chain_append(&w->pool, &c->out, p, len) < 0) return -1;
    } else {
        if (chain_append(&w->pool, &c->push, p, len) < 0) return -1;
        c->push_after = c->queue.tail; /* NULL when the queue is empty: goes with the next flush of push */
    }
    worker_mark_client(w, c);
    return 0;
}

/* A large bulk reply forwarded as it arrives (backend.c): r is at the head of its client's queue, so
 * its bytes can go straight to the client's output. */
void req_stream_begin(struct worker *w, struct req *r, long long size) {
    double now = worker_now(w);
    maybe_slow(w, r, now);
    if (size >= w->conf->bigkeys_value_bytes) bigkeys_reply(w, r, NULL, 0, size);
    release_cmd(w, r);
    count_reply(w, r, 0, now);
}

int req_stream_data(struct worker *w, struct req *r, const char *p, size_t len) {
    struct client *c = r->client;
    if (!c) return 0; /* gone: the rest of the reply is dropped */
    if (chain_append(&w->pool, &c->out, p, len) < 0) {
        client_close(c);
        return -1;
    }
    worker_mark_client(w, c);
    return 0;
}

void req_stream_end(struct worker *w, struct req *r) {
    struct client *c = r->client;
    if (!c) {
        req_free(w, r);
        return;
    }
    pop_head(w, c);
    release_early(w, c);
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
